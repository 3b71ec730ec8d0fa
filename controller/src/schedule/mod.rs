//! When a BackupSchedule runs next, and which of its backups to delete: pure functions of the
//! SchedulePolicy, the time and the existing backups.
//!
//! Wall-clock kinds (daily, weekly, monthly, cron) are evaluated in the policy's time zone. Across
//! daylight-saving changes: a time that does not exist (the clock jumps over it) runs at the first
//! instant after the jump; a time that exists twice (the clock falls back) runs once, at the
//! first occurrence.

mod calendar;
mod cron;
mod retention;

pub use cron::CronExpr;
pub use retention::{Candidate, to_delete};

use chrono::{DateTime, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;
use herbarium_api::garden::{SchedulePolicySpec, Weekday as ApiWeekday};

/// Shortest interval accepted: more often would mostly measure the cluster's API server.
pub const MIN_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

/// A parsed SchedulePolicy.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    kind: Kind,
    tz: Tz,
    /// Backups to keep.
    pub retain: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Interval(chrono::Duration),
    Daily(Vec<NaiveTime>),
    Weekly(Vec<Weekday>, NaiveTime),
    Monthly(Vec<u32>, NaiveTime),
    Cron(CronExpr),
}

/// Why a policy cannot be used; retrying does not help until the policy is changed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PolicyError {
    #[error("set exactly one of interval, daily, weekly, monthly and cron")]
    NotExactlyOneKind,
    #[error("unknown time zone {0:?} (use an IANA name such as Europe/Berlin)")]
    TimeZone(String),
    #[error("invalid time {0:?} (use HH:MM)")]
    Time(String),
    #[error("invalid interval: {0}")]
    Interval(String),
    #[error("invalid day of month {0} (1-31)")]
    DayOfMonth(i32),
    #[error("retain must be at least 1, got {0}")]
    Retain(i32),
    #[error("invalid cron expression {0:?}: {1}")]
    Cron(String, String),
    #[error("{0} must not be empty")]
    Empty(&'static str),
}

impl Schedule {
    pub fn from_policy(spec: &SchedulePolicySpec) -> Result<Self, PolicyError> {
        let tz: Tz = spec
            .timezone
            .parse()
            .map_err(|_| PolicyError::TimeZone(spec.timezone.clone()))?;
        let (kind, retain) = match (
            &spec.interval,
            &spec.daily,
            &spec.weekly,
            &spec.monthly,
            &spec.cron,
        ) {
            (Some(i), None, None, None, None) => {
                let every = i.every.parse().map_err(PolicyError::Interval)?;
                if every < MIN_INTERVAL {
                    return Err(PolicyError::Interval(format!(
                        "{:?} is shorter than 5m",
                        i.every.0
                    )));
                }
                let every = chrono::Duration::from_std(every)
                    .map_err(|e| PolicyError::Interval(e.to_string()))?;
                (Kind::Interval(every), i.retain)
            }
            (None, Some(d), None, None, None) => {
                let mut times = d
                    .times
                    .iter()
                    .map(|t| time(t))
                    .collect::<Result<Vec<_>, _>>()?;
                nonempty(&mut times, "daily.times")?;
                (Kind::Daily(times), d.retain)
            }
            (None, None, Some(w), None, None) => {
                let mut days: Vec<Weekday> = w.days.iter().map(|d| weekday(*d)).collect();
                days.sort_by_key(Weekday::num_days_from_monday);
                days.dedup();
                if days.is_empty() {
                    return Err(PolicyError::Empty("weekly.days"));
                }
                (Kind::Weekly(days, time(&w.time)?), w.retain)
            }
            (None, None, None, Some(m), None) => {
                let mut days = m
                    .days
                    .iter()
                    .map(|&d| {
                        u32::try_from(d)
                            .ok()
                            .filter(|d| (1..=31).contains(d))
                            .ok_or(PolicyError::DayOfMonth(d))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                nonempty(&mut days, "monthly.days")?;
                (Kind::Monthly(days, time(&m.time)?), m.retain)
            }
            (None, None, None, None, Some(c)) => {
                let expr = c
                    .expression
                    .parse()
                    .map_err(|e| PolicyError::Cron(c.expression.clone(), e))?;
                (Kind::Cron(expr), c.retain)
            }
            _ => return Err(PolicyError::NotExactlyOneKind),
        };
        let retain = usize::try_from(retain)
            .ok()
            .filter(|r| *r >= 1)
            .ok_or(PolicyError::Retain(retain))?;
        Ok(Self { kind, tz, retain })
    }

    /// The first run strictly after `after`. For an interval, `after` is the last run.
    pub fn next_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        match &self.kind {
            Kind::Interval(every) => after + *every,
            Kind::Daily(times) => calendar::next(self.tz, after, |_| true, times),
            Kind::Weekly(days, t) => calendar::next(
                self.tz,
                after,
                |d| days.contains(&chrono::Datelike::weekday(&d)),
                &[*t],
            ),
            Kind::Monthly(days, t) => {
                calendar::next(self.tz, after, |d| calendar::is_monthly_day(d, days), &[*t])
            }
            Kind::Cron(expr) => {
                calendar::next(self.tz, after, |d| expr.matches_day(d), &expr.times())
            }
        }
    }

    /// When a schedule without any run yet runs first: an interval at once (when it was created),
    /// the others at their first time after creation.
    pub fn first_run(&self, created: DateTime<Utc>) -> DateTime<Utc> {
        match self.kind {
            Kind::Interval(_) => created,
            _ => self.next_after(created),
        }
    }
}

fn nonempty<T: Ord>(v: &mut Vec<T>, what: &'static str) -> Result<(), PolicyError> {
    v.sort();
    v.dedup();
    if v.is_empty() {
        Err(PolicyError::Empty(what))
    } else {
        Ok(())
    }
}

fn time(s: &str) -> Result<NaiveTime, PolicyError> {
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| PolicyError::Time(s.to_string()))
}

fn weekday(d: ApiWeekday) -> Weekday {
    match d {
        ApiWeekday::Monday => Weekday::Mon,
        ApiWeekday::Tuesday => Weekday::Tue,
        ApiWeekday::Wednesday => Weekday::Wed,
        ApiWeekday::Thursday => Weekday::Thu,
        ApiWeekday::Friday => Weekday::Fri,
        ApiWeekday::Saturday => Weekday::Sat,
        ApiWeekday::Sunday => Weekday::Sun,
    }
}

#[cfg(test)]
mod tests;

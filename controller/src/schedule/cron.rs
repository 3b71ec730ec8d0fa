//! Five-field cron expressions: minute hour day-of-month month day-of-week. Each field is `*`, a
//! number, a range `a-b`, a step `*/n` or `a-b/n`, or a comma list of those; day-of-week is 0-7
//! (0 and 7 are Sunday). As in classic cron, when both day fields are restricted a day matches if
//! either does.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveTime};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronExpr {
    minutes: Vec<u32>,
    hours: Vec<u32>,
    days_of_month: Vec<u32>,
    months: Vec<u32>,
    days_of_week: Vec<u32>,
    dom_restricted: bool,
    dow_restricted: bool,
}

impl FromStr for CronExpr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let fields: Vec<&str> = s.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(format!("want 5 fields, got {}", fields.len()));
        };
        let mut days_of_week = field(dow, 0, 7, "day-of-week")?;
        for d in &mut days_of_week {
            *d %= 7;
        }
        days_of_week.sort();
        days_of_week.dedup();
        Ok(Self {
            minutes: field(minute, 0, 59, "minute")?,
            hours: field(hour, 0, 23, "hour")?,
            days_of_month: field(dom, 1, 31, "day-of-month")?,
            months: field(month, 1, 12, "month")?,
            days_of_week,
            dom_restricted: dom != "*",
            dow_restricted: dow != "*",
        })
    }
}

impl CronExpr {
    pub fn matches_day(&self, date: NaiveDate) -> bool {
        if !self.months.contains(&date.month()) {
            return false;
        }
        let dom = self.days_of_month.contains(&date.day());
        let dow = self
            .days_of_week
            .contains(&date.weekday().num_days_from_sunday());
        match (self.dom_restricted, self.dow_restricted) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// Every time of day the expression fires at, in order.
    pub fn times(&self) -> Vec<NaiveTime> {
        let mut times = Vec::with_capacity(self.hours.len() * self.minutes.len());
        for &h in &self.hours {
            for &m in &self.minutes {
                times.push(NaiveTime::from_hms_opt(h, m, 0).expect("validated hour and minute"));
            }
        }
        times
    }
}

/// The sorted values of one field within `min..=max`.
fn field(text: &str, min: u32, max: u32, name: &str) -> Result<Vec<u32>, String> {
    let mut values = Vec::new();
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, number(s, name)?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(format!("{name}: step 0 in {part:?}"));
        }
        let (lo, hi) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (number(a, name)?, number(b, name)?),
                None if part.contains('/') => (number(r, name)?, max),
                None => (number(r, name)?, number(r, name)?),
            },
        };
        if lo < min || hi > max || lo > hi {
            return Err(format!("{name}: {part:?} is outside {min}-{max}"));
        }
        values.extend((lo..=hi).step_by(step as usize));
    }
    values.sort();
    values.dedup();
    Ok(values)
}

fn number(s: &str, name: &str) -> Result<u32, String> {
    s.parse()
        .map_err(|_| format!("{name}: {s:?} is not a number"))
}

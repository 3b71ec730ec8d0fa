//! Wall-clock search in a time zone, with the daylight-saving rules of the module doc.

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;

/// How far ahead to look: enough for "29 February" (eight years across a skipped leap year).
const HORIZON_DAYS: u64 = 366 * 8 + 2;

/// The first instant strictly after `after` whose local date passes `day` and whose local time is
/// one of `times` (sorted).
pub fn next(
    tz: Tz,
    after: DateTime<Utc>,
    day: impl Fn(NaiveDate) -> bool,
    times: &[NaiveTime],
) -> DateTime<Utc> {
    // Start a day early and compare every candidate with `after` as an instant: offsets change.
    let start = after.with_timezone(&tz).date_naive() - Days::new(1);
    for offset in 0..HORIZON_DAYS {
        let date = start + Days::new(offset);
        if !day(date) {
            continue;
        }
        for &t in times {
            if let Some(at) = resolve(tz, date.and_time(t))
                && at > after
            {
                return at;
            }
        }
    }
    // Unreachable for validated policies (every kind matches at least once in eight years); a
    // far-future time makes a broken policy visible in status instead of spinning.
    after + chrono::Duration::days(HORIZON_DAYS as i64)
}

/// A local wall-clock time as an instant: a skipped time runs when the clock jumps past it (the
/// first instant after the gap), an ambiguous one at its first occurrence.
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => {
            // Walk forward minute by minute to the end of the gap (gaps are at most a few hours).
            let mut probe = local;
            for _ in 0..24 * 60 {
                probe += chrono::Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return Some(t.with_timezone(&Utc));
                }
            }
            None
        }
    }
}

/// Whether `date` is one of `days` of its month, a day past the month's end meaning its last day.
pub fn is_monthly_day(date: NaiveDate, days: &[u32]) -> bool {
    let last = last_day_of_month(date);
    days.iter().any(|&d| d.min(last) == date.day())
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    let (y, m) = if date.month() == 12 {
        (date.year() + 1, 1)
    } else {
        (date.year(), date.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .expect("valid first of month")
        .pred_opt()
        .expect("has a previous day")
        .day()
}

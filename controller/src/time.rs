//! Kubernetes timestamps (`metav1.Time`, a jiff `Timestamp` in k8s-openapi) and the chrono times
//! the schedule code computes with.

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

pub fn to_chrono(t: &Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.0.as_second(), t.0.subsec_nanosecond().max(0) as u32)
        .unwrap_or_default()
}

pub fn to_time(d: DateTime<Utc>) -> Time {
    Time(
        Timestamp::new(d.timestamp(), d.timestamp_subsec_nanos() as i32)
            .unwrap_or(Timestamp::UNIX_EPOCH),
    )
}

pub fn now() -> Time {
    Time(Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let d: DateTime<Utc> = "2026-03-29T01:30:00.25Z".parse().unwrap();
        assert_eq!(to_chrono(&to_time(d)), d);
    }
}

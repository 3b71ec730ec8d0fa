use chrono::{DateTime, Utc};
use herbarium_api::common::BackupPhase;
use herbarium_api::garden::SchedulePolicySpec;
use serde_json::json;

use super::*;

fn policy(spec: serde_json::Value) -> Result<Schedule, PolicyError> {
    let spec: SchedulePolicySpec = serde_json::from_value(spec).expect("spec parses");
    Schedule::from_policy(&spec)
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// (policy, after, expected next run), all in UTC.
#[test]
fn next_runs() {
    let cases = [
        // Interval: from the last run.
        (
            json!({"interval": {"every": "6h", "retain": 1}}),
            "2026-01-01T00:00:00Z",
            "2026-01-01T06:00:00Z",
        ),
        // Daily, several times, in UTC and in a zone.
        (
            json!({"daily": {"times": ["14:30", "02:00"], "retain": 1}}),
            "2026-01-01T02:00:00Z",
            "2026-01-01T14:30:00Z",
        ),
        (
            json!({"daily": {"times": ["14:30", "02:00"], "retain": 1}}),
            "2026-01-01T14:30:00Z",
            "2026-01-02T02:00:00Z",
        ),
        (
            json!({"daily": {"times": ["02:00"], "retain": 1}, "timezone": "Europe/Berlin"}),
            "2026-01-10T12:00:00Z",
            "2026-01-11T01:00:00Z",
        ),
        // Berlin springs forward on 2026-03-29: 02:00-03:00 does not exist. 02:30 runs at 03:00 CEST.
        (
            json!({"daily": {"times": ["02:30"], "retain": 1}, "timezone": "Europe/Berlin"}),
            "2026-03-28T12:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        // ... and the day after, back at 02:30 CEST (00:30 UTC).
        (
            json!({"daily": {"times": ["02:30"], "retain": 1}, "timezone": "Europe/Berlin"}),
            "2026-03-29T01:00:00Z",
            "2026-03-30T00:30:00Z",
        ),
        // Berlin falls back on 2026-10-25: 02:30 exists twice; it runs once, at the first (CEST).
        (
            json!({"daily": {"times": ["02:30"], "retain": 1}, "timezone": "Europe/Berlin"}),
            "2026-10-24T12:00:00Z",
            "2026-10-25T00:30:00Z",
        ),
        (
            json!({"daily": {"times": ["02:30"], "retain": 1}, "timezone": "Europe/Berlin"}),
            "2026-10-25T00:30:00Z",
            "2026-10-26T01:30:00Z",
        ),
        // New York springs forward on 2026-03-08 at 02:00.
        (
            json!({"weekly": {"days": ["Sunday"], "time": "02:15", "retain": 1}, "timezone": "America/New_York"}),
            "2026-03-01T12:00:00Z",
            "2026-03-08T07:00:00Z",
        ),
        // Weekly on two days.
        (
            json!({"weekly": {"days": ["Saturday", "Wednesday"], "time": "03:15", "retain": 1}}),
            "2026-01-01T00:00:00Z",
            "2026-01-03T03:15:00Z",
        ),
        (
            json!({"weekly": {"days": ["Saturday", "Wednesday"], "time": "03:15", "retain": 1}}),
            "2026-01-03T03:15:00Z",
            "2026-01-07T03:15:00Z",
        ),
        // Monthly on the 31st: the last day of shorter months.
        (
            json!({"monthly": {"days": [31], "time": "23:00", "retain": 1}}),
            "2026-01-31T23:00:00Z",
            "2026-02-28T23:00:00Z",
        ),
        (
            json!({"monthly": {"days": [31], "time": "23:00", "retain": 1}}),
            "2026-04-01T00:00:00Z",
            "2026-04-30T23:00:00Z",
        ),
        (
            json!({"monthly": {"days": [30, 31], "time": "23:00", "retain": 1}}),
            "2028-02-01T00:00:00Z",
            "2028-02-29T23:00:00Z",
        ),
        (
            json!({"monthly": {"days": [1, 15], "time": "00:00", "retain": 1}}),
            "2026-01-01T00:00:00Z",
            "2026-01-15T00:00:00Z",
        ),
        // Cron: business hours on weekdays (2026-01-02 is a Friday).
        (
            json!({"cron": {"expression": "0 9-17 * * 1-5", "retain": 1}}),
            "2026-01-02T17:00:00Z",
            "2026-01-05T09:00:00Z",
        ),
        (
            json!({"cron": {"expression": "*/15 * * * *", "retain": 1}}),
            "2026-01-01T10:07:00Z",
            "2026-01-01T10:15:00Z",
        ),
        // Cron with both day fields: the 13th OR any Friday.
        (
            json!({"cron": {"expression": "0 0 13 * 5", "retain": 1}}),
            "2026-02-07T00:00:00Z",
            "2026-02-13T00:00:00Z",
        ),
        (
            json!({"cron": {"expression": "0 0 13 * 5", "retain": 1}}),
            "2026-03-01T00:00:00Z",
            "2026-03-06T00:00:00Z",
        ),
        // Cron on 29 February only.
        (
            json!({"cron": {"expression": "30 6 29 2 *", "retain": 1}}),
            "2026-01-01T00:00:00Z",
            "2028-02-29T06:30:00Z",
        ),
        // Cron in a zone across the spring gap: 02:30 Berlin on 2026-03-29 runs at 03:00 CEST.
        (
            json!({"cron": {"expression": "30 2 * * *", "retain": 1}, "timezone": "Europe/Berlin"}),
            "2026-03-28T12:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        // Sunday as 7.
        (
            json!({"cron": {"expression": "0 12 * * 7", "retain": 1}}),
            "2026-01-01T00:00:00Z",
            "2026-01-04T12:00:00Z",
        ),
    ];
    for (spec, after, want) in cases {
        let schedule = policy(spec.clone()).unwrap_or_else(|e| panic!("{spec}: {e}"));
        assert_eq!(
            schedule.next_after(utc(after)),
            utc(want),
            "{spec} after {after}"
        );
    }
}

#[test]
fn first_run_of_an_interval_is_at_creation_and_of_the_others_at_their_time() {
    let created = utc("2026-05-05T10:10:00Z");
    assert_eq!(
        policy(json!({"interval": {"every": "1h", "retain": 1}}))
            .unwrap()
            .first_run(created),
        created
    );
    let daily = policy(json!({"daily": {"times": ["02:00"], "retain": 1}})).unwrap();
    assert_eq!(daily.first_run(created), utc("2026-05-06T02:00:00Z"));
}

#[test]
fn invalid_policies_say_what_is_wrong() {
    let cases = [
        (
            json!({"daily": {"times": ["02:00"], "retain": 1}, "interval": {"every": "1h", "retain": 1}}),
            PolicyError::NotExactlyOneKind,
        ),
        (json!({}), PolicyError::NotExactlyOneKind),
        (
            json!({"daily": {"times": ["02:00"], "retain": 1}, "timezone": "Mars/Olympus"}),
            PolicyError::TimeZone("Mars/Olympus".into()),
        ),
        (
            json!({"daily": {"times": ["2pm"], "retain": 1}}),
            PolicyError::Time("2pm".into()),
        ),
        (
            json!({"daily": {"times": [], "retain": 1}}),
            PolicyError::Empty("daily.times"),
        ),
        (
            json!({"daily": {"times": ["02:00"], "retain": 0}}),
            PolicyError::Retain(0),
        ),
        (
            json!({"monthly": {"days": [0], "time": "01:00", "retain": 1}}),
            PolicyError::DayOfMonth(0),
        ),
    ];
    for (spec, want) in cases {
        assert_eq!(policy(spec.clone()).unwrap_err(), want, "{spec}");
    }
    assert!(
        matches!(policy(json!({"interval": {"every": "1m", "retain": 1}})), Err(PolicyError::Interval(m)) if m.contains("shorter than 5m"))
    );
    for bad in [
        "* * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * * 13 *",
        "* * * * 8",
        "*/0 * * * *",
        "5-1 * * * *",
        "a * * * *",
    ] {
        assert!(
            matches!(
                policy(json!({"cron": {"expression": bad, "retain": 1}})),
                Err(PolicyError::Cron(..))
            ),
            "{bad} should be refused"
        );
    }
}

fn candidate(name: &str, created: &str, phase: Option<BackupPhase>) -> Candidate {
    Candidate {
        name: name.into(),
        created: utc(created),
        phase,
    }
}

#[test]
fn retention_keeps_the_newest_good_backups() {
    use BackupPhase::*;
    let backups = vec![
        candidate("b1", "2026-01-01T00:00:00Z", Some(Succeeded)),
        candidate("b2", "2026-01-02T00:00:00Z", Some(Failed)),
        candidate("b3", "2026-01-03T00:00:00Z", Some(PartiallySucceeded)),
        candidate("b4", "2026-01-04T00:00:00Z", Some(Succeeded)),
        candidate("b5", "2026-01-05T00:00:00Z", Some(Failed)),
        candidate("b6", "2026-01-06T00:00:00Z", Some(InProgress)),
        candidate("b7", "2026-01-07T00:00:00Z", None),
    ];
    // Keep b4 and b3; delete the older good one and the failed one older than b3.
    let mut deleted = to_delete(&backups, 2);
    deleted.sort();
    assert_eq!(deleted, ["b1", "b2"]);
    // Keep all three good ones; b2 is newer than b1, the oldest kept, so it stays too.
    assert_eq!(to_delete(&backups, 3), Vec::<String>::new());
    // Fewer good backups than retain: nothing goes, not even failed ones.
    assert_eq!(to_delete(&backups, 4), Vec::<String>::new());
    // retain 1: only b4 stays among the finished ones.
    let mut deleted = to_delete(&backups, 1);
    deleted.sort();
    assert_eq!(deleted, ["b1", "b2", "b3"]);
}

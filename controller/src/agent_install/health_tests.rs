use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};

use super::*;

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn deployment(version: &str, available: i32) -> Deployment {
    Deployment {
        metadata: ObjectMeta {
            labels: Some(BTreeMap::from([(
                AGENT_VERSION_LABEL.to_string(),
                version.to_string(),
            )])),
            ..Default::default()
        },
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            ..Default::default()
        }),
        status: Some(DeploymentStatus {
            available_replicas: Some(available),
            ..Default::default()
        }),
    }
}

fn lease(age_s: i64, version: Option<&str>) -> Lease {
    Lease {
        metadata: ObjectMeta {
            annotations: version
                .map(|v| BTreeMap::from([(AGENT_VERSION_ANNOTATION.to_string(), v.to_string())])),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("herbarium-agent-5d9f-abcde".into()),
            renew_time: Some(MicroTime(
                Timestamp::from_second(now().as_second() - age_s).unwrap(),
            )),
            ..Default::default()
        }),
    }
}

/// name, Deployment, Lease, (AgentDeployed, reason), (AgentReady, reason)
type Case = (
    &'static str,
    Option<Deployment>,
    Option<Lease>,
    (bool, &'static str),
    (bool, &'static str),
);

#[test]
fn health_table() {
    let stale = Duration::from_secs(60);
    let cases: Vec<Case> = vec![
        (
            "nothing installed",
            None,
            None,
            (false, "NotFound"),
            (false, "NoHeartbeat"),
        ),
        (
            "deployed, no pods (local clusters)",
            Some(deployment("1.0.0", 0)),
            None,
            (true, "Applied"),
            (false, "NoHeartbeat"),
        ),
        (
            "older deployment",
            Some(deployment("0.9.0", 1)),
            Some(lease(5, Some("0.9.0"))),
            (false, "OtherVersion"),
            (true, "HeartbeatFromOtherVersion"),
        ),
        (
            "fresh heartbeat",
            Some(deployment("1.0.0", 0)),
            Some(lease(5, Some("1.0.0"))),
            (true, "Applied"),
            (true, "Heartbeat"),
        ),
        (
            "at the bound",
            Some(deployment("1.0.0", 1)),
            Some(lease(60, Some("1.0.0"))),
            (true, "Applied"),
            (true, "Heartbeat"),
        ),
        (
            "stale heartbeat",
            Some(deployment("1.0.0", 1)),
            Some(lease(61, Some("1.0.0"))),
            (true, "Applied"),
            (false, "HeartbeatStale"),
        ),
        (
            "clock skew: renewed in the future",
            Some(deployment("1.0.0", 1)),
            Some(lease(-30, Some("1.0.0"))),
            (true, "Applied"),
            (true, "Heartbeat"),
        ),
        (
            "no version annotation",
            Some(deployment("1.0.0", 1)),
            Some(lease(1, None)),
            (true, "Applied"),
            (true, "HeartbeatFromOtherVersion"),
        ),
    ];
    for (name, d, l, (dep_ok, dep_reason), (ready_ok, ready_reason)) in cases {
        let h = agent_health(d.as_ref(), l.as_ref(), "1.0.0", now(), stale);
        assert_eq!(
            (h.deployed.status, h.deployed.reason.as_str()),
            (dep_ok, dep_reason),
            "{name}: {}",
            h.deployed.message
        );
        assert_eq!(
            (h.ready.status, h.ready.reason.as_str()),
            (ready_ok, ready_reason),
            "{name}: {}",
            h.ready.message
        );
        assert_eq!(h.status.ready, ready_ok, "{name}");
        assert_eq!(h.deployed.type_, "AgentDeployed");
        assert_eq!(h.ready.type_, "AgentReady");
    }
    let h = agent_health(None, Some(&lease(5, Some("1.0.0"))), "1.0.0", now(), stale);
    assert_eq!(h.status.version.as_deref(), Some("1.0.0"));
    assert_eq!(
        h.status.last_heartbeat.unwrap().0.as_second(),
        now().as_second() - 5
    );
    assert!(
        h.ready.message.contains("herbarium-agent-5d9f-abcde"),
        "{}",
        h.ready.message
    );
}

#[test]
fn conditions_keep_their_transition_time_while_unchanged() {
    let earlier = Time(Timestamp::from_second(1_700_000_000).unwrap());
    let state = ConditionState::new("AgentReady", true, "Heartbeat", "m".into());
    let first = state.to_condition(&[], Some(3), earlier.clone());
    assert_eq!(
        (first.status.as_str(), first.observed_generation),
        ("True", Some(3))
    );
    let again = state.to_condition(std::slice::from_ref(&first), Some(4), Time(now()));
    assert_eq!(
        again.last_transition_time, earlier,
        "unchanged status keeps the time"
    );
    let flipped = ConditionState::new("AgentReady", false, "HeartbeatStale", "m".into())
        .to_condition(&[first], Some(4), Time(now()));
    assert_eq!(flipped.last_transition_time, Time(now()));
}

#[test]
fn reachable_names_the_failure() {
    assert!(reachable(Ok(())).status);
    let err = AccessError::Unreachable {
        server: "https://x".into(),
        message: "refused".into(),
    };
    let c = reachable(Err(&err));
    assert_eq!(
        (c.type_, c.status, c.reason.as_str()),
        ("Reachable", false, "Unreachable")
    );
    assert!(c.message.contains("refused"));
}

use super::*;
use crate::reconcile::conditions::is_true;

fn identity() -> IdentityStatus {
    IdentityStatus {
        client_id: "c".into(),
        ..Default::default()
    }
}

fn all_good(now: DateTime<Utc>) -> Observed {
    Observed {
        managed: true,
        issuer: Some(Ok("https://issuer".into())),
        identity: Some(Ok(identity())),
        reachable: Some(Ok(())),
        agent_deployed: Some(Ok("0.1.0".into())),
        heartbeat: Some(Ok(Some(Heartbeat {
            holder: "pod-1".into(),
            version: Some("0.1.0".into()),
            renewed: now,
        }))),
        ..Default::default()
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-21T10:00:00Z".parse().unwrap()
}

#[test]
fn ready_when_every_step_passed_and_the_agent_beats() {
    let s = next_status(&ClusterStatus::default(), &all_good(now()), now(), Some(1));
    assert_eq!(s.phase, Some(ClusterPhase::Ready));
    for t in [
        ISSUER_READY,
        IDENTITY_READY,
        REACHABLE,
        AGENT_DEPLOYED,
        AGENT_READY,
    ] {
        assert!(is_true(&s.conditions, t), "{t}");
    }
    assert_eq!(s.identity, Some(identity()));
    assert!(s.agent.as_ref().unwrap().ready);
    assert_eq!(s.message, None);
}

#[test]
fn at_rest_the_status_does_not_change() {
    let first = next_status(&ClusterStatus::default(), &all_good(now()), now(), Some(1));
    let later = now() + chrono::Duration::seconds(30);
    let mut observed = all_good(later);
    observed.heartbeat = Some(Ok(Some(Heartbeat {
        holder: "pod-1".into(),
        version: Some("0.1.0".into()),
        renewed: later,
    })));
    assert_eq!(
        next_status(&first, &observed, later, Some(1)),
        first,
        "a newer heartbeat alone writes nothing"
    );
}

#[test]
fn a_missing_managed_issuer_names_the_annotation() {
    let mut o = all_good(now());
    o.issuer = Some(Err(no_managed_issuer()));
    o.permanent = true;
    o.identity = None;
    let s = next_status(&ClusterStatus::default(), &o, now(), None);
    assert_eq!(s.phase, Some(ClusterPhase::Failed));
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == ISSUER_READY)
        .unwrap();
    assert_eq!(c.status, "False");
    assert!(
        c.message
            .contains("authentication.gardener.cloud/issuer: managed"),
        "{}",
        c.message
    );
    assert!(s.message.unwrap().contains("IssuerReady"));
}

#[test]
fn phases_for_each_situation() {
    let ready = next_status(&ClusterStatus::default(), &all_good(now()), now(), None);
    let mut unmanaged = all_good(now());
    unmanaged.managed = false;
    assert_eq!(
        next_status(&ready, &unmanaged, now(), None).phase,
        Some(ClusterPhase::Unmanaged)
    );
    let mut hibernated = all_good(now());
    hibernated.hibernated = true;
    let h = next_status(&ready, &hibernated, now(), None);
    assert_eq!(h.phase, Some(ClusterPhase::Hibernated));
    assert_eq!(
        h.conditions, ready.conditions,
        "hibernation is not an error"
    );
    let mut unreachable = all_good(now());
    unreachable.reachable = Some(Err("connection refused".into()));
    assert_eq!(
        next_status(&ready, &unreachable, now(), None).phase,
        Some(ClusterPhase::Unreachable)
    );
    // Stale heartbeat after having been ready: unreachable; never ready: still registering.
    let stale = all_good(now() - chrono::Duration::minutes(5));
    let later = next_status(&ready, &stale, now(), None);
    assert_eq!(later.phase, Some(ClusterPhase::Unreachable));
    assert!(!later.agent.unwrap().ready);
    assert_eq!(
        next_status(&ClusterStatus::default(), &stale, now(), None).phase,
        Some(ClusterPhase::Registering)
    );
    let mut waiting = all_good(now());
    waiting.heartbeat = Some(Ok(None));
    let w = next_status(&ClusterStatus::default(), &waiting, now(), None);
    assert_eq!(w.phase, Some(ClusterPhase::Registering));
    assert!(w.message.unwrap().contains("first heartbeat"));
}

#[test]
fn azure_errors_stop_registration_and_are_shown() {
    let mut o = all_good(now());
    o.identity = Some(Err("ARM answered 403 AuthorizationFailed".into()));
    let s = next_status(&ClusterStatus::default(), &o, now(), None);
    assert_eq!(s.phase, Some(ClusterPhase::Registering));
    assert!(!is_true(&s.conditions, IDENTITY_READY));
    assert!(
        s.conditions.iter().all(|c| c.type_ != AGENT_READY),
        "later steps are unknown"
    );
    assert!(s.message.unwrap().contains("403"));
}

#[test]
fn permanent_failures_are_failed_transient_ones_not() {
    let ready = next_status(&ClusterStatus::default(), &all_good(now()), now(), None);
    let mut malformed = all_good(now());
    malformed.reachable = Some(Err(
        "malformed kubeconfig from Secret p/kc key kubeconfig".into()
    ));
    malformed.permanent = true;
    let s = next_status(&ready, &malformed, now(), None);
    assert_eq!(s.phase, Some(ClusterPhase::Failed));
    assert!(s.message.unwrap().contains("Secret p/kc"));
    let mut issuer_down = all_good(now());
    issuer_down.issuer = Some(Err("issuer discovery document unreachable".into()));
    let s = next_status(&ClusterStatus::default(), &issuer_down, now(), None);
    assert_eq!(
        s.phase,
        Some(ClusterPhase::Registering),
        "an issuer that may come back is not Failed"
    );
}

#[test]
fn a_transient_failure_keeps_its_first_message() {
    let ready = next_status(&ClusterStatus::default(), &all_good(now()), now(), None);
    let mut away = all_good(now());
    away.reachable = Some(Err("server https://a unreachable: connection reset".into()));
    let first = next_status(&ready, &away, now(), None);
    away.reachable = Some(Err("server https://a unreachable: tls handshake eof".into()));
    let second = next_status(&first, &away, now(), None);
    assert_eq!(
        second, first,
        "the same failure worded differently writes nothing"
    );
    // A permanent failure says what is wrong now.
    let mut broken = all_good(now());
    broken.permanent = true;
    broken.reachable = Some(Err("Secret p/kc has no key kubeconfig".into()));
    let third = next_status(&second, &broken, now(), None);
    let c = third
        .conditions
        .iter()
        .find(|c| c.type_ == REACHABLE)
        .unwrap();
    assert_eq!(c.message, "Secret p/kc has no key kubeconfig");
    // Recovery clears it; a later failure has its own message.
    let back = next_status(&third, &all_good(now()), now(), None);
    let later = next_status(&back, &away, now(), None);
    let c = later
        .conditions
        .iter()
        .find(|c| c.type_ == REACHABLE)
        .unwrap();
    assert!(c.message.contains("tls handshake eof"), "{}", c.message);
}

#[test]
fn retries_back_off_and_parked_clusters_wait() {
    use std::time::Duration;
    let ready = next_status(&ClusterStatus::default(), &all_good(now()), now(), None);
    assert_eq!(
        requeue(&ready, &all_good(now()), 0),
        crate::reconcile::cluster::RECHECK
    );
    let mut away = all_good(now());
    away.reachable = Some(Err("unreachable".into()));
    let s = next_status(&ready, &away, now(), None);
    let waits: Vec<u64> = (1..=8).map(|n| requeue(&s, &away, n).as_secs()).collect();
    assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300, 300]);
    let mut broken = away.clone();
    broken.permanent = true;
    let s = next_status(&ready, &broken, now(), None);
    assert_eq!(requeue(&s, &broken, 1), Duration::from_secs(300));
    let mut hibernated = all_good(now());
    hibernated.hibernated = true;
    let s = next_status(&ready, &hibernated, now(), None);
    assert_eq!(
        requeue(&s, &hibernated, 0),
        crate::reconcile::cluster::RECHECK
    );
    let mut waiting = all_good(now());
    waiting.heartbeat = Some(Ok(None));
    let s = next_status(&ClusterStatus::default(), &waiting, now(), None);
    assert_eq!(
        requeue(&s, &waiting, 0),
        Duration::from_secs(10),
        "waiting for the first heartbeat is not a failure"
    );
}

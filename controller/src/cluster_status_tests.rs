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

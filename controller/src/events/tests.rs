use super::*;
use crate::cluster_status::{Heartbeat, Observed, next_status, no_managed_issuer};
use crate::reconcile::conditions::set;
use chrono::{DateTime, Utc};
use herbarium_api::common::{BackupPhase, ItemError, Origin, RestoreCounts, RestorePhase};
use herbarium_api::garden::{
    BackupLocationStatus, BackupStatus, ClusterPhase, ClusterStatus, ClusterValidation,
    IdentityStatus, LocationPhase, RestoreStatus, SyncPhase, SyncStatus, ValidationState,
};

fn now() -> DateTime<Utc> {
    "2026-11-21T10:00:00Z".parse().unwrap()
}

fn observed(beat_at: Option<DateTime<Utc>>) -> Observed {
    Observed {
        managed: true,
        issuer: Some(Ok("https://issuer".into())),
        identity: Some(Ok(IdentityStatus {
            client_id: "client-1".into(),
            resource_id: "/subscriptions/s/resourceGroups/rg/providers/x/herbarium-p-a".into(),
            issuer: "https://issuer".into(),
            subject: "system:serviceaccount:herbarium-system:herbarium-agent".into(),
            ..Default::default()
        })),
        reachable: Some(Ok(())),
        agent_deployed: Some(Ok("0.1.0".into())),
        heartbeat: Some(Ok(beat_at.map(|renewed| Heartbeat {
            holder: "pod".into(),
            version: Some("0.1.0".into()),
            renewed,
        }))),
        ..Default::default()
    }
}

fn reasons(notes: &[Note]) -> Vec<&'static str> {
    notes.iter().map(|n| n.reason).collect()
}

#[test]
fn a_cluster_ready_in_one_reconcile_gets_one_event() {
    let start = ClusterStatus::default();
    let ready = next_status(&start, &observed(Some(now())), now(), Some(1));
    assert_eq!(ready.phase, Some(ClusterPhase::Ready));
    let notes = cluster(&start, &ready);
    assert_eq!(reasons(&notes), [reason::READY]);
    for part in ["client-1", "herbarium-p-a", "0.1.0", "heartbeats"] {
        assert!(notes[0].note.contains(part), "{part}: {}", notes[0].note);
    }
}

#[test]
fn a_cluster_registering_then_ready_then_at_rest() {
    let start = ClusterStatus::default();
    let registering = next_status(&start, &observed(None), now(), Some(1));
    assert_eq!(registering.phase, Some(ClusterPhase::Registering));
    let notes = cluster(&start, &registering);
    assert_eq!(
        reasons(&notes),
        [reason::IDENTITY_READY, reason::AGENT_INSTALLED]
    );
    assert!(notes[0].note.contains("client-1"), "{}", notes[0].note);
    assert!(notes[0].note.contains("herbarium-p-a"), "{}", notes[0].note);
    assert!(notes[1].note.contains("0.1.0"), "{}", notes[1].note);

    let ready = next_status(&registering, &observed(Some(now())), now(), Some(1));
    assert_eq!(reasons(&cluster(&registering, &ready)), [reason::READY]);
    assert_eq!(cluster(&registering, &ready)[0].type_, EventType::Normal);

    let later = now() + chrono::Duration::seconds(30);
    let again = next_status(&ready, &observed(Some(later)), later, Some(1));
    assert!(cluster(&ready, &again).is_empty(), "nothing at rest");
}

#[test]
fn a_lost_heartbeat_is_one_warning_and_the_return_one_event() {
    let ready = next_status(
        &ClusterStatus::default(),
        &observed(Some(now())),
        now(),
        Some(1),
    );
    let late = now() + chrono::Duration::minutes(5);
    let lost = next_status(&ready, &observed(Some(now())), late, Some(1));
    assert_eq!(lost.phase, Some(ClusterPhase::Unreachable));
    let notes = cluster(&ready, &lost);
    assert_eq!(reasons(&notes), [reason::UNREACHABLE]);
    assert_eq!(notes[0].type_, EventType::Warning);
    assert!(notes[0].note.contains("heartbeat"), "{}", notes[0].note);
    let still = next_status(&lost, &observed(Some(now())), late, Some(1));
    assert!(cluster(&lost, &still).is_empty());
    let back = next_status(&lost, &observed(Some(late)), late, Some(1));
    assert_eq!(reasons(&cluster(&lost, &back)), [reason::READY]);
}

#[test]
fn failed_steps_are_warnings_named_after_the_step() {
    let start = ClusterStatus::default();
    let mut o = observed(None);
    o.issuer = Some(Err(no_managed_issuer()));
    o.permanent = true;
    let failed = next_status(&start, &o, now(), None);
    let notes = cluster(&start, &failed);
    assert_eq!(
        reasons(&notes),
        [reason::ISSUER_CHECK_FAILED],
        "no second event for the phase"
    );
    assert!(notes[0].note.contains("managed"));

    let mut o = observed(None);
    o.identity = Some(Err("ARM PUT identity: 403 AuthorizationFailed".into()));
    let s = next_status(&start, &o, now(), None);
    let notes = cluster(&start, &s);
    assert_eq!(reasons(&notes), [reason::IDENTITY_FAILED]);
    assert_eq!(notes[0].type_, EventType::Warning);
    assert!(notes[0].note.contains("AuthorizationFailed"));
    assert!(cluster(&s, &next_status(&s, &o, now(), None)).is_empty());

    let mut o = observed(None);
    o.agent_deployed = Some(Err("apply Deployment: 422".into()));
    let s = next_status(&start, &o, now(), None);
    assert_eq!(
        reasons(&cluster(&start, &s)),
        [reason::IDENTITY_READY, reason::AGENT_INSTALL_FAILED]
    );

    let mut o = observed(None);
    o.reachable = Some(Err("cluster API server https://a unreachable: reset".into()));
    let s = next_status(&start, &o, now(), None);
    let notes = cluster(&start, &s);
    assert_eq!(
        reasons(&notes),
        [reason::IDENTITY_READY, reason::UNREACHABLE]
    );
    assert!(notes[1].note.contains("https://a"), "{}", notes[1].note);

    let mut o = observed(None);
    o.reachable = Some(Err("Secret p/kc has no key kubeconfig".into()));
    o.permanent = true;
    let s = next_status(&start, &o, now(), None);
    assert_eq!(s.phase, Some(ClusterPhase::Failed));
    let notes = cluster(&start, &s);
    assert_eq!(
        reasons(&notes),
        [reason::IDENTITY_READY, reason::CONNECTION_FAILED]
    );
    assert_eq!(notes[1].type_, EventType::Warning);
    assert!(notes[1].note.contains("Secret p/kc"), "{}", notes[1].note);
}

#[test]
fn hibernation_and_opt_out_are_phase_events() {
    let ready = next_status(
        &ClusterStatus::default(),
        &observed(Some(now())),
        now(),
        Some(1),
    );
    let mut o = observed(Some(now()));
    o.hibernated = true;
    let hibernated = next_status(&ready, &o, now(), Some(1));
    assert_eq!(reasons(&cluster(&ready, &hibernated)), [reason::HIBERNATED]);
    o.managed = false;
    let unmanaged = next_status(&hibernated, &o, now(), Some(1));
    assert_eq!(
        reasons(&cluster(&hibernated, &unmanaged)),
        [reason::UNMANAGED]
    );
}

fn scheduled(ok: bool, reason: &str, message: &str) -> Vec<Condition> {
    let mut c = Vec::new();
    set(&mut c, "Scheduled", ok, reason, message, None);
    c
}

#[test]
fn a_backup_starts_finishes_once_and_waits_for_deletion() {
    let created = BackupStatus {
        conditions: scheduled(
            true,
            "JobCreated",
            "BackupJob herbarium-system/b1-1234 in cluster a",
        ),
        ..Default::default()
    };
    let notes = backup(None, &created);
    assert_eq!(reasons(&notes), [reason::BACKUP_STARTED]);
    assert!(notes[0].note.contains("cluster a"));
    let mut done = created.clone();
    done.run.phase = Some(BackupPhase::Succeeded);
    done.run.size_bytes = Some(10);
    done.run.storage_path = Some("herbarium/v1/backups/u/b1-x/".into());
    let notes = backup(Some(&created), &done);
    assert_eq!(reasons(&notes), [reason::BACKUP_SUCCEEDED]);
    assert!(notes[0].note.contains("herbarium/v1/backups/u/b1-x/"));
    assert!(backup(Some(&done), &done).is_empty());

    let mut deleting = done.clone();
    deleting.run.phase = Some(BackupPhase::Deleting);
    deleting.conditions = scheduled(false, "WaitingForCluster", "cluster a is not ready");
    let notes = backup(Some(&done), &deleting);
    assert_eq!(reasons(&notes), [reason::WAITING_FOR_CLUSTER]);
    assert_eq!(notes[0].type_, EventType::Warning);
}

#[test]
fn failed_and_partial_backups_are_warnings_with_the_first_error() {
    let running = BackupStatus {
        conditions: scheduled(true, "JobCreated", "x"),
        ..Default::default()
    };
    let mut failed = running.clone();
    failed.run.phase = Some(BackupPhase::Failed);
    failed.run.errors = vec![ItemError {
        item: "storage".into(),
        message: "403 AuthorizationPermissionMismatch".into(),
    }];
    let notes = backup(Some(&running), &failed);
    assert_eq!(reasons(&notes), [reason::BACKUP_FAILED]);
    assert_eq!(notes[0].type_, EventType::Warning);
    assert!(notes[0].note.contains("AuthorizationPermissionMismatch"));
    failed.run.phase = Some(BackupPhase::PartiallySucceeded);
    assert_eq!(
        reasons(&backup(Some(&running), &failed)),
        [reason::BACKUP_PARTIALLY_SUCCEEDED]
    );
}

#[test]
fn imported_backups_and_waiting_ones() {
    let synced = BackupStatus {
        origin: Origin::Synced,
        conditions: scheduled(true, "JobCreated", "x"),
        run: herbarium_api::common::BackupRunStatus {
            phase: Some(BackupPhase::Succeeded),
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(backup(None, &synced).is_empty(), "the sync reports imports");
    let waiting = BackupStatus {
        conditions: scheduled(false, "Waiting", "cluster a is not assigned"),
        ..Default::default()
    };
    assert_eq!(reasons(&backup(None, &waiting)), [reason::WAITING]);
    assert!(backup(Some(&waiting), &waiting).is_empty());
}

#[test]
fn restores_refused_started_and_finished() {
    let refused = RestoreStatus {
        conditions: scheduled(false, reason::REFUSED, "cluster b has no validated access"),
        ..Default::default()
    };
    let notes = restore(None, &refused);
    assert_eq!(reasons(&notes), [reason::REFUSED]);
    assert_eq!(notes[0].type_, EventType::Warning);
    let waiting = RestoreStatus {
        conditions: scheduled(false, "Waiting", "Backup b1 is not complete"),
        ..Default::default()
    };
    assert_eq!(reasons(&restore(None, &waiting)), [reason::WAITING]);
    let started = RestoreStatus {
        conditions: scheduled(true, "JobCreated", "RestoreJob x in cluster a"),
        ..Default::default()
    };
    assert_eq!(
        reasons(&restore(Some(&waiting), &started)),
        [reason::RESTORE_STARTED]
    );
    let mut done = started.clone();
    done.run.phase = Some(RestorePhase::Succeeded);
    done.run.counts = Some(RestoreCounts {
        total: 3,
        restored: 3,
        ..Default::default()
    });
    let notes = restore(Some(&started), &done);
    assert_eq!(reasons(&notes), [reason::RESTORE_SUCCEEDED]);
    assert!(notes[0].note.contains("3 restored"));
    assert!(restore(Some(&done), &done).is_empty());
}

#[test]
fn location_phases_and_syncs() {
    let start = BackupLocationStatus::default();
    let valid = BackupLocationStatus {
        phase: Some(LocationPhase::Valid),
        clusters: vec![ClusterValidation {
            cluster: "a".into(),
            state: ValidationState::Valid,
            ..Default::default()
        }],
        ..Default::default()
    };
    assert_eq!(reasons(&location(&start, &valid)), [reason::VALID]);
    assert!(location(&valid, &valid).is_empty());
    let mut limited = valid.clone();
    limited.phase = Some(LocationPhase::LimitedAvailability);
    limited.clusters.push(ClusterValidation {
        cluster: "b".into(),
        state: ValidationState::Failed,
        message: Some("403 AuthorizationPermissionMismatch".into()),
        ..Default::default()
    });
    let notes = location(&valid, &limited);
    assert_eq!(reasons(&notes), [reason::LIMITED_AVAILABILITY]);
    assert!(notes[0].note.contains("b Failed: 403"), "{}", notes[0].note);
    let mut in_progress = valid.clone();
    in_progress.phase = Some(LocationPhase::ValidationInProgress);
    assert!(location(&valid, &in_progress).is_empty());

    let mut syncing = valid.clone();
    syncing.sync = Some(SyncStatus {
        phase: SyncPhase::InProgress,
        last_request: Some("initial".into()),
        ..Default::default()
    });
    assert!(location(&valid, &syncing).is_empty());
    let mut synced = syncing.clone();
    synced.sync = Some(SyncStatus {
        phase: SyncPhase::Succeeded,
        cluster: Some("a".into()),
        found: 4,
        imported: 2,
        last_request: Some("initial".into()),
        ..Default::default()
    });
    let notes = location(&syncing, &synced);
    assert_eq!(reasons(&notes), [reason::SYNC_SUCCEEDED]);
    assert!(notes[0].note.contains("found 4"), "{}", notes[0].note);
    assert!(location(&synced, &synced).is_empty());
    let mut again = synced.clone();
    again.sync.as_mut().unwrap().last_request = Some("2026-11-21T10:00:00Z".into());
    again.sync.as_mut().unwrap().phase = SyncPhase::Failed;
    assert_eq!(reasons(&location(&synced, &again)), [reason::SYNC_FAILED]);
}

#[test]
fn a_failing_reclaim_is_one_warning_per_spell() {
    let pending = BackupLocationStatus {
        conditions: {
            let mut c = Vec::new();
            set(
                &mut c,
                "OrphansReclaimed",
                false,
                "ReclaimPending",
                "1 pending",
                None,
            );
            c
        },
        ..Default::default()
    };
    let mut failing = pending.clone();
    set(
        &mut failing.conditions,
        "OrphansReclaimed",
        false,
        "ReclaimFailed",
        "last reclaim error: 403",
        None,
    );
    let notes = location(&pending, &failing);
    assert_eq!(reasons(&notes), [reason::RECLAIM_FAILED]);
    assert_eq!(notes[0].type_, EventType::Warning);
    let mut again = failing.clone();
    set(
        &mut again.conditions,
        "OrphansReclaimed",
        false,
        "ReclaimFailed",
        "last reclaim error: 500",
        None,
    );
    assert!(location(&failing, &again).is_empty());
    assert!(location(&failing, &pending).is_empty());
}

#[test]
fn an_invalid_policy_is_one_warning() {
    let mut ok = Vec::new();
    set(&mut ok, "Ready", true, "Scheduled", "", None);
    let mut bad = ok.clone();
    set(
        &mut bad,
        "Ready",
        false,
        "InvalidPolicy",
        "no SchedulePolicy",
        None,
    );
    assert_eq!(reasons(&schedule(&ok, &bad)), [reason::INVALID_POLICY]);
    assert!(schedule(&bad, &bad).is_empty());
}

#[test]
fn notes_are_bounded() {
    let long = "é".repeat(2000);
    let cut = bounded(&long);
    assert!(cut.len() <= MAX_NOTE, "{}", cut.len());
    assert!(cut.ends_with("..."));
    assert_eq!(bounded("short"), "short");
}

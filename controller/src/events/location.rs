//! BackupLocation and BackupSchedule events.

use herbarium_api::garden::{BackupLocationStatus, LocationPhase, SyncPhase, ValidationState};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

use super::{Note, bounded, condition, reason, turned};
use crate::reclaim::ORPHANS_RECLAIMED;

/// BackupLocation: the phase settling on Valid, LimitedAvailability or ValidationFailed, the
/// orphan reclaim starting to fail, and a sync finishing. (`Orphaned` and `OrphanReclaimed` are
/// published where the list changes.)
pub fn location(previous: &BackupLocationStatus, next: &BackupLocationStatus) -> Vec<Note> {
    let mut notes = Vec::new();
    if previous.phase != next.phase {
        let not_valid = || {
            let list: Vec<String> = next
                .clusters
                .iter()
                .filter(|c| c.state != ValidationState::Valid)
                .map(|c| {
                    format!(
                        "{} {:?}: {}",
                        c.cluster,
                        c.state,
                        c.message.as_deref().unwrap_or("")
                    )
                })
                .collect();
            if list.is_empty() {
                "no cluster is assigned".to_string()
            } else {
                bounded(&list.join("; "))
            }
        };
        let note = match next.phase {
            Some(LocationPhase::Valid) => Some(Note::normal(
                reason::VALID,
                "Validate",
                format!("{} assigned clusters validated access", next.clusters.len()),
            )),
            Some(LocationPhase::LimitedAvailability) => Some(Note::warning(
                reason::LIMITED_AVAILABILITY,
                "Validate",
                not_valid(),
            )),
            Some(LocationPhase::ValidationFailed) => Some(Note::warning(
                reason::VALIDATION_FAILED,
                "Validate",
                not_valid(),
            )),
            _ => None,
        };
        notes.extend(note);
    }
    notes.extend(reclaim_failed(previous, next));
    if let Some(sync) = &next.sync {
        let finished = |s: &herbarium_api::garden::SyncStatus| {
            matches!(s.phase, SyncPhase::Succeeded | SyncPhase::Failed)
        };
        let was = previous
            .sync
            .as_ref()
            .is_some_and(|p| finished(p) && p.last_request == sync.last_request);
        if finished(sync) && !was {
            let cluster = sync.cluster.as_deref().unwrap_or("?");
            notes.push(if sync.phase == SyncPhase::Succeeded {
                Note::normal(
                    reason::SYNC_SUCCEEDED,
                    "Sync",
                    format!(
                        "cluster {cluster} found {} backups, {} imported as new records",
                        sync.found, sync.imported
                    ),
                )
            } else {
                Note::warning(
                    reason::SYNC_FAILED,
                    "Sync",
                    bounded(&format!(
                        "cluster {cluster}: {}",
                        sync.message.as_deref().unwrap_or("the sync failed")
                    )),
                )
            });
        }
    }
    notes
}

/// The `OrphansReclaimed` condition turning to reason ReclaimFailed: one warning per failure
/// spell, not one per attempt.
fn reclaim_failed(previous: &BackupLocationStatus, next: &BackupLocationStatus) -> Option<Note> {
    fn failing(s: &BackupLocationStatus) -> Option<&Condition> {
        condition(&s.conditions, ORPHANS_RECLAIMED).filter(|c| c.reason == "ReclaimFailed")
    }
    match (failing(previous), failing(next)) {
        (None, Some(c)) => Some(Note::warning(
            reason::RECLAIM_FAILED,
            "Reclaim",
            bounded(&c.message),
        )),
        _ => None,
    }
}

/// BackupSchedule: the policy turning invalid.
pub fn schedule(previous: &[Condition], next: &[Condition]) -> Vec<Note> {
    turned(previous, next, "Ready", "False")
        .map(|c| Note::warning(reason::INVALID_POLICY, "Schedule", bounded(&c.message)))
        .into_iter()
        .collect()
}

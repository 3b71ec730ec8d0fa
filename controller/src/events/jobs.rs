//! Backup and Restore events.

use herbarium_api::common::{BackupPhase, Origin, RestorePhase};
use herbarium_api::garden::{BackupStatus, RestoreStatus};

use super::{Note, bounded, reason, turned};

fn first_error(errors: &[herbarium_api::common::ItemError]) -> String {
    errors
        .first()
        .map(|e| format!("; first error: {}: {}", e.item, e.message))
        .unwrap_or_default()
}

/// Backup: the job created in the cluster, the run finishing, waiting (also for a cluster to
/// delete the data). Imported (Synced) records get their event from the sync instead.
pub fn backup(previous: Option<&BackupStatus>, next: &BackupStatus) -> Vec<Note> {
    const ACTION: &str = "Backup";
    let empty = BackupStatus::default();
    let previous = previous.unwrap_or(&empty);
    let mut notes = Vec::new();
    let synced = next.origin == Origin::Synced;
    let (p, n) = (&previous.conditions, &next.conditions);
    if let (false, Some(c)) = (synced, turned(p, n, "Scheduled", "True")) {
        notes.push(Note::normal(
            reason::BACKUP_STARTED,
            ACTION,
            bounded(&c.message),
        ));
    }
    let deleting = next.run.phase == Some(BackupPhase::Deleting);
    if let Some(c) = turned(p, n, "Scheduled", "False") {
        notes.push(if deleting {
            Note::warning(reason::WAITING_FOR_CLUSTER, "Delete", bounded(&c.message))
        } else {
            Note::normal(reason::WAITING, ACTION, bounded(&c.message))
        });
    }
    if previous.run.phase != next.run.phase && !synced {
        let run = &next.run;
        let done = format!(
            "{} items, {} bytes at {}",
            run.progress.as_ref().map(|p| p.items_done).unwrap_or(0),
            run.size_bytes.unwrap_or(0),
            run.storage_path.as_deref().unwrap_or("(no path)")
        );
        let note = match run.phase {
            Some(BackupPhase::Succeeded) => {
                Some(Note::normal(reason::BACKUP_SUCCEEDED, ACTION, done))
            }
            Some(BackupPhase::PartiallySucceeded) => Some(Note::warning(
                reason::BACKUP_PARTIALLY_SUCCEEDED,
                ACTION,
                bounded(&format!(
                    "{done}; {} items failed{}",
                    run.errors.len(),
                    first_error(&run.errors)
                )),
            )),
            Some(BackupPhase::Failed) => Some(Note::warning(
                reason::BACKUP_FAILED,
                ACTION,
                bounded(&format!(
                    "the agent reports the backup failed{}",
                    first_error(&run.errors)
                )),
            )),
            _ => None,
        };
        notes.extend(note);
    }
    notes
}

/// Restore: refused or waiting, the job created in the target cluster, the run finishing.
pub fn restore(previous: Option<&RestoreStatus>, next: &RestoreStatus) -> Vec<Note> {
    const ACTION: &str = "Restore";
    let empty = RestoreStatus::default();
    let previous = previous.unwrap_or(&empty);
    let (p, n) = (&previous.conditions, &next.conditions);
    let mut notes = Vec::new();
    if let Some(c) = turned(p, n, "Scheduled", "False") {
        notes.push(if c.reason == reason::REFUSED {
            Note::warning(reason::REFUSED, ACTION, bounded(&c.message))
        } else {
            Note::normal(reason::WAITING, ACTION, bounded(&c.message))
        });
    }
    if let Some(c) = turned(p, n, "Scheduled", "True") {
        notes.push(Note::normal(
            reason::RESTORE_STARTED,
            ACTION,
            bounded(&c.message),
        ));
    }
    if previous.run.phase != next.run.phase {
        let run = &next.run;
        let c = run.counts.clone().unwrap_or_default();
        let counts = format!(
            "{} restored, {} skipped, {} failed of {}",
            c.restored, c.skipped, c.failed, c.total
        );
        let note = match run.phase {
            Some(RestorePhase::Succeeded) => {
                Some(Note::normal(reason::RESTORE_SUCCEEDED, ACTION, counts))
            }
            Some(RestorePhase::PartiallySucceeded) => Some(Note::warning(
                reason::RESTORE_PARTIALLY_SUCCEEDED,
                ACTION,
                bounded(&format!("{counts}{}", first_error(&run.errors))),
            )),
            Some(RestorePhase::Failed) => Some(Note::warning(
                reason::RESTORE_FAILED,
                ACTION,
                bounded(&format!("{counts}{}", first_error(&run.errors))),
            )),
            _ => None,
        };
        notes.extend(note);
    }
    notes
}

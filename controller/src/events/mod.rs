//! Kubernetes Events about the garden objects, decided here without I/O: each function compares
//! the status a reconcile started from with the status it wrote and names the transitions, so an
//! object at rest produces no event (events are API writes). Publishing is
//! [`crate::reconcile::Context::publish`].
//!
//! Reasons are the bounded CamelCase constants of [`reason`]; notes carry the detail.

mod cluster;
mod jobs;
mod location;

pub use cluster::cluster;
pub use jobs::{backup, restore};
pub use location::{location, schedule};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
pub use kube::runtime::events::EventType;

/// The reasons the controller publishes (a fixed set: `kubectl get events --field-selector
/// reason=...` works, and nothing per object ends up in a reason).
pub mod reason {
    // Cluster
    pub const ADOPTED: &str = "Adopted";
    pub const SHOOT_RECREATED: &str = "ShootRecreated";
    pub const IDENTITY_READY: &str = "IdentityReady";
    pub const AGENT_INSTALLED: &str = "AgentInstalled";
    pub const READY: &str = "Ready";
    pub const UNREACHABLE: &str = "Unreachable";
    pub const HIBERNATED: &str = "Hibernated";
    pub const UNMANAGED: &str = "Unmanaged";
    pub const ISSUER_CHECK_FAILED: &str = "IssuerCheckFailed";
    pub const IDENTITY_FAILED: &str = "IdentityFailed";
    pub const AGENT_INSTALL_FAILED: &str = "AgentInstallFailed";
    pub const CONNECTION_FAILED: &str = "ConnectionFailed";
    // Backup
    pub const BACKUP_STARTED: &str = "BackupStarted";
    pub const BACKUP_SUCCEEDED: &str = "BackupSucceeded";
    pub const BACKUP_PARTIALLY_SUCCEEDED: &str = "BackupPartiallySucceeded";
    pub const BACKUP_FAILED: &str = "BackupFailed";
    pub const IMPORTED: &str = "Imported";
    pub const WAITING: &str = "Waiting";
    pub const WAITING_FOR_CLUSTER: &str = "WaitingForCluster";
    pub const FORCE_DELETED: &str = "ForceDeleted";
    pub const EXPIRED: &str = "Expired";
    // Restore
    pub const REFUSED: &str = "Refused";
    pub const RESTORE_STARTED: &str = "RestoreStarted";
    pub const RESTORE_SUCCEEDED: &str = "RestoreSucceeded";
    pub const RESTORE_PARTIALLY_SUCCEEDED: &str = "RestorePartiallySucceeded";
    pub const RESTORE_FAILED: &str = "RestoreFailed";
    // BackupLocation
    pub const VALID: &str = "Valid";
    pub const LIMITED_AVAILABILITY: &str = "LimitedAvailability";
    pub const VALIDATION_FAILED: &str = "ValidationFailed";
    pub const SYNC_SUCCEEDED: &str = "SyncSucceeded";
    pub const SYNC_FAILED: &str = "SyncFailed";
    pub const ORPHANED: &str = "Orphaned";
    pub const ORPHAN_RECLAIMED: &str = "OrphanReclaimed";
    pub const RECLAIM_FAILED: &str = "ReclaimFailed";
    // BackupSchedule
    pub const BACKUP_CREATED: &str = "BackupCreated";
    pub const RUN_SKIPPED: &str = "RunSkipped";
    pub const INVALID_POLICY: &str = "InvalidPolicy";
    pub const PRUNED: &str = "Pruned";
}

/// One event to publish about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub type_: EventType,
    pub reason: &'static str,
    /// What the controller was doing (`Register`, `Backup`, ...): the Event's `action`.
    pub action: &'static str,
    pub note: String,
}

impl Note {
    pub fn normal(reason: &'static str, action: &'static str, note: impl Into<String>) -> Self {
        Self {
            type_: EventType::Normal,
            reason,
            action,
            note: note.into(),
        }
    }

    pub fn warning(reason: &'static str, action: &'static str, note: impl Into<String>) -> Self {
        Self {
            type_: EventType::Warning,
            ..Self::normal(reason, action, note)
        }
    }
}

/// An Event's note is at most 1 kB.
pub const MAX_NOTE: usize = 1024;

/// `note` cut to [`MAX_NOTE`] bytes at a character boundary.
pub fn bounded(note: &str) -> String {
    if note.len() <= MAX_NOTE {
        return note.to_string();
    }
    let mut end = MAX_NOTE - 3;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &note[..end])
}

pub(crate) fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// The condition `type_` turned to `status` ("True"/"False") between `previous` and `next`.
pub(crate) fn turned<'a>(
    previous: &[Condition],
    next: &'a [Condition],
    type_: &str,
    status: &str,
) -> Option<&'a Condition> {
    let now = condition(next, type_).filter(|c| c.status == status)?;
    let before = condition(previous, type_).map(|c| c.status.as_str());
    (before != Some(status)).then_some(now)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;

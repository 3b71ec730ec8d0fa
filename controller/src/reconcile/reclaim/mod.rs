//! Reclaiming orphaned backups (part of the location reconciler): the data of a force-deleted
//! Backup is deleted through an agent once its cluster is Ready with valid access again, then the
//! entry leaves `status.orphaned`.
//!
//! Order, so that no sync imports the data as a garden Backup while (or after) it goes:
//! 1. While an entry is listed, imports skip its UID (see [`super::sync`]).
//! 2. The cluster's BackupJob for it (or, when gone, a new `Synced` one with policy Delete) is
//!    deleted once the agent holds its finalizer; the agent deletes `metadata.json` first, so no
//!    later sync finds the backup. `deletionRequested` records that step.
//! 3. The entry goes only when no assigned cluster holds a BackupJob for the UID any more: views a
//!    sync made elsewhere before the data went are deleted too (they are Retain: the data is
//!    untouched by them), and an assigned cluster that cannot be asked keeps the entry listed.
//!
//! A garden Backup that refers to the UID again (an import before this existed) makes the entry
//! go without deleting anything.

mod steps;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use herbarium_api::garden::{Backup, BackupLocation, BackupLocationStatus, OrphanedBackup};
use kube::api::ListParams;
use kube::{Api, ResourceExt};

use super::{Context, Error, conditions, orphans};
use crate::events::{Note, bounded, reason};
use crate::reclaim::{ORPHANS_RECLAIMED, condition};

/// What one pass made of one orphan.
enum Outcome {
    /// Gone from the list, with the event's note.
    Drop(String),
    /// Still listed; `soon` when an agent is working on it (look again in seconds).
    Pending { message: String, soon: bool },
    /// The BackupJob was deleted: the agent deletes the data now.
    Requested(String),
}

/// Advances every orphan of `location` one step and sets the `OrphansReclaimed` condition in
/// `status`; `Some(wait)` while an agent is working on one.
pub async fn reconcile(
    ctx: &Context,
    location: &BackupLocation,
    status: &mut BackupLocationStatus,
) -> Result<Option<Duration>, Error> {
    let namespace = location.namespace().unwrap_or_default();
    let had = status
        .conditions
        .iter()
        .any(|c| c.type_ == ORPHANS_RECLAIMED);
    let listed = status.orphaned.clone();
    if listed.is_empty() {
        set_condition(status, location, &[], None, had);
        return Ok(None);
    }
    let known = referenced(ctx, &namespace).await?;
    let mut outcomes = BTreeMap::new();
    let (mut failed, mut soon) = (None, false);
    for orphan in &listed {
        let outcome = if known.contains(&orphan.uid) {
            Ok(Outcome::Drop(format!(
                "a Backup refers to the data of {} again (UID {}); nothing was deleted",
                orphan.name, orphan.uid
            )))
        } else {
            steps::reclaim(ctx, location, status, orphan).await
        };
        let outcome = outcome.unwrap_or_else(|e| {
            failed = Some(e.to_string());
            Outcome::Pending {
                message: format!("retried after an error: {e}"),
                soon: e.retryable(),
            }
        });
        soon |= matches!(
            outcome,
            Outcome::Pending { soon: true, .. } | Outcome::Requested(_)
        );
        outcomes.insert(orphan.uid.clone(), outcome);
    }
    let now = crate::time::now();
    let mut dropped = Vec::new();
    let updated = orphans::modify(ctx, &namespace, &location.name_any(), |list| {
        let before = list.clone();
        list.retain(|o| match outcomes.get(&o.uid) {
            Some(Outcome::Drop(note)) => {
                dropped.push(note.clone());
                false
            }
            _ => true,
        });
        for o in list.iter_mut() {
            match outcomes.get(&o.uid) {
                Some(Outcome::Pending { message, .. }) => o.message = Some(bounded(message)),
                Some(Outcome::Requested(message)) => {
                    o.message = Some(bounded(message));
                    o.deletion_requested.get_or_insert(now.clone());
                }
                _ => {}
            }
        }
        *list != before
    })
    .await?;
    let notes = dropped
        .into_iter()
        .map(|note| Note::normal(reason::ORPHAN_RECLAIMED, "Reclaim", note));
    ctx.publish(location, notes).await;
    let remaining = updated
        .and_then(|l| l.status)
        .map(|s| s.orphaned)
        .unwrap_or_default();
    set_condition(status, location, &remaining, failed.as_deref(), had);
    Ok(soon.then_some(Duration::from_secs(5)))
}

fn set_condition(
    status: &mut BackupLocationStatus,
    location: &BackupLocation,
    orphans: &[OrphanedBackup],
    failed: Option<&str>,
    had: bool,
) {
    if let Some((ok, why, message)) = condition(orphans, failed, had) {
        let generation = location.metadata.generation;
        conditions::set(
            &mut status.conditions,
            ORPHANS_RECLAIMED,
            ok,
            why,
            message,
            generation,
        );
    }
}

/// Storage UIDs of the Backups in `namespace` that stay. A Backup being deleted does not count:
/// a force-deleted one lists its orphan before its record is gone.
async fn referenced(ctx: &Context, namespace: &str) -> Result<BTreeSet<String>, Error> {
    let backups: Api<Backup> = Api::namespaced(ctx.garden.clone(), namespace);
    let list = backups
        .list(&ListParams::default())
        .await
        .map_err(Error::kube("listing Backups"))?;
    Ok(list
        .items
        .iter()
        .filter(|b| b.metadata.deletion_timestamp.is_none())
        .map(super::backup::storage_uid)
        .collect())
}

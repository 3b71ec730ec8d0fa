//! Force-deleted backups: the record goes at once, the data later. The location's status lists
//! the data as orphaned until [`super::reclaim`] has had it deleted through an agent (or a garden
//! Backup refers to it again). Every change to the list reads the location fresh and writes with
//! its resourceVersion, so the Backup reconciler (adding) and the location reconciler (reclaiming)
//! never lose each other's entries.

use herbarium_api::garden::{Backup, BackupLocation, OrphanedBackup};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};

use super::{Context, Error};
use crate::events::{Note, reason};

/// At most this many orphans are listed; the oldest go first.
pub const MAX_ORPHANS: usize = 100;

/// Applies `change` to the orphan list of `location` and writes it when `change` says it changed
/// something. `None` when the location is gone; a concurrent write makes it fail with 409
/// (retried by the caller's reconcile).
pub async fn modify(
    ctx: &Context,
    namespace: &str,
    location: &str,
    change: impl FnOnce(&mut Vec<OrphanedBackup>) -> bool,
) -> Result<Option<BackupLocation>, Error> {
    let api: Api<BackupLocation> = Api::namespaced(ctx.garden.clone(), namespace);
    let Some(current) = api
        .get_opt(location)
        .await
        .map_err(Error::kube("reading the BackupLocation for orphans"))?
    else {
        return Ok(None);
    };
    let mut orphaned = current
        .status
        .as_ref()
        .map(|s| s.orphaned.clone())
        .unwrap_or_default();
    if !change(&mut orphaned) {
        return Ok(Some(current));
    }
    let excess = orphaned.len().saturating_sub(MAX_ORPHANS);
    orphaned.drain(..excess);
    let patch = serde_json::json!({
        "metadata": { "resourceVersion": current.metadata.resource_version },
        "status": { "orphaned": orphaned },
    });
    let updated = api
        .patch_status(location, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(Error::kube(
            "updating the orphaned backups of the BackupLocation",
        ))?;
    Ok(Some(updated))
}

/// Adds `backup` (stored at `path`) to the orphans of `location`.
pub async fn record(
    ctx: &Context,
    namespace: &str,
    location: &str,
    backup: &Backup,
    path: &str,
) -> Result<(), Error> {
    let uid = super::backup::storage_uid(backup);
    let entry = OrphanedBackup {
        name: backup.name_any(),
        uid: uid.clone(),
        cluster: backup.spec.template.cluster.clone(),
        path: path.to_string(),
        since: Some(crate::time::now()),
        ..Default::default()
    };
    let mut added = false;
    let updated = modify(ctx, namespace, location, |orphaned| {
        if orphaned.iter().any(|o| o.uid == uid) {
            return false;
        }
        orphaned.push(entry);
        added = true;
        true
    })
    .await?;
    // No location left to list it in: the data's path is in the Backup's last status.
    if let (true, Some(updated)) = (added, updated) {
        let note = format!(
            "Backup {} was force-deleted; its data at {path} stays until cluster {} can delete it \
             (status.orphaned)",
            backup.name_any(),
            backup.spec.template.cluster
        );
        ctx.publish(&updated, [Note::warning(reason::ORPHANED, "Delete", note)])
            .await;
    }
    Ok(())
}

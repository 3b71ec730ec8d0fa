//! Force-deleted backups: the record goes, the data stays, and the location's status lists the
//! data as orphaned so nobody loses track of it. A later sync that imports the backup again takes
//! it off the list.

use herbarium_api::garden::{Backup, BackupLocation, OrphanedBackup};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};

use super::{Context, Error};
use crate::events::{Note, reason};

/// At most this many orphans are listed; the oldest go first.
pub const MAX_ORPHANS: usize = 100;

/// Adds `backup` (stored at `path`) to the orphans of `location`.
pub async fn record(
    ctx: &Context,
    namespace: &str,
    location: &str,
    backup: &Backup,
    path: &str,
) -> Result<(), Error> {
    let api: Api<BackupLocation> = Api::namespaced(ctx.garden.clone(), namespace);
    let Some(current) = api
        .get_opt(location)
        .await
        .map_err(Error::kube("reading the BackupLocation for orphans"))?
    else {
        // No location left to list it in; the data's path is in the Backup's last status.
        return Ok(());
    };
    let mut orphaned = current.status.map(|s| s.orphaned).unwrap_or_default();
    let uid = super::backup::storage_uid(backup);
    if orphaned.iter().any(|o| o.uid == uid) {
        return Ok(());
    }
    orphaned.push(OrphanedBackup {
        name: backup.name_any(),
        uid,
        cluster: backup.spec.template.cluster.clone(),
        path: path.to_string(),
        since: Some(crate::time::now()),
    });
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
            "listing an orphaned backup in the BackupLocation",
        ))?;
    let note = format!(
        "Backup {} was force-deleted; its data at {path} stays (status.orphaned)",
        backup.name_any()
    );
    ctx.publish(&updated, [Note::warning(reason::ORPHANED, "Delete", note)])
        .await;
    Ok(())
}

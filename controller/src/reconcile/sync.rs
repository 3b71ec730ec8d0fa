//! Syncing a BackupLocation: once when sync is enabled and a cluster is valid, then on each new
//! `herbarium.io/sync-requested` value. One Ready cluster with valid access runs a SyncJob; when
//! it succeeds, every Synced BackupJob there that the garden does not know (by backup UID)
//! becomes a garden Backup, so no backup is imported twice. Orphans (force-deleted backups listed
//! in the location's status) are never imported: their data is on its way out (see
//! [`super::reclaim`]).

use std::collections::BTreeSet;
use std::time::Duration;

use herbarium_api::agent::{BackupJob, GardenRef, SyncJob, SyncJobSpec};
use herbarium_api::common::{DeletionPolicy, Origin};
use herbarium_api::constants::{
    AGENT_NAMESPACE, BACKUP_UID_LABEL, LOCATION_LABEL, ORIGIN_LABEL, SYNC_REQUESTED_ANNOTATION,
};
use herbarium_api::garden::{
    Backup, BackupLocation, BackupLocationStatus, BackupSpec, BackupStatus, BackupTemplate,
    SyncPhase, SyncStatus, ValidationState,
};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::{Api, ResourceExt};

use super::clients::{ReadyCluster, ready_cluster};
use super::{Context, Error, apply, names, patch_status_if_changed};
use crate::events::{Note, reason};

/// The request a sync should serve now, if any: `initial` once sync is enabled, then each new
/// value of the annotation.
pub fn wanted(location: &BackupLocation, status: Option<&SyncStatus>) -> Option<String> {
    if !location.spec.sync.enabled {
        return None;
    }
    let request = location
        .annotations()
        .get(SYNC_REQUESTED_ANNOTATION)
        .cloned()
        .unwrap_or_else(|| "initial".to_string());
    match status {
        Some(s)
            if s.last_request.as_deref() == Some(request.as_str())
                && matches!(s.phase, SyncPhase::Succeeded | SyncPhase::Failed) =>
        {
            None
        }
        _ => Some(request),
    }
}

/// Advances the sync and records it in `status.sync`; `Some(wait)` while one is running.
pub async fn reconcile(
    ctx: &Context,
    location: &BackupLocation,
    status: &mut BackupLocationStatus,
) -> Result<Option<Duration>, Error> {
    let Some(request) = wanted(location, status.sync.as_ref()) else {
        return Ok(None);
    };
    let namespace = location.namespace().unwrap_or_default();
    let mut sync = status.sync.clone().unwrap_or_default();
    if sync.last_request.as_deref() != Some(request.as_str()) {
        sync = SyncStatus {
            last_request: Some(request.clone()),
            ..Default::default()
        };
    }
    let mut candidates: Vec<String> = sync.cluster.iter().cloned().collect();
    candidates.extend(
        status
            .clusters
            .iter()
            .filter(|c| c.state == ValidationState::Valid)
            .map(|c| c.cluster.clone()),
    );
    let mut executor = None;
    for cluster in candidates {
        let valid = status
            .clusters
            .iter()
            .any(|c| c.cluster == cluster && c.state == ValidationState::Valid);
        if let (true, Ok(ready)) = (
            valid,
            ready_cluster(&ctx.garden, ctx.clusters.as_ref(), &namespace, &cluster).await?,
        ) {
            executor = Some(ready);
            break;
        }
    }
    let Some(ready) = executor else {
        sync.phase = SyncPhase::Pending;
        sync.message = Some("waiting for a ready cluster with valid access".into());
        status.sync = Some(sync);
        return Ok(Some(Duration::from_secs(30)));
    };
    sync.cluster = Some(ready.cluster.name_any());
    let jobs: Api<SyncJob> = Api::namespaced(ready.client.clone(), AGENT_NAMESPACE);
    let name = names::sync_job_name(&location.name_any());
    let job = match jobs
        .get_opt(&name)
        .await
        .map_err(Error::kube("reading the SyncJob"))?
    {
        Some(job) if job.spec.request == request => job,
        Some(_) => {
            // A job for an older request: replace it (SyncJobs hold nothing but their result).
            jobs.delete(&name, &DeleteParams::default())
                .await
                .map_err(Error::kube("deleting an old SyncJob"))?;
            return Ok(Some(Duration::from_secs(1)));
        }
        None => {
            let job = SyncJob {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                spec: SyncJobSpec {
                    location: location.name_any(),
                    request: request.clone(),
                    garden: Some(GardenRef {
                        namespace: namespace.clone(),
                        name: location.name_any(),
                        uid: location.uid(),
                    }),
                },
                status: None,
            };
            apply(&jobs, &name, &job)
                .await
                .map_err(Error::kube("creating the SyncJob"))?
        }
    };
    let job_status = job.status.unwrap_or_default();
    sync.start_time = job_status.start_time.clone();
    sync.found = job_status.found;
    sync.message = job_status.message.clone();
    let wait = match job_status.phase {
        Some(SyncPhase::Succeeded) => {
            let orphans: BTreeSet<String> = status.orphaned.iter().map(|o| o.uid.clone()).collect();
            sync.imported = import(ctx, location, &ready, &orphans).await?;
            sync.phase = SyncPhase::Succeeded;
            sync.completion_time = job_status.completion_time;
            None
        }
        Some(SyncPhase::Failed) => {
            sync.phase = SyncPhase::Failed;
            sync.completion_time = job_status.completion_time;
            None
        }
        _ => {
            sync.phase = SyncPhase::InProgress;
            Some(Duration::from_secs(5))
        }
    };
    status.sync = Some(sync);
    Ok(wait)
}

/// Storage UIDs of the garden's Backups in `namespace`.
async fn known_uids(ctx: &Context, namespace: &str) -> Result<BTreeSet<String>, Error> {
    let backups: Api<Backup> = Api::namespaced(ctx.garden.clone(), namespace);
    let list = backups
        .list(&ListParams::default())
        .await
        .map_err(Error::kube("listing Backups"))?;
    Ok(list.items.iter().map(super::backup::storage_uid).collect())
}

/// Creates a garden Backup for each Synced BackupJob of this location the garden does not know,
/// except for the `orphans`.
async fn import(
    ctx: &Context,
    location: &BackupLocation,
    ready: &ReadyCluster,
    orphans: &BTreeSet<String>,
) -> Result<i64, Error> {
    let namespace = location.namespace().unwrap_or_default();
    let known = known_uids(ctx, &namespace).await?;
    let jobs: Api<BackupJob> = Api::namespaced(ready.client.clone(), AGENT_NAMESPACE);
    let found = jobs
        .list(&ListParams::default())
        .await
        .map_err(Error::kube("listing BackupJobs"))?;
    let backups: Api<Backup> = Api::namespaced(ctx.garden.clone(), &namespace);
    let mut imported = 0;
    for job in found
        .items
        .into_iter()
        .filter(|j| j.spec.origin == Origin::Synced && j.spec.location == location.name_any())
    {
        if known.contains(&job.spec.backup_uid) || orphans.contains(&job.spec.backup_uid) {
            continue;
        }
        let name = if backups
            .get_opt(&job.spec.backup_name)
            .await
            .map_err(Error::kube("reading a Backup"))?
            .is_some()
        {
            names::job_name(&job.spec.backup_name, &job.spec.backup_uid)
        } else {
            job.spec.backup_name.clone()
        };
        let backup = Backup {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(
                    [
                        (ORIGIN_LABEL.to_string(), "Synced".to_string()),
                        (BACKUP_UID_LABEL.to_string(), job.spec.backup_uid.clone()),
                        (LOCATION_LABEL.to_string(), location.name_any()),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            spec: BackupSpec {
                template: BackupTemplate {
                    cluster: ready.cluster.name_any(),
                    location: location.name_any(),
                    // Imported records never delete data someone else may still manage.
                    deletion_policy: DeletionPolicy::Retain,
                    ..Default::default()
                },
            },
            status: None,
        };
        match backups.create(&PostParams::default(), &backup).await {
            Ok(created) => {
                let status = BackupStatus {
                    run: job.status.map(|s| s.run).unwrap_or_default(),
                    origin: Origin::Synced,
                    cluster_uid: Some(job.spec.cluster_uid.clone()),
                    ..Default::default()
                };
                patch_status_if_changed(&backups, &name, created.status.as_ref(), &status)
                    .await
                    .map_err(Error::kube("writing the status of an imported Backup"))?;
                imported += 1;
                let note = format!(
                    "found in storage by the sync through cluster {} (backup {} of cluster UID {}, at {})",
                    ready.cluster.name_any(),
                    job.spec.backup_name,
                    job.spec.cluster_uid,
                    status.run.storage_path.as_deref().unwrap_or("?")
                );
                ctx.publish(&created, [Note::normal(reason::IMPORTED, "Sync", note)])
                    .await;
            }
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(Error::kube("importing a Backup")(e)),
        }
    }
    Ok(imported)
}

//! One orphan's way out: the agent that deletes the data, its BackupJob, and the records left
//! in other clusters.

use std::collections::BTreeSet;

use herbarium_api::agent::{BackupJob, BackupJobSpec};
use herbarium_api::common::{DeletionPolicy, Origin};
use herbarium_api::constants::{
    AGENT_NAMESPACE, BACKUP_JOB_FINALIZER, BACKUP_LABEL, BACKUP_UID_LABEL, LOCATION_LABEL,
    MANAGED_BY_LABEL, MANAGED_BY_VALUE,
};
use herbarium_api::garden::{
    BackupLocation, BackupLocationStatus, Cluster, OrphanedBackup, ValidationState,
};
use kube::api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

use super::Outcome;
use crate::reclaim::{StoredBackup, stored_backup};
use crate::reconcile::clients::{ReadyCluster, ready_cluster};
use crate::reconcile::{Context, Error, apply, names};

pub(super) async fn reclaim(
    ctx: &Context,
    location: &BackupLocation,
    status: &BackupLocationStatus,
    orphan: &OrphanedBackup,
) -> Result<Outcome, Error> {
    if orphan.deletion_requested.is_some() {
        return leftovers(ctx, location, orphan).await;
    }
    let ready = match executor(ctx, location, status, orphan).await? {
        Ok(ready) => ready,
        Err(message) => {
            return Ok(Outcome::Pending {
                message,
                soon: false,
            });
        }
    };
    let cluster = ready.cluster.name_any();
    let api: Api<BackupJob> = Api::namespaced(ready.client.clone(), AGENT_NAMESPACE);
    let jobs = jobs_of(&ready.client, &orphan.uid).await?;
    if jobs.is_empty() {
        let Some(stored) = stored_backup(&orphan.path, &orphan.uid) else {
            return Ok(Outcome::Pending {
                message: format!(
                    "{} is not a path Herbarium writes for UID {}; the data cannot be addressed \
                     through an agent",
                    orphan.path, orphan.uid
                ),
                soon: false,
            });
        };
        let job = reclaim_job(location, orphan, &stored);
        let name = job.name_any();
        apply(&api, &name, &job)
            .await
            .map_err(Error::kube("creating a BackupJob to reclaim an orphan"))?;
        return Ok(Outcome::Pending {
            message: format!(
                "BackupJob {AGENT_NAMESPACE}/{name} created in cluster {cluster} to delete the \
                 data; waiting for its agent"
            ),
            soon: true,
        });
    }
    let live: Vec<&BackupJob> = jobs
        .iter()
        .filter(|j| j.metadata.deletion_timestamp.is_none())
        .collect();
    if let Some(job) = live.iter().find(|j| !held_by_agent(j)) {
        return Ok(Outcome::Pending {
            message: format!(
                "waiting for the agent in cluster {cluster} to take BackupJob {AGENT_NAMESPACE}/{}",
                job.name_any()
            ),
            soon: true,
        });
    }
    for job in &live {
        let name = job.name_any();
        if job.spec.deletion_policy != DeletionPolicy::Delete {
            let patch = serde_json::json!({"spec": {"deletionPolicy": "Delete"}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(Error::kube(
                    "setting deletion policy Delete on a BackupJob to reclaim",
                ))?;
        }
        delete(&api, &name).await?;
    }
    let names: Vec<String> = jobs.iter().map(|j| j.name_any()).collect();
    Ok(Outcome::Requested(format!(
        "the agent in cluster {cluster} deletes the data (BackupJob {AGENT_NAMESPACE}/{})",
        names.join(", ")
    )))
}

/// The cluster whose agent deletes the data: the orphan's own, once it is Ready with validated
/// access; only when that Cluster no longer exists (or left the location), any assigned cluster
/// that is. `Ok(Err(why))` while there is none.
async fn executor(
    ctx: &Context,
    location: &BackupLocation,
    status: &BackupLocationStatus,
    orphan: &OrphanedBackup,
) -> Result<Result<ReadyCluster, String>, Error> {
    let namespace = location.namespace().unwrap_or_default();
    let valid = |c: &str| {
        status
            .clusters
            .iter()
            .any(|v| v.cluster == c && v.state == ValidationState::Valid)
    };
    let own = &orphan.cluster;
    let assigned = location.spec.clusters.contains(own);
    if assigned && exists(ctx, &namespace, own).await? {
        let ready = match ready_cluster(&ctx.garden, ctx.clusters.as_ref(), &namespace, own).await?
        {
            Ok(ready) => ready,
            Err(why) => return Ok(Err(format!("{why}; reclaimed once it is Ready"))),
        };
        if !valid(own) {
            return Ok(Err(format!(
                "cluster {own} has no validated access to the location; reclaimed once it has"
            )));
        }
        return Ok(Ok(ready));
    }
    for other in location.spec.clusters.iter().filter(|c| valid(c)) {
        if let Ok(ready) =
            ready_cluster(&ctx.garden, ctx.clusters.as_ref(), &namespace, other).await?
        {
            return Ok(Ok(ready));
        }
    }
    Ok(Err(format!(
        "cluster {own} is gone or no longer assigned, and no assigned cluster is Ready with \
         validated access"
    )))
}

/// After the deletion was requested: deletes every BackupJob left for the UID in the clusters a
/// sync could import it through; `Drop` once there is none.
async fn leftovers(
    ctx: &Context,
    location: &BackupLocation,
    orphan: &OrphanedBackup,
) -> Result<Outcome, Error> {
    let namespace = location.namespace().unwrap_or_default();
    let mut clusters: BTreeSet<&String> = location.spec.clusters.iter().collect();
    clusters.insert(&orphan.cluster);
    let (mut waiting, mut soon) = (Vec::new(), false);
    for cluster in clusters {
        if !exists(ctx, &namespace, cluster).await? {
            continue;
        }
        let ready =
            match ready_cluster(&ctx.garden, ctx.clusters.as_ref(), &namespace, cluster).await? {
                Ok(ready) => ready,
                // Only assigned clusters can sync; they may hold a record of it.
                Err(why) if location.spec.clusters.contains(cluster) => {
                    waiting.push(format!("{why} and may still list the backup"));
                    continue;
                }
                Err(_) => continue,
            };
        let api: Api<BackupJob> = Api::namespaced(ready.client.clone(), AGENT_NAMESPACE);
        for job in jobs_of(&ready.client, &orphan.uid).await? {
            if job.metadata.deletion_timestamp.is_none() {
                delete(&api, &job.name_any()).await?;
            }
            waiting.push(format!(
                "BackupJob {AGENT_NAMESPACE}/{} in cluster {cluster} is being deleted",
                job.name_any()
            ));
            soon = true;
        }
    }
    if waiting.is_empty() {
        return Ok(Outcome::Drop(format!(
            "the data of force-deleted Backup {} at {} was deleted",
            orphan.name, orphan.path
        )));
    }
    Ok(Outcome::Pending {
        message: format!("data deletion requested; {}", waiting.join("; ")),
        soon,
    })
}

async fn exists(ctx: &Context, namespace: &str, name: &str) -> Result<bool, Error> {
    Ok(Api::<Cluster>::namespaced(ctx.garden.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(Error::kube(format!("reading Cluster {namespace}/{name}")))?
        .is_some())
}

async fn jobs_of(client: &Client, uid: &str) -> Result<Vec<BackupJob>, Error> {
    let api: Api<BackupJob> = Api::namespaced(client.clone(), AGENT_NAMESPACE);
    Ok(api
        .list(&ListParams::default().labels(&format!("{BACKUP_UID_LABEL}={uid}")))
        .await
        .map_err(Error::kube("listing the BackupJobs of an orphan"))?
        .items)
}

async fn delete(api: &Api<BackupJob>, name: &str) -> Result<(), Error> {
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube("deleting a BackupJob to reclaim an orphan")(e)),
    }
}

/// The agent adds its finalizer when it first sees a job; deleting a job before that would drop
/// the record without deleting the data.
fn held_by_agent(job: &BackupJob) -> bool {
    job.finalizers().iter().any(|f| f == BACKUP_JOB_FINALIZER)
}

/// A record of the stored backup for its agent to delete: origin Synced (never run), deletion
/// policy Delete.
fn reclaim_job(
    location: &BackupLocation,
    orphan: &OrphanedBackup,
    stored: &StoredBackup,
) -> BackupJob {
    let name = names::job_name(&stored.name, &orphan.uid);
    BackupJob {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(AGENT_NAMESPACE.into()),
            labels: Some(
                [
                    (BACKUP_UID_LABEL.to_string(), orphan.uid.clone()),
                    (BACKUP_LABEL.to_string(), stored.name.clone()),
                    (LOCATION_LABEL.to_string(), location.name_any()),
                    (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec: BackupJobSpec {
            backup_name: stored.name.clone(),
            backup_uid: orphan.uid.clone(),
            cluster_uid: stored.cluster_uid.clone(),
            location: location.name_any(),
            origin: Origin::Synced,
            selection: None,
            pre_hooks: Vec::new(),
            post_hooks: Vec::new(),
            volume_snapshots: None,
            deletion_policy: DeletionPolicy::Delete,
            garden: None,
        },
        status: None,
    }
}

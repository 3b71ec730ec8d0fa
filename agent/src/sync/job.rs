//! The SyncJob controller and the sync itself: list `<prefix>/herbarium/v1/backups/` one level at
//! a time (cluster UIDs, then backup directories), read each `metadata.json` (bounded, untrusted),
//! and create a BackupJob for every committed backup not known here by UID. Names are
//! deterministic, so two clusters or two agents syncing at once create each record once: a 409
//! AlreadyExists means another sync got there first. Create and status are two calls; a synced
//! record found without a final phase (a sync stopped between them) gets its status then.
//!
//! A SyncJob runs once per spec generation (the controller changes `request` to ask again); a
//! finished one is not run again for the same generation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use herbarium_api::agent::{BackupJob, BackupJobStatus, LocationAccess, SyncJob, SyncJobStatus};
use herbarium_api::constants::{AGENT_MANAGER, BACKUP_UID_LABEL};
use herbarium_api::garden::SyncPhase;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::plan::{Found, SyncPlan, invalid_message, needs_repair, plan};
use crate::context::{Context, StoreFactory};
use crate::format::{MAX_METADATA_BYTES, backups_root, parse_backup_dir, parse_metadata};
use crate::store::{BlobStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Other(String),
}

/// Outcome of one sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncOutcome {
    pub found: i64,
    pub imported: i64,
    pub invalid: i64,
    pub message: Option<String>,
}

/// Lists storage with `store` and creates the missing BackupJobs in `namespace`.
pub async fn sync_location<S: BlobStore>(
    store: &S,
    client: &Client,
    namespace: &str,
    location: &str,
    prefix: Option<&str>,
) -> Result<SyncOutcome, SyncError> {
    let found = list_backups(store, prefix).await?;
    let jobs: Api<BackupJob> = Api::namespaced(client.clone(), namespace);
    let mut known = BTreeSet::new();
    let mut unfinished = BTreeMap::new();
    for job in jobs.list(&ListParams::default()).await?.items {
        known.insert(job.spec.backup_uid.clone());
        if let Some(uid) = job.labels().get(BACKUP_UID_LABEL) {
            known.insert(uid.clone());
        }
        if needs_repair(&job) {
            unfinished.insert(job.spec.backup_uid.clone(), job.name_any());
        }
    }
    let p: SyncPlan = plan(found, &known, &unfinished, location);
    for (name, status) in &p.repair {
        tracing::info!(job = %name, "sync: writing the status an earlier sync did not write");
        write_job_status(&jobs, name, status).await?;
    }
    let mut imported = 0;
    for new in &p.create {
        let job = BackupJob {
            metadata: ObjectMeta {
                name: Some(new.name.clone()),
                namespace: Some(namespace.to_string()),
                labels: Some(new.labels.clone()),
                ..Default::default()
            },
            spec: new.spec.clone(),
            status: None,
        };
        match jobs.create(&PostParams::default(), &job).await {
            Ok(_) => imported += 1,
            // Another sync created it first; it writes the same status.
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(e.into()),
        }
        // Should the agent stop right here, the next sync finds the record without a final
        // phase and writes this status then (`SyncPlan::repair`).
        write_job_status(&jobs, &new.name, &new.status).await?;
    }
    Ok(SyncOutcome {
        found: p.found,
        imported,
        invalid: p.invalid,
        message: invalid_message(&p),
    })
}

async fn write_job_status(
    jobs: &Api<BackupJob>,
    name: &str,
    status: &BackupJobStatus,
) -> Result<(), SyncError> {
    let body = json!({"apiVersion": "agent.herbarium.io/v1alpha1", "kind": "BackupJob",
        "status": status});
    jobs.patch_status(
        name,
        &PatchParams::apply(AGENT_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

/// Committed (and unreadable) backups under the root; directories that are not backup
/// directories of format v1 are skipped.
async fn list_backups<S: BlobStore>(
    store: &S,
    prefix: Option<&str>,
) -> Result<Vec<Found>, StoreError> {
    let root = backups_root(prefix);
    let mut found = Vec::new();
    for cluster in store.list(&root, true).await?.prefixes {
        for dir in store.list(&cluster, true).await?.prefixes {
            let Some(relative) = dir.strip_prefix(&root) else {
                continue;
            };
            let Some(parsed) = parse_backup_dir(relative) else {
                continue;
            };
            let metadata = match store
                .get(&format!("{dir}metadata.json"), MAX_METADATA_BYTES as u64)
                .await
            {
                Ok(bytes) => Some(parse_metadata(&bytes, &parsed.uid).map_err(|e| e.to_string())),
                Err(StoreError::NotFound(_)) => None,
                Err(e @ StoreError::TooLarge { .. }) => Some(Err(e.to_string())),
                Err(e) => return Err(e),
            };
            found.push(Found {
                dir: parsed,
                path: dir,
                metadata,
            });
        }
    }
    Ok(found)
}

/// Runs the SyncJob controller until [`Context::stop`] (started in `controllers.rs`).
pub async fn run<F: StoreFactory>(ctx: Arc<Context<F>>) {
    let api: Api<SyncJob> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    // `controllers::run_all` ends this task once no job of any kind is running (kube's graceful
    // shutdown alone can hang when the stop comes before a watcher's first list).
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(ctx.stopped())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy<F: StoreFactory>(_: Arc<SyncJob>, e: &SyncError, _: Arc<Context<F>>) -> Action {
    tracing::warn!(error = %e, "sync job: retrying in 15s");
    Action::requeue(Duration::from_secs(15))
}

pub async fn reconcile<F: StoreFactory>(
    job: Arc<SyncJob>,
    ctx: Arc<Context<F>>,
) -> Result<Action, SyncError> {
    let name = job.name_any();
    let api: Api<SyncJob> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    // Read the job itself: the controller's cache may not have seen our last status write.
    let Some(job) = api.get_opt(&name).await? else {
        return Ok(Action::await_change());
    };
    let status = job.status.clone().unwrap_or_default();
    let generation = job.metadata.generation;
    let done = matches!(status.phase, Some(SyncPhase::Succeeded | SyncPhase::Failed));
    if done && status_generation(&job) == generation {
        return Ok(Action::await_change());
    }
    if ctx.is_stopping() {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let _busy = ctx.busy();
    let start = Time(Timestamp::now());
    let mut s = SyncJobStatus {
        phase: Some(SyncPhase::InProgress),
        start_time: Some(start),
        ..Default::default()
    };
    write(&api, &name, &s, generation).await?;
    let locations: Api<LocationAccess> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let result = match locations.get_opt(&job.spec.location).await? {
        None => Err(SyncError::Other(format!(
            "LocationAccess {} not found",
            job.spec.location
        ))),
        Some(l) => match ctx.stores.open(&l.spec) {
            Err(e) => Err(e.into()),
            Ok(store) => {
                sync_location(
                    &store,
                    &ctx.client,
                    &ctx.namespace,
                    &job.spec.location,
                    l.spec.prefix.as_deref(),
                )
                .await
            }
        },
    };
    s.completion_time = Some(Time(Timestamp::now()));
    match result {
        Ok(o) => {
            ctx.metrics.sync_done("Succeeded", o.imported as u64);
            s.phase = Some(SyncPhase::Succeeded);
            (s.found, s.imported, s.invalid, s.message) =
                (o.found, o.imported, o.invalid, o.message);
        }
        Err(e) => {
            ctx.metrics.sync_done("Failed", 0);
            s.phase = Some(SyncPhase::Failed);
            s.message = Some(format!("sync failed: {e}"));
        }
    }
    tracing::info!(job = %name, phase = ?s.phase, found = s.found, imported = s.imported, invalid = s.invalid, "sync finished");
    write(&api, &name, &s, generation).await?;
    Ok(Action::await_change())
}

/// The spec generation a finished sync served: SyncJobStatus has no `observedGeneration`, so
/// it is kept in the `Synced` condition's.
fn status_generation(job: &SyncJob) -> Option<i64> {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Synced"))
        .map(|c| c.observed_generation.unwrap_or_default())
}

async fn write(
    api: &Api<SyncJob>,
    name: &str,
    s: &SyncJobStatus,
    generation: Option<i64>,
) -> Result<(), SyncError> {
    let mut s = s.clone();
    let done = matches!(s.phase, Some(SyncPhase::Succeeded | SyncPhase::Failed));
    s.conditions = vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        type_: "Synced".into(),
        status: if done { "True" } else { "False" }.into(),
        reason: format!("{:?}", s.phase.unwrap_or_default()),
        message: s.message.clone().unwrap_or_default(),
        observed_generation: generation,
        last_transition_time: s
            .completion_time
            .clone()
            .or(s.start_time.clone())
            .unwrap_or(Time(Timestamp::now())),
    }];
    let body = json!({"apiVersion": "agent.herbarium.io/v1alpha1", "kind": "SyncJob", "status": s});
    api.patch_status(
        name,
        &PatchParams::apply(AGENT_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await?;
    Ok(())
}

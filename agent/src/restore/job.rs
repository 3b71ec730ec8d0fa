//! The RestoreJob controller: small and idempotent. A job without a finished phase is run (also
//! one found InProgress at start-up: the agent stopped mid-way, and Retain/Replace make a rerun
//! safe); a finished job is never run again. Status is written by server-side apply on the status
//! subresource with the agent's field manager; progress at most every `progress_every`.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use herbarium_api::agent::{LocationAccess, RestoreJob, RestoreJobStatus};
use herbarium_api::common::{ItemError, RestorePhase, RestoreRunStatus};
use herbarium_api::constants::AGENT_MANAGER;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::{Controller, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::sync::watch;

use super::run::{RunSettings, Snapshot, run_restore};
use crate::context::{Context, StoreFactory};
use std::time::Instant;

/// How long a RestoreJob waits for its LocationAccess before it fails.
const LOCATION_GRACE: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("writing status of RestoreJob {0} failed: {1}")]
    Status(String, kube::Error),
    #[error("reading LocationAccess {0} failed: {1}")]
    Location(String, kube::Error),
}

/// Runs the RestoreJob controller until [`Context::stop`] (started in `controllers.rs`). On stop
/// no new restore starts; a running one goes on while the process lives, and one cut off by the
/// process's end stays InProgress and is run again at the next start (safe: existing objects
/// are retained or replaced, never duplicated).
pub async fn run<F: StoreFactory>(ctx: Arc<Context<F>>) {
    let api: Api<RestoreJob> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    // `controllers::run_all` ends this task once no job of any kind is running (kube's graceful
    // shutdown alone can hang when the stop comes before a watcher's first list).
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(ctx.stopped())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy<F: StoreFactory>(_: Arc<RestoreJob>, e: &JobError, _: Arc<Context<F>>) -> Action {
    tracing::warn!(error = %e, "restore job: retrying in 15s");
    Action::requeue(Duration::from_secs(15))
}

fn finished(phase: Option<RestorePhase>) -> bool {
    matches!(
        phase,
        Some(RestorePhase::Succeeded | RestorePhase::PartiallySucceeded | RestorePhase::Failed)
    )
}

/// One pass over a RestoreJob.
pub async fn reconcile<F: StoreFactory>(
    job: Arc<RestoreJob>,
    ctx: Arc<Context<F>>,
) -> Result<Action, JobError> {
    if finished(job.status.as_ref().and_then(|s| s.run.phase)) {
        return Ok(Action::await_change());
    }
    let name = job.name_any();
    let api: Api<RestoreJob> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    // The controller's cache may not have seen our own last status write yet: a restore that
    // just finished would otherwise run again. Read the job itself before deciding.
    let Some(job) = api
        .get_opt(&name)
        .await
        .map_err(|e| JobError::Status(name.clone(), e))?
    else {
        return Ok(Action::await_change());
    };
    let status = job.status.clone().unwrap_or_default();
    if finished(status.run.phase) {
        return Ok(Action::await_change());
    }
    let start = status.run.start_time.clone().unwrap_or_else(now);
    let generation = job.metadata.generation;
    let write = {
        let (api, name) = (api.clone(), name.clone());
        move |run: RestoreRunStatus| {
            let api = api.clone();
            let name = name.clone();
            async move {
                let status = RestoreJobStatus {
                    run,
                    observed_generation: generation,
                    conditions: vec![],
                };
                patch_status(&api, &name, &status).await
            }
        }
    };
    let in_progress = {
        let start = start.clone();
        move |stage: &str, snapshot: Option<&Snapshot>| RestoreRunStatus {
            phase: Some(RestorePhase::InProgress),
            stage: Some(stage.to_string()),
            counts: snapshot.map(|s| s.tally.counts.clone()),
            start_time: Some(start.clone()),
            completion_time: None,
            errors: snapshot.map(|s| s.tally.errors()).unwrap_or_default(),
        }
    };
    let locations: Api<LocationAccess> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let location = match locations.get_opt(&job.spec.location).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            // The controller writes the LocationAccess and the RestoreJob separately; give the
            // location a while to arrive before failing the restore.
            let age = job
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| Timestamp::now().duration_since(t.0).as_secs())
                .unwrap_or(i64::MAX);
            if age < LOCATION_GRACE.as_secs() as i64 {
                return Ok(Action::requeue(Duration::from_secs(10)));
            }
            let m = format!(
                "LocationAccess {} not found in {} after {LOCATION_GRACE:?}",
                job.spec.location, ctx.namespace
            );
            write(failed(&start, &m)).await?;
            ctx.metrics.restore_not_run();
            return Ok(Action::await_change());
        }
        Err(e) => return Err(JobError::Location(job.spec.location.clone(), e)),
    };
    write(in_progress("Starting", None)).await?;
    let store = match ctx.stores.open(&location.spec) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            write(failed(&start, &format!("opening the location failed: {e}"))).await?;
            ctx.metrics.restore_not_run();
            return Ok(Action::await_change());
        }
    };

    if ctx.is_stopping() {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let _busy = ctx.busy();
    let began = Instant::now();
    let settings = RunSettings {
        progress_every: ctx.settings.progress_every,
        ..RunSettings::default()
    };
    let (tx, mut rx) = watch::channel(Snapshot::default());
    let reporter = {
        let every = settings.progress_every;
        let write = write.clone();
        let in_progress = in_progress.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let snapshot = rx.borrow_and_update().clone();
                if let Err(e) = write(in_progress(&snapshot.stage, Some(&snapshot))).await {
                    tracing::debug!(error = %e, "progress not written");
                }
                tokio::time::sleep(every).await;
            }
        })
    };
    let uid = job.uid().unwrap_or_default();
    let result = run_restore(store, &ctx.client, &job.spec, &uid, &settings, &tx).await;
    drop(tx);
    reporter.abort();
    let _ = reporter.await;

    let mut errors = result.tally.errors();
    if let Some(m) = &result.failure {
        errors.push(ItemError {
            item: String::new(),
            message: m.clone(),
        });
        if errors.len() > herbarium_api::constants::MAX_STATUS_ERRORS {
            errors.remove(0);
        }
    }
    let phase = result.tally.phase(result.failure.is_some());
    ctx.metrics.restore_done(
        &format!("{phase:?}"),
        began.elapsed().as_secs_f64(),
        result.archive_bytes,
        result.tally.counts.restored as u64,
    );
    tracing::info!(job = %name, ?phase, counts = ?result.tally.counts, failure = ?result.failure, "restore finished");
    write(RestoreRunStatus {
        phase: Some(phase),
        stage: Some("Done".into()),
        counts: Some(result.tally.counts.clone()),
        start_time: Some(start.clone()),
        completion_time: Some(now()),
        errors,
    })
    .await?;
    Ok(Action::await_change())
}

fn failed(start: &Time, message: &str) -> RestoreRunStatus {
    RestoreRunStatus {
        phase: Some(RestorePhase::Failed),
        stage: Some("Done".into()),
        counts: None,
        start_time: Some(start.clone()),
        completion_time: Some(now()),
        errors: vec![ItemError {
            item: String::new(),
            message: message.to_string(),
        }],
    }
}

fn now() -> Time {
    Time(Timestamp::now())
}

async fn patch_status(
    api: &Api<RestoreJob>,
    name: &str,
    status: &RestoreJobStatus,
) -> Result<(), JobError> {
    let body = json!({
        "apiVersion": "agent.herbarium.io/v1alpha1",
        "kind": "RestoreJob",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(AGENT_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .map(|_| ())
    .map_err(|e| JobError::Status(name.to_string(), e))
}

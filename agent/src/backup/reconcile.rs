//! The BackupJob controller. Finalizer `agent.herbarium.io/data` is added when the agent first
//! sees a job; on delete the backup's blobs go (unless Retain). Jobs run inside reconcile (kube
//! runs at most one reconcile per object at a time); status is applied whole, with server-side
//! apply on the status subresource, so the agent owns every status field it writes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use herbarium_api::agent::{BackupJob, BackupJobStatus, LocationAccess};
use herbarium_api::common::{BackupPhase, BackupRunStatus, DeletionPolicy, Progress};
use herbarium_api::constants::{AGENT_MANAGER, BACKUP_JOB_FINALIZER};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;
use tokio::sync::{oneshot, watch};

use super::delete::{
    DELETION_BLOCKED, RETRY, Target, blocked, delete_backup, dir_to_delete, uncommit,
};
use super::hooks::Hooks;
use super::run::{Job, Report, RunError, run as run_backup};
use super::snapshots;
use super::status::{Step, failed, started, step, succeeded};
use crate::context::{Context, StoreFactory};
use crate::format::backup_dir;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} (retried)")]
    Kube(#[from] kube::Error),
    /// Reported in the job's [`DELETION_BLOCKED`] condition; retried after `retry_after`.
    #[error("deleting the backup's blobs: {error} (retried in {}s)", retry_after.as_secs())]
    Delete {
        error: crate::store::StoreError,
        retry_after: Duration,
    },
}

pub async fn reconcile<F: StoreFactory>(
    job: Arc<BackupJob>,
    ctx: Arc<Context<F>>,
) -> Result<Action, kube::runtime::finalizer::Error<Error>> {
    let api: Api<BackupJob> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    finalizer(&api, BACKUP_JOB_FINALIZER, job, |event| async {
        match event {
            Event::Apply(job) => apply(job, &ctx, &api).await,
            Event::Cleanup(job) => cleanup(job, &ctx, &api).await,
        }
    })
    .await
}

async fn location<F: StoreFactory>(
    ctx: &Context<F>,
    name: &str,
) -> Result<Option<LocationAccess>, kube::Error> {
    Api::<LocationAccess>::namespaced(ctx.client.clone(), &ctx.namespace)
        .get_opt(name)
        .await
}

async fn apply_status(
    api: &Api<BackupJob>,
    name: &str,
    run: &BackupRunStatus,
    generation: Option<i64>,
) -> Result<(), kube::Error> {
    let status = BackupJobStatus {
        run: run.clone(),
        observed_generation: generation,
        conditions: vec![],
    };
    apply_job_status(api, name, &status).await
}

/// Applies the whole status (every field the agent owns; what is left out is removed).
async fn apply_job_status(
    api: &Api<BackupJob>,
    name: &str,
    status: &BackupJobStatus,
) -> Result<(), kube::Error> {
    let patch =
        json!({"apiVersion": "agent.herbarium.io/v1alpha1", "kind": "BackupJob", "status": status});
    api.patch_status(
        name,
        &PatchParams::apply(AGENT_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

async fn apply<F: StoreFactory>(
    job: Arc<BackupJob>,
    ctx: &Context<F>,
    api: &Api<BackupJob>,
) -> Result<Action, Error> {
    let name = job.name_any();
    let mut next = step(&job);
    if next == Step::Restart {
        // The cache may lag behind our own last status write: ask the server.
        let fresh = api.get_status(&name).await?;
        next = step(&fresh);
    }
    if next == Step::Nothing {
        return Ok(Action::await_change());
    }
    // Busy before the check: a stop that comes after it waits for this job.
    let _busy = ctx.busy();
    if ctx.is_stopping() {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    if next == Step::Restart {
        tracing::warn!(job = %name, "backup was in progress when the agent stopped; starting it again from scratch");
    }
    let generation = job.metadata.generation;
    let spec = &job.spec;
    let now = Timestamp::now();
    let Some(la) = location(ctx, &spec.location).await? else {
        let base = BackupRunStatus::default();
        let msg = format!(
            "LocationAccess {}/{} does not exist; the backup cannot be stored",
            ctx.namespace, spec.location
        );
        apply_status(api, &name, &failed(&base, msg, now), generation).await?;
        ctx.metrics.backup_done("Failed", 0.0, 0, 0);
        return Ok(Action::await_change());
    };
    let dir = backup_dir(
        la.spec.prefix.as_deref(),
        &spec.cluster_uid,
        &spec.backup_name,
        &spec.backup_uid,
    );
    let base = started(&dir, now);
    apply_status(api, &name, &base, generation).await?;
    let store = match ctx.stores.open(&la.spec) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            apply_status(
                api,
                &name,
                &failed(
                    &base,
                    format!("opening the location: {e}"),
                    Timestamp::now(),
                ),
                generation,
            )
            .await?;
            ctx.metrics.backup_done("Failed", 0.0, 0, 0);
            return Ok(Action::await_change());
        }
    };
    if next == Step::Restart
        && let Err(e) = uncommit(store.as_ref(), &dir).await
    {
        let message = format!(
            "removing {dir}metadata.json of the interrupted run before running again: {e}; \
             nothing was rewritten"
        );
        apply_status(
            api,
            &name,
            &failed(&base, message, Timestamp::now()),
            generation,
        )
        .await?;
        ctx.metrics.backup_done("Failed", 0.0, 0, 0);
        return Ok(Action::await_change());
    }
    let (progress_tx, progress_rx) = watch::channel(Report::default());
    let shared = Arc::new(Mutex::new(base.clone()));
    let (stop_tx, stop_rx) = oneshot::channel();
    let reporter = tokio::spawn(report_progress(
        api.clone(),
        name.clone(),
        generation,
        shared,
        progress_rx,
        stop_rx,
        ctx.settings.progress_every,
    ));
    let default_selection = Default::default();
    let hooks = (!spec.pre_hooks.is_empty() || !spec.post_hooks.is_empty()).then(|| Hooks {
        pre: &spec.pre_hooks,
        post: &spec.post_hooks,
        exec: ctx.exec.clone(),
    });
    let backup = Job {
        name: &spec.backup_name,
        uid: &spec.backup_uid,
        cluster_uid: &spec.cluster_uid,
        selection: spec.selection.as_ref().unwrap_or(&default_selection),
        dir: &dir,
        started: now,
        agent_version: env!("CARGO_PKG_VERSION"),
        snapshots: spec.volume_snapshots.as_ref(),
        hooks: hooks.as_ref(),
    };
    let grace = ctx.settings.shutdown_grace;
    let stopped = async {
        ctx.stopped().await;
        tokio::time::sleep(grace).await;
    };
    // A stop gives the run `grace` to finish; then it gives up, thaws (post-hooks) and commits
    // nothing, and the job is Failed: a new Backup takes it again.
    let result = run_backup(
        &ctx.client,
        store,
        backup,
        &ctx.settings,
        &progress_tx,
        stopped,
    )
    .await
    .map_err(|e| match e {
        RunError::Stopped => format!("{e} within {}s of the stop", grace.as_secs()),
        e if e.retryable() => format!("{e} (transient: a new Backup may succeed)"),
        e => e.to_string(),
    });
    let _ = stop_tx.send(());
    let _ = reporter.await;
    let seconds = (Timestamp::now().duration_since(now)).as_secs_f64();
    let status = match result {
        Ok(outcome) => {
            let progress = progress_tx.borrow().progress.clone();
            let progress = Progress {
                items_total: outcome.items as i64,
                items_done: outcome.items as i64,
                ..progress
            };
            ctx.metrics.backup_done(
                &format!("{:?}", outcome.phase),
                seconds,
                outcome.size_bytes,
                outcome.items,
            );
            tracing::info!(job = %name, phase = ?outcome.phase, items = outcome.items, bytes = outcome.size_bytes, seconds, "backup done");
            succeeded(
                &base,
                outcome.phase,
                progress,
                outcome.size_bytes,
                outcome.errors,
                outcome.volume_snapshots,
                outcome.completed,
            )
        }
        Err(message) => {
            ctx.metrics.backup_done("Failed", seconds, 0, 0);
            tracing::warn!(job = %name, %message, "backup failed");
            let mut f = failed(&base, message, Timestamp::now());
            f.progress = Some(progress_tx.borrow().progress.clone());
            f
        }
    };
    apply_status(api, &name, &status, generation).await?;
    Ok(Action::await_change())
}

/// Applies the progress at most every `every`, until told to stop (before the final status).
async fn report_progress(
    api: Api<BackupJob>,
    name: String,
    generation: Option<i64>,
    status: Arc<Mutex<BackupRunStatus>>,
    mut progress: watch::Receiver<Report>,
    mut stop: oneshot::Receiver<()>,
    every: Duration,
) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            changed = progress.changed() => if changed.is_err() { return },
        }
        let run = {
            let mut s = status.lock().unwrap_or_else(|e| e.into_inner());
            let report = progress.borrow_and_update();
            s.stage = Some(report.stage.as_str().into());
            s.progress = Some(report.progress.clone());
            s.clone()
        };
        if let Err(e) = apply_status(&api, &name, &run, generation).await {
            tracing::debug!(job = %name, error = %e, "progress not reported");
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

async fn cleanup<F: StoreFactory>(
    job: Arc<BackupJob>,
    ctx: &Context<F>,
    api: &Api<BackupJob>,
) -> Result<Action, Error> {
    let _busy = ctx.busy();
    let spec = &job.spec;
    if spec.deletion_policy == DeletionPolicy::Retain {
        return Ok(Action::await_change());
    }
    let Some(la) = location(ctx, &spec.location).await? else {
        // Without the location the blobs cannot be reached; keeping the finalizer would block the
        // deletion forever. The data stays in storage, as with Retain.
        tracing::warn!(job = %job.name_any(), location = %spec.location, "LocationAccess is gone; the backup's blobs are left in storage");
        return Ok(Action::await_change());
    };
    let status = job.status.clone().unwrap_or_default();
    let (dir, refused) = dir_to_delete(&Target {
        recorded: status.run.storage_path.as_deref(),
        prefix: la.spec.prefix.as_deref(),
        cluster_uid: &spec.cluster_uid,
        name: &spec.backup_name,
        uid: &spec.backup_uid,
    });
    if let Some(why) = refused {
        tracing::warn!(job = %job.name_any(), "{why}");
    }
    let deleted = match ctx.stores.open(&la.spec) {
        Ok(store) => delete_backup(&store, &dir).await,
        Err(e) => Err(e),
    };
    let deleted = match deleted {
        Ok(n) => n,
        Err(error) => {
            let previous = status
                .conditions
                .iter()
                .find(|c| c.type_ == DELETION_BLOCKED);
            let (condition, retry_after) = blocked(&error, &dir, previous, Timestamp::now());
            let mut next = status.clone();
            next.conditions.retain(|c| c.type_ != DELETION_BLOCKED);
            next.conditions.push(condition);
            apply_job_status(api, &job.name_any(), &next).await?;
            return Err(Error::Delete { error, retry_after });
        }
    };
    if deleted == 0 && status.run.phase.is_some_and(|p| p != BackupPhase::Failed) {
        tracing::warn!(job = %job.name_any(), %dir, "no blob was found to delete; if the location's container changed since the backup was written, its data is in the old container");
    }
    let snapshots = snapshots::delete_of(&ctx.client, &spec.backup_uid).await?;
    tracing::info!(job = %job.name_any(), %dir, deleted, snapshots, "backup deleted");
    Ok(Action::await_change())
}

fn error_policy<F: StoreFactory>(
    _: Arc<BackupJob>,
    error: &kube::runtime::finalizer::Error<Error>,
    _: Arc<Context<F>>,
) -> Action {
    tracing::warn!(%error, "backup job");
    match error {
        kube::runtime::finalizer::Error::CleanupFailed(Error::Delete { retry_after, .. }) => {
            Action::requeue(*retry_after)
        }
        _ => Action::requeue(RETRY),
    }
}

/// Runs the BackupJob controller until [`Context::stop`]; running backups finish (or fail
/// after the grace period) before it returns.
pub async fn run<F: StoreFactory>(ctx: Arc<Context<F>>) {
    let api: Api<BackupJob> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    Controller::new(api, watcher::Config::default())
        .with_config(Config::default().concurrency(2))
        .graceful_shutdown_on(ctx.stopped())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

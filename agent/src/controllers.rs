//! Every controller of the agent, started together.

use std::sync::Arc;

use crate::context::{Context, StoreFactory};

/// Runs the LocationAccess, BackupJob, RestoreJob and SyncJob controllers and the heartbeat until [`Context::stop`];
/// returns when all have wound down.
pub async fn run_all<F: StoreFactory>(ctx: Arc<Context<F>>, version: &'static str) {
    let heartbeat = tokio::spawn(crate::heartbeat::run(
        ctx.client.clone(),
        ctx.namespace.clone(),
        version,
        ctx.stopping.subscribe(),
    ));
    let validation = tokio::spawn(crate::validate::run(ctx.clone()));
    let backups = tokio::spawn(crate::backup::reconcile::run(ctx.clone()));
    let restores = tokio::spawn(crate::restore::job::run(ctx.clone()));
    let syncs = tokio::spawn(crate::sync::job::run(ctx.clone()));
    ctx.drained().await;
    let _ = heartbeat.await;
    // No job runs any more: whatever the controllers still wait for (a first list) is moot.
    validation.abort();
    backups.abort();
    restores.abort();
    syncs.abort();
}

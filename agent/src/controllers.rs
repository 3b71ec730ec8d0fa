//! Every controller of the agent, started together.

use std::sync::Arc;

use crate::context::{Context, StoreFactory};

/// Runs the LocationAccess, BackupJob, RestoreJob and SyncJob controllers and the heartbeat
/// until [`Context::stop`]; returns when no job runs any more.
pub async fn run_all<F: StoreFactory>(ctx: Arc<Context<F>>, version: &'static str) {
    let heartbeat = tokio::spawn(crate::heartbeat::run(
        ctx.client.clone(),
        ctx.namespace.clone(),
        version,
        ctx.stopping.subscribe(),
    ));
    let controllers = [
        tokio::spawn(crate::validate::run(ctx.clone())),
        tokio::spawn(crate::backup::reconcile::run(ctx.clone())),
        tokio::spawn(crate::restore::job::run(ctx.clone())),
        tokio::spawn(crate::sync::job::run(ctx.clone())),
    ];
    // Waiting for the controllers themselves can hang: kube's graceful shutdown waits for a
    // watcher's first list when the stop comes before it. Running jobs hold `ctx.busy()`.
    ctx.drained().await;
    let _ = heartbeat.await;
    for c in controllers {
        c.abort();
    }
}

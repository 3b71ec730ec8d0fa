//! Every controller of the agent, started together. The restore engineer adds RestoreJob and
//! SyncJob here: `tokio::spawn(crate::restore::run(ctx.clone()))` next to the others.

use std::sync::Arc;

use crate::context::{Context, StoreFactory};

/// Runs the LocationAccess and BackupJob controllers and the heartbeat until [`Context::stop`];
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
    ctx.drained().await;
    let _ = heartbeat.await;
    // No job runs any more: whatever the controllers still wait for (a first list) is moot.
    validation.abort();
    backups.abort();
}

//! The life of a Herbarium process: flags every binary shares, logging, the operations server,
//! and an orderly stop on SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::ops::{self, Readiness};
use crate::telemetry::{self, LogFormat};

/// Flags and environment every binary accepts.
#[derive(clap::Args, Clone, Debug)]
pub struct CommonArgs {
    /// Address of the operations endpoint (/metrics, /healthz, /readyz); port 0 picks a free port.
    #[arg(long, env = "HERBARIUM_LISTEN_ADDRESS", default_value = "0.0.0.0:8080")]
    pub listen_address: SocketAddr,
    /// Log format.
    #[arg(long, env = "HERBARIUM_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log filter, e.g. `info` or `herbarium_agent=debug,kube=warn`.
    #[arg(long, env = "HERBARIUM_LOG", default_value = "info")]
    pub log: String,
}

/// Starts logging and the operations server, marks the process ready, and returns when SIGTERM or
/// SIGINT arrives and the server has stopped.
pub async fn serve_until_signal(
    component: &'static str,
    version: &'static str,
    args: &CommonArgs,
    registry: Registry,
) -> Result<(), String> {
    serve_with(component, version, args, registry, |_| async {}).await
}

/// Like [`serve_until_signal`], and runs the process's `work` next to the operations server:
/// `work` starts once logging is up and gets a receiver that turns `true` on SIGTERM/SIGINT; the
/// process waits for `work` to return (its graceful shutdown) before the server stops, so
/// `/metrics` stays up while jobs wind down. Readiness goes false at the signal.
pub async fn serve_with<W, Fut>(
    component: &'static str,
    version: &'static str,
    args: &CommonArgs,
    mut registry: Registry,
    work: W,
) -> Result<(), String>
where
    W: FnOnce(watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    telemetry::init(args.log_format, &args.log)?;
    ops::register_build_info(&mut registry, component, version);
    let readiness = Readiness::default();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    let (bound, server) = ops::bind(
        args.listen_address,
        Arc::new(registry),
        readiness.clone(),
        shutdown,
    )
    .await
    .map_err(|e| {
        format!(
            "binding the operations endpoint {}: {e}",
            args.listen_address
        )
    })?;
    tracing::info!(component, version, address = %bound, "operations endpoint listening");
    readiness.set(true);
    let server = tokio::spawn(server);
    let (work_tx, work_rx) = watch::channel(false);
    let work = tokio::spawn(work(work_rx));
    let signal = crate::shutdown::signal().await;
    tracing::info!(signal, "stopping");
    readiness.set(false);
    let _ = work_tx.send(true);
    if let Err(e) = work.await {
        tracing::error!(error = %e, "the process's work ended abnormally");
    }
    tracing::debug!("work finished; stopping the operations endpoint");
    let _ = stop_tx.send(true);
    match server.await {
        Ok(Ok(())) => {
            tracing::info!("stopped");
            Ok(())
        }
        Ok(Err(e)) => Err(format!("operations endpoint failed: {e}")),
        Err(e) => Err(format!("operations endpoint task failed: {e}")),
    }
}

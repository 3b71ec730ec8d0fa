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
    mut registry: Registry,
) -> Result<(), String> {
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
    let signal = crate::shutdown::signal().await;
    tracing::info!(signal, "stopping");
    readiness.set(false);
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

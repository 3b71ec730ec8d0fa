//! herbarium-agent: the cluster side of Herbarium. Wires flags, the Kubernetes client, the Azure
//! store factory, metrics and the controllers; the work lives in the library.
//!
//! Runs in a pod (in-cluster config) or as a host process: KUBECONFIG, the AZURE_* workload
//! identity variables and, for endpoints with a private CA, HERBARIUM_CA_FILE.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use herbarium_agent::context::Context;
use herbarium_agent::metrics::Metrics;
use herbarium_agent::store::{AzureSettings, AzureStores};
use herbarium_api::constants::AGENT_NAMESPACE;
use herbarium_runtime::process::{CommonArgs, serve_with};
use prometheus_client::registry::Registry;

/// Runs in every registered cluster: validates backup locations and takes backups of the
/// cluster's objects into Azure Blob Storage with workload identity, as told by the
/// agent.herbarium.io objects in its namespace.
#[derive(Parser, Debug)]
#[command(name = "herbarium-agent", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Namespace of the agent's objects and heartbeat Lease.
    #[arg(long, env = "HERBARIUM_NAMESPACE", default_value = AGENT_NAMESPACE)]
    namespace: String,
    /// Extra CA certificates (PEM) to trust for storage and token endpoints.
    #[arg(long, env = "HERBARIUM_CA_FILE")]
    ca_file: Option<PathBuf>,
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let client = match kube::Client::try_default().await {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "herbarium-agent: no Kubernetes client (in-cluster config or KUBECONFIG): {e}"
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut registry = Registry::with_prefix("herbarium_agent");
    let metrics = Metrics::default();
    metrics.register(&mut registry);
    let stores = AzureStores::new(AzureSettings::from_env(args.ca_file.clone()));
    let ctx = Arc::new(Context::new(client, &args.namespace, stores, metrics));
    let work = |mut stop: tokio::sync::watch::Receiver<bool>| {
        let ctx = ctx.clone();
        async move {
            let controllers =
                tokio::spawn(herbarium_agent::controllers::run_all(ctx.clone(), VERSION));
            let _ = stop.wait_for(|s| *s).await;
            ctx.stop();
            let _ = controllers.await;
        }
    };
    match serve_with("agent", VERSION, &args.common, registry, work).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herbarium-agent: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

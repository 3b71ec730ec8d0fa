//! herbarium-controller: the garden side of Herbarium. Wires flags, clients, the Azure adapters,
//! leader election and the reconcilers next to the operations endpoint; the work lives in the
//! library.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use herbarium_controller::access::{AccessConfig, HttpIssuerCheck, KubeAccess};
use herbarium_controller::identity::AzureTarget;
use herbarium_controller::identity::arm::{
    ArmConfig, ArmIdentities, WorkloadIdentityOptions, workload_identity_credential,
};
use herbarium_controller::leader::{Elector, LeaseTiming};
use herbarium_controller::metrics::{ArmLabels, Metrics};
use herbarium_controller::registrar::{AccessClients, AzureRegistrar, Defaults};
use herbarium_runtime::process::{CommonArgs, serve_with};
use prometheus_client::registry::Registry;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs in the garden cluster: discovers Gardener Shoots, gives each its own Azure identity,
/// installs herbarium-agent into it and sends it instructions. Holds no cloud secret: its own ARM
/// calls use workload identity (the standard AZURE_* variables).
#[derive(Parser, Debug)]
#[command(name = "herbarium-controller", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Extra CA certificates (PEM) to trust for ARM, Entra ID and cluster issuers.
    #[arg(long, env = "HERBARIUM_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// ARM endpoint.
    #[arg(
        long,
        env = "HERBARIUM_ARM_ENDPOINT",
        default_value = "https://management.azure.com"
    )]
    arm_endpoint: String,
    /// Entra ID authority the agents use (AZURE_AUTHORITY_HOST in their pods).
    #[arg(
        long,
        env = "AZURE_AUTHORITY_HOST",
        default_value = "https://login.microsoftonline.com/"
    )]
    authority_host: String,
    /// Tenant of the identities of kubeconfig Clusters.
    #[arg(long, env = "AZURE_TENANT_ID", default_value = "")]
    tenant_id: String,
    /// Subscription for identities of kubeconfig Clusters (DiscoveryConfigs name their own).
    #[arg(long, env = "HERBARIUM_SUBSCRIPTION_ID")]
    subscription_id: Option<String>,
    /// Resource group for identities of kubeconfig Clusters.
    #[arg(long, env = "HERBARIUM_RESOURCE_GROUP")]
    resource_group: Option<String>,
    /// Azure region for identities of kubeconfig Clusters.
    #[arg(long, env = "HERBARIUM_LOCATION", default_value = "westeurope")]
    location: String,
    /// Grant kubeconfig Clusters' identities "Storage Blob Data Contributor" on their containers.
    #[arg(long, env = "HERBARIUM_ROLE_ASSIGNMENTS", default_value_t = false)]
    role_assignments: bool,
    /// Agent image installed into clusters whose DiscoveryConfig names none.
    #[arg(long, env = "HERBARIUM_AGENT_IMAGE", default_value = concat!("ghcr.io/herbarium-io/herbarium-agent:", env!("CARGO_PKG_VERSION")))]
    agent_image: String,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "HERBARIUM_NAMESPACE", default_value = "herbarium-system")]
    namespace: String,
    /// Run without leader election (a single replica).
    #[arg(long, env = "HERBARIUM_NO_LEADER_ELECTION", default_value_t = false)]
    no_leader_election: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match start(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herbarium-controller: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn start(args: Args) -> Result<(), String> {
    let garden = kube::Client::try_default().await.map_err(|e| {
        format!("no Kubernetes client for the garden (in-cluster config or KUBECONFIG): {e}")
    })?;
    let http = herbarium_controller::tls::http_client(args.ca_file.as_deref())?;
    let credential = workload_identity_credential(WorkloadIdentityOptions {
        http: Some(http.clone()),
        ..Default::default()
    })
    .map_err(|e| e.to_string())?;
    let mut registry = Registry::with_prefix("herbarium_controller");
    let metrics = Arc::new(Metrics::register(&mut registry));
    let observed = metrics.clone();
    let arm = ArmConfig {
        endpoint: args.arm_endpoint.clone(),
        ..ArmConfig::default()
    };
    let identities = ArmIdentities::new(arm, credential, Some(http.clone())).with_observer(
        Arc::new(move |outcome| {
            observed
                .arm_calls
                .get_or_create(&ArmLabels {
                    outcome: outcome.as_str(),
                })
                .inc();
        }),
    );
    let target = match (&args.subscription_id, &args.resource_group) {
        (Some(s), Some(r)) => Some(AzureTarget {
            subscription_id: s.clone(),
            resource_group: r.clone(),
            location: args.location.clone(),
        }),
        _ => None,
    };
    let registrar = Arc::new(AzureRegistrar {
        identities,
        issuers: HttpIssuerCheck::new(http),
        defaults: Defaults {
            target,
            tenant_id: args.tenant_id.clone(),
            role_assignments: args.role_assignments,
            authority_host: args.authority_host.clone(),
            agent_image: args.agent_image.clone(),
            agent_version: VERSION.to_string(),
        },
    });
    let clusters = Arc::new(AccessClients(KubeAccess::new(
        garden.clone(),
        AccessConfig::default(),
    )));
    let holder = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| format!("herbarium-controller-{}", std::process::id()));
    let elector = (!args.no_leader_election).then(|| {
        Elector::new(
            garden.clone(),
            &args.namespace,
            "herbarium-controller",
            &holder,
            LeaseTiming::default(),
        )
    });
    let work = |mut stop: tokio::sync::watch::Receiver<bool>| async move {
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let stopped = futures::future::FutureExt::shared(Box::pin(stopped));
        if let Some(elector) = &elector {
            tokio::select! {
                _ = elector.acquire() => tracing::info!(%holder, "leader: starting the reconcilers"),
                _ = stopped.clone() => return,
            }
        }
        let reconcilers =
            herbarium_controller::run::run(garden, clusters, registrar, metrics, stopped.clone());
        match &elector {
            None => reconcilers.await,
            Some(elector) => tokio::select! {
                _ = reconcilers => {}
                _ = elector.keep() => {
                    tracing::error!("lost the leader Lease; exiting so that only one controller reconciles");
                    std::process::exit(1);
                }
            },
        }
    };
    serve_with("controller", VERSION, &args.common, registry, work).await
}

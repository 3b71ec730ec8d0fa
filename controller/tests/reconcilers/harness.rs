//! One controller per test binary, run on its own thread and runtime against the local garden,
//! with the registered clusters mapped to the local test clusters and a registrar that records
//! identities in memory (ARM and the agent install are tested on their own elsewhere). Tests
//! play the agent: they write the statuses the agent would write.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use herbarium_api::constants::{AGENT_NAME, AGENT_NAMESPACE, AGENT_VERSION_ANNOTATION};
use herbarium_api::garden::{Cluster, DiscoveryConfig, IdentityStatus};
use herbarium_controller::metrics::Metrics;
use herbarium_controller::reconcile::cluster::{Registrar, StepError};
use herbarium_controller::reconcile::{AgentClients, Error};
use herbarium_test_support::env;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{ObjectMeta, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};

/// Which local cluster a registered Cluster is: `(namespace, name)` → index into env().clusters.
static ROUTES: OnceLock<Mutex<HashMap<(String, String), usize>>> = OnceLock::new();
static REGISTRAR: OnceLock<Arc<MemoryRegistrar>> = OnceLock::new();

fn routes() -> &'static Mutex<HashMap<(String, String), usize>> {
    ROUTES.get_or_init(Default::default)
}

/// How often a client for `(namespace, name)` was asked for: every Cluster reconcile that gets
/// past the identity step asks once, so a test can tell that a reconcile ran without waiting a
/// fixed time.
static CONNECTS: OnceLock<Mutex<HashMap<(String, String), u64>>> = OnceLock::new();

/// Clients handed out for the Cluster `namespace/name` so far (see [`CONNECTS`]).
pub fn connects(namespace: &str, name: &str) -> u64 {
    CONNECTS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .get(&(namespace.to_string(), name.to_string()))
        .copied()
        .unwrap_or(0)
}

/// Routes the Cluster `namespace/name` to local cluster `index`.
pub fn route(namespace: &str, name: &str, index: usize) {
    routes()
        .lock()
        .unwrap()
        .insert((namespace.into(), name.into()), index);
}

/// Takes the route of the Cluster `namespace/name` away: the controller can no longer reach it
/// (as with a network partition; the cluster itself keeps running).
pub fn unroute(namespace: &str, name: &str) {
    routes()
        .lock()
        .unwrap()
        .remove(&(namespace.to_string(), name.to_string()));
}

/// Starts the controller once; returns the registrar it uses.
pub fn controller() -> Arc<MemoryRegistrar> {
    REGISTRAR
        .get_or_init(|| {
            let registrar = Arc::new(MemoryRegistrar::default());
            let r = registrar.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().expect("runtime");
                rt.block_on(async move {
                    let garden = env().garden_client().await.expect("garden client");
                    tokio::spawn(heartbeats());
                    let clients = Arc::new(LocalClusters::default());
                    let metrics = Arc::new(Metrics::unregistered());
                    herbarium_controller::run::run(
                        garden,
                        clients,
                        r,
                        metrics,
                        std::future::pending(),
                    )
                    .await;
                });
            });
            registrar
        })
        .clone()
}

/// Plays every local cluster's agent heartbeat.
async fn heartbeats() {
    loop {
        for cluster in &env().clusters {
            if let Err(e) = beat(&cluster.client().await.expect("client")).await {
                eprintln!("heartbeat in {}: {e}", cluster.name);
            }
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

async fn beat(client: &Client) -> Result<(), kube::Error> {
    ensure_agent_namespace(client).await?;
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some(AGENT_NAME.into()),
            annotations: Some([(AGENT_VERSION_ANNOTATION.to_string(), "test".to_string())].into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("herbarium-agent-test".into()),
            renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            lease_duration_seconds: Some(30),
            ..Default::default()
        }),
    };
    Api::<Lease>::namespaced(client.clone(), AGENT_NAMESPACE)
        .patch(
            AGENT_NAME,
            &PatchParams::apply("test-agent").force(),
            &Patch::Apply(&lease),
        )
        .await?;
    Ok(())
}

pub async fn ensure_agent_namespace(client: &Client) -> Result<(), kube::Error> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(AGENT_NAMESPACE.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .patch(
            AGENT_NAMESPACE,
            &PatchParams::apply("test-agent").force(),
            &Patch::Apply(&ns),
        )
        .await?;
    Ok(())
}

#[derive(Default)]
struct LocalClusters {
    cache: Mutex<BTreeMap<usize, Client>>,
}

impl AgentClients for LocalClusters {
    fn client<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, Result<Client, Error>> {
        Box::pin(async move {
            let key = (cluster.namespace().unwrap_or_default(), cluster.name_any());
            *CONNECTS
                .get_or_init(Default::default)
                .lock()
                .unwrap()
                .entry(key.clone())
                .or_default() += 1;
            let index = routes().lock().unwrap().get(&key).copied();
            let Some(index) = index else {
                // Like a network partition: may heal.
                return Err(Error::Cluster {
                    cluster: key.1,
                    message: "no route to a local cluster".into(),
                    retryable: true,
                });
            };
            if let Some(client) = self.cache.lock().unwrap().get(&index) {
                return Ok(client.clone());
            }
            let client = env().clusters[index]
                .client()
                .await
                .map_err(|e| Error::Cluster {
                    cluster: key.1.clone(),
                    message: e.to_string(),
                    retryable: true,
                })?;
            self.cache.lock().unwrap().insert(index, client.clone());
            Ok(client)
        })
    }
}

/// Identities kept in memory; the ARM adapter has its own tests against the ARM stand-in.
#[derive(Default)]
pub struct MemoryRegistrar {
    pub identities: Mutex<BTreeMap<String, IdentityStatus>>,
    pub deleted: Mutex<Vec<String>>,
}

fn key(cluster: &Cluster) -> String {
    format!(
        "{}/{}/{}",
        cluster.namespace().unwrap_or_default(),
        cluster.name_any(),
        cluster.uid().unwrap_or_default()
    )
}

impl MemoryRegistrar {
    pub fn identity_of(&self, namespace: &str, name: &str) -> Vec<IdentityStatus> {
        let prefix = format!("{namespace}/{name}/");
        self.identities
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl Registrar for MemoryRegistrar {
    fn check_issuer<'a>(&'a self, issuer: &'a str) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            if issuer.contains("unreachable") {
                return Err(StepError {
                    message: format!(
                        "GET {issuer}/.well-known/openid-configuration: connection refused"
                    ),
                    retryable: true,
                });
            }
            Ok(())
        })
    }

    fn ensure_identity<'a>(
        &'a self,
        cluster: &'a Cluster,
        _config: Option<&'a DiscoveryConfig>,
        issuer: &'a str,
        _containers: Vec<(String, String)>,
    ) -> BoxFuture<'a, Result<IdentityStatus, StepError>> {
        Box::pin(async move {
            let k = key(cluster);
            let identity = IdentityStatus {
                client_id: format!("client-{}", cluster.uid().unwrap_or_default()),
                principal_id: "principal".into(),
                resource_id: format!("/identities/{k}"),
                federated_credential_name: format!("fic-{}", issuer.len()),
                issuer: issuer.to_string(),
                subject: herbarium_api::constants::AGENT_SUBJECT.into(),
            };
            self.identities.lock().unwrap().insert(k, identity.clone());
            Ok(identity)
        })
    }

    fn delete_identity<'a>(
        &'a self,
        cluster: &'a Cluster,
        _config: Option<&'a DiscoveryConfig>,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            let k = key(cluster);
            self.identities.lock().unwrap().remove(&k);
            self.deleted.lock().unwrap().push(k);
            Ok(())
        })
    }

    fn install_agent<'a>(
        &'a self,
        client: &'a Client,
        _identity: &'a IdentityStatus,
        _config: Option<&'a DiscoveryConfig>,
        _force: bool,
    ) -> BoxFuture<'a, Result<String, StepError>> {
        Box::pin(async move {
            ensure_agent_namespace(client)
                .await
                .map_err(|e| StepError {
                    message: e.to_string(),
                    retryable: true,
                })?;
            Ok("test".to_string())
        })
    }
}

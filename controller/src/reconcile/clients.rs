//! How reconcilers reach a registered cluster: [`AgentClients`] turns a garden `Cluster` into a
//! kube `Client` for that cluster. Production wires it to `access::ClusterAccess` (Gardener's
//! adminkubeconfig or the uploaded Secret); tests wire it to the local test clusters.

use futures::future::BoxFuture;
use herbarium_api::garden::{Cluster, ClusterPhase};
use kube::{Api, Client, ResourceExt};

use super::Error;

/// Gives a client for a registered cluster. Object-safe so the [`super::Context`] can hold any
/// implementation.
pub trait AgentClients: Send + Sync {
    fn client<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, Result<Client, Error>>;
}

/// A cluster instructions can be sent to right now, with its client and storage UID.
pub struct ReadyCluster {
    pub cluster: Cluster,
    pub uid: String,
    pub client: Client,
}

/// Why a cluster cannot take instructions now; goes into the waiting object's condition.
pub fn not_ready_reason(cluster: Option<&Cluster>) -> Option<String> {
    let Some(cluster) = cluster else {
        return Some("no such Cluster in this namespace".into());
    };
    let status = cluster.status.clone().unwrap_or_default();
    if !status.managed {
        return Some("the cluster is not managed by Herbarium".into());
    }
    if status.cluster_uid.is_none() {
        return Some("the cluster is still registering".into());
    }
    match status.phase {
        Some(ClusterPhase::Ready) => None,
        Some(phase) => Some(format!("the cluster is {phase:?}")),
        None => Some("the cluster is still registering".into()),
    }
}

/// Looks `name` up in `namespace` and connects when it is Ready. `Ok(Err(reason))` when it is
/// not (a state to report and wait out, not an error).
pub async fn ready_cluster(
    garden: &Client,
    clients: &dyn AgentClients,
    namespace: &str,
    name: &str,
) -> Result<Result<ReadyCluster, String>, Error> {
    let api: Api<Cluster> = Api::namespaced(garden.clone(), namespace);
    let cluster = api
        .get_opt(name)
        .await
        .map_err(Error::kube(format!("reading Cluster {namespace}/{name}")))?;
    if let Some(reason) = not_ready_reason(cluster.as_ref()) {
        return Ok(Err(format!("cluster {name}: {reason}")));
    }
    let cluster = cluster.expect("checked by not_ready_reason");
    let uid = cluster
        .status
        .as_ref()
        .and_then(|s| s.cluster_uid.clone())
        .expect("checked by not_ready_reason");
    let client = match clients.client(&cluster).await {
        Ok(client) => client,
        Err(e) if e.retryable() => return Err(e),
        Err(e) => return Ok(Err(format!("cluster {}: {e}", cluster.name_any()))),
    };
    Ok(Ok(ReadyCluster {
        cluster,
        uid,
        client,
    }))
}

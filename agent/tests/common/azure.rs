//! The agent's real Azure store for restore tests, opened through the whole workload-identity
//! chain, built on the helpers of `common` (identities, grants, containers, token files).

use herbarium_agent::context::StoreFactory;
use herbarium_agent::store::{AzureBlobStore, AzureStores};
use herbarium_api::agent::LocationAccessSpec;
use serde_json::json;

use super::{container, container_scope, grant, identity, settings, token_file, var};

/// A new container, created by the test operator identity.
pub async fn new_container() -> String {
    container().await
}

/// The agent's real store for `container`, as the agent of `cluster` would open it: its own
/// managed identity (federated with the cluster's issuer), granted on the container, and a
/// service-account token in a file.
pub async fn agent_store(cluster: &str, container: &str) -> AzureBlobStore {
    let (client_id, principal) = identity(Some(cluster)).await;
    grant(&container_scope(container), &principal).await;
    let spec: LocationAccessSpec = serde_json::from_value(json!({
        "storageAccount": var("HERBARIUM_STORAGE_ACCOUNT"), "container": container,
        "endpoint": var("HERBARIUM_BLOB_ENDPOINT"), "clusterUID": cluster,
        "location": {"namespace": "p", "name": "loc"}}))
    .unwrap();
    AzureStores::new(settings(&client_id, token_file(cluster)))
        .open(&spec)
        .expect("opening the agent's store")
}

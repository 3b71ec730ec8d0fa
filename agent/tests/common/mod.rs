//! Shared by the agent's integration tests: the local clusters and Azure stand-ins of
//! hack/local-up.sh (joined through HERBARIUM_LOCAL_DIR or started privately by
//! herbarium-test-support), identities with or without federated credential and role, and a
//! Context that runs the reconcilers in-process through the real identity chain.
#![allow(dead_code)]

pub mod azure;
pub mod backup;
pub mod restore;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use herbarium_agent::context::{Context, StoreFactory};
use herbarium_agent::metrics::Metrics;
use herbarium_agent::store::{AzureSettings, AzureStores, BlobStore, Listing, StoreError};
use herbarium_api::agent::GardenRef;
use herbarium_api::agent::LocationAccessSpec;
use herbarium_test_support::{azure, env};

pub fn var(name: &str) -> String {
    azure().var(name).to_string()
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A service-account token as hack/mint-token.sh mints it.
pub fn mint(cluster: &str, extra: &[&str]) -> String {
    azure().mint(cluster, extra)
}

/// The agent's token of `cluster` in a file, as the projected volume holds it.
pub fn token_file(cluster: &str) -> PathBuf {
    let file = env()
        .dir
        .join(format!("agent-token-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, mint(cluster, &[])).unwrap();
    file
}

pub fn http() -> reqwest::Client {
    azure().http()
}

async fn arm_put(url: &str, body: serde_json::Value) -> serde_json::Value {
    let assertion = mint(
        "garden",
        &[
            "--subject",
            "system:serviceaccount:herbarium-system:herbarium-controller",
        ],
    );
    let t = azure()
        .token(
            &var("HERBARIUM_CONTROLLER_CLIENT_ID"),
            &assertion,
            "https://management.azure.com/.default",
        )
        .await;
    let r = http()
        .put(url)
        .bearer_auth(t)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: serde_json::Value =
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
    assert!((200..300).contains(&status), "ARM PUT {url}: {status} {v}");
    v
}

pub fn account_scope() -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        var("HERBARIUM_SUBSCRIPTION_ID"),
        var("HERBARIUM_RESOURCE_GROUP"),
        var("HERBARIUM_STORAGE_ACCOUNT")
    )
}

pub fn container_scope(container: &str) -> String {
    format!(
        "{}/blobServices/default/containers/{container}",
        account_scope()
    )
}

/// A user-assigned identity; with `cluster`, a federated credential for that cluster's agent.
/// Returns (clientId, principalId).
pub async fn identity(cluster: Option<&str>) -> (String, String) {
    let name = unique("agent");
    let url = format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        var("HERBARIUM_ARM_ENDPOINT"),
        var("HERBARIUM_SUBSCRIPTION_ID"),
        var("HERBARIUM_RESOURCE_GROUP")
    );
    let v = "?api-version=2023-01-31";
    let body = arm_put(
        &format!("{url}{v}"),
        serde_json::json!({"location": "westeurope"}),
    )
    .await;
    if let Some(cluster) = cluster {
        let issuer = mint(cluster, &["--print-issuer"]);
        let fic = serde_json::json!({"properties": {"issuer": issuer,
            "subject": "system:serviceaccount:herbarium-system:herbarium-agent",
            "audiences": ["api://AzureADTokenExchange"]}});
        arm_put(
            &format!("{url}/federatedIdentityCredentials/{cluster}{v}"),
            fic,
        )
        .await;
    }
    let p = &body["properties"];
    (
        p["clientId"].as_str().unwrap().into(),
        p["principalId"].as_str().unwrap().into(),
    )
}

/// Storage Blob Data Contributor on `scope`.
pub async fn grant(scope: &str, principal: &str) {
    let url = format!(
        "{}{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        var("HERBARIUM_ARM_ENDPOINT"),
        uuid::Uuid::new_v4()
    );
    let role = format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        var("HERBARIUM_SUBSCRIPTION_ID")
    );
    arm_put(&url, serde_json::json!({"properties": {"roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal"}})).await;
}

/// A new container, created by the test operator identity.
pub async fn container() -> String {
    let name = unique("agent");
    azure().create_container(&name).await;
    name
}

pub fn settings(client_id: &str, token_file: PathBuf) -> AzureSettings {
    AzureSettings {
        client_id: Some(client_id.into()),
        tenant_id: Some(var("AZURE_TENANT_ID")),
        token_file: Some(token_file),
        authority_host: var("AZURE_AUTHORITY_HOST"),
        ca_file: Some(var("HERBARIUM_CA_FILE").into()),
    }
}

/// An identity of cluster-1's agent with the role on `container`, and its settings.
pub async fn agent_with_role(container: &str) -> AzureSettings {
    let (client_id, principal) = identity(Some("cluster-1")).await;
    grant(&container_scope(container), &principal).await;
    settings(&client_id, token_file("cluster-1"))
}

pub fn location_spec(container: &str, endpoint: &str) -> LocationAccessSpec {
    LocationAccessSpec {
        storage_account: var("HERBARIUM_STORAGE_ACCOUNT"),
        container: container.into(),
        prefix: Some("team-a".into()),
        endpoint: endpoint.into(),
        cluster_uid: "cluster-1-uid".into(),
        validate_request: None,
        location: GardenRef {
            namespace: "garden-test".into(),
            name: "loc".into(),
            uid: None,
        },
    }
}

pub async fn cluster_client() -> kube::Client {
    env()
        .cluster("cluster-1")
        .client()
        .await
        .expect("cluster-1 client")
}

/// Every call a store gets, for assertions on order (metadata.json last).
#[derive(Clone, Default)]
pub struct Calls(pub Arc<Mutex<Vec<String>>>);

impl Calls {
    fn push(&self, s: String) {
        self.0.lock().unwrap().push(s);
    }
    pub fn list(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

pub struct Recording<S> {
    inner: S,
    calls: Calls,
}

impl<S: BlobStore> BlobStore for Recording<S> {
    async fn put(&self, path: &str, body: Bytes) -> Result<(), StoreError> {
        let r = self.inner.put(path, body).await;
        self.calls.push(format!("put {path}"));
        r
    }
    async fn stage_block(&self, path: &str, block: u32, body: Bytes) -> Result<(), StoreError> {
        self.inner.stage_block(path, block, body).await
    }
    async fn commit_blocks(&self, path: &str, blocks: u32) -> Result<(), StoreError> {
        let r = self.inner.commit_blocks(path, blocks).await;
        self.calls.push(format!("commit {path}"));
        r
    }
    async fn get(&self, path: &str, max: u64) -> Result<Bytes, StoreError> {
        self.inner.get(path, max).await
    }
    async fn get_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, StoreError> {
        self.inner.get_range(path, offset, len).await
    }
    async fn size(&self, path: &str) -> Result<Option<u64>, StoreError> {
        self.inner.size(path).await
    }
    async fn list(&self, prefix: &str, hierarchical: bool) -> Result<Listing, StoreError> {
        self.inner.list(prefix, hierarchical).await
    }
    async fn delete(&self, path: &str) -> Result<bool, StoreError> {
        let r = self.inner.delete(path).await;
        self.calls.push(format!("delete {path}"));
        r
    }
}

pub struct RecordingStores {
    pub inner: AzureStores,
    pub calls: Calls,
    pub settings: AzureSettings,
}

impl RecordingStores {
    pub fn inner_settings(&self) -> AzureSettings {
        self.settings.clone()
    }
}

impl StoreFactory for RecordingStores {
    type Store = Recording<<AzureStores as StoreFactory>::Store>;
    fn open(&self, location: &LocationAccessSpec) -> Result<Self::Store, StoreError> {
        Ok(Recording {
            inner: self.inner.open(location)?,
            calls: self.calls.clone(),
        })
    }
}

/// A context for `namespace` whose stores record their calls.
pub fn context(
    client: kube::Client,
    namespace: &str,
    settings: AzureSettings,
) -> (Arc<Context<RecordingStores>>, Calls) {
    context_with(client, namespace, settings, None)
}

/// [`context`] with a fake pods/exec for hooks.
pub fn context_with(
    client: kube::Client,
    namespace: &str,
    settings: AzureSettings,
    exec: Option<Arc<dyn herbarium_agent::backup::hooks::Exec>>,
) -> (Arc<Context<RecordingStores>>, Calls) {
    let calls = Calls::default();
    let stores = RecordingStores {
        inner: AzureStores::new(settings.clone()),
        calls: calls.clone(),
        settings,
    };
    let mut ctx = Context::new(client, namespace, stores, Metrics::default());
    ctx.settings.progress_every = std::time::Duration::from_millis(200);
    if let Some(exec) = exec {
        ctx.exec = exec;
    }
    (Arc::new(ctx), calls)
}

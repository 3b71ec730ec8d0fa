//! The Azure side of the test environment (hack/azure-up.sh): per-test containers and agent
//! identities through the ARM and Entra stand-ins, and the agent's real Azure store reading
//! through the whole workload-identity chain. Follows test/azure-fakes/tests/common.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use herbarium_agent::context::StoreFactory;
use herbarium_agent::store::{AzureBlobStore, AzureSettings, AzureStores};
use herbarium_api::agent::LocationAccessSpec;
use serde_json::{Value, json};

const AGENT_SUBJECT: &str = "system:serviceaccount:herbarium-system:herbarium-agent";
const OPERATOR_SUBJECT: &str = "system:serviceaccount:default:test-operator";
const CONTROLLER_SUBJECT: &str = "system:serviceaccount:herbarium-system:herbarium-controller";
const ARM_SCOPE: &str = "https://management.azure.com/.default";
const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

fn dir() -> PathBuf {
    herbarium_test_support::env().dir.clone()
}

pub fn var(name: &str) -> String {
    static VARS: OnceLock<HashMap<String, String>> = OnceLock::new();
    let vars = VARS.get_or_init(|| {
        std::fs::read_to_string(dir().join("env.sh"))
            .expect("env.sh of the test environment")
            .lines()
            .filter_map(|l| l.trim().strip_prefix("export "))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect()
    });
    vars.get(name)
        .unwrap_or_else(|| panic!("{name} missing from env.sh (no Azure stand-ins?)"))
        .clone()
}

fn mint(cluster: &str, extra: &[&str]) -> String {
    let out = Command::new(herbarium_test_support::repo_root().join("hack/mint-token.sh"))
        .args(["--dir", dir().to_str().unwrap(), "--cluster", cluster])
        .args(extra)
        .output()
        .expect("running hack/mint-token.sh");
    assert!(
        out.status.success(),
        "mint-token.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn http() -> reqwest::Client {
    let pem = std::fs::read(var("HERBARIUM_CA_FILE")).expect("reading the CA file");
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .no_proxy()
        .build()
        .unwrap()
}

async fn access_token(client_id: &str, assertion: &str, scope: &str) -> String {
    let url = format!(
        "{}{}/oauth2/v2.0/token",
        var("AZURE_AUTHORITY_HOST"),
        var("AZURE_TENANT_ID")
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
        ("scope", scope),
    ];
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let r = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("token request");
    let body: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap_or_default();
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("token request failed: {body}"))
        .to_string()
}

async fn arm_put(token: &str, url: &str, body: Value) -> (u16, Value) {
    let r = http()
        .put(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("ARM request");
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or_default(),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// A new container, created by the test operator identity.
pub async fn new_container() -> String {
    let name = unique("restore");
    let token = access_token(
        &var("HERBARIUM_TEST_OPERATOR_CLIENT_ID"),
        &mint("garden", &["--subject", OPERATOR_SUBJECT]),
        STORAGE_SCOPE,
    )
    .await;
    let r = http()
        .put(format!(
            "{}/{name}?restype=container",
            var("HERBARIUM_BLOB_ENDPOINT")
        ))
        .bearer_auth(token)
        .header("x-ms-version", "2021-12-02")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        201,
        "creating container {name}: {}",
        r.text().await.unwrap()
    );
    name
}

/// The agent's real store for `container`, as the agent of `cluster` would open it: its own
/// managed identity (federated with the cluster's issuer), granted on the container, and a
/// service-account token in a file.
pub async fn agent_store(cluster: &str, container: &str) -> AzureBlobStore {
    let arm = access_token(
        &var("HERBARIUM_CONTROLLER_CLIENT_ID"),
        &mint("garden", &["--subject", CONTROLLER_SUBJECT]),
        ARM_SCOPE,
    )
    .await;
    let identity = format!(
        "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
        var("HERBARIUM_ARM_ENDPOINT"),
        var("HERBARIUM_SUBSCRIPTION_ID"),
        var("HERBARIUM_RESOURCE_GROUP"),
        unique("agent")
    );
    let v = "?api-version=2023-01-31";
    let (s, body) = arm_put(
        &arm,
        &format!("{identity}{v}"),
        json!({"location": "westeurope"}),
    )
    .await;
    assert!(s == 200 || s == 201, "identity: {s} {body}");
    let fic = json!({"properties": {"issuer": mint(cluster, &["--print-issuer"]),
        "subject": AGENT_SUBJECT, "audiences": ["api://AzureADTokenExchange"]}});
    let (s, b) = arm_put(
        &arm,
        &format!("{identity}/federatedIdentityCredentials/{cluster}{v}"),
        fic,
    )
    .await;
    assert!(s == 200 || s == 201, "federated credential: {s} {b}");
    let client_id = body["properties"]["clientId"].as_str().unwrap().to_string();
    let principal = body["properties"]["principalId"].as_str().unwrap();
    let scope = format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}/blobServices/default/containers/{container}",
        var("HERBARIUM_SUBSCRIPTION_ID"),
        var("HERBARIUM_RESOURCE_GROUP"),
        var("HERBARIUM_STORAGE_ACCOUNT")
    );
    let grant = format!(
        "{}{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        var("HERBARIUM_ARM_ENDPOINT"),
        uuid::Uuid::new_v4()
    );
    let role = json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe", var("HERBARIUM_SUBSCRIPTION_ID")),
        "principalId": principal, "principalType": "ServicePrincipal"}});
    let (s, b) = arm_put(&arm, &grant, role).await;
    assert_eq!(s, 201, "role assignment: {b}");
    let token_file = dir().join(format!("token-{}", unique(cluster)));
    std::fs::write(&token_file, mint(cluster, &[])).unwrap();
    let settings = AzureSettings {
        client_id: Some(client_id),
        tenant_id: Some(var("AZURE_TENANT_ID")),
        token_file: Some(token_file),
        authority_host: var("AZURE_AUTHORITY_HOST"),
        ca_file: Some(var("HERBARIUM_CA_FILE").into()),
    };
    let spec: LocationAccessSpec = serde_json::from_value(json!({
        "storageAccount": var("HERBARIUM_STORAGE_ACCOUNT"), "container": container,
        "endpoint": var("HERBARIUM_BLOB_ENDPOINT"), "clusterUID": cluster,
        "location": {"namespace": "p", "name": "loc"}}))
    .unwrap();
    AzureStores::new(settings)
        .open(&spec)
        .expect("opening the agent's store")
}

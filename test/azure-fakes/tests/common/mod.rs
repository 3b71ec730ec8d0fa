//! Test harness: join the environment named by HERBARIUM_LOCAL_DIR (its env.sh written by
//! hack/azure-up.sh), or start a private one with hack/azure-up.sh. A private environment is
//! watched by a process azure-up.sh leaves behind (--owner-pid): when this test process exits,
//! however it exits, everything is stopped and the directory removed.
#![allow(dead_code)]

use std::{collections::HashMap, path::PathBuf, process::Command, sync::OnceLock};

pub struct Env {
    pub dir: PathBuf,
    pub vars: HashMap<String, String>,
}

impl Env {
    pub fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from {}/env.sh", self.dir.display()))
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_env_sh(dir: &std::path::Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(dir.join("env.sh"))
        .unwrap_or_else(|e| panic!("reading {}/env.sh: {e}", dir.display()));
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_string(),
                v.trim_matches('"').trim_matches('\'').to_string(),
            )
        })
        .collect()
}

pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        if let Ok(dir) = std::env::var("HERBARIUM_LOCAL_DIR") {
            let dir = PathBuf::from(dir);
            let vars = read_env_sh(&dir);
            if vars.contains_key("HERBARIUM_FAKES_ADMIN") {
                return Env { dir, vars };
            }
        }
        let dir = std::env::temp_dir().join(format!("herbarium-azure-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("creating the environment directory");
        let status = Command::new(repo_root().join("hack/azure-up.sh"))
            .args([
                "--dir",
                dir.to_str().unwrap(),
                "--clusters",
                "cluster-1 cluster-2",
            ])
            .args([
                "--owner-pid",
                &std::process::id().to_string(),
                "--remove-dir",
            ])
            .env(
                "HERBARIUM_AZURE_FAKES_BIN",
                env!("CARGO_BIN_EXE_herbarium-azure-fakes"),
            )
            .status()
            .expect("running hack/azure-up.sh");
        assert!(
            status.success(),
            "hack/azure-up.sh failed; logs in {}/logs",
            dir.display()
        );
        let vars = read_env_sh(&dir);
        Env { dir, vars }
    })
}

/// A service-account token of `cluster` as hack/mint-token.sh mints it.
pub fn mint(cluster: &str, extra: &[&str]) -> String {
    let out = Command::new(repo_root().join("hack/mint-token.sh"))
        .args(["--dir", env().dir.to_str().unwrap(), "--cluster", cluster])
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

pub const AGENT_SUBJECT: &str = "system:serviceaccount:herbarium-system:herbarium-agent";
pub const OPERATOR_SUBJECT: &str = "system:serviceaccount:default:test-operator";
pub const CONTROLLER_SUBJECT: &str = "system:serviceaccount:herbarium-system:herbarium-controller";
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// An HTTP client trusting the environment's CA (and nothing else).
pub fn http() -> reqwest::Client {
    let pem = std::fs::read(env().var("HERBARIUM_CA_FILE")).expect("reading the CA file");
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .no_proxy()
        .build()
        .unwrap()
}

/// POST to the token endpoint as azure_identity does; returns (status, JSON body).
pub async fn token_request(
    client_id: &str,
    assertion: &str,
    scope: &str,
) -> (u16, serde_json::Value) {
    let e = env();
    let url = format!(
        "{}{}/oauth2/v2.0/token",
        e.var("AZURE_AUTHORITY_HOST"),
        e.var("AZURE_TENANT_ID")
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

/// An access token for `scope`, or panic with Entra's answer.
pub async fn access_token(client_id: &str, assertion: &str, scope: &str) -> String {
    let (status, body) = token_request(client_id, assertion, scope).await;
    assert_eq!(status, 200, "token request failed: {body}");
    body["access_token"].as_str().unwrap().to_string()
}

pub async fn controller_arm_token() -> String {
    let assertion = mint("garden", &["--subject", CONTROLLER_SUBJECT]);
    access_token(
        env().var("HERBARIUM_CONTROLLER_CLIENT_ID"),
        &assertion,
        ARM_SCOPE,
    )
    .await
}

pub fn rg_url(path: &str) -> String {
    let e = env();
    format!(
        "{}/subscriptions/{}/resourceGroups/{}{path}",
        e.var("HERBARIUM_ARM_ENDPOINT"),
        e.var("HERBARIUM_SUBSCRIPTION_ID"),
        e.var("HERBARIUM_RESOURCE_GROUP")
    )
}

pub fn identity_url(name: &str) -> String {
    rg_url(&format!(
        "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    ))
}

pub fn account_scope() -> String {
    let e = env();
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
        e.var("HERBARIUM_SUBSCRIPTION_ID"),
        e.var("HERBARIUM_RESOURCE_GROUP"),
        e.var("HERBARIUM_STORAGE_ACCOUNT")
    )
}

/// Call ARM with an optional bearer; returns (status, JSON body).
pub async fn arm(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = http().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().await.expect("ARM request");
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or_default(),
    )
}

/// Create an identity with a federated credential for `cluster`'s agent; returns (clientId, principalId).
pub async fn identity_for(token: &str, name: &str, cluster: &str) -> (String, String) {
    let v = "?api-version=2023-01-31";
    let (s, body) = arm(
        reqwest::Method::PUT,
        &format!("{}{v}", identity_url(name)),
        Some(token),
        Some(serde_json::json!({"location": "westeurope"})),
    )
    .await;
    assert!(s == 200 || s == 201, "creating identity {name}: {s} {body}");
    let issuer = mint(cluster, &["--print-issuer"]);
    let fic = serde_json::json!({"properties": {"issuer": issuer, "subject": AGENT_SUBJECT, "audiences": ["api://AzureADTokenExchange"]}});
    let (s, b) = arm(
        reqwest::Method::PUT,
        &format!(
            "{}/federatedIdentityCredentials/{cluster}{v}",
            identity_url(name)
        ),
        Some(token),
        Some(fic),
    )
    .await;
    assert!(s == 200 || s == 201, "creating credential: {s} {b}");
    let p = &body["properties"];
    (
        p["clientId"].as_str().unwrap().to_string(),
        p["principalId"].as_str().unwrap().to_string(),
    )
}

/// Grant Storage Blob Data Contributor on `scope` to `principal`.
pub async fn grant_blob_contributor(token: &str, scope: &str, principal: &str) {
    let e = env();
    let url = format!(
        "{}{scope}/providers/Microsoft.Authorization/roleAssignments/{}?api-version=2022-04-01",
        e.var("HERBARIUM_ARM_ENDPOINT"),
        uuid::Uuid::new_v4()
    );
    let body = serde_json::json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe", e.var("HERBARIUM_SUBSCRIPTION_ID")),
        "principalId": principal, "principalType": "ServicePrincipal"}});
    let (s, b) = arm(reqwest::Method::PUT, &url, Some(token), Some(body)).await;
    assert_eq!(s, 201, "role assignment: {b}");
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

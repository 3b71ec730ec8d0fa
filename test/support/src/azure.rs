//! The Azure stand-ins of the joined environment (variables written by hack/azure-up.sh into the
//! same env.sh): their variables, service-account tokens minted like the kubelet's, an HTTP
//! client trusting the environment CA, fault injection and the ARM state dump.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::env;

/// Variables of the Azure stand-ins.
#[derive(Debug)]
pub struct Azure {
    pub dir: PathBuf,
    vars: HashMap<String, String>,
}

/// The stand-ins of [`env()`]'s environment; panics when it has none (hack/azure-up.sh failed or
/// was not run).
pub fn azure() -> &'static Azure {
    static AZURE: OnceLock<Azure> = OnceLock::new();
    AZURE.get_or_init(|| {
        let dir = env().dir.clone();
        let text = std::fs::read_to_string(dir.join("env.sh"))
            .unwrap_or_else(|e| panic!("reading {}/env.sh: {e}", dir.display()));
        let vars: HashMap<String, String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        assert!(
            vars.contains_key("HERBARIUM_FAKES_ADMIN"),
            "{}/env.sh has no Azure stand-ins (run hack/azure-up.sh --dir {0})",
            dir.display()
        );
        Azure { dir, vars }
    })
}

impl Azure {
    /// A variable of env.sh, e.g. `HERBARIUM_ARM_ENDPOINT`; panics naming it when missing.
    pub fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing from {}/env.sh", self.dir.display()))
    }

    /// An HTTP client trusting only the environment's CA.
    pub fn http(&self) -> reqwest::Client {
        let pem = std::fs::read(self.var("HERBARIUM_CA_FILE")).expect("reading the CA file");
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("CA PEM")])
            .no_proxy()
            .build()
            .expect("HTTP client")
    }

    /// `hack/mint-token.sh --cluster CLUSTER ARGS...`: a service-account token of that cluster
    /// (`garden` or an application cluster), or with `--print-issuer` its issuer URL.
    pub fn mint(&self, cluster: &str, args: &[&str]) -> String {
        let out = Command::new(crate::repo_root().join("hack/mint-token.sh"))
            .arg("--dir")
            .arg(&self.dir)
            .args(["--cluster", cluster])
            .args(args)
            .output()
            .expect("running hack/mint-token.sh");
        assert!(
            out.status.success(),
            "mint-token.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Writes a token of `subject` in `cluster` to a new file, as the kubelet projects it.
    pub fn token_file(&self, cluster: &str, subject: &str) -> PathBuf {
        let token = self.mint(cluster, &["--subject", subject]);
        let file = self.dir.join(format!(
            "token-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::write(&file, token).expect("writing the token file");
        file
    }

    /// Sets the stand-ins' faults for `service` (`arm`, `entra`, `blob`); `{}` clears them.
    pub async fn set_faults(&self, service: &str, spec: serde_json::Value) {
        let url = format!("{}/faults/{service}", self.var("HERBARIUM_FAKES_ADMIN"));
        let r = self
            .http()
            .put(url)
            .body(spec.to_string())
            .send()
            .await
            .expect("setting faults");
        assert!(
            r.status().is_success(),
            "setting {service} faults: {}",
            r.status()
        );
    }

    /// Clears every fault.
    pub async fn clear_faults(&self) {
        let url = format!("{}/faults", self.var("HERBARIUM_FAKES_ADMIN"));
        let r = self
            .http()
            .delete(url)
            .send()
            .await
            .expect("clearing faults");
        assert!(r.status().is_success(), "clearing faults: {}", r.status());
    }

    /// The ARM stand-in's state: `identities` (with `federated_credentials`) and
    /// `role_assignments`.
    pub async fn arm_state(&self) -> serde_json::Value {
        let url = format!("{}/state", self.var("HERBARIUM_FAKES_ADMIN"));
        let r = self.http().get(url).send().await.expect("reading state");
        serde_json::from_slice(&r.bytes().await.expect("reading state")).expect("state JSON")
    }

    /// An Entra ID token for `client_id`, exchanged for `assertion` (a service-account token).
    pub async fn token(&self, client_id: &str, assertion: &str, scope: &str) -> String {
        let url = format!(
            "{}{}/oauth2/v2.0/token",
            self.var("AZURE_AUTHORITY_HOST"),
            self.var("AZURE_TENANT_ID")
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
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", url_encode(v)))
            .collect();
        let r = self
            .http()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
            .expect("token request");
        let v: serde_json::Value =
            serde_json::from_slice(&r.bytes().await.expect("token body")).expect("token JSON");
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {v}"))
            .to_string()
    }

    /// Creates blob container `name` as the environment's test operator (an identity with a
    /// data role on the whole account).
    pub async fn create_container(&self, name: &str) {
        let assertion = self.mint(
            "garden",
            &["--subject", "system:serviceaccount:default:test-operator"],
        );
        let token = self
            .token(
                self.var("HERBARIUM_TEST_OPERATOR_CLIENT_ID"),
                &assertion,
                "https://storage.azure.com/.default",
            )
            .await;
        let r = self
            .http()
            .put(format!(
                "{}/{name}?restype=container",
                self.var("HERBARIUM_BLOB_ENDPOINT")
            ))
            .bearer_auth(token)
            .header("x-ms-version", "2021-12-02")
            .header("content-length", "0")
            .send()
            .await
            .expect("creating a container");
        assert_eq!(r.status().as_u16(), 201, "creating container {name}");
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use kube::api::{Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use crate::Error;

/// One local API server.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub kubeconfig: PathBuf,
}

impl Cluster {
    /// A client for this server; TLS is verified with the CA in its kubeconfig.
    pub async fn client(&self) -> Result<Client, Error> {
        client_for(&self.kubeconfig).await
    }
}

/// A running environment: the garden and the application clusters.
#[derive(Debug)]
pub struct Env {
    pub dir: PathBuf,
    pub garden: Cluster,
    pub clusters: Vec<Cluster>,
    pub kubectl: PathBuf,
}

static ENV: OnceLock<Result<Env, String>> = OnceLock::new();

/// The environment of this test binary, joined or started once; panics with the reason when
/// none can be had (the test cannot run without it).
pub fn env() -> &'static Env {
    match ENV.get_or_init(|| join_or_start().map_err(|e| e.to_string())) {
        Ok(env) => env,
        Err(e) => panic!("no local Kubernetes environment: {e}"),
    }
}

/// The repository root (this crate lives in test/support).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

fn join_or_start() -> Result<Env, Error> {
    if let Ok(dir) = std::env::var("HERBARIUM_LOCAL_DIR") {
        return read_env(Path::new(&dir));
    }
    let clusters = std::env::var("HERBARIUM_TEST_CLUSTERS").unwrap_or_else(|_| "2".into());
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let dir = std::env::temp_dir().join(format!("herbarium-test-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let repo = repo_root();
    watchdog(&repo, &dir)?;
    let out = Command::new(repo.join("hack/local-up.sh"))
        .args(["--clusters", &clusters, "--dir"])
        .arg(&dir)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "hack/local-up.sh --dir {} failed ({}):\n{}{}",
            dir.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    read_env(&dir)
}

/// Starts a detached shell that stops the environment once this process is gone, however it ends.
fn watchdog(repo: &Path, dir: &Path) -> Result<(), Error> {
    let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 0.5; done; "$2/hack/local-down.sh" --dir "$3"; rm -rf "$3""#;
    Command::new("setsid")
        .args(["sh", "-c", script, "herbarium-test-watchdog"])
        .arg(std::process::id().to_string())
        .arg(repo)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting the environment watchdog (setsid sh): {e}"))?;
    Ok(())
}

/// Reads DIR/env.sh (simple `export K=V` lines written by hack/local-up.sh).
fn read_env(dir: &Path) -> Result<Env, Error> {
    let path = dir.join("env.sh");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "reading {}: {e} (run hack/local-up.sh --dir {})",
            path.display(),
            dir.display()
        )
    })?;
    let mut vars = HashMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
            vars.insert(k.to_string(), v.trim_matches('"').replace("\\ ", " "));
        }
    }
    let get = |k: &str| {
        vars.get(k)
            .cloned()
            .ok_or_else(|| format!("{} has no {k}", path.display()))
    };
    let names = get("HERBARIUM_CLUSTER_NAMES")?;
    let kubeconfigs = get("HERBARIUM_CLUSTER_KUBECONFIGS")?;
    let clusters = names
        .split_whitespace()
        .zip(kubeconfigs.split_whitespace())
        .map(|(n, k)| Cluster {
            name: n.into(),
            kubeconfig: k.into(),
        })
        .collect();
    Ok(Env {
        dir: dir.to_path_buf(),
        garden: Cluster {
            name: "garden".into(),
            kubeconfig: get("HERBARIUM_GARDEN_KUBECONFIG")?.into(),
        },
        clusters,
        kubectl: get("HERBARIUM_KUBECTL")?.into(),
    })
}

impl Env {
    /// A client for the garden.
    pub async fn garden_client(&self) -> Result<Client, Error> {
        self.garden.client().await
    }

    /// The application cluster of that name.
    pub fn cluster(&self, name: &str) -> &Cluster {
        self.clusters
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no cluster {name} in {}", self.dir.display()))
    }

    /// Server-side applies CRD YAML files (idempotent) and waits until they are Established.
    pub async fn install_crds(&self, client: &Client, files: &[PathBuf]) -> Result<(), Error> {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        let api: Api<CustomResourceDefinition> = Api::all(client.clone());
        let pp = PatchParams::apply("herbarium-test-support").force();
        for f in files {
            let text =
                std::fs::read_to_string(f).map_err(|e| format!("reading {}: {e}", f.display()))?;
            let crd: CustomResourceDefinition =
                serde_yaml::from_str(&text).map_err(|e| format!("parsing {}: {e}", f.display()))?;
            let name = crd
                .metadata
                .name
                .clone()
                .ok_or_else(|| format!("{}: no name", f.display()))?;
            api.patch(&name, &pp, &Patch::Apply(&crd))
                .await
                .map_err(|e| format!("applying {name}: {e}"))?;
            let check = api.clone();
            crate::wait_for(
                &format!("CRD {name} Established"),
                std::time::Duration::from_secs(30),
                || {
                    let (api, name) = (check.clone(), name.clone());
                    async move {
                        let crd = api.get(&name).await.ok()?;
                        let conds = crd.status?.conditions?;
                        conds
                            .iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                            .then_some(())
                    }
                },
            )
            .await?;
        }
        Ok(())
    }
}

async fn client_for(kubeconfig: &Path) -> Result<Client, Error> {
    let kc = Kubeconfig::read_from(kubeconfig)
        .map_err(|e| format!("reading {}: {e}", kubeconfig.display()))?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("kubeconfig {}: {e}", kubeconfig.display()))?;
    Ok(Client::try_from(config)?)
}

/// A client from kubeconfig bytes (e.g. Gardener's adminkubeconfig).
pub async fn client_from_kubeconfig_bytes(bytes: &[u8]) -> Result<Client, Error> {
    let kc: Kubeconfig = serde_yaml::from_slice(bytes)?;
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    Ok(Client::try_from(config)?)
}

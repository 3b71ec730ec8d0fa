//! The binaries under test as child processes: started with the environment a pod would have,
//! logs kept in a file for failure messages, stopped with SIGTERM when dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use herbarium_test_support::{azure, env};

pub struct Proc {
    child: Child,
    log: PathBuf,
    name: String,
}

impl Proc {
    /// The last lines of the process's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} log (last 40 lines) ---\n{}",
            self.name,
            lines[lines.len().saturating_sub(40)..].join("\n")
        )
    }
}

impl Proc {
    /// Whether the process is still running (it has not exited, crashed or been killed).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A binary of this workspace, built next to the test binary (`cargo test --workspace` builds
/// every package's binaries).
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    // A test binary lives in target/<profile>/deps, a driver binary in target/<profile>.
    let dirs = [exe.parent(), exe.parent().and_then(Path::parent)];
    dirs.into_iter()
        .flatten()
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "{name} is not built next to {}; run `cargo build --workspace --bins` first",
                exe.display()
            )
        })
}

fn spawn(name: &str, binary_name: &str, vars: &[(&str, String)]) -> Proc {
    let log = env()
        .dir
        .join(format!("{name}-{}-{}.log", std::process::id(), nanos()));
    let file = std::fs::File::create(&log).expect("log file");
    let mut command = Command::new(binary(binary_name));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HERBARIUM_LISTEN_ADDRESS", "127.0.0.1:0")
        .env(
            "HERBARIUM_LOG",
            "info,herbarium_controller=debug,herbarium_agent=debug,kube_runtime=debug",
        )
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log file"))
        .stderr(file);
    for (k, v) in vars {
        command.env(k, v);
    }
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary_name}: {e}"));
    Proc {
        child,
        log,
        name: name.to_string(),
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// The controller with its own workload identity (a garden service-account token).
pub fn controller() -> Proc {
    let a = azure();
    let token = a.token_file(
        "garden",
        "system:serviceaccount:herbarium-system:herbarium-controller",
    );
    spawn(
        "controller",
        "herbarium-controller",
        &[
            ("KUBECONFIG", env().garden.kubeconfig.display().to_string()),
            (
                "AZURE_CLIENT_ID",
                a.var("HERBARIUM_CONTROLLER_CLIENT_ID").into(),
            ),
            ("AZURE_TENANT_ID", a.var("AZURE_TENANT_ID").into()),
            ("AZURE_FEDERATED_TOKEN_FILE", token.display().to_string()),
            ("AZURE_AUTHORITY_HOST", a.var("AZURE_AUTHORITY_HOST").into()),
            ("HERBARIUM_CA_FILE", a.var("HERBARIUM_CA_FILE").into()),
            (
                "HERBARIUM_ARM_ENDPOINT",
                a.var("HERBARIUM_ARM_ENDPOINT").into(),
            ),
            // Where identities of kubeconfig Clusters go (Shoots use their DiscoveryConfig's).
            (
                "HERBARIUM_SUBSCRIPTION_ID",
                a.var("HERBARIUM_SUBSCRIPTION_ID").into(),
            ),
            (
                "HERBARIUM_RESOURCE_GROUP",
                a.var("HERBARIUM_RESOURCE_GROUP").into(),
            ),
            ("HERBARIUM_NO_LEADER_ELECTION", "true".into()),
        ],
    )
}

/// An agent for `cluster`, as its pod runs: the cluster's API server, the client ID the
/// controller created, and a token of the agent's service account.
pub fn agent(cluster: &str, kubeconfig: &Path, client_id: &str, token: PathBuf) -> Proc {
    let a = azure();
    spawn(
        &format!("agent-{cluster}"),
        "herbarium-agent",
        &[
            ("KUBECONFIG", kubeconfig.display().to_string()),
            ("POD_NAME", format!("herbarium-agent-{cluster}")),
            ("AZURE_CLIENT_ID", client_id.to_string()),
            ("AZURE_TENANT_ID", a.var("AZURE_TENANT_ID").into()),
            ("AZURE_FEDERATED_TOKEN_FILE", token.display().to_string()),
            ("AZURE_AUTHORITY_HOST", a.var("AZURE_AUTHORITY_HOST").into()),
            ("HERBARIUM_CA_FILE", a.var("HERBARIUM_CA_FILE").into()),
        ],
    )
}

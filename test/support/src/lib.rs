//! Test support: local Kubernetes API servers from `hack/local-up.sh`.
//!
//! [`env`] joins the environment named by `HERBARIUM_LOCAL_DIR` (a directory holding `env.sh`),
//! or starts a private one in a temporary directory that is stopped when the test process exits
//! (a watchdog process outlives panics and aborts and runs `hack/local-down.sh`).
//! Clients come from the kubeconfigs the servers wrote (TLS verified against their CA).

mod azure;
mod environment;
mod wait;

pub use azure::{Azure, azure};
pub use environment::{Cluster, Env, client_from_kubeconfig_bytes, env, repo_root};
pub use wait::{unique_namespace, wait_for};

/// Errors of this crate carry what failed and where to look.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

//! Installing the agent into a cluster: the manifests as a pure function of the agent settings and
//! the cluster's identity ([`manifests`]), server-side apply of what differs from what is there
//! and pruning of objects of other agent versions ([`plan`], pure; [`install`]). The agent's health
//! is the Cluster reconciler's (`crate::cluster_status`, from the heartbeat Lease).

mod apply;
mod manifests;
mod manifests_deployment;
mod plan;

pub use apply::{InstallError, InstallReport, apply, install, present};
pub use manifests::{
    AgentSpec, FEDERATED_TOKEN_FILE, Manifest, TOKEN_DIR, TOKEN_FILE_NAME, agent_labels, manifests,
};
pub use plan::{MANIFEST_HASH_ANNOTATION, ObjectKey, Plan, Present, plan};

//! Installing the agent into a cluster: the manifests as a pure function of the agent settings and
//! the cluster's identity ([`manifests`]), server-side apply of what differs from what is there
//! and pruning of objects of other agent versions ([`plan`], pure; [`install`]), and the agent's health as conditions from its
//! Deployment and heartbeat Lease ([`agent_health`], pure; [`observe`] reads the two objects).

mod apply;
mod health;
mod manifests;
mod manifests_deployment;
mod plan;

pub use apply::{InstallError, InstallReport, apply, install, observe, present};
pub use health::{AgentHealth, ConditionState, agent_health, reachable};
pub use manifests::{
    AgentSpec, FEDERATED_TOKEN_FILE, Manifest, TOKEN_DIR, TOKEN_FILE_NAME, agent_labels, manifests,
};
pub use plan::{MANIFEST_HASH_ANNOTATION, ObjectKey, Plan, Present, plan};

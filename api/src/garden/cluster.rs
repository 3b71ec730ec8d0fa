//! Cluster: one registered application cluster.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A registered application cluster: a Gardener Shoot adopted by discovery, or any cluster added
/// with a kubeconfig Secret.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "herbarium.io",
    version = "v1alpha1",
    kind = "Cluster",
    namespaced,
    status = "ClusterStatus",
    shortname = "hbcl",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Managed", type_ = "boolean", json_path = ".status.managed"),
    printcolumn(name = "Agent", type_ = "string", json_path = ".status.agent.version"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = kube::core::Rule::new("has(self.spec.gardener) != has(self.spec.kubeconfig)")
        .message("a Cluster has exactly one source: spec.gardener or spec.kubeconfig"),
)]
#[x_kube(validation = kube::core::Rule::new("has(self.gardener) == has(oldSelf.gardener)").message("the source kind of a Cluster (gardener or kubeconfig) cannot change"))]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Written by the controller for an adopted Shoot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gardener: Option<GardenerSource>,
    /// Written by a user for a cluster outside Gardener.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<KubeconfigSource>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GardenerSource {
    /// Name of the Shoot in this (project) namespace.
    #[schemars(length(min = 1, max = 63))]
    pub shoot_name: String,
    /// UID of the Shoot; a re-created Shoot has a new one (and a new issuer).
    #[serde(rename = "shootUID")]
    pub shoot_uid: String,
    /// The DiscoveryConfig that adopted the Shoot.
    pub discovery_config: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubeconfigSource {
    /// Secret in this namespace holding the kubeconfig.
    pub secret_ref: SecretKeyRef,
    /// Service-account issuer of the cluster (https); its OIDC discovery document must be public.
    #[serde(rename = "issuerURL")]
    #[schemars(length(max = 2048))]
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('https://')").message("issuerURL must be an https URL"))]
    pub issuer_url: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key in the Secret's data. Default: `kubeconfig`.
    #[serde(default = "default_kubeconfig_key")]
    pub key: String,
}

fn default_kubeconfig_key() -> String {
    "kubeconfig".to_string()
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ClusterPhase {
    #[default]
    Pending,
    Registering,
    Ready,
    Unreachable,
    Hibernated,
    /// Kept, but no longer managed (the Shoot opted out or no DiscoveryConfig matches it).
    Unmanaged,
    Deleting,
    Failed,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<ClusterPhase>,
    /// Whether Herbarium manages this cluster (identity, agent, instructions).
    #[serde(default)]
    pub managed: bool,
    /// The cluster's UID as used in storage paths (`backups/<cluster-uid>/...`).
    #[serde(
        default,
        rename = "clusterUID",
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// IssuerReady, IdentityReady, AgentDeployed, AgentReady, Reachable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

/// The cluster's Azure identity, as created by the controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IdentityStatus {
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "principalID")]
    pub principal_id: String,
    #[serde(rename = "resourceID")]
    pub resource_id: String,
    pub federated_credential_name: String,
    pub issuer: String,
    pub subject: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default)]
    pub ready: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat: Option<Time>,
}

/// Condition types of a Cluster.
pub mod cluster_conditions {
    pub const ISSUER_READY: &str = "IssuerReady";
    pub const IDENTITY_READY: &str = "IdentityReady";
    pub const AGENT_DEPLOYED: &str = "AgentDeployed";
    pub const AGENT_READY: &str = "AgentReady";
    pub const REACHABLE: &str = "Reachable";
}

//! DiscoveryConfig: which Gardener Shoots to adopt, and how.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which Gardener projects and Shoots Herbarium adopts, the Azure target for their identities, and
/// the agent to install. Cluster-scoped; written by the landscape operator. Several may overlap: a
/// Shoot matched by more than one is adopted by the oldest (then by name), and the others count it
/// as discovered but not managed by them.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "herbarium.io",
    version = "v1alpha1",
    kind = "DiscoveryConfig",
    status = "DiscoveryConfigStatus",
    shortname = "hbdc",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(
        name = "Discovered",
        type_ = "integer",
        json_path = ".status.discovered"
    ),
    printcolumn(name = "Managed", type_ = "integer", json_path = ".status.managed"),
    printcolumn(name = "Failed", type_ = "integer", json_path = ".status.failed"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryConfigSpec {
    /// Gardener projects to look in. Neither names nor selector: every project.
    #[serde(default)]
    pub projects: ProjectSelection,
    /// Shoots to adopt inside those projects.
    #[serde(default)]
    pub shoots: ShootSelection,
    /// Where the clusters' Azure identities are created.
    pub azure: AzureIdentityTarget,
    /// The agent installed into every adopted cluster.
    #[serde(default)]
    pub agent: AgentSettings,
    /// Stop adopting and reconciling (existing Clusters are left as they are).
    #[serde(default)]
    pub suspend: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectSelection {
    /// Project names (a project's namespace is read from the Project object).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1024), inner(length(max = 63)))]
    pub names: Vec<String>,
    /// Projects whose labels match; a project matches when it is named or selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShootSelection {
    /// Only Shoots whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Annotation a Shoot must carry to opt in. Default: `herbarium.io/backup`.
    #[serde(default = "default_opt_in_annotation")]
    #[schemars(length(min = 1, max = 253))]
    pub opt_in_annotation: String,
    /// Value the annotation must have. Default: `enabled`.
    #[serde(default = "default_opt_in_value")]
    #[schemars(length(max = 63))]
    pub opt_in_value: String,
}

impl Default for ShootSelection {
    fn default() -> Self {
        Self {
            selector: None,
            opt_in_annotation: default_opt_in_annotation(),
            opt_in_value: default_opt_in_value(),
        }
    }
}

fn default_opt_in_annotation() -> String {
    crate::constants::BACKUP_OPT_IN_ANNOTATION.to_string()
}
fn default_opt_in_value() -> String {
    crate::constants::BACKUP_OPT_IN_VALUE.to_string()
}

/// Azure subscription and resource group that hold the clusters' user-assigned identities.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureIdentityTarget {
    #[serde(rename = "tenantID")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$')").message("tenantID must be a GUID"))]
    #[schemars(length(max = 36))]
    pub tenant_id: String,
    #[serde(rename = "subscriptionID")]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$')").message("subscriptionID must be a GUID"))]
    #[schemars(length(max = 36))]
    pub subscription_id: String,
    /// Resource group of the identities (1–90 characters).
    #[schemars(length(min = 1, max = 90))]
    #[x_kube(validation = kube::core::Rule::new("self.matches('^[-\\\\w._()]+$') && !self.endsWith('.')").message("resourceGroup may hold letters, digits, '-', '_', '.', '(' and ')' and must not end with '.'"))]
    pub resource_group: String,
    /// Azure region of the identities, e.g. `westeurope`.
    #[schemars(length(min = 1, max = 64))]
    pub location: String,
    /// Grant each cluster's identity "Storage Blob Data Contributor" on the containers of the
    /// BackupLocations assigned to it. Needs the controller's identity to be allowed to write role
    /// assignments there. Default: true.
    #[serde(default = "default_true")]
    pub role_assignments: bool,
    /// ARM endpoint. Default: Azure public cloud (`https://management.azure.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.startsWith('https://')").message("armEndpoint must be an https URL"))]
    #[schemars(length(max = 2048))]
    pub arm_endpoint: Option<String>,
}

fn default_true() -> bool {
    true
}

/// The agent installed into each adopted cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentSettings {
    /// Image of herbarium-agent. Default: the image matching the controller's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveryConfigStatus {
    /// Shoots that match projects, selector and opt-in.
    #[serde(default)]
    pub discovered: i64,
    /// Clusters this config manages.
    #[serde(default)]
    pub managed: i64,
    /// Clusters of this config no longer managed (opted out).
    #[serde(default)]
    pub unmanaged: i64,
    /// Clusters of this config in phase Failed.
    #[serde(default)]
    pub failed: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

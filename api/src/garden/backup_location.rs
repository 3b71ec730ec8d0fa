//! BackupLocation: an Azure Blob container, the clusters that may use it, and their validation.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An Azure Blob Storage container (and optional prefix) that backups are written to. Every
/// assigned cluster validates its own access with its own identity; the garden never reads it.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "herbarium.io",
    version = "v1alpha1",
    kind = "BackupLocation",
    namespaced,
    status = "BackupLocationStatus",
    shortname = "hbbl",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(
        name = "Account",
        type_ = "string",
        json_path = ".spec.azure.storageAccount"
    ),
    printcolumn(
        name = "Container",
        type_ = "string",
        json_path = ".spec.azure.container"
    ),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct BackupLocationSpec {
    pub azure: AzureBlobLocation,
    /// Clusters (in this namespace) that may write to and read from this location.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 512), inner(length(max = 253)))]
    #[x_kube(validation = kube::core::Rule::new("self.all(c, c.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$'))").message(crate::common::LOCAL_NAME_MESSAGE))]
    pub clusters: Vec<String>,
    #[serde(default)]
    pub sync: SyncSettings,
}

/// Where in Azure Blob Storage. `cloud` and `endpoint` are exclusive; neither means AzurePublic.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("!(has(self.cloud) && has(self.endpoint))").message("set at most one of cloud and endpoint"))]
pub struct AzureBlobLocation {
    /// Storage account name: 3–24 lowercase letters and digits.
    #[x_kube(validation = kube::core::Rule::new(crate::common::STORAGE_ACCOUNT_RULE).message(crate::common::STORAGE_ACCOUNT_MESSAGE))]
    #[schemars(length(max = 24))]
    pub storage_account: String,
    /// Container name: 3–63 lowercase letters, digits and single hyphens, starting and ending with
    /// a letter or digit.
    #[x_kube(validation = kube::core::Rule::new(crate::common::CONTAINER_RULE).message(crate::common::CONTAINER_MESSAGE))]
    #[schemars(length(max = 63))]
    pub container: String,
    /// Path inside the container; no leading or trailing '/', no empty, '.' or '..' segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new("self.split('/').all(s, s != '' && s != '.' && s != '..')").message("prefix must be '/'-separated segments without leading, trailing or double '/', '.' or '..'"))]
    #[schemars(length(max = 512))]
    pub prefix: Option<String>,
    /// Azure cloud, for the blob endpoint `https://<account>.blob.<suffix>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<AzureCloud>,
    /// Explicit account URL (https, no trailing '/'), e.g. for private endpoints or Azurite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = kube::core::Rule::new(crate::common::ENDPOINT_RULE).message(crate::common::ENDPOINT_MESSAGE))]
    #[schemars(length(max = 2048))]
    pub endpoint: Option<String>,
}

impl AzureBlobLocation {
    /// The account URL the agent talks to.
    pub fn account_url(&self) -> String {
        match (&self.endpoint, self.cloud.unwrap_or_default()) {
            (Some(endpoint), _) => endpoint.trim_end_matches('/').to_string(),
            (None, cloud) => format!(
                "https://{}.blob.{}",
                self.storage_account,
                cloud.blob_suffix()
            ),
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AzureCloud {
    #[default]
    AzurePublic,
    AzureChina,
    AzureUSGovernment,
}

impl AzureCloud {
    pub fn blob_suffix(self) -> &'static str {
        match self {
            Self::AzurePublic => "core.windows.net",
            Self::AzureChina => "core.chinacloudapi.cn",
            Self::AzureUSGovernment => "core.usgovcloudapi.net",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettings {
    /// Import backups found in the location: once when the first assigned cluster is valid, then
    /// on request (annotation `herbarium.io/sync-requested`).
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum LocationPhase {
    #[default]
    ValidationInProgress,
    /// Every assigned cluster validated its access.
    Valid,
    /// Some assigned clusters are valid, some are not.
    LimitedAvailability,
    /// No assigned cluster is valid.
    ValidationFailed,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ValidationState {
    #[default]
    Pending,
    InProgress,
    Valid,
    Failed,
}

/// Reason codes of a validation, as reported by the agent.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ValidationReason {
    Valid,
    AuthenticationFailed,
    AuthorizationFailed,
    ContainerNotFound,
    NetworkError,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterValidation {
    pub cluster: String,
    pub state: ValidationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ValidationReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_validated: Option<Time>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SyncPhase {
    #[default]
    Pending,
    InProgress,
    Succeeded,
    Failed,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub phase: SyncPhase,
    /// The cluster that ran the last sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Backups found in storage by the last sync.
    #[serde(default)]
    pub found: i64,
    /// Backups the last sync added as new records.
    #[serde(default)]
    pub imported: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The `herbarium.io/sync-requested` value served last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_request: Option<String>,
}

/// A backup whose record was force-deleted while its data stayed in storage. The controller
/// reclaims it (deletes the data through the agent of `cluster`) once that cluster is Ready with
/// valid access, then drops the entry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrphanedBackup {
    pub name: String,
    #[serde(rename = "uid")]
    pub uid: String,
    pub cluster: String,
    /// Path of the backup inside the container.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Time>,
    /// When the controller asked an agent to delete the data (the BackupJob was deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_requested: Option<Time>,
    /// What the reclaim waits for, or its last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub message: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupLocationStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<LocationPhase>,
    /// Per assigned cluster.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["cluster".into()]))]
    pub clusters: Vec<ClusterValidation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncStatus>,
    /// The `herbarium.io/validate-requested` value served last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_validate_request: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub orphaned: Vec<OrphanedBackup>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

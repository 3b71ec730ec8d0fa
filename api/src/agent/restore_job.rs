//! RestoreJob: one Restore targeting this cluster.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::GardenRef;
use crate::common::RestoreRunStatus;
use crate::garden::RestoreFilter;

/// Restore a backup from a location this cluster has access to into this cluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "agent.herbarium.io",
    version = "v1alpha1",
    kind = "RestoreJob",
    namespaced,
    status = "RestoreJobStatus",
    shortname = "hbrj",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(name = "Backup", type_ = "string", json_path = ".spec.backup.name"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Restored",
        type_ = "integer",
        json_path = ".status.counts.restored"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RestoreJobSpec {
    pub backup: BackupSource,
    /// LocationAccess (in herbarium-system) to read from.
    pub location: String,
    #[serde(flatten)]
    pub filter: RestoreFilter,
    /// The garden Restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garden: Option<GardenRef>,
}

/// Which backup, and where it is stored.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSource {
    pub name: String,
    #[serde(rename = "uid")]
    pub uid: String,
    #[serde(rename = "clusterUID")]
    pub cluster_uid: String,
    /// Path of the backup inside the container.
    pub storage_path: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreJobStatus {
    #[serde(flatten)]
    pub run: RestoreRunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

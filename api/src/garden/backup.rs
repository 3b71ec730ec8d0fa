//! Backup: one backup of one cluster to one location.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::{
    BackupRunStatus, DeletionPolicy, Origin, ResourceSelection, VolumeSnapshotOptions,
};

/// A backup of (part of) one registered cluster's objects to one BackupLocation. The agent in that
/// cluster does the work; this record mirrors its status. Deleting it deletes the data through the
/// agent unless `deletionPolicy` is Retain; with the annotation `herbarium.io/force-delete: "true"`
/// the record goes at once and the data is listed as orphaned in the location's status.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "herbarium.io",
    version = "v1alpha1",
    kind = "Backup",
    namespaced,
    status = "BackupStatus",
    shortname = "hbb",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(name = "Cluster", type_ = "string", json_path = ".spec.cluster"),
    printcolumn(name = "Location", type_ = "string", json_path = ".spec.location"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Items",
        type_ = "integer",
        json_path = ".status.progress.itemsDone"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("a Backup's spec cannot change once created"))]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    #[serde(flatten)]
    pub template: BackupTemplate,
}

/// Everything that describes a backup; also the template of a BackupSchedule.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupTemplate {
    /// Cluster (in this namespace) to back up.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = kube::core::Rule::new(crate::common::LOCAL_NAME_RULE).message(crate::common::LOCAL_NAME_MESSAGE))]
    pub cluster: String,
    /// BackupLocation (in this namespace) to write to; the cluster must be assigned to it.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = kube::core::Rule::new(crate::common::LOCAL_NAME_RULE).message(crate::common::LOCAL_NAME_MESSAGE))]
    pub location: String,
    #[serde(flatten)]
    pub selection: ResourceSelection,
    /// Rule (in this namespace) to run before the objects are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[x_kube(validation = kube::core::Rule::new(crate::common::LOCAL_NAME_RULE).message(crate::common::LOCAL_NAME_MESSAGE))]
    pub pre_rule: Option<String>,
    /// Rule (in this namespace) to run after the objects are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[x_kube(validation = kube::core::Rule::new(crate::common::LOCAL_NAME_RULE).message(crate::common::LOCAL_NAME_MESSAGE))]
    pub post_rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshots: Option<VolumeSnapshotOptions>,
    /// How long to keep the backup; it is deleted after that. Default: 720h (30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<crate::common::Duration>,
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    /// Mirrored from the agent's BackupJob.
    #[serde(flatten)]
    pub run: BackupRunStatus,
    #[serde(default)]
    pub origin: Origin,
    /// UID of the cluster the backup was taken from (part of the storage path).
    #[serde(
        default,
        rename = "clusterUID",
        skip_serializing_if = "Option::is_none"
    )]
    pub cluster_uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

//! BackupJob: one backup this cluster knows, taken here or found in storage by a sync.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::GardenRef;
use crate::common::{
    BackupRunStatus, DeletionPolicy, Origin, ResourceSelection, RuleAction, VolumeSnapshotOptions,
};

/// A backup as the agent sees it. `Manual`/`Schedule` jobs are run by the agent; `Synced` jobs
/// describe a backup found in storage. Finalizer `agent.herbarium.io/data`: deleting the job
/// deletes the backup's blobs unless `deletionPolicy` is Retain.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "agent.herbarium.io",
    version = "v1alpha1",
    kind = "BackupJob",
    namespaced,
    status = "BackupJobStatus",
    shortname = "hbbj",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(name = "Origin", type_ = "string", json_path = ".spec.origin"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Stage", type_ = "string", json_path = ".status.stage"),
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
#[x_kube(validation = kube::core::Rule::new("self.origin == 'Synced' || has(self.selection)").message("a BackupJob that is not Synced needs a selection"))]
#[serde(rename_all = "camelCase")]
pub struct BackupJobSpec {
    /// Name of the backup (the garden Backup's name).
    #[schemars(length(min = 1, max = 253))]
    pub backup_name: String,
    /// UID of the garden Backup; with the name it forms the storage path and identifies the backup
    /// across clusters.
    #[serde(rename = "backupUID")]
    #[schemars(length(min = 1, max = 64))]
    pub backup_uid: String,
    /// UID of the cluster the backup is (or was) taken from.
    #[serde(rename = "clusterUID")]
    #[schemars(length(min = 1, max = 64))]
    pub cluster_uid: String,
    /// LocationAccess (in herbarium-system) to write to or read from.
    pub location: String,
    pub origin: Origin,
    /// What to back up; absent for Synced jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<ResourceSelection>,
    /// Actions of the backup's preRule, resolved by the controller.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub pre_hooks: Vec<RuleAction>,
    /// Actions of the backup's postRule, resolved by the controller.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub post_hooks: Vec<RuleAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshots: Option<VolumeSnapshotOptions>,
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
    /// The garden Backup (absent for a Synced job nobody imported yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garden: Option<GardenRef>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupJobStatus {
    #[serde(flatten)]
    pub run: BackupRunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

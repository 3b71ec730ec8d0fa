//! Restore: objects of a backup back into a cluster.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::{ExistingResourcePolicy, RestoreRunStatus};

/// Restores (part of) a Backup into its source cluster or another registered cluster that has
/// valid access to the backup's location.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "herbarium.io",
    version = "v1alpha1",
    kind = "Restore",
    namespaced,
    status = "RestoreStatus",
    shortname = "hbr",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(name = "Backup", type_ = "string", json_path = ".spec.backup"),
    printcolumn(name = "Target", type_ = "string", json_path = ".status.targetCluster"),
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
#[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("a Restore's spec cannot change once created"))]
#[serde(rename_all = "camelCase")]
pub struct RestoreSpec {
    /// Backup (in this namespace) to restore from.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = kube::core::Rule::new(crate::common::LOCAL_NAME_RULE).message(crate::common::LOCAL_NAME_MESSAGE))]
    pub backup: String,
    /// Cluster (in this namespace) to restore into. Default: the backup's cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[x_kube(validation = kube::core::Rule::new(crate::common::LOCAL_NAME_RULE).message(crate::common::LOCAL_NAME_MESSAGE))]
    pub target_cluster: Option<String>,
    #[serde(flatten)]
    pub filter: RestoreFilter,
}

/// What to restore and how; shared by Restore and RestoreJob.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreFilter {
    /// Namespaces of the backup to restore; empty or `*`: all in the backup.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(max = 63)))]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(max = 63)))]
    pub excluded_namespaces: Vec<String>,
    /// As in a Backup: `resource` or `resource.group`; empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128), inner(length(max = 253)))]
    pub included_resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128), inner(length(max = 253)))]
    pub excluded_resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    /// Source namespace → target namespace; also applied to RoleBinding subjects and PVC/PV
    /// references.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "crate::common::name_map_schema")]
    #[x_kube(validation = kube::core::Rule::new("self.all(k, size(k) <= 63 && size(self[k]) <= 63 && self[k].matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))").message("namespace mapping targets must be DNS labels (lowercase letters, digits, '-', at most 63)"))]
    pub namespace_mapping: BTreeMap<String, String>,
    /// Source StorageClass → target StorageClass for PVCs and PVs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "crate::common::name_map_schema")]
    pub storage_class_mapping: BTreeMap<String, String>,
    /// What to do with objects that already exist. Default: Retain.
    #[serde(default)]
    pub existing_resource_policy: ExistingResourcePolicy,
    /// Restore PVCs from the backup's volume snapshots. Default: false.
    #[serde(default)]
    pub restore_volumes: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreStatus {
    /// Mirrored from the agent's RestoreJob.
    #[serde(flatten)]
    pub run: RestoreRunStatus,
    /// The cluster the restore runs in (the spec's target or the backup's cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_cluster: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

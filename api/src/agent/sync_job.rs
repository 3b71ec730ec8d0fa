//! SyncJob: list a location and record every committed backup this cluster does not know yet.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::GardenRef;
use crate::garden::SyncPhase;

/// Lists the backups under a location's prefix and creates a `BackupJob` (origin Synced, phase
/// Succeeded) for each committed backup (its `metadata.json` present) not yet known by UID.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "agent.herbarium.io",
    version = "v1alpha1",
    kind = "SyncJob",
    namespaced,
    status = "SyncJobStatus",
    shortname = "hbsj",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(name = "Location", type_ = "string", json_path = ".spec.location"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Found", type_ = "integer", json_path = ".status.found"),
    printcolumn(name = "Imported", type_ = "integer", json_path = ".status.imported")
)]
#[serde(rename_all = "camelCase")]
pub struct SyncJobSpec {
    /// LocationAccess (in herbarium-system) to list.
    pub location: String,
    /// The sync request this job serves (the value of `herbarium.io/sync-requested`, or
    /// `initial`).
    pub request: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garden: Option<GardenRef>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncJobStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<SyncPhase>,
    /// Committed backups found in storage.
    #[serde(default)]
    pub found: i64,
    /// BackupJobs created by this sync.
    #[serde(default)]
    pub imported: i64,
    /// Backups skipped because they were unreadable (bad metadata), with reasons in `message`.
    #[serde(default)]
    pub invalid: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

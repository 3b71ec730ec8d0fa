//! Types shared by several kinds and by both groups.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Names of objects in the same namespace. A `namespace/name` form is refused: a Backup, Restore or
/// schedule only ever names objects of its own namespace (its Gardener project).
pub const LOCAL_NAME_RULE: &str =
    "self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')";
pub const LOCAL_NAME_MESSAGE: &str = "must be the name of an object in this namespace \
     (lowercase DNS subdomain); references to other namespaces are not allowed";

/// CEL: an Azure storage account name.
pub const STORAGE_ACCOUNT_RULE: &str = "self.matches('^[a-z0-9]{3,24}$')";
pub const STORAGE_ACCOUNT_MESSAGE: &str =
    "storageAccount must be 3-24 lowercase letters and digits";
/// CEL: an Azure blob container name (length bounded by the schema's maxLength 63).
pub const CONTAINER_RULE: &str = "self.matches('^[a-z0-9]([a-z0-9]|-[a-z0-9]){2,62}$')";
pub const CONTAINER_MESSAGE: &str = "container must be 3-63 lowercase letters, digits and single \
     hyphens, starting and ending with a letter or digit";
/// CEL: an account URL the agent may send a bearer token to.
pub const ENDPOINT_RULE: &str = "self.startsWith('https://') && !self.endsWith('/')";
pub const ENDPOINT_MESSAGE: &str = "endpoint must be an https URL without a trailing '/'";

/// What to include in a backup. Shared by `Backup`, `BackupSchedule`'s template and `BackupJob`.
/// `Default` is what an empty object deserialises to (namespaces `*`), which the schema accepts.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSelection {
    /// Namespaces to back up. `*` means all but kube-system, kube-public, kube-node-lease and
    /// herbarium-system; one of those named next to `*` is taken too. Default: `*`.
    #[serde(default = "all_namespaces")]
    #[schemars(length(min = 1, max = 256), inner(length(max = 63)))]
    #[x_kube(validation = kube::core::Rule::new("self.all(n, n == '*' || n.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))").message("namespaces must be '*' or DNS labels"))]
    pub namespaces: Vec<String>,
    /// Namespaces to leave out, applied after `namespaces`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(max = 63)))]
    pub excluded_namespaces: Vec<String>,
    /// Only objects whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<LabelSelector>,
    /// Only namespaces whose labels match (intersected with `namespaces`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Resources to include, as `resource` or `resource.group` (e.g. `configmaps`,
    /// `deployments.apps`). Empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128), inner(length(max = 253)))]
    pub included_resources: Vec<String>,
    /// Resources to leave out, same form as `includedResources`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 128), inner(length(max = 253)))]
    pub excluded_resources: Vec<String>,
    /// Cluster-scoped resources: `Auto` takes those the selected namespaced objects need (CRDs of
    /// selected custom resources, PVs of selected PVCs, ClusterRoles bound in selected namespaces).
    #[serde(default)]
    pub cluster_resources: ClusterResources,
}

impl Default for ResourceSelection {
    fn default() -> Self {
        Self {
            namespaces: all_namespaces(),
            excluded_namespaces: Vec::new(),
            label_selector: None,
            namespace_selector: None,
            included_resources: Vec::new(),
            excluded_resources: Vec::new(),
            cluster_resources: ClusterResources::default(),
        }
    }
}

fn all_namespaces() -> Vec<String> {
    vec!["*".to_string()]
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ClusterResources {
    /// Only the cluster-scoped objects the selected namespaced objects need.
    #[default]
    Auto,
    /// Every cluster-scoped object that matches the resource and label filters.
    Include,
    /// None.
    Exclude,
}

/// What happens to a backup's data when its record is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the blobs with the record.
    #[default]
    Delete,
    /// Keep the blobs; only the record goes.
    Retain,
}

/// CSI volume snapshots of the selected PersistentVolumeClaims.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotOptions {
    /// Take snapshots. Default: false.
    #[serde(default)]
    pub enabled: bool,
    /// VolumeSnapshotClass to use; default: the class marked default for the volume's driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// How long to wait for a snapshot to become ready to use. Default: 10m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<crate::common::Duration>,
}

/// Where a backup record came from.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Origin {
    /// Created by a user.
    #[default]
    Manual,
    /// Created by a BackupSchedule.
    Schedule,
    /// Found in storage by a sync.
    Synced,
}

/// Phase of a backup, in the garden and in the cluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum BackupPhase {
    #[default]
    Pending,
    InProgress,
    Succeeded,
    /// Done, but some items could not be backed up (listed in `errors`).
    PartiallySucceeded,
    Failed,
    Deleting,
}

/// Phase of a restore, in the garden and in the cluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum RestorePhase {
    #[default]
    Pending,
    InProgress,
    Succeeded,
    PartiallySucceeded,
    Failed,
}

/// What a restore does with an object that already exists.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ExistingResourcePolicy {
    /// Leave it and count it as skipped.
    #[default]
    Retain,
    /// Overwrite it with the backed-up object.
    Replace,
}

/// One failed item, kept in a bounded list (see `MAX_STATUS_ERRORS`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemError {
    /// `group/version/resource/namespace/name`, or empty for errors not about one object.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub item: String,
    pub message: String,
}

/// Progress of long work, updated at a bounded rate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Items known so far (grows while listing).
    #[serde(default)]
    pub items_total: i64,
    /// Items done.
    #[serde(default)]
    pub items_done: i64,
    /// Bytes written or read so far.
    #[serde(default)]
    pub bytes: i64,
}

/// Counts of a restore.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreCounts {
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub restored: i64,
    #[serde(default)]
    pub skipped: i64,
    #[serde(default)]
    pub failed: i64,
}

/// One exec action of a Rule, run before or after a backup in the matching pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleAction {
    /// Pods to run in (in the backed-up namespaces).
    pub pod_selector: LabelSelector,
    /// Container to exec in; default: the pod's first container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Command and arguments, exec'd without a shell.
    #[schemars(length(min = 1, max = 64))]
    pub command: Vec<String>,
    /// Start the command and do not wait for it (it is stopped after the backup).
    #[serde(default)]
    pub background: bool,
    /// Run in one matching pod only, instead of all of them.
    #[serde(default)]
    pub run_in_single_pod: bool,
    /// How long the command may run. Default: 60s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<crate::common::Duration>,
}

/// Schema of a `name → name` map with bounded size, so that CEL rules over it have a bounded cost.
pub fn name_map_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "maxProperties": 256,
        "additionalProperties": { "type": "string", "maxLength": 253 },
    })
}

/// A duration as Kubernetes writes it (`30s`, `10m`, `720h`, `1h30m`), kept exactly as the user
/// wrote it so that reading and writing an object back never changes it. The API server checks the
/// format (CEL `duration()`); [`Duration::parse`] reads it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(transparent)]
pub struct Duration(pub String);

impl Duration {
    pub fn parse(&self) -> Result<std::time::Duration, String> {
        let d: kube::core::Duration = self
            .0
            .parse()
            .map_err(|e| format!("invalid duration {:?}: {e}", self.0))?;
        if d.is_negative() {
            return Err(format!("invalid duration {:?}: negative", self.0));
        }
        Ok(d.into())
    }
}

impl From<&str> for Duration {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "maxLength": 32,
            "x-kubernetes-validations": [{
                "rule": "duration(self) >= duration('0s')",
                "message": "must be a non-negative duration such as 30s, 10m or 720h",
            }],
        })
    }
}

/// What the agent reports about a backup it runs; the garden Backup mirrors it unchanged.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupRunStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    /// What the agent is doing now: `Listing`, `PreHooks`, `Uploading`, `Snapshotting`,
    /// `PostHooks`, `Committing`, then `Completed` or `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// Size of the stored backup in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// Path of the backup inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Volume snapshots taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_snapshots: Option<i64>,
    /// The most recent errors (at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub errors: Vec<ItemError>,
}

/// What the agent reports about a restore it runs; the garden Restore mirrors it unchanged.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRunStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts: Option<RestoreCounts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// The most recent errors (at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub errors: Vec<ItemError>,
}

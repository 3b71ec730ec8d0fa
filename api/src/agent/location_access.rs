//! LocationAccess: one assigned BackupLocation, as the agent sees it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::GardenRef;
use crate::garden::{ValidationReason, ValidationState};

/// A container this cluster may use, with everything the agent needs to reach it. The agent
/// validates access with its own workload identity and reports the result.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "agent.herbarium.io",
    version = "v1alpha1",
    kind = "LocationAccess",
    plural = "locationaccesses",
    namespaced,
    status = "LocationAccessStatus",
    shortname = "hbla",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(name = "Account", type_ = "string", json_path = ".spec.storageAccount"),
    printcolumn(name = "Container", type_ = "string", json_path = ".spec.container"),
    printcolumn(name = "Reason", type_ = "string", json_path = ".status.reason"),
    printcolumn(
        name = "Validated",
        type_ = "date",
        json_path = ".status.lastValidated"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct LocationAccessSpec {
    #[x_kube(validation = kube::core::Rule::new(crate::common::STORAGE_ACCOUNT_RULE).message(crate::common::STORAGE_ACCOUNT_MESSAGE))]
    #[schemars(length(max = 24))]
    pub storage_account: String,
    #[x_kube(validation = kube::core::Rule::new(crate::common::CONTAINER_RULE).message(crate::common::CONTAINER_MESSAGE))]
    #[schemars(length(max = 63))]
    pub container: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 512))]
    pub prefix: Option<String>,
    /// Account URL, https, no trailing '/'.
    #[x_kube(validation = kube::core::Rule::new(crate::common::ENDPOINT_RULE).message(crate::common::ENDPOINT_MESSAGE))]
    #[schemars(length(max = 2048))]
    pub endpoint: String,
    /// UID of this cluster as used in storage paths.
    #[serde(rename = "clusterUID")]
    pub cluster_uid: String,
    /// Change to ask for revalidation (the value of `herbarium.io/validate-requested`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate_request: Option<String>,
    pub location: GardenRef,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocationAccessStatus {
    #[serde(default)]
    pub state: ValidationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<ValidationReason>,
    /// The storage service's own message, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_validated: Option<Time>,
    /// The `validateRequest` served last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_validate_request: Option<String>,
    /// The spec generation validated last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = kube::core::ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
}

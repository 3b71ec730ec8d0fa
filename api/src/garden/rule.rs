//! Rule: exec actions run in pods before or after a backup.

use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use crate::common::RuleAction;

/// Commands run in the backed-up workloads' pods before (`preRule`) or after (`postRule`) a
/// backup reads their objects, e.g. to flush a database.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "herbarium.io",
    version = "v1alpha1",
    kind = "Rule",
    namespaced,
    shortname = "hbrule",
    category = "herbarium",
    derive = "PartialEq",
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    /// Run in order; a failing action fails the rule (and makes the backup PartiallySucceeded).
    #[schemars(length(min = 1, max = 32))]
    pub actions: Vec<RuleAction>,
}

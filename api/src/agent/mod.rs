//! `agent.herbarium.io/v1alpha1`: instructions the controller writes into each registered
//! cluster's `herbarium-system` namespace. The controller owns spec, the agent owns status.

mod backup_job;
mod location_access;
mod restore_job;
mod sync_job;

pub use backup_job::*;
pub use location_access::*;
pub use restore_job::*;
pub use sync_job::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The garden object an agent object was written for (for humans and for status mirroring).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GardenRef {
    pub namespace: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

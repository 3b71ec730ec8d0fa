//! `herbarium.io/v1alpha1`: the control-plane API in the garden cluster.

mod backup;
mod backup_location;
mod cluster;
mod discovery_config;
mod restore;
mod rule;
mod schedule;

pub use backup::*;
pub use backup_location::*;
pub use cluster::*;
pub use discovery_config::*;
pub use restore::*;
pub use rule::*;
pub use schedule::*;

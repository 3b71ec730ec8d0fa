//! herbarium-controller's library: decisions as pure functions (no I/O), and later the code that
//! talks to Kubernetes and Azure. `main.rs` only wires.

pub mod cluster_status;
pub mod discovery;
pub mod leader;
pub mod location;
pub mod metrics;
pub mod reconcile;
pub mod run;
pub mod schedule;
pub mod time;

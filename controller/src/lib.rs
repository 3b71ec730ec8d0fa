//! herbarium-controller's library: decisions as pure functions (no I/O), the adapters that talk
//! to Kubernetes and Azure (each behind one trait), and the reconcilers. `main.rs` only wires.

pub mod access;
pub mod agent_install;
pub mod cluster_status;
pub mod discovery;
pub mod events;
pub mod identity;
mod keyed_lock;
pub mod leader;
pub mod location;
pub mod metrics;
pub mod reclaim;
pub mod reconcile;
pub mod registrar;
pub mod run;
pub mod schedule;
pub mod time;
pub mod tls;

//! herbarium-controller's library: decisions as pure functions (no I/O), and later the code that
//! talks to Kubernetes and Azure. `main.rs` only wires.

pub mod access;
pub mod agent_install;
pub mod discovery;
pub mod identity;
mod keyed_lock;
pub mod location;
pub mod schedule;
pub mod tls;

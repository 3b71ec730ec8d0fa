//! herbarium-agent's library: the backup format (pure: paths, entry names, metadata, all checked
//! as untrusted input when read back), and later the code that talks to Kubernetes and Azure.
//! `main.rs` only wires.

pub mod backup;
pub mod context;
pub mod format;
pub mod metrics;
pub mod store;
pub mod validate;

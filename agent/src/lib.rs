//! herbarium-agent's library: the backup format (pure: paths, entry names, metadata, all checked
//! as untrusted input when read back), and later the code that talks to Kubernetes and Azure.
//! `main.rs` only wires.

pub mod archive;
pub mod format;
pub mod restore;
pub mod store;
pub mod sync;

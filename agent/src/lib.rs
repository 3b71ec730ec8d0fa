//! herbarium-agent's library: the backup format (pure, checked as untrusted input when read
//! back), blob storage behind one trait, location validation, backups (selection, streaming
//! archive, BackupJob controller with its deletion finalizer), restores (untrusted archive reader,
//! RestoreJob controller), syncs (SyncJob controller), the heartbeat and metrics.
//! `main.rs` only wires; reconcilers share a [`context::Context`].

pub mod archive;
pub mod backup;
pub mod context;
pub mod controllers;
pub mod format;
pub mod heartbeat;
pub mod metrics;
pub mod restore;
pub mod store;
pub mod sync;
pub mod validate;

//! Backups: what to take (pure selection), the streaming archive writer, the run itself, the
//! BackupJob controller with its deletion finalizer.

pub mod archive;
pub mod clean;
mod commit;
pub mod delete;
pub mod hooks;
mod journal;
pub mod kube_io;
mod listing;
pub mod reconcile;
pub mod run;
pub mod select;
pub mod snapshots;
mod stage;
pub mod status;

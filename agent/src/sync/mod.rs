//! SyncJob: list a location's committed backups and record each one this cluster does not know
//! yet as a BackupJob (origin Synced). `plan` decides (pure); `job` lists, reads and writes.

pub mod job;
pub mod plan;

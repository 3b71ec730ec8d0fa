//! What a backup run reports while it runs: its stage and its progress.

use herbarium_api::common::Progress;

/// What a run is doing; reported as the BackupJob's `status.stage`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stage {
    /// Discovering the API and planning (the stage a job starts in).
    #[default]
    Listing,
    PreHooks,
    /// Listing objects into the archive and uploading its blocks.
    Uploading,
    /// Waiting for VolumeSnapshots to be ready to use.
    Snapshotting,
    PostHooks,
    /// Writing index.json, volumes.json, the log and metadata.json.
    Committing,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Listing => "Listing",
            Stage::PreHooks => "PreHooks",
            Stage::Uploading => "Uploading",
            Stage::Snapshotting => "Snapshotting",
            Stage::PostHooks => "PostHooks",
            Stage::Committing => "Committing",
        }
    }
}

/// How far a run got, sent to whoever reports it (at a rate of its choosing).
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub stage: Stage,
    pub progress: Progress,
}

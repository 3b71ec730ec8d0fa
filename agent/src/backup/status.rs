//! What to do with a BackupJob, and the status it gets at each step. Pure.

use herbarium_api::agent::BackupJob;
use herbarium_api::common::{BackupPhase, BackupRunStatus, ItemError, Origin, Progress};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// The next step for a job that is not being deleted.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Synced, or finished: nothing to run, ever.
    Nothing,
    /// Not started yet: run it.
    Run,
    /// Marked InProgress but not running in this process (the agent restarted mid-run): run it
    /// again from scratch. Its metadata.json, if the interrupted run got that far, is deleted
    /// first (the backup is uncommitted), then the blobs are overwritten; a rerun that fails
    /// leaves no commit marker over a mix of two runs.
    Restart,
}

pub fn step(job: &BackupJob) -> Step {
    if job.spec.origin == Origin::Synced {
        return Step::Nothing;
    }
    match job.status.as_ref().and_then(|s| s.run.phase) {
        None | Some(BackupPhase::Pending) => Step::Run,
        Some(BackupPhase::InProgress) => Step::Restart,
        Some(_) => Step::Nothing,
    }
}

/// Status when a run starts.
pub fn started(path: &str, at: Timestamp) -> BackupRunStatus {
    BackupRunStatus {
        phase: Some(BackupPhase::InProgress),
        stage: Some("Listing".into()),
        progress: Some(Progress::default()),
        storage_path: Some(path.to_string()),
        start_time: Some(Time(at)),
        ..Default::default()
    }
}

/// Status of a committed backup.
pub fn succeeded(
    base: &BackupRunStatus,
    phase: BackupPhase,
    progress: Progress,
    size: u64,
    errors: Vec<ItemError>,
    volume_snapshots: u64,
    at: Timestamp,
) -> BackupRunStatus {
    BackupRunStatus {
        phase: Some(phase),
        stage: Some("Completed".into()),
        progress: Some(progress),
        size_bytes: Some(size as i64),
        completion_time: Some(Time(at)),
        errors,
        volume_snapshots: Some(volume_snapshots as i64),
        ..base.clone()
    }
}

/// Status of a run that failed: not committed, with the reason as the last error.
pub fn failed(base: &BackupRunStatus, message: String, at: Timestamp) -> BackupRunStatus {
    let mut errors = base.errors.clone();
    if errors.len() >= herbarium_api::constants::MAX_STATUS_ERRORS {
        errors.remove(0);
    }
    errors.push(ItemError {
        item: String::new(),
        message,
    });
    BackupRunStatus {
        phase: Some(BackupPhase::Failed),
        stage: Some("Failed".into()),
        completion_time: Some(Time(at)),
        errors,
        ..base.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herbarium_api::agent::{BackupJobSpec, BackupJobStatus};

    fn job(origin: Origin, phase: Option<BackupPhase>) -> BackupJob {
        let mut j = BackupJob::new(
            "b",
            BackupJobSpec {
                backup_name: "b".into(),
                backup_uid: "u".into(),
                cluster_uid: "c".into(),
                location: "l".into(),
                origin,
                selection: None,
                pre_hooks: vec![],
                post_hooks: vec![],
                volume_snapshots: None,
                deletion_policy: Default::default(),
                garden: None,
            },
        );
        j.status = phase.map(|p| BackupJobStatus {
            run: BackupRunStatus {
                phase: Some(p),
                ..Default::default()
            },
            ..Default::default()
        });
        j
    }

    #[test]
    fn finished_and_synced_jobs_never_run_again_and_interrupted_ones_restart() {
        use BackupPhase::*;
        assert_eq!(step(&job(Origin::Manual, None)), Step::Run);
        assert_eq!(step(&job(Origin::Schedule, Some(Pending))), Step::Run);
        assert_eq!(step(&job(Origin::Manual, Some(InProgress))), Step::Restart);
        for p in [Succeeded, PartiallySucceeded, Failed, Deleting] {
            assert_eq!(step(&job(Origin::Manual, Some(p))), Step::Nothing, "{p:?}");
        }
        assert_eq!(step(&job(Origin::Synced, None)), Step::Nothing);
    }

    #[test]
    fn failure_keeps_the_error_list_bounded() {
        let mut base = started("p/", Timestamp::now());
        base.errors = (0..20)
            .map(|i| ItemError {
                item: format!("i{i}"),
                message: "x".into(),
            })
            .collect();
        let f = failed(&base, "storage down".into(), Timestamp::now());
        assert_eq!(f.errors.len(), 20);
        assert_eq!(f.errors.last().unwrap().message, "storage down");
        assert_eq!(f.phase, Some(BackupPhase::Failed));
        assert_eq!(f.storage_path.as_deref(), Some("p/"));
    }
}

//! Sync decisions, pure: which committed backups found in storage become BackupJobs, under which
//! name, with which spec and status; what counts as invalid.

use std::collections::BTreeSet;

use herbarium_api::agent::{BackupJob, BackupJobSpec, BackupJobStatus};
use herbarium_api::common::{BackupPhase, BackupRunStatus, DeletionPolicy, Origin, Progress};
use herbarium_api::constants::{
    BACKUP_LABEL, BACKUP_UID_LABEL, LOCATION_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::collections::BTreeMap;

use crate::format::{BackupDir, Metadata};

/// Reasons kept in the SyncJob's message; the count keeps the rest.
pub const MAX_INVALID_REASONS: usize = 5;
const MAX_REASON_CHARS: usize = 300;

/// A backup directory found in storage and what reading its `metadata.json` gave. `None`: no
/// `metadata.json` yet, a backup still being written (not counted).
#[derive(Debug, Clone)]
pub struct Found {
    pub dir: BackupDir,
    /// Path of the directory in the container, ending in '/'.
    pub path: String,
    pub metadata: Option<Result<Metadata, String>>,
}

/// What a sync does.
#[derive(Debug, Clone, Default)]
pub struct SyncPlan {
    /// Committed backups found.
    pub found: i64,
    pub invalid: i64,
    /// Bounded reasons for `invalid`.
    pub reasons: Vec<String>,
    /// BackupJobs to create: name, labels, spec, status.
    pub create: Vec<NewJob>,
    /// Synced BackupJobs here whose status a sync never wrote (it stopped between the create
    /// and the status patch): name and the status to write.
    pub repair: Vec<(String, BackupJobStatus)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub spec: BackupJobSpec,
    pub status: BackupJobStatus,
}

/// The BackupJob name of a synced backup: the same in every cluster and every sync, so two syncs
/// racing create one object (the loser gets 409 AlreadyExists); at most 253 characters and
/// ending in a letter or digit.
pub fn job_name(name: &str, uid: &str) -> String {
    let short: String = uid.chars().take(8).collect();
    let keep = 253 - short.len() - 1;
    let base: String = name.chars().take(keep).collect();
    format!("{}-{short}", base.trim_end_matches(['-', '.']))
}

impl SyncPlan {
    /// Counts an invalid backup; keeps the first [`MAX_INVALID_REASONS`] reasons, each cut to
    /// [`MAX_REASON_CHARS`].
    fn add_invalid(&mut self, mut reason: String) {
        self.invalid += 1;
        if self.reasons.len() >= MAX_INVALID_REASONS {
            return;
        }
        if reason.len() > MAX_REASON_CHARS {
            let cut = (0..=MAX_REASON_CHARS)
                .rev()
                .find(|&i| reason.is_char_boundary(i))
                .unwrap_or(0);
            reason.truncate(cut);
            reason.push('…');
        }
        self.reasons.push(reason);
    }
}

/// Whether a BackupJob here is a synced record without a final phase: its sync created it and
/// stopped before writing its status, so no one else ever will.
pub fn needs_repair(job: &BackupJob) -> bool {
    job.spec.origin == Origin::Synced
        && !matches!(
            job.status.as_ref().and_then(|s| s.run.phase),
            Some(BackupPhase::Succeeded | BackupPhase::PartiallySucceeded | BackupPhase::Failed)
        )
}

/// Whether `name` is a DNS-1123 subdomain, as Kubernetes object names must be: at most 253
/// characters, dot-separated parts of lowercase letters, digits and '-', each starting and
/// ending with a letter or digit.
pub fn is_object_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b.iter()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// `known_uids`: backup UIDs of the BackupJobs here; `unfinished`: backup UID → name of those
/// [`needs_repair`] says are unfinished.
pub fn plan(
    found: Vec<Found>,
    known_uids: &BTreeSet<String>,
    unfinished: &BTreeMap<String, String>,
    location: &str,
) -> SyncPlan {
    let mut p = SyncPlan::default();
    for f in found {
        let Some(metadata) = f.metadata.clone() else {
            continue;
        };
        p.found += 1;
        let m = match metadata {
            Ok(m) => m,
            Err(reason) => {
                p.add_invalid(format!("{}: {reason}", f.path));
                continue;
            }
        };
        if m.cluster_uid != f.dir.cluster_uid {
            p.add_invalid(format!(
                "{}: metadata.json names cluster {:?}, not the directory's",
                f.path, m.cluster_uid
            ));
            continue;
        }
        if let Some(name) = unfinished.get(&f.dir.uid) {
            p.repair
                .push((name.clone(), new_job(&f, &m, location).status));
            continue;
        }
        if known_uids.contains(&f.dir.uid) {
            continue;
        }
        let job = new_job(&f, &m, location);
        if !is_object_name(&job.name) {
            // The API server would refuse it (422) and fail the whole sync.
            p.add_invalid(format!(
                "{}: {:?} is not a valid Kubernetes object name",
                f.path, job.name
            ));
            continue;
        }
        p.create.push(job);
    }
    p
}

fn new_job(f: &Found, m: &Metadata, location: &str) -> NewJob {
    let labels = [
        (BACKUP_UID_LABEL, f.dir.uid.clone()),
        (BACKUP_LABEL, label_value(&f.dir.name)),
        (LOCATION_LABEL, label_value(location)),
        (MANAGED_BY_LABEL, MANAGED_BY_VALUE.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let time = |s: &str| s.parse().ok().map(Time);
    let phase = if m.phase == "PartiallySucceeded" {
        BackupPhase::PartiallySucceeded
    } else {
        BackupPhase::Succeeded
    };
    NewJob {
        name: job_name(&f.dir.name, &f.dir.uid),
        labels,
        spec: BackupJobSpec {
            backup_name: f.dir.name.clone(),
            backup_uid: f.dir.uid.clone(),
            cluster_uid: f.dir.cluster_uid.clone(),
            location: location.to_string(),
            origin: Origin::Synced,
            selection: None,
            pre_hooks: vec![],
            post_hooks: vec![],
            volume_snapshots: None,
            // A synced record is a view of a backup another record owns; deleting the view
            // (e.g. when this cluster is cleaned up) must not delete the data.
            deletion_policy: DeletionPolicy::Retain,
            garden: None,
        },
        status: BackupJobStatus {
            run: BackupRunStatus {
                phase: Some(phase),
                stage: None,
                progress: Some(Progress {
                    items_total: m.items as i64,
                    items_done: m.items as i64,
                    bytes: m.archive_bytes as i64,
                }),
                size_bytes: Some(m.archive_bytes as i64),
                storage_path: Some(f.path.clone()),
                start_time: time(&m.started),
                completion_time: time(&m.completed),
                volume_snapshots: None,
                errors: vec![],
            },
            observed_generation: None,
            conditions: vec![],
        },
    }
}

/// Label values are at most 63 characters of `[A-Za-z0-9._-]`, starting and ending
/// alphanumeric.
fn label_value(s: &str) -> String {
    let v: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The SyncJob message for invalid backups.
pub fn invalid_message(p: &SyncPlan) -> Option<String> {
    if p.invalid == 0 {
        return None;
    }
    let more = p.invalid - p.reasons.len() as i64;
    let mut m = format!(
        "{} unreadable backup(s): {}",
        p.invalid,
        p.reasons.join("; ")
    );
    if more > 0 {
        m.push_str(&format!("; and {more} more"));
    }
    Some(m)
}

#[cfg(test)]
mod tests;

//! Which backups of a schedule to delete so that `retain` good ones remain.

use chrono::{DateTime, Utc};
use herbarium_api::common::BackupPhase;

/// A backup created by the schedule.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub name: String,
    pub created: DateTime<Utc>,
    pub phase: Option<BackupPhase>,
}

/// Names to delete: successful backups (Succeeded or PartiallySucceeded) beyond the newest
/// `retain`, and failed ones older than the oldest kept successful one once `retain` successful
/// ones exist. Backups still running are never deleted; fewer than `retain` successful backups
/// delete nothing, so a failing schedule never eats its last good backup.
pub fn to_delete(candidates: &[Candidate], retain: usize) -> Vec<String> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.name.cmp(&a.name)));
    let good = |c: &Candidate| {
        matches!(
            c.phase,
            Some(BackupPhase::Succeeded | BackupPhase::PartiallySucceeded)
        )
    };
    let kept: Vec<&&Candidate> = sorted.iter().filter(|c| good(c)).take(retain).collect();
    if kept.len() < retain {
        return Vec::new();
    }
    let oldest_kept = kept.last().map(|c| c.created).expect("retain >= 1");
    sorted
        .iter()
        .filter(|c| match c.phase {
            Some(BackupPhase::Succeeded | BackupPhase::PartiallySucceeded) => {
                !kept.iter().any(|k| k.name == c.name)
            }
            Some(BackupPhase::Failed) => c.created < oldest_kept,
            _ => false,
        })
        .map(|c| c.name.clone())
        .collect()
}

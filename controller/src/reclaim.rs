//! Decisions of the orphan reclaim (pure; the I/O is `reconcile::reclaim`).

use herbarium_api::garden::OrphanedBackup;

/// Condition of a BackupLocation: whether orphaned backups are waiting to be reclaimed.
pub const ORPHANS_RECLAIMED: &str = "OrphansReclaimed";

/// A backup as the agent addresses it: `<prefix>/herbarium/v1/backups/<cluster-uid>/<name>-<uid>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBackup {
    pub cluster_uid: String,
    pub name: String,
}

/// The cluster UID and backup name of the backup with `uid` stored at `path` (the storage path
/// the agent reported); `None` when `path` is not one the agent writes.
pub fn stored_backup(path: &str, uid: &str) -> Option<StoredBackup> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let [.., root, version, backups, cluster_uid, dir] = segments.as_slice() else {
        return None;
    };
    if (*root, *version, *backups) != ("herbarium", "v1", "backups") || cluster_uid.is_empty() {
        return None;
    }
    let name = dir.strip_suffix(uid)?.strip_suffix('-')?;
    (!name.is_empty()).then(|| StoredBackup {
        cluster_uid: cluster_uid.to_string(),
        name: name.to_string(),
    })
}

/// The `OrphansReclaimed` condition for the orphans still listed: `(ok, reason, message)`.
/// `None` when there is nothing to say (no orphans and no condition yet), so locations that never
/// had an orphan get no condition and no write.
pub fn condition(
    orphans: &[OrphanedBackup],
    failed: Option<&str>,
    had_condition: bool,
) -> Option<(bool, &'static str, String)> {
    if orphans.is_empty() {
        return had_condition.then(|| (true, "NoOrphans", "no orphaned backups".to_string()));
    }
    let waiting: Vec<String> = orphans
        .iter()
        .take(5)
        .map(|o| {
            format!(
                "{}: {}",
                o.name,
                o.message.as_deref().unwrap_or("not looked at yet")
            )
        })
        .collect();
    let more = orphans.len().saturating_sub(waiting.len());
    let mut message = format!(
        "{} orphaned backup{} pending reclaim; {}{}",
        orphans.len(),
        if orphans.len() == 1 { "" } else { "s" },
        waiting.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    );
    let reason = match failed {
        Some(error) => {
            message = format!("last reclaim error: {error}; {message}");
            "ReclaimFailed"
        }
        None => "ReclaimPending",
    };
    Some((false, reason, crate::events::bounded(&message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "3c2b1a09-0000-4000-8000-000000000002";

    #[test]
    fn paths_the_agent_writes_are_understood() {
        let path = format!("herbarium/v1/backups/c-uid/nightly-1-{UID}/");
        assert_eq!(
            stored_backup(&path, UID),
            Some(StoredBackup {
                cluster_uid: "c-uid".into(),
                name: "nightly-1".into()
            })
        );
        let prefixed = format!("team/a/herbarium/v1/backups/c-uid/b-{UID}/");
        assert_eq!(stored_backup(&prefixed, UID).unwrap().name, "b");
        for bad in [
            format!("herbarium/v1/backups/c-uid/b-{UID}x/"),
            format!("herbarium/v2/backups/c-uid/b-{UID}/"),
            format!("backups/c-uid/b-{UID}/"),
            format!("herbarium/v1/backups/c-uid/{UID}/"),
            format!("herbarium/v1/backups//b-{UID}/"),
            String::new(),
        ] {
            assert_eq!(stored_backup(&bad, UID), None, "{bad}");
        }
    }

    #[test]
    fn the_condition_counts_and_says_what_each_waits_for() {
        assert_eq!(
            condition(&[], None, false),
            None,
            "no orphans, no condition"
        );
        let (ok, reason, _) = condition(&[], None, true).unwrap();
        assert!(ok);
        assert_eq!(reason, "NoOrphans");
        let orphans: Vec<OrphanedBackup> = (0..7)
            .map(|i| OrphanedBackup {
                name: format!("b{i}"),
                message: Some("cluster a is Unreachable".into()),
                ..Default::default()
            })
            .collect();
        let (ok, reason, message) = condition(&orphans, None, false).unwrap();
        assert!(!ok);
        assert_eq!(reason, "ReclaimPending");
        assert!(
            message.starts_with("7 orphaned backups pending reclaim; b0: cluster a is Unreachable"),
            "{message}"
        );
        assert!(message.ends_with("and 2 more"), "{message}");
        let (_, reason, message) = condition(&orphans[..1], Some("403 Forbidden"), false).unwrap();
        assert_eq!(reason, "ReclaimFailed");
        assert!(
            message.starts_with("last reclaim error: 403 Forbidden; 1 orphaned backup pending"),
            "{message}"
        );
    }
}

//! Deleting a backup's blobs: metadata.json first (from then on no sync takes the backup for
//! complete), then everything else under its directory. Idempotent: blobs already gone count as
//! deleted. The directory is the one recorded in status when the backup was written; failures
//! become a condition on the job, permanent ones retried with backoff.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::format::{backup_dir, parse_backup_path};
use crate::store::{BlobStore, StoreError};

/// Condition type on a BackupJob whose blobs could not be deleted (the finalizer stays).
pub const DELETION_BLOCKED: &str = "DeletionBlocked";
/// Retry delay of a transient failure, and the first of a permanent one.
pub const RETRY: Duration = Duration::from_secs(15);
/// Longest delay between retries of a permanent failure.
pub const RETRY_MAX: Duration = Duration::from_secs(300);

/// The backup being deleted, as its job names it.
pub struct Target<'a> {
    /// `status.storagePath`: where the backup was written.
    pub recorded: Option<&'a str>,
    /// The location's prefix now.
    pub prefix: Option<&'a str>,
    pub cluster_uid: &'a str,
    pub name: &'a str,
    pub uid: &'a str,
}

/// The directory to delete: the one the backup was written to (`status.storagePath`), so that a
/// later change of the location's prefix does not orphan it; computed from the current prefix
/// only when no path was recorded (the run never started) or the recorded one is not a backup
/// directory of this backup (then with the reason, to be logged).
pub fn dir_to_delete(t: &Target) -> (String, Option<String>) {
    let computed = backup_dir(t.prefix, t.cluster_uid, t.name, t.uid);
    let Some(recorded) = t.recorded else {
        return (computed, None);
    };
    match parse_backup_path(recorded) {
        Some((_, d)) if d.cluster_uid == t.cluster_uid && d.name == t.name && d.uid == t.uid => {
            (recorded.to_string(), None)
        }
        _ => (
            computed.clone(),
            Some(format!(
                "status.storagePath {recorded:?} is not a backup directory of this backup; \
                 deleting {computed} instead"
            )),
        ),
    }
}

/// How long to wait before the next attempt: a transient failure is retried every [`RETRY`];
/// a permanent one (nothing changes until someone fixes the location or the role) after as long
/// as it has been failing, between [`RETRY`] and [`RETRY_MAX`] — doubling each time.
pub fn retry_after(permanent: bool, failing_for: Duration) -> Duration {
    if permanent {
        failing_for.clamp(RETRY, RETRY_MAX)
    } else {
        RETRY
    }
}

/// The [`DELETION_BLOCKED`] condition for a failed deletion and the delay before the next
/// attempt. The condition's time is when the failures began (kept from `previous`).
pub fn blocked(
    error: &StoreError,
    dir: &str,
    previous: Option<&Condition>,
    now: Timestamp,
) -> (Condition, Duration) {
    let since = previous
        .filter(|c| c.type_ == DELETION_BLOCKED && c.status == "True")
        .map(|c| c.last_transition_time.0)
        .unwrap_or(now);
    let permanent = !error.retryable();
    let failing_for = Duration::try_from(now.duration_since(since)).unwrap_or_default();
    let delay = retry_after(permanent, failing_for);
    let advice = if permanent {
        format!(
            "retrying does not help until the location is fixed (container, the agent \
             identity's role); retried with backoff, next in {}s. The finalizer stays until the \
             blobs are deleted; setting deletionPolicy to Retain gives them up",
            delay.as_secs()
        )
    } else {
        format!("a transient error, retried every {}s", delay.as_secs())
    };
    let condition = Condition {
        type_: DELETION_BLOCKED.into(),
        status: "True".into(),
        reason: format!("{:?}", error.reason()),
        message: format!("deleting the backup's blobs under {dir} failed: {error}; {advice}"),
        last_transition_time: Time(since),
        observed_generation: None,
    };
    (condition, delay)
}

/// Removes the commit marker (metadata.json) of the backup in `dir`, if there is one. A run that
/// starts again over an interrupted one does this before writing anything: the interrupted run
/// may have committed without recording it in status, and a rerun that overwrites the archive
/// and then fails must not leave a directory that looks committed.
pub async fn uncommit<S: BlobStore>(store: &S, dir: &str) -> Result<bool, StoreError> {
    store.delete(&format!("{dir}metadata.json")).await
}

/// Deletes every blob under `dir` (ending in '/'); returns how many were deleted now.
pub async fn delete_backup<S: BlobStore>(store: &S, dir: &str) -> Result<u64, StoreError> {
    let mut deleted = 0;
    if uncommit(store, dir).await? {
        deleted += 1;
    }
    for blob in store.list(dir, false).await?.blobs {
        if store.delete(&blob.name).await? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use bytes::Bytes;

    const UID: &str = "3c2b1a09-0000-4000-8000-000000000002";

    fn target<'a>(recorded: Option<&'a str>, prefix: Option<&'a str>) -> Target<'a> {
        Target {
            recorded,
            prefix,
            cluster_uid: "c1",
            name: "nightly",
            uid: UID,
        }
    }

    #[test]
    fn deletion_follows_the_recorded_path_of_this_backup_only() {
        let old = backup_dir(Some("old"), "c1", "nightly", UID);
        let now = backup_dir(Some("new"), "c1", "nightly", UID);
        assert_eq!(dir_to_delete(&target(Some(&old), Some("new"))), (old, None));
        assert_eq!(
            dir_to_delete(&target(None, Some("new"))),
            (now.clone(), None)
        );
        let other = backup_dir(Some("old"), "c1", "other", UID);
        let escape = format!("../{}", backup_dir(None, "c1", "nightly", UID));
        for bad in [other.as_str(), escape.as_str(), "", "old/"] {
            let (dir, why) = dir_to_delete(&target(Some(bad), Some("new")));
            assert_eq!(dir, now, "{bad:?}");
            assert!(why.unwrap().contains("is not a backup directory"));
        }
    }

    #[test]
    fn permanent_failures_back_off_to_five_minutes_transient_ones_do_not() {
        let s = Duration::from_secs;
        assert_eq!(retry_after(false, s(3600)), RETRY);
        assert_eq!(retry_after(true, s(0)), s(15));
        assert_eq!(retry_after(true, s(60)), s(60));
        assert_eq!(retry_after(true, s(3600)), s(300));
        let t0 = Timestamp::now();
        let gone = StoreError::ContainerNotFound("c".into());
        let (first, delay) = blocked(&gone, "d/", None, t0);
        assert_eq!((first.reason.as_str(), delay), ("ContainerNotFound", s(15)));
        assert!(first.message.contains("does not help"), "{}", first.message);
        let later = t0 + k8s_openapi::jiff::SignedDuration::from_secs(120);
        let (again, delay) = blocked(&gone, "d/", Some(&first), later);
        assert_eq!((again.last_transition_time.0, delay), (t0, s(120)));
        let net = StoreError::Network("reset".into());
        let (c, delay) = blocked(&net, "d/", Some(&again), later);
        assert_eq!(delay, RETRY);
        assert!(c.message.contains("transient"), "{}", c.message);
    }

    #[tokio::test]
    async fn deletes_only_the_backup_and_twice_is_fine() {
        let store = MemoryStore::new();
        for name in [
            "a/metadata.json",
            "a/index.json",
            "a/resources.tar.zst",
            "ab/metadata.json",
        ] {
            store.put(name, Bytes::from_static(b"x")).await.unwrap();
        }
        assert_eq!(delete_backup(&store, "a/").await.unwrap(), 3);
        assert_eq!(store.names(), ["ab/metadata.json"]);
        assert_eq!(delete_backup(&store, "a/").await.unwrap(), 0);
    }
}

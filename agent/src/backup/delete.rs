//! Deleting a backup's blobs: metadata.json first (from then on no sync takes the backup for
//! complete), then everything else under its directory. Idempotent: blobs already gone count as
//! deleted.

use crate::store::{BlobStore, StoreError};

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

//! An in-memory [`BlobStore`] for unit tests: same semantics as the Azure adapter (staged blocks
//! are invisible until committed, listing is sorted, hierarchical listing folds at '/'), plus
//! switches to make calls fail.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};

use super::{BlobItem, BlobStore, Listing, StoreError};

#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    blobs: BTreeMap<String, Bytes>,
    staged: BTreeMap<(String, u32), Bytes>,
    fail_with: Option<StoreError>,
    calls: u64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every later call fails with `error` (until [`MemoryStore::heal`]).
    pub fn fail_with(&self, error: StoreError) {
        self.lock().fail_with = Some(error);
    }

    pub fn heal(&self) {
        self.lock().fail_with = None;
    }

    /// Names of committed blobs, sorted.
    pub fn names(&self) -> Vec<String> {
        self.lock().blobs.keys().cloned().collect()
    }

    /// Content of a committed blob.
    pub fn blob(&self, path: &str) -> Option<Bytes> {
        self.lock().blobs.get(path).cloned()
    }

    /// Replaces a committed blob directly (to corrupt data in tests).
    pub fn set_blob(&self, path: &str, body: impl Into<Bytes>) {
        self.lock().blobs.insert(path.to_string(), body.into());
    }

    /// Number of calls made so far.
    pub fn calls(&self) -> u64 {
        self.lock().calls
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enter(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        let mut inner = self.lock();
        inner.calls += 1;
        match &inner.fail_with {
            Some(e) => Err(e.clone()),
            None => Ok(inner),
        }
    }
}

impl BlobStore for MemoryStore {
    async fn put(&self, path: &str, body: Bytes) -> Result<(), StoreError> {
        self.enter()?.blobs.insert(path.to_string(), body);
        Ok(())
    }

    async fn stage_block(&self, path: &str, block: u32, body: Bytes) -> Result<(), StoreError> {
        self.enter()?.staged.insert((path.to_string(), block), body);
        Ok(())
    }

    async fn commit_blocks(&self, path: &str, blocks: u32) -> Result<(), StoreError> {
        let mut inner = self.enter()?;
        let mut content = BytesMut::new();
        for block in 0..blocks {
            let Some(body) = inner.staged.get(&(path.to_string(), block)) else {
                return Err(StoreError::Service {
                    status: 400,
                    message: format!("InvalidBlockList: block {block} of {path} was not staged"),
                });
            };
            content.extend_from_slice(body);
        }
        inner.staged.retain(|(p, _), _| p != path);
        inner.blobs.insert(path.to_string(), content.freeze());
        Ok(())
    }

    async fn get(&self, path: &str, max_bytes: u64) -> Result<Bytes, StoreError> {
        let inner = self.enter()?;
        let body = inner
            .blobs
            .get(path)
            .ok_or_else(|| StoreError::NotFound(path.to_string()))?;
        if body.len() as u64 > max_bytes {
            return Err(StoreError::TooLarge {
                path: path.to_string(),
                size: body.len() as u64,
                limit: max_bytes,
            });
        }
        Ok(body.clone())
    }

    async fn get_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, StoreError> {
        let inner = self.enter()?;
        let body = inner
            .blobs
            .get(path)
            .ok_or_else(|| StoreError::NotFound(path.to_string()))?;
        let start = (offset as usize).min(body.len());
        let end = start.saturating_add(len as usize).min(body.len());
        Ok(body.slice(start..end))
    }

    async fn size(&self, path: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.enter()?.blobs.get(path).map(|b| b.len() as u64))
    }

    async fn list(&self, prefix: &str, hierarchical: bool) -> Result<Listing, StoreError> {
        let inner = self.enter()?;
        let mut listing = Listing::default();
        for (name, body) in inner.blobs.range(prefix.to_string()..) {
            let Some(rest) = name.strip_prefix(prefix) else {
                break;
            };
            match rest.find('/') {
                Some(i) if hierarchical => {
                    let dir = format!("{prefix}{}", &rest[..=i]);
                    if listing.prefixes.last() != Some(&dir) {
                        listing.prefixes.push(dir);
                    }
                }
                _ => listing.blobs.push(BlobItem {
                    name: name.clone(),
                    size: body.len() as u64,
                }),
            }
        }
        Ok(listing)
    }

    async fn delete(&self, path: &str) -> Result<bool, StoreError> {
        Ok(self.enter()?.blobs.remove(path).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn staged_blocks_are_invisible_until_committed() {
        let store = MemoryStore::new();
        store
            .stage_block("a/x", 0, Bytes::from_static(b"he"))
            .await
            .unwrap();
        store
            .stage_block("a/x", 1, Bytes::from_static(b"llo"))
            .await
            .unwrap();
        assert_eq!(store.size("a/x").await.unwrap(), None);
        store.commit_blocks("a/x", 2).await.unwrap();
        assert_eq!(
            store.get("a/x", 10).await.unwrap(),
            Bytes::from_static(b"hello")
        );
        assert_eq!(
            store.get_range("a/x", 3, 10).await.unwrap(),
            Bytes::from_static(b"lo")
        );
        assert!(matches!(
            store.get("a/x", 4).await,
            Err(StoreError::TooLarge { size: 5, .. })
        ));
        assert!(
            store.commit_blocks("a/y", 1).await.is_err(),
            "unstaged block"
        );
    }

    #[tokio::test]
    async fn hierarchical_listing_folds_directories() {
        let store = MemoryStore::new();
        for name in ["p/a/1", "p/a/2", "p/b/1", "p/c", "q/x"] {
            store.put(name, Bytes::new()).await.unwrap();
        }
        let flat = store.list("p/", false).await.unwrap();
        assert_eq!(flat.blobs.len(), 4);
        let tree = store.list("p/", true).await.unwrap();
        assert_eq!(tree.prefixes, vec!["p/a/", "p/b/"]);
        assert_eq!(
            tree.blobs
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>(),
            ["p/c"]
        );
        assert!(store.delete("p/c").await.unwrap());
        assert!(!store.delete("p/c").await.unwrap());
    }
}

//! The streaming writer of `resources.tar.zst`: each object becomes a tar entry, the tar goes
//! through a zstd encoder, and the compressed output is cut into fixed-size blocks staged with
//! bounded concurrency while the caller keeps listing. Memory is bounded by
//! `block_bytes × (concurrency + 1)` plus the encoder's window, whatever the object count.
//! Nothing is visible in storage until [`ArchiveWriter::finish`] commits the block list.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::task::JoinSet;

use crate::format::{ArchiveInfo, EntryKey, ResourceIndex, entry_path};
use crate::store::{BlobStore, MAX_BLOCKS, StoreError};

/// zstd level: 3 (the library default) compresses JSON ~5-10× at several hundred MB/s per core.
const ZSTD_LEVEL: i32 = 3;

/// The group-resource an object belongs to (the index's per-resource record).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceId {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
}

/// Compressed bytes waiting to be cut into blocks.
#[derive(Default)]
struct Sink(Vec<u8>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a finished archive holds, for `index.json`.
#[derive(Debug)]
pub struct Finished {
    pub archive: ArchiveInfo,
    pub resources: Vec<ResourceIndex>,
}

pub struct ArchiveWriter<S: BlobStore> {
    tar: tar::Builder<zstd::stream::write::Encoder<'static, Sink>>,
    up: Uploader<S>,
    entries: u64,
    uncompressed: u64,
    done: Vec<ResourceIndex>,
    current: Option<(ResourceIndex, Sha256)>,
    mtime: u64,
}

fn io_err(path: &str, e: std::io::Error) -> StoreError {
    // Writing into memory only fails on a bug or an entry tar cannot encode; not retryable.
    StoreError::Service {
        status: 0,
        message: format!("encoding the archive {path}: {e}"),
    }
}

impl<S: BlobStore> ArchiveWriter<S> {
    /// `mtime` (Unix seconds) is stamped on every entry: the backup's start.
    pub fn new(
        store: Arc<S>,
        path: &str,
        block_bytes: usize,
        concurrency: usize,
        mtime: u64,
    ) -> Result<Self, StoreError> {
        let encoder = zstd::stream::write::Encoder::new(Sink::default(), ZSTD_LEVEL)
            .map_err(|e| io_err(path, e))?;
        Ok(Self {
            tar: tar::Builder::new(encoder),
            up: Uploader {
                store,
                path: path.to_string(),
                block_bytes: block_bytes.max(64 * 1024),
                concurrency: concurrency.max(1),
                next_block: 0,
                uploads: JoinSet::new(),
                archive_sha: Sha256::new(),
                archive_bytes: 0,
            },
            entries: 0,
            uncompressed: 0,
            done: Vec::new(),
            current: None,
            mtime,
        })
    }

    /// Adds one object. Objects of one group-resource must come one after another; a
    /// group-resource that comes back after another one is refused (the index needs them
    /// contiguous).
    pub async fn add(
        &mut self,
        resource: &ResourceId,
        namespace: Option<&str>,
        name: &str,
        json: &[u8],
    ) -> Result<(), StoreError> {
        self.switch_to(resource)?;
        let key = EntryKey {
            group: resource.group.clone(),
            version: resource.version.clone(),
            resource: resource.resource.clone(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        };
        let mut header = tar::Header::new_gnu();
        header.set_size(json.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(self.mtime);
        header.set_entry_type(tar::EntryType::Regular);
        self.tar
            .append_data(&mut header, entry_path(&key), json)
            .map_err(|e| io_err(&self.up.path, e))?;
        if let Some((index, sha)) = self.current.as_mut() {
            index.count += 1;
            index.bytes += json.len() as u64;
            sha.update(json);
        }
        self.entries += 1;
        self.uncompressed += json.len() as u64;
        self.ship_full_blocks().await
    }

    fn switch_to(&mut self, resource: &ResourceId) -> Result<(), StoreError> {
        if let Some((index, _)) = &self.current
            && index.group == resource.group
            && index.resource == resource.resource
        {
            return Ok(());
        }
        if self
            .done
            .iter()
            .any(|r| r.group == resource.group && r.resource == resource.resource)
        {
            return Err(StoreError::Service {
                status: 0,
                message: format!(
                    "{}.{} written twice into {}: entries of a resource must be contiguous (bug)",
                    resource.resource, resource.group, self.up.path
                ),
            });
        }
        self.close_current();
        self.current = Some((
            ResourceIndex {
                group: resource.group.clone(),
                version: resource.version.clone(),
                resource: resource.resource.clone(),
                kind: resource.kind.clone(),
                namespaced: resource.namespaced,
                count: 0,
                bytes: 0,
                sha256: String::new(),
            },
            Sha256::new(),
        ));
        Ok(())
    }

    fn close_current(&mut self) {
        if let Some((mut index, sha)) = self.current.take() {
            index.sha256 = hex::encode(sha.finalize());
            self.done.push(index);
        }
    }

    /// Bytes of compressed output so far (staged or waiting).
    pub fn compressed_bytes(&self) -> u64 {
        self.up.archive_bytes + self.tar.get_ref().get_ref().0.len() as u64
    }

    pub fn entries(&self) -> u64 {
        self.entries
    }

    async fn ship_full_blocks(&mut self) -> Result<(), StoreError> {
        while self.tar.get_ref().get_ref().0.len() >= self.up.block_bytes {
            let buf = &mut self.tar.get_mut().get_mut().0;
            let rest = buf.split_off(self.up.block_bytes);
            let block = std::mem::replace(buf, rest);
            self.up.ship(block).await?;
        }
        Ok(())
    }
    /// Ends the tar, flushes the encoder, stages the rest, waits for every block and commits
    /// the blob. On error the staged blocks stay uncommitted (Azure drops them after a week).
    pub async fn finish(mut self) -> Result<Finished, StoreError> {
        self.close_current();
        let path = self.up.path.clone();
        let encoder = self.tar.into_inner().map_err(|e| io_err(&path, e))?;
        let mut rest = encoder.finish().map_err(|e| io_err(&path, e))?.0;
        let mut up = self.up;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(up.block_bytes));
            let block = std::mem::replace(&mut rest, tail);
            up.ship(block).await?;
        }
        while !up.uploads.is_empty() {
            up.join_one().await?;
        }
        up.store.commit_blocks(&path, up.next_block).await?;
        Ok(Finished {
            archive: ArchiveInfo {
                bytes: up.archive_bytes,
                sha256: hex::encode(up.archive_sha.finalize()),
                entries: self.entries,
                uncompressed_bytes: self.uncompressed,
            },
            resources: self.done,
        })
    }
}

/// Stages blocks, at most `concurrency` at once, and checksums them in order.
struct Uploader<S: BlobStore> {
    store: Arc<S>,
    path: String,
    block_bytes: usize,
    concurrency: usize,
    next_block: u32,
    uploads: JoinSet<Result<(), StoreError>>,
    archive_sha: Sha256,
    archive_bytes: u64,
}

impl<S: BlobStore> Uploader<S> {
    async fn ship(&mut self, block: Vec<u8>) -> Result<(), StoreError> {
        if self.next_block >= MAX_BLOCKS {
            return Err(StoreError::Service {
                status: 0,
                message: format!(
                    "{} would need more than {MAX_BLOCKS} blocks of {} bytes",
                    self.path, self.block_bytes
                ),
            });
        }
        while self.uploads.len() >= self.concurrency {
            self.join_one().await?;
        }
        self.archive_sha.update(&block);
        self.archive_bytes += block.len() as u64;
        let (store, path, n) = (self.store.clone(), self.path.clone(), self.next_block);
        self.next_block += 1;
        self.uploads
            .spawn(async move { store.stage_block(&path, n, Bytes::from(block)).await });
        Ok(())
    }

    async fn join_one(&mut self) -> Result<(), StoreError> {
        match self.uploads.join_next().await {
            Some(Ok(result)) => result,
            Some(Err(e)) => Err(StoreError::Service {
                status: 0,
                message: format!("staging a block of {}: task failed: {e}", self.path),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Index, parse_entry_path, parse_index};
    use crate::store::MemoryStore;
    use std::io::Read;

    fn rid(group: &str, resource: &str) -> ResourceId {
        ResourceId {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: "K".into(),
            namespaced: true,
        }
    }

    #[tokio::test]
    async fn archive_reads_back_entry_by_entry_with_matching_index() {
        let store = Arc::new(MemoryStore::new());
        let mut w =
            ArchiveWriter::new(store.clone(), "b/resources.tar.zst", 64 * 1024, 2, 7).unwrap();
        // Incompressible-ish payloads so that many blocks are staged.
        let payload = |i: u32| {
            let noise: String = (0..2000u32)
                .map(|j| {
                    char::from(b'a' + ((i.wrapping_mul(7919) ^ j.wrapping_mul(104729)) % 26) as u8)
                })
                .collect();
            format!("{{\"i\":{i},\"n\":\"{noise}\"}}").into_bytes()
        };
        for i in 0..300 {
            w.add(
                &rid("", "configmaps"),
                Some("ns"),
                &format!("cm-{i}"),
                &payload(i),
            )
            .await
            .unwrap();
        }
        w.add(&rid("apps", "deployments"), Some("ns"), "d", b"{}")
            .await
            .unwrap();
        assert!(
            w.add(&rid("", "configmaps"), Some("ns"), "late", b"{}")
                .await
                .is_err(),
            "a resource must not come back"
        );
        let finished = w.finish().await.unwrap();
        let blob = store.blob("b/resources.tar.zst").expect("committed");
        assert_eq!(blob.len() as u64, finished.archive.bytes);
        assert!(finished.archive.bytes > 2 * 64 * 1024, "several blocks");
        assert_eq!(hex::encode(Sha256::digest(&blob)), finished.archive.sha256);
        let index = Index {
            format_version: "v1".into(),
            archive: finished.archive,
            resources: finished.resources,
        };
        let index = parse_index(&serde_json::to_vec(&index).unwrap()).unwrap();
        assert_eq!(index.resources[0].count, 300);
        assert_eq!(index.resources[1].resource, "deployments");

        let mut tar = tar::Archive::new(zstd::stream::read::Decoder::new(&blob[..]).unwrap());
        let mut sha = Sha256::new();
        let mut n = 0;
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().to_string();
            let key = parse_entry_path(&path).unwrap();
            let mut body = Vec::new();
            entry.read_to_end(&mut body).unwrap();
            if key.resource == "configmaps" {
                assert_eq!(body, payload(n));
                sha.update(&body);
                n += 1;
            }
        }
        assert_eq!(n, 300);
        assert_eq!(hex::encode(sha.finalize()), index.resources[0].sha256);
    }

    #[tokio::test]
    async fn a_failed_upload_fails_the_archive_and_commits_nothing() {
        let store = Arc::new(MemoryStore::new());
        let mut w = ArchiveWriter::new(store.clone(), "x", 64 * 1024, 1, 0).unwrap();
        store.fail_with(StoreError::Network("down".into()));
        w.add(&rid("", "configmaps"), None, "a", b"{}")
            .await
            .unwrap();
        assert!(w.finish().await.is_err());
        store.heal();
        assert!(store.names().is_empty());
    }
}

//! The archive blob as a `std::io::Read`, fetched range by range, and [`scan_blob`], which runs
//! the synchronous reader on a blocking thread so the async runtime is never blocked.

use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use tokio::runtime::Handle;

use super::{ArchiveError, CHUNK_BYTES, Entry, Summary, corrupt, scan, to_io};
use crate::format::Index;
use crate::store::BlobStore;

/// Reads `size` bytes of a blob in ranges of [`CHUNK_BYTES`]; one chunk is held at a time.
/// Must be used on a blocking thread (it waits for the store through `handle`).
pub struct RangeReader<S> {
    store: Arc<S>,
    path: String,
    handle: Handle,
    size: u64,
    offset: u64,
    chunk: Bytes,
}

impl<S: BlobStore> RangeReader<S> {
    pub fn new(store: Arc<S>, path: String, size: u64, handle: Handle) -> Self {
        Self {
            store,
            path,
            handle,
            size,
            offset: 0,
            chunk: Bytes::new(),
        }
    }
}

impl<S: BlobStore> Read for RangeReader<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.chunk.is_empty() {
            if self.offset >= self.size {
                return Ok(0);
            }
            let len = CHUNK_BYTES.min(self.size - self.offset);
            let got = self
                .handle
                .block_on(self.store.get_range(&self.path, self.offset, len))
                .map_err(|e| to_io(ArchiveError::Store(e)))?;
            if got.is_empty() {
                // The blob shrank under us: end here, the size check reports it.
                self.size = self.offset;
                return Ok(0);
            }
            self.offset += got.len() as u64;
            self.chunk = got;
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

/// Scans the archive blob at `path` (see [`scan`]) on a blocking thread. The blob's size is
/// checked against the index before anything is downloaded. `visit` runs on the blocking thread;
/// to hand entries to async code, send them through a bounded channel (`blocking_send`).
pub async fn scan_blob<S, F>(
    store: Arc<S>,
    path: String,
    index: Arc<Index>,
    visit: F,
) -> Result<Option<Summary>, ArchiveError>
where
    S: BlobStore,
    F: FnMut(Entry) -> Result<ControlFlow<()>, ArchiveError> + Send + 'static,
{
    let size = store
        .size(&path)
        .await?
        .ok_or_else(|| corrupt(format!("archive {path} does not exist")))?;
    if size != index.archive.bytes {
        return Err(corrupt(format!(
            "archive {path} is {size} bytes, index says {} (truncated or replaced?)",
            index.archive.bytes
        )));
    }
    let handle = Handle::current();
    tokio::task::spawn_blocking(move || {
        let reader = RangeReader::new(store, path, size, handle);
        scan(reader, &index, visit)
    })
    .await
    .map_err(|e| ArchiveError::Aborted(format!("archive reader stopped: {e}")))?
}

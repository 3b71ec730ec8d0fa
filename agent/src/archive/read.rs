//! Reads `resources.tar.zst` as untrusted input and checks it against `index.json`.
//!
//! [`scan`] is synchronous and works on any `Read` (unit tests feed it crafted bytes);
//! [`scan_blob`] runs it on a blocking thread over [`RangeReader`], which fetches the blob in
//! [`CHUNK_BYTES`] ranges, so memory stays flat whatever the archive's size: one chunk, the zstd
//! window (at most 2^[`WINDOW_LOG_MAX`]) and one entry (at most [`MAX_ENTRY_BYTES`]).
//!
//! What is enforced (docs/backup-format.md, "Reading"): the blob's size and SHA-256 equal the
//! index's; decompressed bytes never exceed what the index announces plus tar framing (a
//! decompression bomb stops at that bound) nor [`MAX_UNCOMPRESSED_BYTES`]; only regular files;
//! names through `parse_entry_path`; entries at most [`MAX_ENTRY_BYTES`]; every entry's JSON names
//! the same apiVersion, kind, namespace and name as its path; entries of one group-resource are
//! contiguous and in index order, with the index's count, bytes and SHA-256.

use std::io::{self, Read};
use std::ops::ControlFlow;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::format::{EntryKey, Index};
use crate::store::StoreError;

/// Largest object accepted: the API server's own request limit is 3 MiB.
pub const MAX_ENTRY_BYTES: u64 = 3 * 1024 * 1024;
/// Hard cap on the decompressed size of one archive, whatever the index says.
pub const MAX_UNCOMPRESSED_BYTES: u64 = 64 * 1024 * 1024 * 1024;
/// Size of one ranged read from storage.
pub const CHUNK_BYTES: u64 = 4 * 1024 * 1024;
/// Largest zstd window accepted (16 MiB): a hostile frame cannot make the decoder allocate more.
pub const WINDOW_LOG_MAX: u32 = 24;
/// Tar framing per entry allowed on top of the JSON bytes: header, a GNU long-name header and
/// its blocks (names are at most 1 KiB), padding.
const TAR_OVERHEAD_PER_ENTRY: u64 = 4 * 512;
/// End-of-archive blocks and the record padding of a tar writer.
const TAR_OVERHEAD_FIXED: u64 = 20 * 512;

/// Why an archive could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Storage could not be read; [`ArchiveError::retryable`] tells whether trying later helps.
    #[error("reading the archive from storage failed: {0}")]
    Store(#[from] StoreError),
    /// The archive is not what its index describes: truncated, corrupt, hostile or too large.
    /// Never retryable: the stored data itself is bad.
    #[error("archive refused: {0}")]
    Corrupt(String),
    /// The consumer of the entries stopped the scan with an error of its own.
    #[error("{0}")]
    Aborted(String),
}

impl ArchiveError {
    pub fn retryable(&self) -> bool {
        matches!(self, ArchiveError::Store(e) if e.retryable())
    }
}

fn corrupt(m: impl Into<String>) -> ArchiveError {
    ArchiveError::Corrupt(m.into())
}

/// One verified object of the archive.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: EntryKey,
    /// Position of its group-resource in `index.resources`.
    pub resource: usize,
    /// The object's JSON: a syntactically valid JSON object whose identity matches `key`. Kept
    /// as bytes: most passes look at few entries, and a full parse of each is the reader's
    /// largest cost.
    pub json: Vec<u8>,
    /// Its size in the archive.
    pub bytes: u64,
}

impl Entry {
    /// The object as a JSON value.
    pub fn object(&self) -> Result<Value, ArchiveError> {
        serde_json::from_slice(&self.json)
            .map_err(|e| corrupt(format!("entry {:?} is not JSON: {e}", self.key.name)))
    }
}

/// What a full scan saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub entries: u64,
    pub uncompressed_bytes: u64,
}

/// Reads the compressed archive from `compressed`, checks it against `index` and hands every
/// entry to `visit` in archive order. `visit` may stop early (`ControlFlow::Break`): then the
/// whole-archive checks (checksum, totals) are not made, which is only right after a full scan
/// of the same archive has succeeded.
pub fn scan<R: Read>(
    compressed: R,
    index: &Index,
    mut visit: impl FnMut(Entry) -> Result<ControlFlow<()>, ArchiveError>,
) -> Result<Option<Summary>, ArchiveError> {
    let info = &index.archive;
    if info.uncompressed_bytes > MAX_UNCOMPRESSED_BYTES {
        return Err(corrupt(format!(
            "index announces {} uncompressed bytes, more than the {MAX_UNCOMPRESSED_BYTES} allowed",
            info.uncompressed_bytes
        )));
    }
    let budget = info
        .uncompressed_bytes
        .saturating_add(info.entries.saturating_mul(TAR_OVERHEAD_PER_ENTRY))
        .saturating_add(TAR_OVERHEAD_FIXED);
    let hashing = Hashing::new(compressed, info.bytes);
    let mut decoder = zstd::stream::read::Decoder::new(hashing).map_err(io_error)?;
    decoder.window_log_max(WINDOW_LOG_MAX).map_err(io_error)?;
    let bounded = Bounded {
        inner: decoder,
        left: budget,
    };
    let mut archive = tar::Archive::new(bounded);
    let mut check = Checker::new(index);
    for entry in archive.entries().map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        let parsed = check.entry(entry)?;
        if let ControlFlow::Break(()) = visit(parsed)? {
            return Ok(None);
        }
    }
    let summary = check.finish()?;
    // Drain what follows the tar's end (record padding, further frames) through the bound and the
    // decoder, so the checksum covers every byte of the blob.
    let mut bounded = archive.into_inner();
    io::copy(&mut bounded, &mut io::sink()).map_err(io_error)?;
    let hashing = bounded.inner.finish().into_inner();
    hashing.verify(&info.sha256)?;
    Ok(Some(summary))
}

/// Turns an I/O error of the reader stack back into what caused it.
fn io_error(e: io::Error) -> ArchiveError {
    if e.get_ref().is_some_and(|i| i.is::<ArchiveErrorBox>()) {
        let inner = e.into_inner().expect("checked above");
        let boxed = inner.downcast::<ArchiveErrorBox>().expect("checked above");
        return boxed.0;
    }
    corrupt(format!("not a valid tar.zst stream: {e}"))
}

/// Carries an [`ArchiveError`] through `std::io::Read`.
#[derive(Debug)]
struct ArchiveErrorBox(ArchiveError);
impl std::fmt::Display for ArchiveErrorBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
impl std::error::Error for ArchiveErrorBox {}

fn to_io(e: ArchiveError) -> io::Error {
    io::Error::other(ArchiveErrorBox(e))
}

/// Hashes and counts the compressed bytes; refuses more than the index announces.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
    read: u64,
    expect: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R, expect: u64) -> Self {
        Self {
            inner,
            sha: Sha256::new(),
            read: 0,
            expect,
        }
    }

    fn verify(self, want: &str) -> Result<(), ArchiveError> {
        if self.read != self.expect {
            return Err(corrupt(format!(
                "archive is {} bytes, index says {} (truncated?)",
                self.read, self.expect
            )));
        }
        let got = hex::encode(self.sha.finalize());
        if got != want {
            return Err(corrupt(format!(
                "archive SHA-256 is {got}, index says {want}"
            )));
        }
        Ok(())
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.expect {
            return Err(to_io(corrupt(format!(
                "archive is longer than the {} bytes the index says",
                self.expect
            ))));
        }
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}

/// Refuses to decompress more than `left` bytes: the decompression-bomb guard.
struct Bounded<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n as u64 > self.left {
            return Err(to_io(corrupt(
                "decompresses to more than the index announces (decompression bomb?)",
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

mod checker;
use checker::Checker;
mod range;
pub use range::{RangeReader, scan_blob};

#[cfg(test)]
mod tests;

//! Blob storage as the agent sees it: one narrow trait, [`BlobStore`], with the Azure adapter in
//! `azure.rs` (the only module that sees Azure SDK types) and an in-memory [`MemoryStore`] for
//! tests without a server. Paths are blob names inside one container, without a leading '/'.

mod azure;
mod classify;
mod memory;

pub use azure::{AzureBlobStore, AzureSettings, AzureStores};

pub use memory::MemoryStore;

use std::future::Future;

use bytes::Bytes;
use herbarium_api::garden::ValidationReason;

/// Largest number of uncommitted blocks one blob may have (Azure's limit is 100,000).
pub const MAX_BLOCKS: u32 = 50_000;

/// A blob found by [`BlobStore::list`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobItem {
    pub name: String,
    pub size: u64,
}

/// One level of a listing: blobs directly under the prefix, and the "directories" below it
/// (each ending in the delimiter '/') when listed hierarchically.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub blobs: Vec<BlobItem>,
    pub prefixes: Vec<String>,
}

/// The operations the agent needs. Every call is one logical request (the adapter pages and
/// retries transport errors itself); errors are classified so callers can report a reason and
/// decide whether to retry.
pub trait BlobStore: Send + Sync + 'static {
    /// Writes a whole small blob (metadata, index), replacing it.
    fn put(&self, path: &str, body: Bytes) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Uploads block number `block` (0-based) of a blob being written; nothing is visible until
    /// [`BlobStore::commit_blocks`].
    fn stage_block(
        &self,
        path: &str,
        block: u32,
        body: Bytes,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Makes blocks `0..blocks` the blob's content, replacing any earlier content.
    fn commit_blocks(
        &self,
        path: &str,
        blocks: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Reads a whole blob; [`StoreError::TooLarge`] when it is bigger than `max_bytes` (checked
    /// before the body is read).
    fn get(
        &self,
        path: &str,
        max_bytes: u64,
    ) -> impl Future<Output = Result<Bytes, StoreError>> + Send;
    /// Reads `len` bytes from `offset` (fewer at the end of the blob).
    fn get_range(
        &self,
        path: &str,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Bytes, StoreError>> + Send;
    /// The blob's size, or `None` when it does not exist.
    fn size(&self, path: &str) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
    /// Lists names starting with `prefix`; with `hierarchical`, only one level ('/' delimiter).
    fn list(
        &self,
        prefix: &str,
        hierarchical: bool,
    ) -> impl Future<Output = Result<Listing, StoreError>> + Send;
    /// Deletes a blob; `Ok(false)` when it was already gone.
    fn delete(&self, path: &str) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Why a storage call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    /// No token: the token file is missing, Entra refused the exchange (unknown client, no
    /// federated credential for this issuer/subject), or the service refused the token.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// Authenticated, but the identity has no data role on the container.
    #[error("not authorized: {0}")]
    Authorization(String),
    #[error("container not found: {0}")]
    ContainerNotFound(String),
    #[error("blob not found: {0}")]
    NotFound(String),
    #[error("blob {path} is {size} bytes, more than the {limit} allowed")]
    TooLarge { path: String, size: u64, limit: u64 },
    /// DNS, connect, TLS or timeout: the service was not reached or did not answer.
    #[error("network error: {0}")]
    Network(String),
    /// Any other answer of the service (status, error code, message).
    #[error("storage service answered {status}: {message}")]
    Service { status: u16, message: String },
}

impl StoreError {
    /// Whether the same call may succeed later without anyone changing anything.
    pub fn retryable(&self) -> bool {
        match self {
            StoreError::Network(_) => true,
            StoreError::Service { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// The LocationAccess reason this error stands for.
    pub fn reason(&self) -> ValidationReason {
        match self {
            StoreError::Authentication(_) => ValidationReason::AuthenticationFailed,
            StoreError::Authorization(_) => ValidationReason::AuthorizationFailed,
            StoreError::ContainerNotFound(_) => ValidationReason::ContainerNotFound,
            StoreError::Network(_) => ValidationReason::NetworkError,
            // The probe blob vanishing under us or an odd answer: the service is reachable but
            // not usable as a location.
            StoreError::NotFound(_) | StoreError::TooLarge { .. } | StoreError::Service { .. } => {
                ValidationReason::NetworkError
            }
        }
    }
}

/// A shared store is a store: lets a factory hand out one store to several users (tests share a
/// [`MemoryStore`] between the code under test and their assertions).
impl<T: BlobStore> BlobStore for std::sync::Arc<T> {
    fn put(&self, path: &str, body: Bytes) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put(path, body)
    }
    fn stage_block(
        &self,
        path: &str,
        block: u32,
        body: Bytes,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).stage_block(path, block, body)
    }
    fn commit_blocks(
        &self,
        path: &str,
        blocks: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).commit_blocks(path, blocks)
    }
    fn get(
        &self,
        path: &str,
        max_bytes: u64,
    ) -> impl Future<Output = Result<Bytes, StoreError>> + Send {
        (**self).get(path, max_bytes)
    }
    fn get_range(
        &self,
        path: &str,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = Result<Bytes, StoreError>> + Send {
        (**self).get_range(path, offset, len)
    }
    fn size(&self, path: &str) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
        (**self).size(path)
    }
    fn list(
        &self,
        prefix: &str,
        hierarchical: bool,
    ) -> impl Future<Output = Result<Listing, StoreError>> + Send {
        (**self).list(prefix, hierarchical)
    }
    fn delete(&self, path: &str) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).delete(path)
    }
}

//! [`BlobStore`] over Azure Blob Storage (azure_storage_blob 1.x) with workload identity. The only
//! module that sees Azure SDK types: everything else gets [`StoreError`]s whose messages say what
//! to fix (the token file, the federated credential, the role, the container).

use azure_core::error::ErrorKind;
use azure_core::http::{RequestContent, StatusCode};
use azure_storage_blob::BlobContainerClient;
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders,
    BlobContainerClientListBlobsOptions, BlockLookupList,
};
use bytes::Bytes;
use futures::TryStreamExt;

mod settings;

pub use settings::{AzureSettings, AzureStores};

use super::classify::{Kind, classify};
use super::{BlobItem, BlobStore, Listing, StoreError};

/// One container of one storage account.
pub struct AzureBlobStore {
    pub(super) client: BlobContainerClient,
    container: String,
}

/// Block ids must all have the same length within a blob; fixed-width decimal keeps them sorted.
fn block_id(block: u32) -> Vec<u8> {
    format!("{block:08}").into_bytes()
}

impl AzureBlobStore {
    pub(super) fn err(&self, what: &str, e: azure_core::Error) -> StoreError {
        let (mut status, code) = match e.kind() {
            ErrorKind::HttpResponse {
                status, error_code, ..
            } => (Some(u16::from(*status)), error_code.clone()),
            _ => (None, None),
        };
        let kind = match e.kind() {
            ErrorKind::Credential => match token_unavailable(&e) {
                Some(token_status) => {
                    status = token_status;
                    Kind::TokenUnavailable
                }
                None => Kind::Credential,
            },
            ErrorKind::Connection | ErrorKind::Io => Kind::Network,
            ErrorKind::HttpResponse { .. } => Kind::Http,
            _ => Kind::Other,
        };
        classify(
            &format!("{what} (container {})", self.container),
            kind,
            status,
            code.as_deref(),
            &describe(&e),
        )
    }
}

/// Whether a credential error is Entra ID being unreachable or unavailable rather than refusing
/// this identity: azure_identity wraps every token failure as `Credential` and keeps the
/// pipeline's error (connection, I/O, a 429/5xx answer, an answer that is no token response) as
/// its source. `Some(status)` when it is, with the HTTP status if there was one.
fn token_unavailable(e: &azure_core::Error) -> Option<Option<u16>> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(inner) = s.downcast_ref::<azure_core::Error>() {
            match inner.kind() {
                ErrorKind::Connection | ErrorKind::Io | ErrorKind::DataConversion => {
                    return Some(None);
                }
                ErrorKind::HttpResponse { status, .. } => {
                    let status = u16::from(*status);
                    return (status == 429 || status >= 500).then_some(Some(status));
                }
                _ => {}
            }
        }
        source = s.source();
    }
    None
}

/// The error with its whole source chain: Entra's AADSTS codes sit in the inner errors.
pub(super) fn describe(e: &azure_core::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    if !text.contains("AADSTS") {
        let debug = format!("{e:?}");
        if let Some(i) = debug.find("AADSTS") {
            let code: String = debug[i..]
                .chars()
                .take_while(|c| c.is_alphanumeric())
                .collect();
            text.push_str(&format!(" ({code})"));
        }
    }
    text
}

impl BlobStore for AzureBlobStore {
    async fn put(&self, path: &str, body: Bytes) -> Result<(), StoreError> {
        let blob = self.client.blob_client(path);
        blob.upload(body.into(), None)
            .await
            .map(|_| ())
            .map_err(|e| self.err(&format!("writing {path}"), e))
    }

    async fn stage_block(&self, path: &str, block: u32, body: Bytes) -> Result<(), StoreError> {
        let len = body.len() as u64;
        self.client
            .blob_client(path)
            .block_blob_client()
            .stage_block(&block_id(block), len, body.into(), None)
            .await
            .map(|_| ())
            .map_err(|e| self.err(&format!("staging block {block} of {path}"), e))
    }

    async fn commit_blocks(&self, path: &str, blocks: u32) -> Result<(), StoreError> {
        let list = BlockLookupList {
            latest: Some((0..blocks).map(block_id).collect()),
            ..Default::default()
        };
        let content: RequestContent<BlockLookupList, _> = list
            .try_into()
            .map_err(|e| self.err(&format!("encoding the block list of {path}"), e))?;
        self.client
            .blob_client(path)
            .block_blob_client()
            .commit_block_list(content, None)
            .await
            .map(|_| ())
            .map_err(|e| self.err(&format!("committing {blocks} blocks of {path}"), e))
    }

    async fn get(&self, path: &str, max_bytes: u64) -> Result<Bytes, StoreError> {
        let size = self
            .size(path)
            .await?
            .ok_or_else(|| StoreError::NotFound(path.to_string()))?;
        if size > max_bytes {
            return Err(StoreError::TooLarge {
                path: path.to_string(),
                size,
                limit: max_bytes,
            });
        }
        if size == 0 {
            return Ok(Bytes::new());
        }
        self.get_range(path, 0, size).await
    }

    async fn get_range(&self, path: &str, offset: u64, len: u64) -> Result<Bytes, StoreError> {
        if len == 0 {
            return Ok(Bytes::new());
        }
        let what = format!("reading {path}");
        let options = BlobClientDownloadOptions {
            range: Some((offset..offset + len).into()),
            ..Default::default()
        };
        let result = self.client.blob_client(path).download(Some(options)).await;
        let body = match result {
            Ok(r) => r.body,
            // A range starting at or past the end: nothing to read.
            Err(e) if e.http_status() == Some(StatusCode::RequestedRangeNotSatisfiable) => {
                return Ok(Bytes::new());
            }
            Err(e) => return Err(self.err(&what, e)),
        };
        body.collect().await.map_err(|e| self.err(&what, e))
    }

    async fn size(&self, path: &str) -> Result<Option<u64>, StoreError> {
        match self.client.blob_client(path).get_properties(None).await {
            Ok(r) => Ok(Some(r.content_length().ok().flatten().unwrap_or(0))),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => {
                match self.err(&format!("reading the properties of {path}"), e) {
                    StoreError::NotFound(_) => Ok(None),
                    // HEAD has no body: a 404 without an error code is a missing blob, unless
                    // the container is gone (then the header says ContainerNotFound).
                    StoreError::Service { status: 404, .. } => Ok(None),
                    other => Err(other),
                }
            }
            Err(e) => Err(self.err(&format!("reading the properties of {path}"), e)),
        }
    }

    /// The SDK's list call has no delimiter, so a hierarchical listing is computed from the flat
    /// one: fine for the agent's prefixes, which hold a few blobs per backup.
    async fn list(&self, prefix: &str, hierarchical: bool) -> Result<Listing, StoreError> {
        let options = BlobContainerClientListBlobsOptions {
            prefix: Some(prefix.to_string()),
            ..Default::default()
        };
        let what = format!("listing {prefix:?}");
        let mut pager = self
            .client
            .list_blobs(Some(options))
            .map_err(|e| self.err(&what, e))?;
        let mut listing = Listing::default();
        while let Some(item) = pager.try_next().await.map_err(|e| self.err(&what, e))? {
            let name = item.name.unwrap_or_default();
            let size = item.properties.and_then(|p| p.content_length).unwrap_or(0);
            let rest = name.strip_prefix(prefix).unwrap_or(&name);
            match rest.find('/') {
                Some(i) if hierarchical => {
                    let dir = format!("{prefix}{}", &rest[..=i]);
                    if listing.prefixes.last() != Some(&dir) && !listing.prefixes.contains(&dir) {
                        listing.prefixes.push(dir);
                    }
                }
                _ => listing.blobs.push(BlobItem { name, size }),
            }
        }
        Ok(listing)
    }

    async fn delete(&self, path: &str) -> Result<bool, StoreError> {
        match self.client.blob_client(path).delete(None).await {
            Ok(_) => Ok(true),
            Err(e) => match self.err(&format!("deleting {path}"), e) {
                StoreError::NotFound(_) => Ok(false),
                other => Err(other),
            },
        }
    }
}

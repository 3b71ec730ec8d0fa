//! [`BlobStore`] over Azure Blob Storage (azure_storage_blob 1.x) with workload identity. The only
//! module that sees Azure SDK types: everything else gets [`StoreError`]s whose messages say what
//! to fix (the token file, the federated credential, the role, the container).

use std::path::PathBuf;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::{
    ClientOptions, ExponentialRetryOptions, RequestContent, RetryOptions, StatusCode, Transport,
};
use azure_identity::{
    ClientAssertionCredentialOptions, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use azure_storage_blob::models::{
    BlobClientDownloadOptions, BlobClientGetPropertiesResultHeaders,
    BlobContainerClientListBlobsOptions, BlockLookupList,
};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use bytes::Bytes;
use futures::TryStreamExt;

use super::classify::{Kind, classify};
use super::{BlobItem, BlobStore, Listing, StoreError};

/// Where the workload identity comes from: the standard variables of Azure Workload Identity,
/// plus an optional extra CA (for endpoints with a private CA, such as the local stand-ins).
#[derive(Clone, Debug)]
pub struct AzureSettings {
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub token_file: Option<PathBuf>,
    pub authority_host: String,
    pub ca_file: Option<PathBuf>,
}

impl AzureSettings {
    /// Reads AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE, AZURE_AUTHORITY_HOST.
    pub fn from_env(ca_file: Option<PathBuf>) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            client_id: var("AZURE_CLIENT_ID"),
            tenant_id: var("AZURE_TENANT_ID"),
            token_file: var("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
            authority_host: var("AZURE_AUTHORITY_HOST")
                .unwrap_or_else(|| "https://login.microsoftonline.com/".into()),
            ca_file,
        }
    }

    fn client_options(&self) -> Result<ClientOptions, StoreError> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(120));
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca).map_err(|e| {
                StoreError::Network(format!(
                    "reading the CA file {} (HERBARIUM_CA_FILE): {e}",
                    ca.display()
                ))
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| StoreError::Network(format!("CA file {}: {e}", ca.display())))?;
            builder = builder.tls_certs_merge(certs);
        }
        let http = builder
            .build()
            .map_err(|e| StoreError::Network(format!("building the HTTP client: {e}")))?;
        let mut cloud = CustomConfiguration::default();
        cloud.authority_host = self.authority_host.clone();
        Ok(ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
            // A few quick retries for transient answers; an unreachable endpoint must fail in
            // seconds, not minutes, so that validation reports NetworkError promptly.
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                max_retries: 3,
                initial_delay: azure_core::time::Duration::milliseconds(200),
                max_delay: azure_core::time::Duration::seconds(5),
                max_total_elapsed: azure_core::time::Duration::seconds(60),
            }),
            ..Default::default()
        })
    }

    /// The credential, or an Authentication error naming the variable or file that is missing.
    pub fn credential(&self) -> Result<Arc<dyn TokenCredential>, StoreError> {
        let missing = |what: &str| {
            StoreError::Authentication(format!(
                "{what} is not set; the agent needs the workload identity variables \
                 AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE"
            ))
        };
        let client_id = self
            .client_id
            .clone()
            .ok_or_else(|| missing("AZURE_CLIENT_ID"))?;
        let tenant_id = self
            .tenant_id
            .clone()
            .ok_or_else(|| missing("AZURE_TENANT_ID"))?;
        let file = self
            .token_file
            .clone()
            .ok_or_else(|| missing("AZURE_FEDERATED_TOKEN_FILE"))?;
        if let Err(e) = std::fs::metadata(&file) {
            return Err(StoreError::Authentication(format!(
                "the service-account token file {} (AZURE_FEDERATED_TOKEN_FILE) cannot be read: \
                 {e}; check the projected token volume of the agent pod",
                file.display()
            )));
        }
        let options = WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions {
                client_options: self.client_options()?,
            },
            client_id: Some(client_id),
            tenant_id: Some(tenant_id),
            token_file_path: Some(file),
        };
        WorkloadIdentityCredential::new(Some(options))
            .map(|c| c as Arc<dyn TokenCredential>)
            .map_err(|e| StoreError::Authentication(describe(&e)))
    }

    /// A store for one container (`endpoint` is the account URL, https, no trailing '/').
    pub fn open(
        &self,
        credential: Arc<dyn TokenCredential>,
        endpoint: &str,
        container: &str,
    ) -> Result<AzureBlobStore, StoreError> {
        let url = format!("{endpoint}/{container}");
        let url = url
            .parse()
            .map_err(|e| StoreError::Network(format!("invalid endpoint {url}: {e}")))?;
        let options = BlobContainerClientOptions {
            client_options: self.client_options()?,
            ..Default::default()
        };
        let client = BlobContainerClient::new(url, Some(credential), Some(options))
            .map_err(|e| StoreError::Network(format!("container URL: {}", describe(&e))))?;
        Ok(AzureBlobStore {
            client,
            container: container.to_string(),
        })
    }
}

/// The agent's [`StoreFactory`]: one credential (and so one token cache) for all locations,
/// created on first use so that a token file mounted late is picked up.
pub struct AzureStores {
    settings: AzureSettings,
    credential: std::sync::Mutex<Option<Arc<dyn TokenCredential>>>,
}

impl AzureStores {
    pub fn new(settings: AzureSettings) -> Self {
        Self {
            settings,
            credential: std::sync::Mutex::new(None),
        }
    }
}

impl crate::context::StoreFactory for AzureStores {
    type Store = AzureBlobStore;

    fn open(
        &self,
        location: &herbarium_api::agent::LocationAccessSpec,
    ) -> Result<AzureBlobStore, StoreError> {
        let credential = {
            let mut cached = self.credential.lock().unwrap_or_else(|e| e.into_inner());
            match cached.as_ref() {
                Some(c) => c.clone(),
                None => {
                    let c = self.settings.credential()?;
                    *cached = Some(c.clone());
                    c
                }
            }
        };
        self.settings
            .open(credential, &location.endpoint, &location.container)
    }
}

impl AzureSettings {
    /// Creates a container (for tests and the benchmark; the agent itself never creates one).
    pub async fn create_container(
        &self,
        endpoint: &str,
        container: &str,
    ) -> Result<(), StoreError> {
        let store = self.open(self.credential()?, endpoint, container)?;
        match store.client.create(None).await {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(e) => Err(store.err("creating the container", e)),
        }
    }
}

/// One container of one storage account.
pub struct AzureBlobStore {
    client: BlobContainerClient,
    container: String,
}

/// Block ids must all have the same length within a blob; fixed-width decimal keeps them sorted.
fn block_id(block: u32) -> Vec<u8> {
    format!("{block:08}").into_bytes()
}

impl AzureBlobStore {
    fn err(&self, what: &str, e: azure_core::Error) -> StoreError {
        let (status, code) = match e.kind() {
            ErrorKind::HttpResponse {
                status, error_code, ..
            } => (Some(u16::from(*status)), error_code.clone()),
            _ => (None, None),
        };
        let kind = match e.kind() {
            ErrorKind::Credential => Kind::Credential,
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

/// The error with its whole source chain: Entra's AADSTS codes sit in the inner errors.
fn describe(e: &azure_core::Error) -> String {
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

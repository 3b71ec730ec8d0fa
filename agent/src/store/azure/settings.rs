//! Where the agent's Azure identity and HTTP client come from, and the [`StoreFactory`] that
//! opens one [`AzureBlobStore`] per location with a shared credential.

use std::path::PathBuf;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{
    ClientOptions, ExponentialRetryOptions, RetryOptions, StatusCode, Transport,
};
use azure_identity::{
    ClientAssertionCredentialOptions, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};

use super::{AzureBlobStore, describe};
use crate::store::StoreError;

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

//! The controller's own Azure credential: workload identity of the garden pod (a projected
//! service-account token exchanged at Entra ID). Nothing else: no secret ever holds a cloud
//! credential.

use std::path::PathBuf;
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{
    ClientAssertionCredentialOptions, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use crate::identity::IdentityError;

/// Overrides of the standard environment (`AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
/// `AZURE_FEDERATED_TOKEN_FILE`, `AZURE_AUTHORITY_HOST`); `None` reads the variable.
#[derive(Clone, Debug, Default)]
pub struct WorkloadIdentityOptions {
    pub client_id: Option<String>,
    pub tenant_id: Option<String>,
    pub token_file: Option<PathBuf>,
    pub authority_host: Option<String>,
    /// Transport for the token endpoint (e.g. trusting an extra CA).
    pub http: Option<reqwest::Client>,
}

/// A workload-identity credential. The token file must exist when this is called; azure_identity
/// re-reads it when it is older than 10 minutes, well within the kubelet's rotation (at 80 % of
/// the projected token's lifetime, at least an hour).
pub fn workload_identity_credential(
    o: WorkloadIdentityOptions,
) -> Result<Arc<dyn TokenCredential>, IdentityError> {
    let cloud = o.authority_host.map(|host| {
        let mut c = CustomConfiguration::default();
        c.authority_host = host;
        Arc::new(CloudConfiguration::from(c))
    });
    let options = WorkloadIdentityCredentialOptions {
        credential_options: ClientAssertionCredentialOptions {
            client_options: ClientOptions {
                transport: o.http.map(|c| Transport::new(Arc::new(c))),
                cloud,
                ..Default::default()
            },
        },
        client_id: o.client_id,
        tenant_id: o.tenant_id,
        token_file_path: o.token_file,
    };
    let credential = WorkloadIdentityCredential::new(Some(options)).map_err(|e| {
        IdentityError::Invalid(format!(
            "building the controller's workload identity credential: {e}"
        ))
    })?;
    Ok(credential)
}

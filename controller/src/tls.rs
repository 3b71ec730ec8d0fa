//! HTTP clients of the controller (ARM, Entra ID, OIDC issuers). An extra CA file (flag or
//! `HERBARIUM_CA_FILE`) is trusted in addition to the system roots — for private issuers and for
//! the test environment's stand-ins; verification is never turned off.

use std::path::Path;
use std::time::Duration;

/// A reqwest client trusting the system roots plus the PEM certificates in `ca_file`.
pub fn http_client(ca_file: Option<&Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60));
    if let Some(path) = ca_file {
        let pem =
            std::fs::read(path).map_err(|e| format!("reading CA file {}: {e}", path.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("CA file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("CA file {}: no PEM certificate", path.display()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| format!("building the HTTP client: {e}"))
}

/// [`http_client`] with the CA file named by `HERBARIUM_CA_FILE`, if set.
pub fn http_client_from_env() -> Result<reqwest::Client, String> {
    let ca = std::env::var_os("HERBARIUM_CA_FILE").filter(|v| !v.is_empty());
    http_client(ca.as_deref().map(Path::new))
}

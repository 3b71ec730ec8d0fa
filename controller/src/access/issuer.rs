//! The issuer check: Entra ID verifies an agent token by fetching
//! `<issuer>/.well-known/openid-configuration` and the JWKS it names. If that document is not
//! served (a Shoot without a managed issuer, a private cluster), every token exchange fails — so
//! the controller checks it first and says so in `IssuerReady`.

use std::future::Future;
use std::time::Duration;

use serde_json::Value;

/// Why an issuer cannot be used for workload identity federation.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum IssuerError {
    #[error("issuer {0:?} is not an https URL (retrying does not help)")]
    NotHttps(String),
    #[error("issuer discovery document {url} unreachable: {message} (retrying may help)")]
    Unreachable { url: String, message: String },
    #[error("issuer discovery document {url}: HTTP {status}{}", if *.status == 429 || *.status >= 500 { " (retrying may help)" } else { " (retrying does not help until the issuer publishes it)" })]
    Status { url: String, status: u16 },
    #[error(
        "issuer discovery document {url} is not a JSON object: {message} (retrying does not help)"
    )]
    NotJson { url: String, message: String },
    #[error(
        "issuer discovery document {url} names issuer {found:?}, not {expected:?} (retrying does not help until the issuer URL is corrected)"
    )]
    Mismatch {
        url: String,
        expected: String,
        found: String,
    },
    #[error("issuer discovery document {url} has no https jwks_uri (retrying does not help)")]
    NoJwks { url: String },
}

impl IssuerError {
    /// Whether checking again (after a backoff) can succeed without any change.
    pub fn retryable(&self) -> bool {
        match self {
            IssuerError::Unreachable { .. } => true,
            IssuerError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// The discovery URL of an issuer.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Checks an answer for `issuer`'s discovery document: HTTP 200, a JSON object whose `issuer` is
/// exactly `issuer` (tokens carry it verbatim) and an https `jwks_uri`.
pub fn check_discovery_document(issuer: &str, status: u16, body: &[u8]) -> Result<(), IssuerError> {
    let url = discovery_url(issuer);
    if status != 200 {
        return Err(IssuerError::Status { url, status });
    }
    let doc: Value = serde_json::from_slice(body).map_err(|e| IssuerError::NotJson {
        url: url.clone(),
        message: e.to_string(),
    })?;
    if !doc.is_object() {
        return Err(IssuerError::NotJson {
            url,
            message: "not an object".into(),
        });
    }
    let found = doc["issuer"].as_str().unwrap_or_default();
    if found != issuer {
        return Err(IssuerError::Mismatch {
            url,
            expected: issuer.to_string(),
            found: found.to_string(),
        });
    }
    if !doc["jwks_uri"]
        .as_str()
        .is_some_and(|u| u.starts_with("https://"))
    {
        return Err(IssuerError::NoJwks { url });
    }
    Ok(())
}

/// Checks that an issuer serves its OIDC discovery document.
pub trait IssuerCheck: Send + Sync {
    fn check(&self, issuer: &str) -> impl Future<Output = Result<(), IssuerError>> + Send;
}

/// [`IssuerCheck`] over HTTPS (see [`crate::tls::http_client`] for an extra CA).
#[derive(Clone, Debug)]
pub struct HttpIssuerCheck {
    http: reqwest::Client,
}

/// Discovery documents are small; a larger answer is not one.
const MAX_DOCUMENT: usize = 256 * 1024;

impl HttpIssuerCheck {
    pub fn new(http: reqwest::Client) -> Self {
        Self { http }
    }
}

impl IssuerCheck for HttpIssuerCheck {
    async fn check(&self, issuer: &str) -> Result<(), IssuerError> {
        if !issuer.starts_with("https://") {
            return Err(IssuerError::NotHttps(issuer.to_string()));
        }
        let url = discovery_url(issuer);
        let unreachable = |e: reqwest::Error| IssuerError::Unreachable {
            url: url.clone(),
            message: super::kubeconfig::error_chain(&e),
        };
        let response = self
            .http
            .get(&url)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        if response
            .content_length()
            .is_some_and(|l| l > MAX_DOCUMENT as u64)
        {
            return Err(IssuerError::NotJson {
                url,
                message: "larger than 256 KiB".into(),
            });
        }
        let body = response.bytes().await.map_err(unreachable)?;
        if body.len() > MAX_DOCUMENT {
            return Err(IssuerError::NotJson {
                url,
                message: "larger than 256 KiB".into(),
            });
        }
        check_discovery_document(issuer, status, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_document_table() {
        let i = "https://issuer.example/projects/p/shoots/u/issuer";
        let ok = format!(r#"{{"issuer":"{i}","jwks_uri":"{i}/jwks"}}"#);
        let cases: Vec<(&str, u16, String, Result<(), &str>)> = vec![
            ("valid", 200, ok.clone(), Ok(())),
            ("404", 404, String::new(), Err("HTTP 404")),
            ("503 may heal", 503, String::new(), Err("retrying may help")),
            ("html", 200, "<html>".into(), Err("not a JSON object")),
            ("array", 200, "[]".into(), Err("not a JSON object")),
            (
                "other issuer",
                200,
                ok.replace("/issuer\"", "/other\""),
                Err("names issuer"),
            ),
            (
                "trailing slash differs",
                200,
                ok.replace("/issuer\"", "/issuer/\""),
                Err("names issuer"),
            ),
            (
                "no jwks",
                200,
                format!(r#"{{"issuer":"{i}"}}"#),
                Err("no https jwks_uri"),
            ),
        ];
        for (name, status, body, want) in cases {
            let got = check_discovery_document(i, status, body.as_bytes());
            match (got, want) {
                (Ok(()), Ok(())) => {}
                (Err(e), Err(part)) => assert!(e.to_string().contains(part), "{name}: {e}"),
                (got, want) => panic!("{name}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(
            discovery_url("https://x/"),
            "https://x/.well-known/openid-configuration"
        );
    }
}

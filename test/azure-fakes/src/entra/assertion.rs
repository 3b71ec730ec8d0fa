//! Checking a client assertion (a cluster's service-account token) the way Entra ID does for a
//! managed identity with federated identity credentials.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;

use super::errors::EntraError;
use crate::{app::Shared, model::FederatedCredential};

#[derive(Debug, Deserialize)]
pub struct AssertionClaims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<Aud>::deserialize(d)? {
        None => vec![],
        Some(Aud::One(s)) => vec![s],
        Some(Aud::Many(v)) => v,
    })
}

fn rfc3339(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| ts.to_string())
}

fn malformed() -> EntraError {
    EntraError::bad_request(
        "invalid_request",
        50027,
        "JWT token is invalid or malformed.",
    )
}

/// Verify `assertion` for the identity with these credentials; Ok(()) when a credential matches.
pub async fn verify(
    app: &Shared,
    assertion: &str,
    credentials: &[FederatedCredential],
) -> Result<(), EntraError> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| malformed())?;
    let claims: AssertionClaims =
        jsonwebtoken::dangerous::insecure_decode_claims(assertion).map_err(|_| malformed())?;
    let (Some(iss), Some(sub), Some(exp)) = (claims.iss.clone(), claims.sub.clone(), claims.exp)
    else {
        return Err(malformed());
    };

    let now = chrono::Utc::now().timestamp();
    let nbf = claims.nbf.unwrap_or(0);
    if exp <= now || nbf > now + 300 {
        return Err(EntraError::invalid_client(
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
                rfc3339(now),
                rfc3339(nbf),
                rfc3339(exp)
            ),
        ));
    }

    let aud = claims.aud.join(",");
    if credentials.is_empty() {
        return Err(EntraError::bad_request(
            "invalid_request",
            70021,
            format!(
                "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{aud}'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
        ));
    }
    let by_issuer: Vec<_> = credentials.iter().filter(|c| c.issuer == iss).collect();
    if by_issuer.is_empty() {
        return Err(EntraError::invalid_client(
            700211,
            format!(
                "No matching federated identity record found for presented assertion issuer '{iss}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
        ));
    }
    let by_subject: Vec<_> = by_issuer.into_iter().filter(|c| c.subject == sub).collect();
    if by_subject.is_empty() {
        return Err(EntraError::invalid_client(
            700213,
            format!(
                "No matching federated identity record found for presented assertion subject '{sub}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
        ));
    }
    let Some(credential) = by_subject
        .into_iter()
        .find(|c| c.audiences.iter().any(|a| claims.aud.contains(a)))
    else {
        return Err(EntraError::invalid_client(
            700212,
            format!(
                "No matching federated identity record found for presented assertion audience '{aud}'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            ),
        ));
    };

    let keys = fetch_jwks(app, &iss).await?;
    let kid = header.kid.unwrap_or_default();
    let jwk = keys.find(&kid).ok_or_else(|| {
        EntraError::invalid_client(
            700027,
            format!("Client assertion failed signature validation. The signing key '{kid}' is not in the issuer's JWKS."),
        )
    })?;
    let key = DecodingKey::from_jwk(jwk).map_err(|err| {
        EntraError::bad_request(
            "invalid_request",
            50166,
            format!("Request to External OIDC endpoint failed: unusable key '{kid}': {err}."),
        )
    })?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[&credential.issuer]);
    validation.set_audience(&credential.audiences);
    validation.sub = Some(credential.subject.clone());
    validation.leeway = 300;
    jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation).map_err(|err| {
        EntraError::invalid_client(
            700027,
            format!("Client assertion failed signature validation: {err}."),
        )
    })?;
    Ok(())
}

fn oidc_failure(detail: String) -> EntraError {
    EntraError::bad_request(
        "invalid_request",
        50166,
        format!("Request to External OIDC endpoint failed: {detail}."),
    )
}

/// The issuer's keys, found through its OpenID discovery document (fetched over HTTPS).
async fn fetch_jwks(app: &Shared, issuer: &str) -> Result<JwkSet, EntraError> {
    #[derive(Deserialize)]
    struct Discovery {
        issuer: String,
        jwks_uri: String,
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let discovery: Discovery = get_json(app, &url).await?;
    if discovery.issuer != issuer {
        return Err(oidc_failure(format!(
            "the discovery document at {url} names issuer '{}', not '{issuer}'",
            discovery.issuer
        )));
    }
    get_json(app, &discovery.jwks_uri).await
}

async fn get_json<T: serde::de::DeserializeOwned>(
    app: &Shared,
    url: &str,
) -> Result<T, EntraError> {
    if !url.starts_with("https://") {
        return Err(oidc_failure(format!("'{url}' is not an https URL")));
    }
    let response = app
        .http
        .get(url)
        .send()
        .await
        .map_err(|err| oidc_failure(format!("GET {url}: {err}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(oidc_failure(format!("GET {url} answered {status}")));
    }
    let body = response
        .bytes()
        .await
        .map_err(|err| oidc_failure(format!("GET {url}: {err}")))?;
    serde_json::from_slice(&body)
        .map_err(|err| oidc_failure(format!("GET {url}: not the expected JSON: {err}")))
}

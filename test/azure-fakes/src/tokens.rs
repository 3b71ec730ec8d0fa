//! Access tokens the token stand-in issues, signed with a key only the stand-ins hold, and their
//! verification by ARM and the blob proxy.

use std::path::Path;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const STORAGE_AUDIENCE: &str = "https://storage.azure.com";
pub const ARM_AUDIENCE: &str = "https://management.azure.com";
const KID: &str = "herbarium-azure-fakes";
pub const LIFETIME_SECONDS: i64 = 3600;

/// Claims as Entra ID puts them into v1 app-only access tokens (what Azurite checks, plus who).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub oid: String,
    pub sub: String,
    pub appid: String,
    pub azp: String,
    pub tid: String,
    pub idtyp: String,
    pub ver: String,
    pub uti: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("reading signing key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("loading signing key {path}: {source}")]
    Key {
        path: String,
        source: jsonwebtoken::errors::Error,
    },
    #[error("signing a token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

pub struct TokenService {
    tenant: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub fn issuer_of(tenant: &str) -> String {
    format!("https://sts.windows.net/{tenant}/")
}

fn read(path: &Path) -> Result<Vec<u8>, TokenError> {
    std::fs::read(path).map_err(|source| TokenError::Read {
        path: path.display().to_string(),
        source,
    })
}

impl TokenService {
    pub fn load(tenant: &str, private_pem: &Path, public_pem: &Path) -> Result<Self, TokenError> {
        let key_err = |path: &Path| {
            let path = path.display().to_string();
            move |source| TokenError::Key { path, source }
        };
        let encoding =
            EncodingKey::from_rsa_pem(&read(private_pem)?).map_err(key_err(private_pem))?;
        let decoding =
            DecodingKey::from_rsa_pem(&read(public_pem)?).map_err(key_err(public_pem))?;
        Ok(Self {
            tenant: tenant.to_string(),
            encoding,
            decoding,
        })
    }

    /// Issue an access token for `audience` to the identity (client ID, principal ID).
    pub fn issue(
        &self,
        audience: &str,
        client_id: &str,
        principal_id: &str,
    ) -> Result<String, TokenError> {
        let now = chrono::Utc::now().timestamp();
        let claims = AccessClaims {
            aud: audience.to_string(),
            iss: issuer_of(&self.tenant),
            iat: now,
            nbf: now - 300,
            exp: now + LIFETIME_SECONDS,
            oid: principal_id.to_string(),
            sub: principal_id.to_string(),
            appid: client_id.to_string(),
            azp: client_id.to_string(),
            tid: self.tenant.clone(),
            idtyp: "app".to_string(),
            ver: "1.0".to_string(),
            uti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_string());
        jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(TokenError::Sign)
    }

    /// Verify signature, issuer, audience and lifetime.
    pub fn verify(&self, token: &str, audience: &str) -> Result<AccessClaims, VerifyError> {
        use jsonwebtoken::errors::ErrorKind;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[audience, &format!("{audience}/")]);
        validation.set_issuer(&[issuer_of(&self.tenant)]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                ErrorKind::ExpiredSignature => VerifyError::Expired,
                ErrorKind::InvalidAudience => VerifyError::Audience,
                _ => VerifyError::Invalid(err.to_string()),
            })
    }
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    Expired,
    Audience,
    Invalid(String),
}

//! Turns a failed storage call into a [`StoreError`] whose message says what to fix. Pure, so
//! every case is tested without a service.

use super::StoreError;
pub(crate) use kind::Kind;

mod kind {
    /// How a call failed, independent of the SDK.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        /// No token: the token file, Entra's answer, the credential's configuration.
        Credential,
        /// No token because Entra ID was not reached, was busy (429) or failed (5xx): the same
        /// request may succeed later.
        TokenUnavailable,
        /// DNS, connect, TLS, timeout.
        Network,
        /// The service answered with a status.
        Http,
        Other,
    }
}

/// Entra ID error codes users meet with workload identity, and what each means.
const AADSTS_HINTS: [(&str, &str); 7] = [
    (
        "AADSTS700016",
        "the client ID (AZURE_CLIENT_ID) is not known to the tenant",
    ),
    (
        "AADSTS70021",
        "the identity has no federated credential matching this cluster's token",
    ),
    (
        "AADSTS700211",
        "no federated credential of the identity trusts this cluster's issuer",
    ),
    (
        "AADSTS700213",
        "no federated credential matches the token's subject",
    ),
    (
        "AADSTS700212",
        "no federated credential matches the token's audience",
    ),
    ("AADSTS700024", "the service-account token has expired"),
    ("AADSTS90002", "the tenant (AZURE_TENANT_ID) does not exist"),
];

/// `what` says which call failed ("writing x (container c)"); `code` is the service's error
/// code (x-ms-error-code); `text` the SDK's description.
pub(crate) fn classify(
    what: &str,
    kind: Kind,
    status: Option<u16>,
    code: Option<&str>,
    text: &str,
) -> StoreError {
    match kind {
        Kind::Credential => {
            let hint = AADSTS_HINTS
                .iter()
                .find(|(c, _)| text.contains(c))
                .map(|(c, h)| format!(" ({c}: {h})"))
                .unwrap_or_default();
            StoreError::Authentication(format!("{what}: getting a token failed{hint}: {text}"))
        }
        Kind::TokenUnavailable => StoreError::Network(format!(
            "{what}: getting a token failed: Entra ID (AZURE_AUTHORITY_HOST) was not reached or \
             is unavailable{}; retried: {text}",
            status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
        )),
        Kind::Network => StoreError::Network(format!(
            "{what}: the storage endpoint was not reached: {text}"
        )),
        Kind::Http | Kind::Other => match (status, code) {
            (Some(403), Some(c))
                if c.starts_with("AuthorizationPermissionMismatch")
                    || c == "AuthorizationFailure" =>
            {
                StoreError::Authorization(format!(
                    "{what}: the agent's identity lacks the role \"Storage Blob Data Contributor\" \
                     on the container ({c}: {})",
                    service_message(text)
                ))
            }
            (Some(401), _) | (Some(403), Some("InvalidAuthenticationInfo")) => {
                StoreError::Authentication(format!(
                    "{what}: the storage service refused the token: {text}"
                ))
            }
            (Some(404), Some("ContainerNotFound")) => StoreError::ContainerNotFound(format!(
                "{what}: the container does not exist; create it or fix the location \
                 (ContainerNotFound: {})",
                service_message(text)
            )),
            (Some(404), Some("BlobNotFound")) => StoreError::NotFound(what.to_string()),
            (Some(s), _) => StoreError::Service {
                status: s,
                message: format!("{what}: {}", code.unwrap_or(text)),
            },
            (None, _) => StoreError::Service {
                status: 0,
                message: format!("{what}: {text}"),
            },
        },
    }
}

/// The service's own words from an SDK description: the `<Message>` of a storage error body
/// (without its RequestId/Time lines), else the description's first line.
fn service_message(text: &str) -> &str {
    let message = match text.split_once("<Message>") {
        Some((_, rest)) => rest.split("</Message>").next().unwrap_or(rest),
        None => text,
    };
    message.lines().next().unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_users_meet_has_its_reason_and_hint() {
        let c = |kind, status, code, text| classify("writing x", kind, status, code, text);
        let auth = c(
            Kind::Credential,
            None,
            None,
            "invalid_request: AADSTS70021: No matching",
        );
        assert!(
            matches!(&auth, StoreError::Authentication(m) if m.contains("AADSTS70021: the identity has no federated"))
        );
        let unknown = c(
            Kind::Credential,
            None,
            None,
            "unauthorized_client AADSTS700016",
        );
        assert!(unknown.to_string().contains("AZURE_CLIENT_ID"));
        let role = c(
            Kind::Http,
            Some(403),
            Some("AuthorizationPermissionMismatch"),
            "",
        );
        assert!(
            matches!(&role, StoreError::Authorization(m) if m.contains("Storage Blob Data Contributor"))
        );
        let body = "403: <?xml version=\"1.0\"?><Error><Code>AuthorizationPermissionMismatch</Code>\
                    <Message>This request is not authorized.\nRequestId:1\nTime:2</Message></Error>";
        let role = c(
            Kind::Http,
            Some(403),
            Some("AuthorizationPermissionMismatch"),
            body,
        );
        assert!(
            role.to_string()
                .ends_with("(AuthorizationPermissionMismatch: This request is not authorized.)"),
            "{role}"
        );
        assert!(matches!(
            c(Kind::Http, Some(404), Some("ContainerNotFound"), ""),
            StoreError::ContainerNotFound(_)
        ));
        assert!(matches!(
            c(Kind::Http, Some(404), Some("BlobNotFound"), ""),
            StoreError::NotFound(_)
        ));
        assert!(matches!(
            c(Kind::Http, Some(401), None, "expired"),
            StoreError::Authentication(_)
        ));
        let entra_down = c(Kind::TokenUnavailable, Some(503), None, "busy");
        assert!(
            matches!(&entra_down, StoreError::Network(m) if m.contains("Entra ID") && m.contains("HTTP 503")),
            "{entra_down}"
        );
        assert!(entra_down.retryable());
        let net = c(Kind::Network, None, None, "connection refused");
        assert!(net.retryable() && net.to_string().contains("connection refused"));
        let busy = c(Kind::Http, Some(503), Some("ServerBusy"), "");
        assert!(busy.retryable(), "{busy}");
        assert!(!c(Kind::Http, Some(400), Some("InvalidBlockList"), "").retryable());
    }
}

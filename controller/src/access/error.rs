//! Why a cluster cannot be reached, in classes a condition can name.

/// A failure to get or use a client for a registered cluster.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AccessError {
    /// The Cluster has neither `spec.gardener` nor `spec.kubeconfig`.
    #[error(
        "cluster {0} has no source (spec.gardener or spec.kubeconfig) (retrying does not help)"
    )]
    NoSource(String),
    #[error(
        "kubeconfig Secret {namespace}/{name} not found (retrying does not help until it is created)"
    )]
    SecretMissing { namespace: String, name: String },
    #[error(
        "kubeconfig Secret {namespace}/{name} has no key {key:?} (retrying does not help until it is added)"
    )]
    KeyMissing {
        namespace: String,
        name: String,
        key: String,
    },
    /// Unparseable, or refused by policy (exec plugins, file references).
    #[error(
        "malformed kubeconfig from {source_name}: {message} (retrying does not help until it is fixed)"
    )]
    MalformedKubeconfig {
        source_name: String,
        message: String,
    },
    #[error(
        "Shoot {namespace}/{name} not found (retrying does not help unless it is being created)"
    )]
    ShootNotFound { namespace: String, name: String },
    /// No answer from the cluster's API server (DNS, connection, TLS, timeout).
    #[error("cluster API server {server} unreachable: {message} (retrying may help)")]
    Unreachable { server: String, message: String },
    /// 401: expired or revoked credentials. Gardener access is refreshed on the next call.
    #[error("cluster API server {server} refused the credentials (401): {message}{}", if *.refreshable { " (retrying may help: the credentials are refreshed)" } else { " (retrying does not help until the kubeconfig is replaced)" })]
    Unauthorized {
        server: String,
        message: String,
        refreshable: bool,
    },
    #[error(
        "cluster API server {server} forbids it (403): {message} (retrying does not help until permissions change)"
    )]
    Forbidden { server: String, message: String },
    /// Any other error answer, of the cluster or of the garden.
    #[error("{what}: {code} {message}{}", if crate::access::error::code_retryable(*.code) { " (retrying may help)" } else { " (retrying does not help)" })]
    Api {
        what: String,
        code: u16,
        message: String,
    },
}

pub(crate) fn code_retryable(code: u16) -> bool {
    code == 429 || code == 408 || code >= 500
}

impl AccessError {
    /// Whether calling again (after a backoff) can succeed without any change.
    pub fn retryable(&self) -> bool {
        match self {
            AccessError::Unreachable { .. } => true,
            AccessError::Unauthorized { refreshable, .. } => *refreshable,
            AccessError::Api { code, .. } => code_retryable(*code),
            _ => false,
        }
    }
}

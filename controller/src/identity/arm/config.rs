//! How the ARM adapter is set up: endpoint, token scope, retries, and the outcome hook for
//! metrics.

use std::sync::Arc;
use std::time::Duration;

/// Token scope of Azure Resource Manager (public cloud; the test stand-in checks this too).
pub const DEFAULT_ARM_SCOPE: &str = "https://management.azure.com/.default";
pub const DEFAULT_ARM_ENDPOINT: &str = "https://management.azure.com";

/// How hard to try before giving up on one call.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// First backoff without Retry-After; doubles per attempt.
    pub base_delay: Duration,
    /// Upper bound of any wait, Retry-After included (a longer one is the next reconcile's job).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

/// Where ARM is and how to call it.
#[derive(Clone, Debug)]
pub struct ArmConfig {
    /// Base URL, default <https://management.azure.com>.
    pub endpoint: String,
    /// Token scope, default `https://management.azure.com/.default` (also for a test endpoint).
    pub scope: String,
    pub retry: RetryPolicy,
}

impl Default for ArmConfig {
    fn default() -> Self {
        Self {
            endpoint: DEFAULT_ARM_ENDPOINT.to_string(),
            scope: DEFAULT_ARM_SCOPE.to_string(),
            retry: RetryPolicy::default(),
        }
    }
}

impl ArmConfig {
    /// The defaults, with the endpoint from `HERBARIUM_ARM_ENDPOINT` when set.
    pub fn from_env() -> Self {
        let mut c = Self::default();
        if let Ok(e) = std::env::var("HERBARIUM_ARM_ENDPOINT")
            && !e.is_empty()
        {
            c.endpoint = e;
        }
        c
    }
}

/// Outcome of one ARM request (each attempt), for metrics: a small fixed set of labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArmOutcome {
    Success,
    NotFound,
    Throttled,
    Conflict,
    ServerError,
    ClientError,
    /// No HTTP answer (connection, TLS, timeout).
    NoAnswer,
    /// No token from Entra ID.
    NoToken,
}

impl ArmOutcome {
    pub fn from_status(status: u16) -> Self {
        match status {
            200..=299 => ArmOutcome::Success,
            404 => ArmOutcome::NotFound,
            429 => ArmOutcome::Throttled,
            409 => ArmOutcome::Conflict,
            500.. => ArmOutcome::ServerError,
            _ => ArmOutcome::ClientError,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ArmOutcome::Success => "success",
            ArmOutcome::NotFound => "not_found",
            ArmOutcome::Throttled => "throttled",
            ArmOutcome::Conflict => "conflict",
            ArmOutcome::ServerError => "server_error",
            ArmOutcome::ClientError => "client_error",
            ArmOutcome::NoAnswer => "no_answer",
            ArmOutcome::NoToken => "no_token",
        }
    }
}

/// Called once per ARM request with its outcome (e.g. to count them in a metric).
pub type ArmObserver = Arc<dyn Fn(ArmOutcome) + Send + Sync>;

//! Errors of identity management. Each says which ARM call failed and whether retrying helps;
//! reconcilers requeue retryable errors quickly and report the others in a condition.

/// A failed identity operation.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum IdentityError {
    /// ARM answered with an error status (after the adapter's own bounded retries).
    #[error("ARM {operation} {resource}: {status} {code}: {message}{}", retry_hint(*.status, code))]
    Arm {
        operation: String,
        resource: String,
        status: u16,
        code: String,
        message: String,
    },
    /// No ARM token: the controller's workload identity (token file, federated credential,
    /// Entra ID) failed.
    #[error(
        "getting an ARM token for {resource}: {message} (retrying may help if Entra ID was unavailable)"
    )]
    Credential { resource: String, message: String },
    /// The request did not get an answer (connection, TLS, timeout).
    #[error("ARM {operation} {resource}: no answer: {message} (retrying may help)")]
    Transport {
        operation: String,
        resource: String,
        message: String,
    },
    /// Writes succeeded but ARM still differs from the plan (someone else changes the identity
    /// at the same time).
    #[error("identity {resource} did not converge, still to do: {remaining} (retrying may help)")]
    NotConverged { resource: String, remaining: String },
    /// ARM answered something this controller cannot read, or the input is unusable.
    #[error("{0} (retrying does not help)")]
    Invalid(String),
}

fn retry_hint(status: u16, code: &str) -> &'static str {
    if status_retryable(status, code) {
        " (retrying may help)"
    } else {
        " (retrying does not help until this is fixed)"
    }
}

/// Throttling, server errors, ARM's conflict for concurrent writes to one identity and Entra ID's
/// replication delay for a just-created principal pass with time; anything else
/// (authorization, bad request, not found) needs a change first.
pub(crate) fn status_retryable(status: u16, code: &str) -> bool {
    status == 429
        || status == 408
        || status >= 500
        || (status == 409 && code.to_ascii_lowercase().contains("concurrent"))
        || (status == 400 && code == "PrincipalNotFound")
}

impl IdentityError {
    /// Whether calling again (after a backoff) can succeed without any change.
    pub fn retryable(&self) -> bool {
        match self {
            IdentityError::Arm { status, code, .. } => status_retryable(*status, code),
            IdentityError::Credential { .. }
            | IdentityError::Transport { .. }
            | IdentityError::NotConverged { .. } => true,
            IdentityError::Invalid(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(status: u16, code: &str) -> IdentityError {
        IdentityError::Arm {
            operation: "PUT".into(),
            resource: "/x".into(),
            status,
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn retryable_table() {
        let cases = [
            (arm(429, "TooManyRequests"), true),
            (arm(500, "InternalServerError"), true),
            (arm(503, "ServiceUnavailable"), true),
            (
                arm(
                    409,
                    "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
                ),
                true,
            ),
            (arm(409, "RoleAssignmentUpdateNotPermitted"), false),
            (arm(400, "PrincipalNotFound"), true),
            (arm(403, "AuthorizationFailed"), false),
            (arm(400, "InvalidResourceName"), false),
            (arm(404, "ResourceGroupNotFound"), false),
            (IdentityError::Invalid("x".into()), false),
        ];
        for (err, want) in cases {
            assert_eq!(err.retryable(), want, "{err}");
            let hint = if want { "may help" } else { "does not help" };
            assert!(err.to_string().contains(hint), "{err}");
        }
    }
}

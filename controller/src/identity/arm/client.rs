//! ARM over an azure_core pipeline: bearer token from an azure_identity credential, JSON in and
//! out, bounded retries of throttling (429 with Retry-After), server errors and ARM's 409 for
//! concurrent writes to one identity. azure_core's own retry is off so that this one place
//! decides what is retried and the final error says whether retrying later helps.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::error::ErrorKind;
use azure_core::http::headers::{HeaderName, RETRY_AFTER};
use azure_core::http::policies::Policy;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, Request, RetryOptions,
    Transport, Url,
};
use serde_json::Value;

use super::config::{ArmObserver, ArmOutcome, RetryPolicy};
use crate::identity::IdentityError;

/// One answer of ARM: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
}

#[derive(Clone)]
pub(crate) struct ArmClient {
    pipeline: Pipeline,
    endpoint: String,
    retry: RetryPolicy,
    pub(crate) observer: Option<ArmObserver>,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("endpoint", &self.endpoint)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl ArmClient {
    pub(crate) fn new(
        endpoint: &str,
        scope: &str,
        credential: Arc<dyn TokenCredential>,
        http: Option<reqwest::Client>,
        retry: RetryPolicy,
    ) -> Self {
        let transport = http.map(|c| Transport::new(Arc::new(c)));
        Self::with_transport(endpoint, scope, credential, transport, retry)
    }

    pub(crate) fn with_transport(
        endpoint: &str,
        scope: &str,
        credential: Arc<dyn TokenCredential>,
        transport: Option<Transport>,
        retry: RetryPolicy,
    ) -> Self {
        let auth: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
            credential,
            [scope.to_string()],
        ));
        let options = ClientOptions {
            retry: RetryOptions::none(),
            transport,
            ..Default::default()
        };
        let pipeline = Pipeline::new(
            Some("herbarium-controller"),
            Some(env!("CARGO_PKG_VERSION")),
            options,
            Vec::new(),
            vec![auth],
            None,
        );
        Self {
            pipeline,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            retry,
            observer: None,
        }
    }

    /// Calls `method` on `path` (a resource ID, optionally with a query) with `api_version`.
    /// Returns 2xx and 404 answers (callers decide what a 404 means); retries the retryable
    /// failures within the policy and turns everything else into an [`IdentityError`].
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<Answer, IdentityError> {
        let raw = if path.contains("api-version=") {
            // A nextLink: ARM already put the api-version in.
            format!("{}{path}", self.endpoint)
        } else {
            let sep = if path.contains('?') { '&' } else { '?' };
            format!("{}{path}{sep}api-version={api_version}", self.endpoint)
        };
        let url =
            Url::parse(&raw).map_err(|e| IdentityError::Invalid(format!("ARM URL {raw}: {e}")))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let (result, retry_after) = self.once(method, &url, path, body).await;
            let retryable = match &result {
                Ok(_) => false,
                Err(e) => e.retryable(),
            };
            if !retryable || last {
                return result;
            }
            let backoff = self.retry.base_delay * 2u32.saturating_pow(attempt - 1);
            let wait = retry_after.unwrap_or(backoff).min(self.retry.max_delay);
            tracing::debug!(%method, path, attempt, ?wait, error = %result.as_ref().err().map(ToString::to_string).unwrap_or_default(), "retrying ARM call");
            tokio::time::sleep(wait).await;
        }
    }

    /// GETs a list and follows its `nextLink`s (only to this endpoint: the bearer token must not
    /// go anywhere else); a 404 is an empty list.
    pub(crate) async fn list(
        &self,
        path: &str,
        api_version: &str,
    ) -> Result<Vec<Value>, IdentityError> {
        const MAX_PAGES: usize = 100;
        let mut items = Vec::new();
        let mut next = path.to_string();
        for _ in 0..MAX_PAGES {
            let answer = self.call(Method::Get, &next, api_version, None).await?;
            if answer.status == 404 {
                return Ok(items);
            }
            if let Some(page) = answer.body["value"].as_array() {
                items.extend(page.iter().cloned());
            }
            match answer.body["nextLink"].as_str().filter(|l| !l.is_empty()) {
                None => return Ok(items),
                Some(link) => match link.strip_prefix(&self.endpoint) {
                    Some(rest) if rest.starts_with('/') => next = rest.to_string(),
                    _ => {
                        return Err(IdentityError::Invalid(format!(
                            "ARM list {path}: nextLink {link} leaves {}",
                            self.endpoint
                        )));
                    }
                },
            }
        }
        Err(IdentityError::Invalid(format!(
            "ARM list {path}: more than {MAX_PAGES} pages"
        )))
    }

    async fn once(
        &self,
        method: Method,
        url: &Url,
        path: &str,
        body: Option<&Value>,
    ) -> (Result<Answer, IdentityError>, Option<Duration>) {
        let mut request = Request::new(url.clone(), method);
        request.insert_header("accept", "application/json");
        if let Some(b) = body {
            request.insert_header("content-type", "application/json");
            request.set_body(b.to_string());
        }
        let options = PipelineSendOptions {
            skip_checks: true,
            ..Default::default()
        };
        let response = match self
            .pipeline
            .send(&Context::new(), &mut request, Some(options))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let err = sdk_error(method, path, &e);
                self.observe(match err {
                    IdentityError::Credential { .. } => ArmOutcome::NoToken,
                    _ => ArmOutcome::NoAnswer,
                });
                return (Err(err), None);
            }
        };
        let status = u16::from(response.status());
        self.observe(ArmOutcome::from_status(status));
        let headers = response.headers();
        let number = |name: &HeaderName| {
            headers
                .get_optional_str(name)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        // Retry-After in seconds (an HTTP date is ignored: the backoff applies), or ARM's
        // millisecond variant.
        let retry_after = number(&HeaderName::from_static("x-ms-retry-after-ms"))
            .map(Duration::from_millis)
            .or_else(|| number(&RETRY_AFTER).map(Duration::from_secs));
        let bytes = response.into_body();
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                Value::String(String::from_utf8_lossy(&bytes).chars().take(500).collect())
            })
        };
        if (200..300).contains(&status) || status == 404 {
            return (Ok(Answer { status, body }), retry_after);
        }
        let code = body["error"]["code"].as_str().unwrap_or("").to_string();
        let message = match body["error"]["message"].as_str() {
            Some(m) => m.to_string(),
            None => body.to_string(),
        };
        let err = IdentityError::Arm {
            operation: method.to_string(),
            resource: path.to_string(),
            status,
            code,
            message,
        };
        (Err(err), retry_after)
    }
}

impl ArmClient {
    fn observe(&self, outcome: ArmOutcome) {
        if let Some(o) = &self.observer {
            o(outcome);
        }
    }
}

/// An error of the SDK (no HTTP answer): token acquisition or transport.
fn sdk_error(method: Method, path: &str, e: &azure_core::Error) -> IdentityError {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    match e.kind() {
        ErrorKind::Credential => IdentityError::Credential {
            resource: path.to_string(),
            message,
        },
        _ => IdentityError::Transport {
            operation: method.to_string(),
            resource: path.to_string(),
            message,
        },
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;

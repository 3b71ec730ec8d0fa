//! The retry and paging rules of [`ArmClient`] against a scripted transport (no network).

use std::collections::VecDeque;
use std::sync::Mutex;

use azure_core::credentials::{AccessToken, TokenRequestOptions};
use azure_core::http::headers::Headers;
use azure_core::http::{AsyncRawResponse, HttpClient, StatusCode};
use serde_json::json;

use super::*;
use crate::identity::arm::DEFAULT_ARM_SCOPE;

/// Status, headers and JSON body of one scripted answer.
type Scripted = (u16, Vec<(&'static str, &'static str)>, Value);

#[derive(Debug, Default)]
struct Script {
    answers: Mutex<VecDeque<Scripted>>,
    seen: Mutex<Vec<(String, Option<String>)>>,
}

#[async_trait::async_trait]
impl HttpClient for Script {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let auth = request
            .headers()
            .get_optional_str(&HeaderName::from_static("authorization"))
            .map(str::to_string);
        self.seen
            .lock()
            .unwrap()
            .push((request.url().to_string(), auth));
        let (status, headers, body) = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("an answer is scripted");
        let mut h = Headers::new();
        for (k, v) in headers {
            h.insert(HeaderName::from_static(k), v);
        }
        let bytes = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        Ok(AsyncRawResponse::from_bytes(
            StatusCode::from(status),
            h,
            bytes,
        ))
    }
}

#[derive(Debug)]
struct FixedToken;

#[async_trait::async_trait]
impl TokenCredential for FixedToken {
    async fn get_token(
        &self,
        scopes: &[&str],
        _: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        assert_eq!(scopes, [DEFAULT_ARM_SCOPE]);
        let expires =
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1);
        Ok(AccessToken::new("token-1", expires))
    }
}

const EP: &str = "https://arm.test";

fn client(answers: Vec<Scripted>, attempts: u32) -> (ArmClient, Arc<Script>) {
    let script = Arc::new(Script {
        answers: Mutex::new(answers.into()),
        ..Default::default()
    });
    let retry = RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(2),
    };
    let transport = Some(Transport::new(script.clone()));
    let c = ArmClient::with_transport(
        EP,
        DEFAULT_ARM_SCOPE,
        Arc::new(FixedToken),
        transport,
        retry,
    );
    (c, script)
}

fn err(code: &str) -> Value {
    json!({"error": {"code": code, "message": "m"}})
}

#[tokio::test]
async fn throttling_is_retried_after_retry_after_with_a_bearer_token() {
    let (c, script) = client(
        vec![
            (429, vec![("retry-after", "1")], err("TooManyRequests")),
            (200, vec![], json!({"ok": true})),
        ],
        3,
    );
    let started = std::time::Instant::now();
    let a = c.call(Method::Get, "/x", "2023-01-31", None).await.unwrap();
    assert_eq!((a.status, a.body["ok"].as_bool()), (200, Some(true)));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let seen = script.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].0, "https://arm.test/x?api-version=2023-01-31");
    assert_eq!(seen[0].1.as_deref(), Some("Bearer token-1"));
}

#[tokio::test]
async fn retries_are_bounded_and_only_for_what_time_heals() {
    let busy = "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity";
    let (c, script) = client(
        vec![
            (503, vec![], Value::Null),
            (409, vec![], err(busy)),
            (500, vec![], Value::Null),
        ],
        3,
    );
    let e = c
        .call(Method::Put, "/x", "v", Some(&json!({})))
        .await
        .unwrap_err();
    assert!(
        e.retryable() && matches!(e, IdentityError::Arm { status: 500, .. }),
        "{e}"
    );
    assert_eq!(script.seen.lock().unwrap().len(), 3, "exactly max_attempts");

    let (c, script) = client(vec![(403, vec![], err("AuthorizationFailed"))], 5);
    let e = c.call(Method::Get, "/x", "v", None).await.unwrap_err();
    assert!(
        !e.retryable() && e.to_string().contains("AuthorizationFailed"),
        "{e}"
    );
    assert_eq!(script.seen.lock().unwrap().len(), 1, "not retried");

    let (c, script) = client(vec![(409, vec![], err("RoleAssignmentExists"))], 5);
    assert!(c.call(Method::Put, "/x", "v", None).await.is_err());
    assert_eq!(
        script.seen.lock().unwrap().len(),
        1,
        "a plain conflict is not retried"
    );

    let (c, _) = client(vec![(404, vec![], err("ResourceNotFound"))], 5);
    assert_eq!(
        c.call(Method::Get, "/x", "v", None).await.unwrap().status,
        404,
        "404 is an answer"
    );
}

#[tokio::test]
async fn lists_follow_next_links_on_the_same_endpoint_only() {
    let (c, script) = client(
        vec![
            (
                200,
                vec![],
                json!({"value": [1, 2], "nextLink": "https://arm.test/x?api-version=v&$skiptoken=a"}),
            ),
            (200, vec![], json!({"value": [3]})),
        ],
        1,
    );
    assert_eq!(
        c.list("/x", "v").await.unwrap(),
        vec![json!(1), json!(2), json!(3)]
    );
    assert_eq!(
        script.seen.lock().unwrap()[1].0,
        "https://arm.test/x?api-version=v&$skiptoken=a"
    );

    let (c, _) = client(
        vec![(
            200,
            vec![],
            json!({"value": [1], "nextLink": "https://elsewhere.test/x"}),
        )],
        1,
    );
    let e = c.list("/x", "v").await.unwrap_err();
    assert!(!e.retryable() && e.to_string().contains("elsewhere"), "{e}");

    let (c, _) = client(vec![(404, vec![], Value::Null)], 1);
    assert!(c.list("/x", "v").await.unwrap().is_empty());
}

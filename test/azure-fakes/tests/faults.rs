//! Injected faults and write conflicts of the ARM stand-in. Faults are process-wide settings of
//! the stand-in, so these tests live in their own test binary: cargo runs test binaries one after
//! another, and each test resets the faults it set before it ends.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

const V: &str = "?api-version=2023-01-31";

/// Sets the stand-in's faults for `target` (`arm` or `blob`); `{}` clears them.
async fn set_faults(target: &str, spec: serde_json::Value) {
    let admin = env().var("HERBARIUM_FAKES_ADMIN");
    let r = http()
        .put(format!("{admin}/faults/{target}"))
        .body(spec.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "setting {target} faults: {}",
        r.status()
    );
}

#[tokio::test]
async fn concurrent_writes_to_one_identity_conflict_and_faults_inject() {
    let t = controller_arm_token().await;
    let name = unique("busy");
    arm(
        Method::PUT,
        &format!("{}{V}", identity_url(&name)),
        Some(&t),
        Some(json!({"location": "westeurope"})),
    )
    .await;
    let set = |spec: serde_json::Value| set_faults("arm", spec);
    set(json!({"writeDurationMs": 800})).await;
    let put = |n: &str| {
        let url = format!(
            "{}/federatedIdentityCredentials/{n}{V}",
            identity_url(&name)
        );
        let body = json!({"properties": {"issuer": "https://example.test/i", "subject": n, "audiences": ["api://AzureADTokenExchange"]}});
        let t = t.clone();
        async move { arm(Method::PUT, &url, Some(&t), Some(body)).await }
    };
    let (a, b) = tokio::join!(put("first"), async {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        put("second").await
    });
    assert_eq!(a.0, 201);
    assert_eq!(
        (b.0, b.1["error"]["code"].as_str()),
        (
            409,
            Some("ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity")
        )
    );

    set(json!({"throttlePercent": 100, "retryAfterSeconds": 7})).await;
    let r = http()
        .get(format!("{}{V}", identity_url(&name)))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    let retry_after = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        (r.status().as_u16(), retry_after.as_deref()),
        (429, Some("7"))
    );
    set(json!({"errorPercent": 50, "errorStatus": 503})).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            arm(
                Method::GET,
                &format!("{}{V}", identity_url(&name)),
                Some(&t),
                None,
            )
            .await
            .0,
        );
    }
    set(json!({})).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 503).count(),
        2,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn blob_proxy_refuses_anonymous_calls_and_injects_server_busy() {
    let url = format!(
        "{}/{}?restype=container",
        env().var("HERBARIUM_BLOB_ENDPOINT"),
        unique("anon")
    );
    let r = http()
        .put(&url)
        .header("x-ms-version", "2025-11-05")
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    let code = r
        .headers()
        .get("x-ms-error-code")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        (r.status().as_u16(), code.as_deref()),
        (401, Some("NoAuthenticationInformation"))
    );
    assert!(r.headers().contains_key("www-authenticate"));

    let set = |spec: serde_json::Value| set_faults("blob", spec);
    set(json!({"errorPercent": 100})).await;
    let r = http().get(&url).send().await.unwrap();
    set(json!({})).await;
    let code = r
        .headers()
        .get("x-ms-error-code")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        (r.status().as_u16(), code.as_deref()),
        (503, Some("ServerBusy"))
    );
}

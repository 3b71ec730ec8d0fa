//! ARM stand-in behaviour through plain HTTP: authentication, api-version, authorization, the
//! real service's limits and conflicts, and injected faults.

mod common;

use common::*;
use reqwest::Method;
use serde_json::json;

const V: &str = "?api-version=2023-01-31";

#[tokio::test]
async fn requires_api_version_and_bearer() {
    let url = identity_url("whatever");
    let (s, b) = arm(Method::GET, &url, None, None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("MissingApiVersionParameter"))
    );
    let (s, b) = arm(
        Method::GET,
        &format!("{url}?api-version=2018-11-30"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("InvalidApiVersionParameter"))
    );
    let (s, b) = arm(Method::GET, &format!("{url}{V}"), None, None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("AuthenticationFailed"))
    );
    let (s, b) = arm(Method::GET, &format!("{url}{V}"), Some("not-a-token"), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationToken"))
    );
    // A storage token is not an ARM token.
    let op = mint("garden", &["--subject", OPERATOR_SUBJECT]);
    let storage = access_token(
        env().var("HERBARIUM_TEST_OPERATOR_CLIENT_ID"),
        &op,
        STORAGE_SCOPE,
    )
    .await;
    let (s, b) = arm(Method::GET, &format!("{url}{V}"), Some(&storage), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationTokenAudience"))
    );
}

#[tokio::test]
async fn caller_without_a_role_gets_authorization_failed() {
    let op = mint("garden", &["--subject", OPERATOR_SUBJECT]);
    let token = access_token(
        env().var("HERBARIUM_TEST_OPERATOR_CLIENT_ID"),
        &op,
        ARM_SCOPE,
    )
    .await;
    let (s, b) = arm(
        Method::PUT,
        &format!("{}{V}", identity_url(&unique("x"))),
        Some(&token),
        Some(json!({"location": "westeurope"})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("AuthorizationFailed")),
        "{b}"
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("userAssignedIdentities/write")
    );
}

#[tokio::test]
async fn identity_lifecycle_and_name_rules() {
    let t = controller_arm_token().await;
    let name = unique("life");
    let url = format!("{}{V}", identity_url(&name));
    let (s, b) = arm(
        Method::PUT,
        &url,
        Some(&t),
        Some(json!({"location": "westeurope"})),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert!(b["properties"]["clientId"].is_string() && b["properties"]["principalId"].is_string());
    let (s, _) = arm(
        Method::PUT,
        &url,
        Some(&t),
        Some(json!({"location": "westeurope", "tags": {"a": "b"}})),
    )
    .await;
    assert_eq!(s, 200);
    let (s, b) = arm(Method::GET, &url, Some(&t), None).await;
    assert_eq!((s, b["tags"]["a"].as_str()), (200, Some("b")));
    let (s, b) = arm(
        Method::GET,
        &format!(
            "{}{V}",
            rg_url("/providers/Microsoft.ManagedIdentity/userAssignedIdentities")
        ),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        b["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == name.as_str())
    );
    let (s, b) = arm(Method::PUT, &url, Some(&t), Some(json!({}))).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("LocationRequired"))
    );
    let (s, b) = arm(
        Method::PUT,
        &format!("{}{V}", identity_url("a.b")),
        Some(&t),
        Some(json!({"location": "westeurope"})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("InvalidResourceName"))
    );

    let fic = format!(
        "{}/federatedIdentityCredentials/one{V}",
        identity_url(&name)
    );
    let body = |aud: serde_json::Value| json!({"properties": {"issuer": "https://example.test/i", "subject": "s", "audiences": aud}});
    let (s, _) = arm(Method::PUT, &fic, Some(&t), Some(body(json!(["a", "b"])))).await;
    assert_eq!(s, 400, "two audiences are refused");
    let (s, _) = arm(
        Method::PUT,
        &fic,
        Some(&t),
        Some(body(json!(["api://AzureADTokenExchange"]))),
    )
    .await;
    assert_eq!(s, 201);
    let dup = format!(
        "{}/federatedIdentityCredentials/two{V}",
        identity_url(&name)
    );
    let (s, b) = arm(
        Method::PUT,
        &dup,
        Some(&t),
        Some(body(json!(["api://AzureADTokenExchange"]))),
    )
    .await;
    assert_eq!(s, 400, "same issuer and subject under another name: {b}");

    let (s, _) = arm(Method::DELETE, &url, Some(&t), None).await;
    assert_eq!(s, 200);
    let (s, _) = arm(Method::GET, &fic, Some(&t), None).await;
    assert_eq!(s, 404, "the credential went with its identity");
    let (s, _) = arm(Method::DELETE, &url, Some(&t), None).await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn at_most_twenty_credentials_per_identity() {
    let t = controller_arm_token().await;
    let name = unique("many");
    arm(
        Method::PUT,
        &format!("{}{V}", identity_url(&name)),
        Some(&t),
        Some(json!({"location": "westeurope"})),
    )
    .await;
    for i in 0..21 {
        let url = format!(
            "{}/federatedIdentityCredentials/fic-{i}{V}",
            identity_url(&name)
        );
        let body = json!({"properties": {"issuer": "https://example.test/i", "subject": format!("s{i}"), "audiences": ["api://AzureADTokenExchange"]}});
        let (s, b) = arm(Method::PUT, &url, Some(&t), Some(body)).await;
        assert_eq!(s, if i < 20 { 201 } else { 400 }, "credential {i}: {b}");
    }
}

#[tokio::test]
async fn role_assignment_rules() {
    let t = controller_arm_token().await;
    let (_, principal) = identity_for(&t, &unique("ra"), "cluster-1").await;
    let e = env();
    let url = |scope: &str, name: &str| {
        format!(
            "{}{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01",
            e.var("HERBARIUM_ARM_ENDPOINT")
        )
    };
    let role = format!(
        "/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe",
        e.var("HERBARIUM_SUBSCRIPTION_ID")
    );
    let body = |p: &str| json!({"properties": {"roleDefinitionId": role, "principalId": p, "principalType": "ServicePrincipal"}});
    let scope = format!(
        "{}/blobServices/default/containers/{}",
        account_scope(),
        unique("c")
    );
    let (s, b) = arm(
        Method::PUT,
        &url(&scope, "not-a-guid"),
        Some(&t),
        Some(body(&principal)),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("InvalidRoleAssignmentId"))
    );
    let ghost = uuid::Uuid::new_v4().to_string();
    let (s, b) = arm(
        Method::PUT,
        &url(&scope, &uuid::Uuid::new_v4().to_string()),
        Some(&t),
        Some(body(&ghost)),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("PrincipalNotFound"))
    );
    let name = uuid::Uuid::new_v4().to_string();
    let (s, b) = arm(
        Method::PUT,
        &url(&scope, &name),
        Some(&t),
        Some(body(&principal)),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        b["properties"]["principalId"].as_str(),
        Some(principal.as_str())
    );
    let (s, b) = arm(
        Method::PUT,
        &url(&scope, &uuid::Uuid::new_v4().to_string()),
        Some(&t),
        Some(body(&principal)),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("RoleAssignmentExists"))
    );
    let (s, _) = arm(Method::GET, &url(&scope, &name), Some(&t), None).await;
    assert_eq!(s, 200);
    let (s, _) = arm(
        Method::GET,
        &url(&scope, &name).replace("2022-04-01", "2023-01-31"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(s, 400);
    let (s, _) = arm(Method::DELETE, &url(&scope, &name), Some(&t), None).await;
    assert_eq!(s, 200);
    let (s, b) = arm(Method::GET, &url(&scope, &name), Some(&t), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("RoleAssignmentNotFound"))
    );
}

#[tokio::test]
async fn rotated_issuer_needs_a_new_credential() {
    let t = controller_arm_token().await;
    let (client_id, _) = identity_for(&t, &unique("rot"), "cluster-2").await;
    let before = mint("cluster-2", &[]);
    let (s, _) = token_request(&client_id, &before, STORAGE_SCOPE).await;
    assert_eq!(s, 200);
    let out = std::process::Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../hack/rotate-issuer.sh"
    ))
    .args([
        "--dir",
        env().dir.to_str().unwrap(),
        "--cluster",
        "cluster-2",
    ])
    .output()
    .unwrap();
    assert!(out.status.success());
    let (s, b) = token_request(&client_id, &mint("cluster-2", &[]), STORAGE_SCOPE).await;
    assert_eq!(s, 401, "{b}");
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700211")
    );
    let (s, b) = token_request(
        &client_id,
        &mint("cluster-2", &["--ttl", "-10"]),
        STORAGE_SCOPE,
    )
    .await;
    assert!(
        s == 401 && b["error_codes"][0] == 700024,
        "expired assertion: {b}"
    );
}

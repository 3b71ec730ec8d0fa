//! LocationAccess validation through the real identity chain (token file → Entra stand-in →
//! blob authorization proxy → Azurite): one test per reason.

mod common;

use std::sync::Arc;

use common::*;
use herbarium_agent::validate;
use herbarium_api::agent::{LocationAccess, LocationAccessSpec};
use herbarium_api::garden::{ValidationReason, ValidationState};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};

/// Creates the LocationAccess, reconciles it once, and returns it as stored afterwards.
async fn validate_once(
    spec: LocationAccessSpec,
    settings: herbarium_agent::store::AzureSettings,
) -> (
    LocationAccess,
    Api<LocationAccess>,
    Arc<herbarium_agent::context::Context<RecordingStores>>,
) {
    let client = cluster_client().await;
    let ns = herbarium_test_support::unique_namespace(&client, "agent-la")
        .await
        .unwrap();
    let api: Api<LocationAccess> = Api::namespaced(client.clone(), &ns);
    let la = api
        .create(&PostParams::default(), &LocationAccess::new("loc", spec))
        .await
        .unwrap();
    let (ctx, _) = context(client, &ns, settings);
    validate::reconcile(Arc::new(la), ctx.clone())
        .await
        .expect("reconcile");
    (api.get("loc").await.unwrap(), api, ctx)
}

fn reason(la: &LocationAccess) -> (ValidationReason, String) {
    let s = la.status.as_ref().expect("status written");
    (
        s.reason.expect("reason"),
        s.message.clone().unwrap_or_default(),
    )
}

#[tokio::test]
async fn valid_then_revalidates_only_on_change() {
    let c = container().await;
    let settings = agent_with_role(&c).await;
    let (la, api, ctx) =
        validate_once(location_spec(&c, &var("HERBARIUM_BLOB_ENDPOINT")), settings).await;
    assert_eq!(reason(&la), (ValidationReason::Valid, String::new()));
    let status = la.status.clone().unwrap();
    assert_eq!(status.state, ValidationState::Valid);
    assert_eq!(status.observed_generation, la.metadata.generation);
    assert!(status.last_validated.is_some());

    // Nothing changed: no status write (the resourceVersion stays).
    validate::reconcile(Arc::new(la.clone()), ctx.clone())
        .await
        .unwrap();
    let again = api.get("loc").await.unwrap();
    assert_eq!(again.resource_version(), la.resource_version());

    // A new validate request is served and recorded.
    let patch = serde_json::json!({"spec": {"validateRequest": "2026-01-01T00:00:00Z"}});
    let la = api
        .patch("loc", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    validate::reconcile(Arc::new(la), ctx).await.unwrap();
    let served = api.get("loc").await.unwrap().status.unwrap();
    assert_eq!(
        served.last_validate_request.as_deref(),
        Some("2026-01-01T00:00:00Z")
    );
    assert_eq!(served.reason, Some(ValidationReason::Valid));
}

#[tokio::test]
async fn missing_token_file_is_authentication_failed_naming_the_file() {
    let c = container().await;
    let (client_id, _) = identity(Some("cluster-1")).await;
    let missing = herbarium_test_support::env().dir.join("no-such-token");
    let (la, _, _) = validate_once(
        location_spec(&c, &var("HERBARIUM_BLOB_ENDPOINT")),
        settings(&client_id, missing.clone()),
    )
    .await;
    let (r, message) = reason(&la);
    assert_eq!(r, ValidationReason::AuthenticationFailed);
    assert!(
        message.contains(missing.to_str().unwrap())
            && message.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{message}"
    );
    assert_eq!(la.status.unwrap().state, ValidationState::Failed);
}

#[tokio::test]
async fn no_federated_credential_is_authentication_failed_with_the_aadsts_code() {
    let c = container().await;
    let (client_id, _) = identity(None).await;
    let (la, _, _) = validate_once(
        location_spec(&c, &var("HERBARIUM_BLOB_ENDPOINT")),
        settings(&client_id, token_file("cluster-1")),
    )
    .await;
    let (r, message) = reason(&la);
    assert_eq!(r, ValidationReason::AuthenticationFailed);
    assert!(message.contains("AADSTS70021"), "{message}");
}

#[tokio::test]
async fn unknown_client_is_authentication_failed_naming_the_client_id() {
    let c = container().await;
    let unknown = "00000000-0000-4000-8000-00000000dead";
    let (la, _, _) = validate_once(
        location_spec(&c, &var("HERBARIUM_BLOB_ENDPOINT")),
        settings(unknown, token_file("cluster-1")),
    )
    .await;
    let (r, message) = reason(&la);
    assert_eq!(r, ValidationReason::AuthenticationFailed);
    assert!(
        message.contains("AADSTS700016") && message.contains("AZURE_CLIENT_ID"),
        "{message}"
    );
}

#[tokio::test]
async fn no_role_is_authorization_failed_naming_the_role() {
    let c = container().await;
    let (client_id, _) = identity(Some("cluster-1")).await;
    let (la, _, _) = validate_once(
        location_spec(&c, &var("HERBARIUM_BLOB_ENDPOINT")),
        settings(&client_id, token_file("cluster-1")),
    )
    .await;
    let (r, message) = reason(&la);
    assert_eq!(r, ValidationReason::AuthorizationFailed);
    assert!(
        message.contains("Storage Blob Data Contributor"),
        "{message}"
    );
    // The service's own words come along.
    assert!(message.contains("is not authorized"), "{message}");
}

#[tokio::test]
async fn missing_container_is_container_not_found() {
    let (client_id, principal) = identity(Some("cluster-1")).await;
    // The role on the whole account, so that only the container's absence is in the way.
    grant(&account_scope(), &principal).await;
    let (la, _, _) = validate_once(
        location_spec(&unique("gone"), &var("HERBARIUM_BLOB_ENDPOINT")),
        settings(&client_id, token_file("cluster-1")),
    )
    .await;
    let (r, message) = reason(&la);
    assert_eq!(r, ValidationReason::ContainerNotFound, "{message}");
    assert!(message.contains("container does not exist"), "{message}");
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn unreachable_entra_is_network_error_not_authentication() {
    let c = container().await;
    let mut settings = agent_with_role(&c).await;
    settings.authority_host = format!("https://127.0.0.1:{}/", closed_port());
    let (la, _, _) =
        validate_once(location_spec(&c, &var("HERBARIUM_BLOB_ENDPOINT")), settings).await;
    let (r, message) = reason(&la);
    assert_eq!(r, ValidationReason::NetworkError, "{message}");
    assert!(
        message.contains("Entra ID") && message.contains("retried"),
        "{message}"
    );
}

#[tokio::test]
async fn closed_port_is_network_error() {
    let port = closed_port();
    let c = container().await;
    let settings = agent_with_role(&c).await;
    let endpoint = format!("https://127.0.0.1:{port}/devstoreaccount1");
    let (la, _, _) = validate_once(location_spec(&c, &endpoint), settings).await;
    let (r, message) = reason(&la);
    assert_eq!(r, ValidationReason::NetworkError, "{message}");
}

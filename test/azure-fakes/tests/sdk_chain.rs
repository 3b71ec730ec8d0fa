//! The whole chain with the real Azure SDK: a cluster's service-account token in a file →
//! azure_identity::WorkloadIdentityCredential → token stand-in → authorization proxy → Azurite.

mod common;

use std::sync::Arc;

use azure_core::{
    cloud::{CloudConfiguration, CustomConfiguration},
    credentials::TokenCredential,
    http::{ClientOptions, Transport},
};
use azure_identity::{
    ClientAssertionCredentialOptions, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use common::*;
use futures::TryStreamExt;

fn client_options() -> ClientOptions {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = env().var("AZURE_AUTHORITY_HOST").to_string();
    ClientOptions {
        transport: Some(Transport::new(Arc::new(http()))),
        cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
        ..Default::default()
    }
}

/// A WorkloadIdentityCredential reading `token` from a file, as in an agent pod.
fn credential(client_id: &str, token: &str) -> Arc<dyn TokenCredential> {
    let file = env().dir.join(format!("token-{}", uuid::Uuid::new_v4()));
    std::fs::write(&file, token).unwrap();
    WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
        credential_options: ClientAssertionCredentialOptions {
            client_options: client_options(),
        },
        client_id: Some(client_id.to_string()),
        tenant_id: Some(env().var("AZURE_TENANT_ID").to_string()),
        token_file_path: Some(file),
    }))
    .expect("building WorkloadIdentityCredential")
}

fn container(name: &str, cred: Arc<dyn TokenCredential>) -> BlobContainerClient {
    let url = format!("{}/{name}", env().var("HERBARIUM_BLOB_ENDPOINT"));
    let options = BlobContainerClientOptions {
        client_options: client_options(),
        ..Default::default()
    };
    BlobContainerClient::new(url.parse().unwrap(), Some(cred), Some(options)).unwrap()
}

fn operator() -> Arc<dyn TokenCredential> {
    credential(
        env().var("HERBARIUM_TEST_OPERATOR_CLIENT_ID"),
        &mint("garden", &["--subject", OPERATOR_SUBJECT]),
    )
}

#[tokio::test]
async fn agent_uploads_lists_downloads_and_deletes_through_the_proxy() {
    let name = unique("chain");
    container(&name, operator())
        .create(None)
        .await
        .expect("operator creates the container");

    let arm = controller_arm_token().await;
    let (client_id, principal) = identity_for(&arm, &unique("agent"), "cluster-1").await;
    grant_blob_contributor(
        &arm,
        &format!("{}/blobServices/default/containers/{name}", account_scope()),
        &principal,
    )
    .await;

    let agent = container(&name, credential(&client_id, &mint("cluster-1", &[])));
    let data: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let blob = agent.blob_client("backups/one/resources.tar.zst");
    blob.upload(azure_core::Bytes::from(data.clone()).into(), None)
        .await
        .expect("upload 5 MiB");

    let mut names = Vec::new();
    let mut pager = agent.list_blobs(None).unwrap();
    while let Some(item) = pager.try_next().await.expect("listing") {
        names.push(item.name.unwrap_or_default());
    }
    assert_eq!(names, ["backups/one/resources.tar.zst"]);

    let mut buf = vec![0u8; data.len()];
    let got = blob.download_into(&mut buf, None).await.expect("download");
    assert_eq!(got.len, data.len());
    assert!(
        buf == data,
        "downloaded bytes differ from the uploaded ones"
    );

    blob.delete(None).await.expect("delete");
    assert!(!blob.exists().await.unwrap());
}

fn error_text(err: azure_core::Error) -> String {
    format!("{err:?} {err}")
}

#[tokio::test]
async fn no_federated_credential_is_refused_with_aadsts70021() {
    let arm = controller_arm_token().await;
    let url = format!("{}?api-version=2024-11-30", identity_url(&unique("bare")));
    let (_, body) = arm_put(&arm, &url).await;
    let client_id = body["properties"]["clientId"].as_str().unwrap();
    let err = credential(client_id, &mint("cluster-1", &[]))
        .get_token(&[STORAGE_SCOPE], None)
        .await
        .expect_err("no credential: no token");
    assert!(error_text(err).contains("AADSTS70021"));
}

async fn arm_put(token: &str, url: &str) -> (u16, serde_json::Value) {
    arm(
        reqwest::Method::PUT,
        url,
        Some(token),
        Some(serde_json::json!({"location": "westeurope"})),
    )
    .await
}

#[tokio::test]
async fn wrong_subject_or_issuer_is_refused() {
    let arm = controller_arm_token().await;
    let (client_id, _) = identity_for(&arm, &unique("agent"), "cluster-1").await;
    let other_subject = mint(
        "cluster-1",
        &["--subject", "system:serviceaccount:default:intruder"],
    );
    let err = credential(&client_id, &other_subject)
        .get_token(&[STORAGE_SCOPE], None)
        .await
        .unwrap_err();
    assert!(error_text(err).contains("AADSTS700213"));
    let other_cluster = mint("cluster-2", &[]);
    let err = credential(&client_id, &other_cluster)
        .get_token(&[STORAGE_SCOPE], None)
        .await
        .unwrap_err();
    assert!(error_text(err).contains("AADSTS700211"));
}

#[tokio::test]
async fn no_role_assignment_is_refused_with_authorization_permission_mismatch() {
    let name = unique("norole");
    container(&name, operator()).create(None).await.unwrap();
    let arm = controller_arm_token().await;
    let (client_id, _) = identity_for(&arm, &unique("agent"), "cluster-2").await;
    let agent = container(&name, credential(&client_id, &mint("cluster-2", &[])));
    let err = agent
        .blob_client("x")
        .upload(azure_core::Bytes::from_static(b"x").into(), None)
        .await
        .expect_err("no role: no upload");
    assert!(error_text(err).contains("AuthorizationPermissionMismatch"));
}

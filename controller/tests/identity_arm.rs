//! The ARM identity provider against the environment's ARM and Entra ID stand-ins.

mod common;

use common::*;
use herbarium_controller::identity::arm::RetryPolicy;
use herbarium_controller::identity::{IdentityError, IdentityProvider, names};
use herbarium_test_support::azure;

/// Exchanges a token of `cluster`'s agent for a storage token as the agent would.
async fn agent_token_status(cluster: &str, client_id: &str) -> (u16, String) {
    let a = azure();
    let assertion = a.mint(cluster, &[]);
    let url = format!(
        "{}{}/oauth2/v2.0/token",
        a.var("AZURE_AUTHORITY_HOST"),
        a.var("AZURE_TENANT_ID")
    );
    let form = format!(
        "grant_type=client_credentials&client_id={client_id}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}&scope=https%3A%2F%2Fstorage.azure.com%2F.default"
    );
    let r = a
        .http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn ensure_is_idempotent_follows_the_issuer_and_scopes_and_delete_leaves_nothing() {
    let arm = provider(RetryPolicy::default());
    let cluster = unique_cluster("idem");
    let issuer = azure().mint("cluster-1", &["--print-issuer"]);
    let (c1, c2) = (container_scope("idem-c1"), container_scope("idem-c2"));

    let first = arm
        .ensure(&desired(&cluster, &issuer, std::slice::from_ref(&c1)))
        .await
        .expect("first ensure");
    let again = arm
        .ensure(&desired(&cluster, &issuer, std::slice::from_ref(&c1)))
        .await
        .expect("second ensure");
    assert_eq!(first, again, "ensure twice gives the same identity");
    assert_eq!(first.name, names::identity_name(&cluster));
    assert_eq!(first.subject, herbarium_api::constants::AGENT_SUBJECT);
    let h = held(&cluster, &first.principal_id).await;
    assert_eq!(
        h.identities,
        vec![(first.name.clone(), vec![issuer.clone()])]
    );
    assert_eq!(h.assignment_scopes, vec![c1.clone()]);

    // What was created works: the agent of cluster-1 gets a storage token.
    let (status, body) = agent_token_status("cluster-1", &first.client_id).await;
    assert_eq!(status, 200, "agent token exchange: {body}");

    // A re-created shoot: new issuer → new credential, the old one gone; scopes follow.
    let new_issuer = format!("{issuer}-recreated");
    let moved = arm
        .ensure(&desired(&cluster, &new_issuer, std::slice::from_ref(&c2)))
        .await
        .expect("ensure with the new issuer");
    assert_eq!(moved.client_id, first.client_id, "same identity");
    assert_ne!(
        moved.federated_credential_name,
        first.federated_credential_name
    );
    let h = held(&cluster, &first.principal_id).await;
    assert_eq!(h.identities, vec![(first.name.clone(), vec![new_issuer])]);
    assert_eq!(h.assignment_scopes, vec![c2.clone()]);
    let (status, _) = agent_token_status("cluster-1", &first.client_id).await;
    assert_eq!(status, 401, "the old issuer is no longer trusted");

    arm.delete(&target(), &cluster).await.expect("delete");
    let h = held(&cluster, &first.principal_id).await;
    assert!(
        h.identities.is_empty() && h.assignment_scopes.is_empty(),
        "{h:?}"
    );
    arm.delete(&target(), &cluster).await.expect("delete again");
}

#[tokio::test]
async fn refusals_are_clear_and_not_retryable() {
    let arm = provider(RetryPolicy::default());
    let cluster = unique_cluster("refused");
    let mut d = desired(&cluster, "http://not-https.example", &[]);
    let err = arm.ensure(&d).await.unwrap_err();
    assert!(!err.retryable(), "{err}");
    d.issuer = "https://issuer.example/x".into();
    d.target.resource_group = "no-such-group".into();
    let err = arm.ensure(&d).await.unwrap_err();
    match &err {
        IdentityError::Arm { status, code, .. } => {
            // The controller holds no role on that group, so ARM answers 403 before 404.
            assert_eq!(
                (*status, code.as_str()),
                (403, "AuthorizationFailed"),
                "{err}"
            )
        }
        other => panic!("expected an ARM error, got {other}"),
    }
    assert!(!err.retryable(), "{err}");
    assert!(err.to_string().contains("does not help"), "{err}");
}

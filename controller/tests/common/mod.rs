//! Shared by the controller's integration tests: the controller's ARM provider built the way
//! production builds it (workload identity, extra CA), against the environment's stand-ins.
#![allow(dead_code)]

use herbarium_controller::identity::arm::{
    ArmConfig, ArmIdentities, RetryPolicy, WorkloadIdentityOptions, workload_identity_credential,
};
use herbarium_controller::identity::{AzureTarget, ClusterKey, DesiredIdentity, names};
use herbarium_test_support::azure;

pub const CONTROLLER_SUBJECT: &str = "system:serviceaccount:herbarium-system:herbarium-controller";

/// The controller's HTTP client: system roots plus the environment CA.
pub fn http() -> reqwest::Client {
    let ca = azure().var("HERBARIUM_CA_FILE");
    herbarium_controller::tls::http_client(Some(std::path::Path::new(ca))).expect("HTTP client")
}

pub fn provider(retry: RetryPolicy) -> ArmIdentities {
    let a = azure();
    let credential = workload_identity_credential(WorkloadIdentityOptions {
        client_id: Some(a.var("HERBARIUM_CONTROLLER_CLIENT_ID").into()),
        tenant_id: Some(a.var("AZURE_TENANT_ID").into()),
        token_file: Some(a.token_file("garden", CONTROLLER_SUBJECT)),
        authority_host: Some(a.var("AZURE_AUTHORITY_HOST").into()),
        http: Some(http()),
    })
    .expect("controller credential");
    let config = ArmConfig {
        endpoint: a.var("HERBARIUM_ARM_ENDPOINT").into(),
        retry,
        ..ArmConfig::default()
    };
    ArmIdentities::new(config, credential, Some(http()))
}

pub fn target() -> AzureTarget {
    let a = azure();
    AzureTarget {
        subscription_id: a.var("HERBARIUM_SUBSCRIPTION_ID").into(),
        resource_group: a.var("HERBARIUM_RESOURCE_GROUP").into(),
        location: "westeurope".into(),
    }
}

pub fn unique_cluster(prefix: &str) -> ClusterKey {
    let uid = uuid::Uuid::new_v4().to_string();
    ClusterKey {
        namespace: "garden-test".into(),
        name: format!("{prefix}-{}", &uid[..8]),
        uid,
    }
}

pub fn container_scope(container: &str) -> String {
    let t = target();
    names::container_scope(
        &t.subscription_id,
        &t.resource_group,
        azure().var("HERBARIUM_STORAGE_ACCOUNT"),
        container,
    )
}

pub fn desired(cluster: &ClusterKey, issuer: &str, scopes: &[String]) -> DesiredIdentity {
    DesiredIdentity {
        target: target(),
        cluster: cluster.clone(),
        issuer: issuer.into(),
        role_scopes: scopes.to_vec(),
    }
}

/// What the ARM stand-in holds for the identities tagged with this cluster's UID.
#[derive(Debug)]
pub struct Held {
    /// (identity name, credential issuers)
    pub identities: Vec<(String, Vec<String>)>,
    /// scopes of role assignments of those principals (and of `principal`)
    pub assignment_scopes: Vec<String>,
}

pub async fn held(cluster: &ClusterKey, principal: &str) -> Held {
    let state = azure().arm_state().await;
    let mut identities = Vec::new();
    let mut principals = vec![principal.to_lowercase()];
    for i in state["identities"].as_object().unwrap().values() {
        if i["tags"][names::TAG_CLUSTER_UID] != cluster.uid.as_str() {
            continue;
        }
        let mut issuers: Vec<String> = i["federated_credentials"]
            .as_object()
            .unwrap()
            .values()
            .map(|c| c["issuer"].as_str().unwrap().to_string())
            .collect();
        issuers.sort();
        identities.push((i["name"].as_str().unwrap().to_string(), issuers));
        principals.push(i["principal_id"].as_str().unwrap().to_lowercase());
    }
    let mut assignment_scopes: Vec<String> = state["role_assignments"]
        .as_object()
        .unwrap()
        .values()
        .filter(|a| principals.contains(&a["principal_id"].as_str().unwrap().to_lowercase()))
        .map(|a| a["scope"].as_str().unwrap().to_string())
        .collect();
    assignment_scopes.sort();
    Held {
        identities,
        assignment_scopes,
    }
}

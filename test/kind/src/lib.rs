//! Helpers of the end-to-end suite and of the demo and benchmark drivers: the real binaries as
//! host processes ([`procs`]) and the steps of a landscape's life on the local environment.

pub mod procs;

use std::collections::BTreeMap;
use std::time::Duration;

use herbarium_api::constants::{AGENT_NAME, AGENT_NAMESPACE, AGENT_SUBJECT};
use herbarium_api::garden::Cluster;
use herbarium_api::gardener::Shoot;
use herbarium_test_support::{azure, env, wait_for};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use procs::{Proc, agent};

/// How long a step of the local landscape may take.
pub const WAIT: Duration = Duration::from_secs(120);

pub async fn phase(clusters: &Api<Cluster>, name: &str) -> Option<String> {
    let s = clusters.get_opt(name).await.ok()??.status?;
    s.phase.map(|p| format!("{p:?}"))
}

pub async fn wait_phase(clusters: &Api<Cluster>, name: &str, want: &str) {
    let waited = wait_for(&format!("Cluster {name} to be {want}"), WAIT, || async {
        (phase(clusters, name).await.as_deref() == Some(want)).then_some(())
    })
    .await;
    if let Err(e) = waited {
        let status = clusters.get(name).await.ok().and_then(|c| c.status);
        panic!("{e}; its status: {status:?}");
    }
}

/// Identities in the ARM stand-in tagged for `namespace/name`.
pub async fn identities_of(namespace: &str, name: &str) -> Vec<serde_json::Value> {
    let state = azure().arm_state().await;
    let all = state["identities"].as_object().cloned().unwrap_or_default();
    all.into_values()
        .filter(|i| {
            i["tags"]["herbarium.io-cluster-namespace"] == namespace
                && i["tags"]["herbarium.io-cluster-name"] == name
        })
        .collect()
}

pub async fn shoot(garden: &Client, ns: &str, name: &str, cluster: &str) {
    let issuer = azure().mint(cluster, &["--print-issuer"]);
    let shoot: Shoot = serde_json::from_value(json!({
        "apiVersion": "core.gardener.cloud/v1beta1", "kind": "Shoot",
        "metadata": {"name": name, "annotations": {
            "herbarium.io/backup": "enabled",
            "authentication.gardener.cloud/issuer": "managed",
            "test.herbarium.io/cluster": cluster}},
        "spec": {}
    }))
    .unwrap();
    let api: Api<Shoot> = Api::namespaced(garden.clone(), ns);
    api.create(&PostParams::default(), &shoot).await.unwrap();
    let status = json!({"status": {"advertisedAddresses": [{"name": "service-account-issuer", "url": issuer}]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

/// Waits for the controller to have created the cluster's identity and installed the agent,
/// then starts the agent as its pod would run.
pub async fn start_agent(clusters: &Api<Cluster>, name: &str, index: usize) -> Proc {
    let client_id = wait_for(&format!("the identity of {name}"), WAIT, || async {
        let c = clusters.get(name).await.ok()?;
        let deployed = c
            .status
            .as_ref()?
            .conditions
            .iter()
            .any(|c| c.type_ == "AgentDeployed" && c.status == "True");
        deployed
            .then(|| c.status?.identity.map(|i| i.client_id))
            .flatten()
    })
    .await
    .unwrap();
    let cluster = &env().clusters[index];
    let deployment: Deployment = Api::namespaced(cluster.client().await.unwrap(), AGENT_NAMESPACE)
        .get(AGENT_NAME)
        .await
        .unwrap();
    let env_in_pod: BTreeMap<String, String> =
        deployment.spec.unwrap().template.spec.unwrap().containers[0]
            .env
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|e| Some((e.name, e.value?)))
            .collect();
    assert_eq!(
        env_in_pod.get("AZURE_CLIENT_ID"),
        Some(&client_id),
        "the pod gets the cluster's own client ID"
    );
    agent(
        &cluster.name,
        &cluster.kubeconfig,
        &client_id,
        azure().token_file(&cluster.name, AGENT_SUBJECT),
    )
}

/// Earlier runs against the same environment left Shoots mapped to the same local clusters;
/// their configs go, so their Clusters turn Unmanaged and stop installing their agents.
pub async fn forget_earlier_runs(garden: &Client) {
    let configs: Api<herbarium_api::garden::DiscoveryConfig> = Api::all(garden.clone());
    for c in configs.list(&Default::default()).await.unwrap() {
        if c.name_any().starts_with("e2e-") {
            let _ = configs
                .delete(&c.name_any(), &DeleteParams::default())
                .await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
}

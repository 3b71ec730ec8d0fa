//! Installing the agent into a local cluster: the objects and their fields, re-install as reads
//! only, repair of deleted and (forced) edited objects, pruning of another version's objects.

use std::collections::BTreeMap;
use std::time::Duration;

use herbarium_controller::agent_install::{
    AgentSpec, FEDERATED_TOKEN_FILE, InstallReport, apply, install, manifests,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, Resource};

use herbarium_test_support::env;

const NS: &str = "herbarium-system";

fn spec(version: &str) -> AgentSpec {
    AgentSpec {
        image: format!("registry.example/herbarium-agent:{version}"),
        image_pull_policy: None,
        version: version.into(),
        client_id: "00000000-0000-0000-0000-00000000c1d0".into(),
        tenant_id: "00000000-0000-0000-0000-0000000007e0".into(),
        authority_host: "https://login.example/".into(),
        resources: None,
    }
}

/// resourceVersion of every object of `spec`'s manifests.
async fn versions(client: &Client, spec: &AgentSpec) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in manifests(spec) {
        let api: Api<DynamicObject> = match m.namespace() {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &m.resource),
            None => Api::all_with(client.clone(), &m.resource),
        };
        let o = api
            .get(m.name())
            .await
            .unwrap_or_else(|e| panic!("{} {}: {e}", m.resource.kind, m.name()));
        out.insert(
            format!("{} {}", m.resource.kind, m.name()),
            o.meta().resource_version.clone().unwrap(),
        );
    }
    out
}

fn labelled(name: &str, ns: Option<&str>, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: ns.map(str::to_string),
        labels: Some(
            labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

async fn exists<K>(api: &Api<K>, name: &str) -> bool
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.unwrap().is_some()
}

#[tokio::test]
async fn installs_reapplies_as_a_no_op_repairs_and_prunes_other_versions() {
    let client = env().clusters[1].client().await.unwrap();
    // Leftovers of an earlier run against the same environment.
    let nsd = Api::<ServiceAccount>::namespaced(client.clone(), NS);
    for name in ["user-account", "foreign", "agent-old-account"] {
        let _ = nsd.delete(name, &Default::default()).await;
    }
    let v1 = spec("1.0.0");
    install(&client, &v1, false).await.expect("install");

    let sa = Api::<ServiceAccount>::namespaced(client.clone(), NS)
        .get("herbarium-agent")
        .await
        .unwrap();
    let ann = sa.metadata.annotations.unwrap();
    assert_eq!(ann["azure.workload.identity/client-id"], v1.client_id);
    assert_eq!(ann["azure.workload.identity/tenant-id"], v1.tenant_id);
    let deployments = Api::<Deployment>::namespaced(client.clone(), NS);
    let d = deployments.get("herbarium-agent").await.unwrap();
    let pod = d.spec.unwrap().template.spec.unwrap();
    let env_of = |n: &str| {
        pod.containers[0]
            .env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == n)
            .and_then(|e| e.value.clone())
    };
    assert_eq!(
        env_of("AZURE_CLIENT_ID").as_deref(),
        Some(v1.client_id.as_str())
    );
    assert_eq!(
        env_of("AZURE_FEDERATED_TOKEN_FILE").as_deref(),
        Some(FEDERATED_TOKEN_FILE)
    );
    let token = pod.volumes.unwrap()[0]
        .projected
        .clone()
        .unwrap()
        .sources
        .unwrap()[0]
        .service_account_token
        .clone()
        .unwrap();
    assert_eq!(
        token.audience.as_deref(),
        Some("api://AzureADTokenExchange")
    );
    let crd_api: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(client.clone());
    let crd = crd_api.get("backupjobs.agent.herbarium.io").await.unwrap();
    assert_eq!(
        crd.metadata.labels.unwrap()["herbarium.io/agent-version"],
        "1.0.0"
    );

    // Re-applying the same manifests changes nothing, and a re-install does not even apply.
    let before = versions(&client, &v1).await;
    apply(&client, &manifests(&v1)).await.expect("re-apply");
    assert_eq!(
        install(&client, &v1, false).await.expect("re-install"),
        InstallReport::default()
    );
    assert_eq!(
        versions(&client, &v1).await,
        before,
        "re-apply bumped a resourceVersion"
    );

    // A deleted object comes back; an object edited by hand only with a forced install.
    let bindings = Api::<ClusterRoleBinding>::all(client.clone());
    bindings
        .delete("herbarium-agent", &Default::default())
        .await
        .unwrap();
    // The install reads from the API server's cache; let it see the deletion first.
    for _ in 0..100 {
        let cached = bindings
            .list_metadata(&ListParams::default().match_any())
            .await
            .unwrap();
        if !cached
            .items
            .iter()
            .any(|b| b.metadata.name.as_deref() == Some("herbarium-agent"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let report = install(&client, &v1, false).await.expect("repair");
    assert_eq!(report.applied, ["ClusterRoleBinding herbarium-agent"]);
    let sas = Api::<ServiceAccount>::namespaced(client.clone(), NS);
    let edit = serde_json::json!({"metadata": {"annotations": {"azure.workload.identity/client-id": "edited"}}});
    sas.patch(
        "herbarium-agent",
        &PatchParams::default(),
        &Patch::Merge(&edit),
    )
    .await
    .unwrap();
    let client_id = |sa: ServiceAccount| {
        sa.metadata.annotations.unwrap()["azure.workload.identity/client-id"].clone()
    };
    assert!(
        install(&client, &v1, false)
            .await
            .unwrap()
            .applied
            .is_empty()
    );
    assert_eq!(
        client_id(sas.get("herbarium-agent").await.unwrap()),
        "edited"
    );
    let forced = install(&client, &v1, true).await.expect("forced install");
    assert_eq!(forced.applied.len(), manifests(&v1).len());
    assert_eq!(
        client_id(sas.get("herbarium-agent").await.unwrap()),
        v1.client_id
    );

    // Objects an older agent version left behind go; bystanders stay.
    let roles = Api::<ClusterRole>::all(client.clone());
    let accounts = Api::<ServiceAccount>::namespaced(client.clone(), NS);
    let old = [
        ("app.kubernetes.io/managed-by", "herbarium"),
        ("herbarium.io/agent-version", "0.9.0"),
    ];
    let pp = PostParams::default();
    let _ = roles
        .delete("herbarium-agent-legacy", &Default::default())
        .await;
    roles
        .create(
            &pp,
            &ClusterRole {
                metadata: labelled("herbarium-agent-legacy", None, &old),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let accounts_labelled = [
        ("agent-old-account", &old[..]),
        (
            "user-account",
            &[("app.kubernetes.io/managed-by", "herbarium")][..],
        ),
        ("foreign", &[("herbarium.io/agent-version", "0.9.0")][..]),
    ];
    for (name, labels) in accounts_labelled {
        let account = ServiceAccount {
            metadata: labelled(name, Some(NS), labels),
            ..Default::default()
        };
        accounts.create(&pp, &account).await.unwrap();
    }
    let report = install(&client, &v1, false)
        .await
        .expect("install with leftovers");
    assert!(report.applied.is_empty(), "{report:?}");
    let mut pruned = report.pruned;
    pruned.sort();
    assert_eq!(
        pruned,
        [
            "ClusterRole herbarium-agent-legacy",
            "ServiceAccount herbarium-system/agent-old-account"
        ]
    );
    assert!(!exists(&roles, "herbarium-agent-legacy").await);
    assert!(
        exists(&accounts, "user-account").await && exists(&accounts, "foreign").await,
        "bystanders stay"
    );

    // An upgrade relabels the same objects; nothing current is pruned.
    let v2 = spec("2.0.0");
    let upgrade = install(&client, &v2, false).await.expect("upgrade");
    assert!(upgrade.pruned.is_empty(), "{upgrade:?}");
    assert_eq!(
        upgrade.applied.len(),
        manifests(&v2).len(),
        "every object is relabelled"
    );
    let d = deployments.get("herbarium-agent").await.unwrap();
    assert_eq!(
        d.metadata.labels.unwrap()["herbarium.io/agent-version"],
        "2.0.0"
    );
    assert!(exists(&roles, "herbarium-agent").await);

    // Leave no test objects behind for the test binaries that run after this one.
    for name in ["user-account", "foreign"] {
        accounts.delete(name, &Default::default()).await.unwrap();
    }
}

//! The whole path through the real pieces: objects in cluster-1, backed up by the agent's writer
//! to Azurite through the workload-identity chain, restored by the agent of cluster-1 into
//! another namespace and by the agent of cluster-2 (its own identity) into the same namespace,
//! compared object by object; then a sync makes the backup known in cluster-2.

mod common;

use std::sync::Arc;

use common::azure::{agent_store, new_container};
use herbarium_agent::backup::run::{Job, run as backup};
use herbarium_agent::context::Settings;
use herbarium_agent::format::backup_dir;
use herbarium_agent::restore::run::{RunSettings, run_restore};
use herbarium_agent::store::BlobStore;
use herbarium_agent::sync::job::sync_location;
use herbarium_api::agent::{BackupJob, RestoreJobSpec};
use herbarium_api::common::{BackupPhase, ResourceSelection};
use herbarium_test_support::{env, unique_namespace};
use k8s_openapi::jiff::Timestamp;
use kube::api::{DynamicObject, ListParams, PostParams};
use kube::core::ApiResource;
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::sync::watch;

fn ar(api_version: &str, kind: &str, plural: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.into(),
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn kinds(crd_group: &str) -> Vec<ApiResource> {
    vec![
        ar("v1", "ConfigMap", "configmaps"),
        ar("v1", "Secret", "secrets"),
        ar("v1", "ServiceAccount", "serviceaccounts"),
        ar("v1", "Service", "services"),
        ar("v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
        ar(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "rolebindings",
        ),
        ar("apps/v1", "Deployment", "deployments"),
        ar(&format!("{crd_group}/v1"), "Gadget", "gadgets"),
    ]
}

async fn create(client: &Client, ns: &str, r: &ApiResource, body: Value) {
    let mut body = body;
    body["apiVersion"] = json!(r.api_version);
    body["kind"] = json!(r.kind);
    body["metadata"]["namespace"] = json!(ns);
    let obj: DynamicObject = serde_json::from_value(body).unwrap();
    Api::<DynamicObject>::namespaced_with(client.clone(), ns, r)
        .create(&PostParams::default(), &obj)
        .await
        .unwrap_or_else(|e| panic!("creating {}: {e}", r.kind));
}

async fn source(client: &Client, ns: &str, crd_group: &str) {
    let crd = json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("gadgets.{crd_group}")},
        "spec": {"group": crd_group, "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object", "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}}]}});
    let crds = ar(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    );
    let crd: DynamicObject = serde_json::from_value(crd).unwrap();
    Api::<DynamicObject>::all_with(client.clone(), &crds)
        .create(&PostParams::default(), &crd)
        .await
        .unwrap();
    let k = kinds(crd_group);
    create(client, ns, &k[0], json!({"metadata": {"name": "settings", "labels": {"app": "shop"}}, "data": {"color": "green"}})).await;
    create(
        client,
        ns,
        &k[1],
        json!({"metadata": {"name": "creds"}, "type": "Opaque", "data": {"pw": "c2VjcmV0"}}),
    )
    .await;
    create(client, ns, &k[2], json!({"metadata": {"name": "app"}})).await;
    create(
        client,
        ns,
        &k[3],
        json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}}),
    )
    .await;
    create(
        client,
        ns,
        &k[4],
        json!({"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}}, "storageClassName": "fast"}}),
    )
    .await;
    create(
        client,
        ns,
        &k[5],
        json!({"metadata": {"name": "app"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}]}),
    )
    .await;
    create(client, ns, &k[6], json!({"metadata": {"name": "web"}, "spec": {"replicas": 2,
        "selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
        "spec": {"serviceAccountName": "app", "containers": [{"name": "web", "image": "nginx:1.27"}]}}}})).await;
    // The CRD must be Established before its objects can be created.
    let mut tries = 0;
    loop {
        let api = Api::<DynamicObject>::namespaced_with(client.clone(), ns, &k[7]);
        let g: DynamicObject =
            serde_json::from_value(json!({"apiVersion": format!("{crd_group}/v1"),
            "kind": "Gadget", "metadata": {"name": "g1", "namespace": ns}, "spec": {"size": 3}}))
            .unwrap();
        match api.create(&PostParams::default(), &g).await {
            Ok(_) => break,
            Err(e) if tries < 100 => {
                tries += 1;
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("creating the Gadget: {e}"),
        }
    }
}

/// What must survive a restore: everything but what the server or the target cluster owns.
fn essence(o: &DynamicObject, source_ns: &str, target_ns: &str) -> Value {
    let mut v = serde_json::to_value(o).unwrap();
    let m = v["metadata"].as_object_mut().unwrap();
    for f in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "managedFields",
        "generation",
        "namespace",
    ] {
        m.remove(f);
    }
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
    }
    if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    let text = v
        .to_string()
        .replace(&format!("\"{source_ns}\""), &format!("\"{target_ns}\""));
    serde_json::from_str(&text).unwrap()
}

async fn assert_same(
    from: &Client,
    source_ns: &str,
    to: &Client,
    target_ns: &str,
    crd_group: &str,
) {
    for r in kinds(crd_group) {
        let src = Api::<DynamicObject>::namespaced_with(from.clone(), source_ns, &r);
        let dst = Api::<DynamicObject>::namespaced_with(to.clone(), target_ns, &r);
        let mut a = src.list(&ListParams::default()).await.unwrap().items;
        let b = dst.list(&ListParams::default()).await.unwrap().items;
        // The test API server makes no ServiceAccount token secrets; nothing to filter.
        a.sort_by_key(|o| o.metadata.name.clone());
        assert_eq!(a.len(), b.len(), "{} count in {target_ns}", r.kind);
        assert!(!a.is_empty(), "{}: nothing to compare", r.kind);
        for (x, y) in a.iter().zip(b.iter()) {
            assert_eq!(
                essence(x, source_ns, target_ns),
                essence(y, source_ns, target_ns),
                "{} {:?}",
                r.kind,
                x.metadata.name
            );
        }
    }
}

#[tokio::test]
async fn backup_to_azurite_then_restore_elsewhere_and_sync() {
    let env = env();
    let c1 = env.clusters[0].client().await.unwrap();
    let c2 = env.clusters[1].client().await.unwrap();
    let ns = unique_namespace(&c1, "rt").await.unwrap();
    let crd_group = format!("rt{}.example.com", std::process::id());
    source(&c1, &ns, &crd_group).await;

    let container = new_container().await;
    let store1 = Arc::new(agent_store("cluster-1", &container).await);
    let store2 = Arc::new(agent_store("cluster-2", &container).await);
    let (name, uid, cluster_uid) = ("rt", uuid::Uuid::new_v4().to_string(), "c1-uid");
    let dir = backup_dir(None, cluster_uid, name, &uid);
    let selection: ResourceSelection = serde_json::from_value(json!({"namespaces": [ns]})).unwrap();
    let (tx, _rx) = watch::channel(Default::default());
    let job = Job {
        name,
        uid: &uid,
        cluster_uid,
        selection: &selection,
        dir: &dir,
        started: Timestamp::now(),
        agent_version: "test",
        snapshots: None,
        hooks: None,
    };
    let outcome = backup(
        &c1,
        store1.clone(),
        job,
        &Settings::default(),
        &tx,
        std::future::pending(),
    )
    .await
    .expect("backup");
    assert_eq!(
        outcome.phase,
        BackupPhase::Succeeded,
        "{:?}",
        outcome.errors
    );

    let spec = |filter: Value| -> RestoreJobSpec {
        let mut s = json!({"backup": {"name": name, "uid": uid, "clusterUID": cluster_uid, "storagePath": dir},
            "location": "loc"});
        s.as_object_mut()
            .unwrap()
            .extend(filter.as_object().unwrap().clone());
        serde_json::from_value(s).unwrap()
    };
    let (ptx, _prx) = watch::channel(Default::default());
    let copy = format!("{ns}-copy");
    let r = run_restore(
        store1.clone(),
        &c1,
        &spec(json!({"namespaceMapping": {ns.clone(): copy.clone()}})),
        "job-1",
        &RunSettings::default(),
        &ptx,
    )
    .await;
    assert!(r.failure.is_none() && r.tally.counts.failed == 0, "{r:?}");
    let archive = store1
        .size(&format!("{dir}resources.tar.zst"))
        .await
        .unwrap();
    assert_eq!(Some(r.archive_bytes), archive);
    assert_same(&c1, &ns, &c1, &copy, &crd_group).await;

    let r = run_restore(
        store2.clone(),
        &c2,
        &spec(json!({})),
        "job-2",
        &RunSettings::default(),
        &ptx,
    )
    .await;
    assert!(r.failure.is_none() && r.tally.counts.failed == 0, "{r:?}");
    assert_same(&c1, &ns, &c2, &ns, &crd_group).await;

    let agent_ns = unique_namespace(&c2, "hb-rt").await.unwrap();
    let synced = sync_location(&*store2, &c2, &agent_ns, "loc", None)
        .await
        .unwrap();
    assert_eq!(
        (synced.found, synced.imported, synced.invalid),
        (1, 1, 0),
        "{synced:?}"
    );
    let jobs = Api::<BackupJob>::namespaced(c2.clone(), &agent_ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(jobs[0].spec.backup_uid, uid);
}

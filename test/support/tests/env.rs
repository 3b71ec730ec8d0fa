//! The local API servers behave like real ones where Herbarium depends on it.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt, stream};
use herbarium_test_support::{client_from_kubeconfig_bytes, env, unique_namespace, wait_for};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{
    Api, DeleteParams, DynamicObject, ListParams, ObjectMeta, Patch, PatchParams, PostParams,
};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::watcher::{self, Event};
use serde_json::json;

fn cm(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

#[tokio::test]
async fn server_side_apply_conflicts_between_managers() {
    let client = env().clusters[0].client().await.unwrap();
    let ns = unique_namespace(&client, "ssa").await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let a = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "a"}});
    api.patch("c", &PatchParams::apply("manager-a"), &Patch::Apply(&a))
        .await
        .unwrap();
    let b = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "b"}});
    let err = api
        .patch("c", &PatchParams::apply("manager-b"), &Patch::Apply(&b))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 409, "{s:?}");
            assert!(s.message.contains("manager-a"), "{}", s.message);
        }
        e => panic!("expected a 409 conflict, got {e}"),
    }
    let forced = api
        .patch(
            "c",
            &PatchParams::apply("manager-b").force(),
            &Patch::Apply(&b),
        )
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["k"], "b");
}

#[tokio::test]
async fn watcher_sees_added_modified_deleted_in_order() {
    let client = env().clusters[0].client().await.unwrap();
    let ns = unique_namespace(&client, "watch").await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let mut events = watcher::watcher(api.clone(), watcher::Config::default()).boxed();
    // Initial list: empty namespace.
    loop {
        if let Event::InitDone = events.try_next().await.unwrap().unwrap() {
            break;
        }
    }
    api.create(&PostParams::default(), &cm("w", &[("k", "1")]))
        .await
        .unwrap();
    api.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await
    .unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    let mut seen = vec![];
    while seen.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(10), events.try_next())
            .await
            .expect("watch event within 10s")
            .unwrap()
            .unwrap();
        match ev {
            Event::Apply(o) => seen.push(format!("apply:{}", o.data.unwrap()["k"])),
            Event::Delete(o) => seen.push(format!("delete:{}", o.data.unwrap()["k"])),
            _ => {}
        }
    }
    assert_eq!(seen, ["apply:1", "apply:2", "delete:2"]);
}

#[tokio::test]
async fn pagination_over_5000_configmaps() {
    let client = env().clusters.last().unwrap().client().await.unwrap();
    let ns = unique_namespace(&client, "page").await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    create_many(&api, 5000).await;
    let (mut names, mut token, mut pages) = (vec![], None::<String>, 0);
    loop {
        let mut lp = ListParams::default().limit(500);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 500);
        names.extend(page.items.into_iter().map(|c| c.metadata.name.unwrap()));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 10);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 5000);
}

async fn create_many(api: &Api<ConfigMap>, n: usize) {
    stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                api.create(
                    &PostParams::default(),
                    &cm(&format!("cm-{i:05}"), &[("i", "x")]),
                )
                .await
            }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
}

#[tokio::test]
async fn namespaced_and_cluster_scoped_paths() {
    let client = env().clusters[0].client().await.unwrap();
    let ns = unique_namespace(&client, "paths").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let created = cms
        .create(&PostParams::default(), &cm("p", &[]))
        .await
        .unwrap();
    assert_eq!(created.metadata.namespace.as_deref(), Some(ns.as_str()));
    // Creating in a namespace that does not exist is refused with 404, like a real cluster.
    let missing: Api<ConfigMap> = Api::namespaced(client.clone(), "does-not-exist");
    match missing.create(&PostParams::default(), &cm("p", &[])).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404, "{s:?}"),
        other => panic!("expected 404, got {other:?}"),
    }
    let name = format!("sc-{ns}");
    let sc = StorageClass {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        provisioner: "example.com/csi".into(),
        ..Default::default()
    };
    let scs: Api<StorageClass> = Api::all(client.clone());
    let created = scs.create(&PostParams::default(), &sc).await.unwrap();
    assert_eq!(created.metadata.namespace, None);
    let url = format!("/apis/storage.k8s.io/v1/storageclasses/{name}");
    let raw: serde_json::Value = client.request(http_get(&url)).await.unwrap();
    assert_eq!(raw["metadata"]["name"], name.as_str());
    let all: Api<ConfigMap> = Api::all(client);
    let listed = all
        .list(&ListParams::default().fields(&format!("metadata.namespace={ns}")))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    scs.delete(&name, &DeleteParams::default()).await.unwrap();
}

fn http_get(path: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path).body(vec![]).unwrap()
}

#[tokio::test]
async fn finalizer_holds_deletion() {
    let client = env().clusters.last().unwrap().client().await.unwrap();
    let ns = unique_namespace(&client, "fin").await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let mut c = cm("f", &[]);
    c.metadata.finalizers = Some(vec!["test.herbarium.io/hold".into()]);
    api.create(&PostParams::default(), &c).await.unwrap();
    api.delete("f", &DeleteParams::default()).await.unwrap();
    let held = api.get("f").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    api.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    wait_for("configmap f gone", Duration::from_secs(10), || {
        let api = api.clone();
        async move { api.get_opt("f").await.unwrap().is_none().then_some(()) }
    })
    .await
    .unwrap();
    // Deleting the namespace deletes its content and then the namespace.
    let nss: Api<Namespace> = Api::all(client);
    api.create(&PostParams::default(), &cm("g", &[]))
        .await
        .unwrap();
    nss.delete(&ns, &DeleteParams::default()).await.unwrap();
    wait_for("namespace gone", Duration::from_secs(20), || {
        let nss = nss.clone();
        let ns = ns.clone();
        async move { nss.get_opt(&ns).await.unwrap().is_none().then_some(()) }
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn adminkubeconfig_reaches_the_mapped_cluster() {
    let env = env();
    let garden = env.garden_client().await.unwrap();
    let project = unique_namespace(&garden, "garden-proj").await.unwrap();
    let target = &env.clusters[env.clusters.len() - 1];
    let gvk = GroupVersionKind::gvk("core.gardener.cloud", "v1beta1", "Shoot");
    let shoots: Api<DynamicObject> =
        Api::namespaced_with(garden.clone(), &project, &ApiResource::from_gvk(&gvk));
    let shoot: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "core.gardener.cloud/v1beta1", "kind": "Shoot",
        "metadata": {"name": "app", "annotations": {"test.herbarium.io/cluster": target.name}},
        "spec": {}
    }))
    .unwrap();
    shoots.create(&PostParams::default(), &shoot).await.unwrap();
    // Mark the cluster so the client is known to reach this one.
    let marker = target.client().await.unwrap();
    let mark = unique_namespace(&marker, "marker").await.unwrap();

    let url = format!(
        "/apis/core.gardener.cloud/v1beta1/namespaces/{project}/shoots/app/adminkubeconfig"
    );
    let body = json!({"apiVersion": "authentication.gardener.cloud/v1alpha1", "kind": "AdminKubeconfigRequest",
        "spec": {"expirationSeconds": 600}});
    let req = http::Request::post(&url)
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    let resp: serde_json::Value = garden.request(req).await.unwrap();
    assert_eq!(resp["spec"]["expirationSeconds"], 600);
    assert!(resp["status"]["expirationTimestamp"].is_string());
    let b64 = resp["status"]["kubeconfig"].as_str().unwrap();
    let bytes = base64_decode(b64);
    let client = client_from_kubeconfig_bytes(&bytes).await.unwrap();
    Api::<Namespace>::all(client).get(&mark).await.unwrap();

    // A shoot that does not exist: 404.
    let url = format!(
        "/apis/core.gardener.cloud/v1beta1/namespaces/{project}/shoots/none/adminkubeconfig"
    );
    let req = http::Request::post(&url)
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    match garden.request::<serde_json::Value>(req).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404, "{s:?}"),
        other => panic!("expected 404, got {other:?}"),
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut out, mut acc, mut bits) = (vec![], 0u32, 0);
    for c in s.bytes().filter(|c| *c != b'=') {
        acc = (acc << 6) | A.iter().position(|a| *a == c).expect("base64") as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Measurement, not a check: LIST throughput of 10,000 ConfigMaps in pages of 500.
/// Run with `cargo test -p herbarium-test-support --release -- --ignored --nocapture list_throughput`.
#[tokio::test]
#[ignore]
async fn list_throughput() {
    let client = env().clusters[0].client().await.unwrap();
    let ns = unique_namespace(&client, "bench").await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let start = Instant::now();
    create_many(&api, 10_000).await;
    println!("created 10000 configmaps in {:?}", start.elapsed());
    for _ in 0..3 {
        let start = Instant::now();
        let (mut n, mut token) = (0, None::<String>);
        loop {
            let mut lp = ListParams::default().limit(500);
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let page = api.list(&lp).await.unwrap();
            n += page.items.len();
            token = page.metadata.continue_.filter(|t| !t.is_empty());
            if token.is_none() {
                break;
            }
        }
        let el = start.elapsed();
        println!(
            "listed {n} in {el:?}: {:.0} objects/s",
            n as f64 / el.as_secs_f64()
        );
    }
}

#[tokio::test]
async fn crd_schema_and_cel_validation() {
    let client = env().clusters[0].client().await.unwrap();
    let ns = unique_namespace(&client, "cel").await.unwrap();
    let gvk = GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", "VolumeSnapshot");
    let api: Api<DynamicObject> = Api::namespaced_with(client, &ns, &ApiResource::from_gvk(&gvk));
    let snapshot = |source: serde_json::Value| -> DynamicObject {
        serde_json::from_value(
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": "s"}, "spec": {"source": source}}),
        )
        .unwrap()
    };
    let bad = snapshot(json!({"persistentVolumeClaimName": "a", "volumeSnapshotContentName": "b"}));
    match api.create(&PostParams::default(), &bad).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422, "{s:?}");
            assert!(
                s.message
                    .contains("exactly one of volumeSnapshotContentName"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 422 from the CEL rule, got {other:?}"),
    }
    api.create(
        &PostParams::default(),
        &snapshot(json!({"persistentVolumeClaimName": "a"})),
    )
    .await
    .unwrap();
    // Transition rule: spec.source is immutable.
    let change = Patch::Merge(json!({"spec": {"source": {"persistentVolumeClaimName": "b"}}}));
    match api.patch("s", &PatchParams::default(), &change).await {
        Err(kube::Error::Api(s)) => assert!(
            s.message.contains("spec.source is immutable"),
            "{}",
            s.message
        ),
        other => panic!("expected the immutability rule to refuse, got {other:?}"),
    }
}

#[tokio::test]
async fn status_subresource_generate_name_and_label_selector() {
    use k8s_openapi::api::apps::v1::Deployment;
    let client = env().clusters[0].client().await.unwrap();
    let ns = unique_namespace(&client, "status").await.unwrap();
    let api: Api<Deployment> = Api::namespaced(client, &ns);
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"generateName": "web-", "labels": {"app": "web"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
        "status": {"replicas": 7}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &d).await.unwrap();
    let name = created.metadata.name.clone().unwrap();
    assert!(name.starts_with("web-") && name.len() > 4, "{name}");
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(
        created.status.and_then(|s| s.replicas),
        None,
        "status is dropped on create"
    );
    let st = json!({"status": {"readyReplicas": 1, "replicas": 1}});
    api.patch_status(&name, &PatchParams::default(), &Patch::Merge(st))
        .await
        .unwrap();
    // A spec update through the main resource keeps the status and bumps the generation.
    let spec = json!({"spec": {"replicas": 3}, "status": {"replicas": 0}});
    let updated = api
        .patch(&name, &PatchParams::default(), &Patch::Merge(spec))
        .await
        .unwrap();
    assert_eq!(updated.metadata.generation, Some(2));
    assert_eq!(updated.status.unwrap().ready_replicas, Some(1));
    let selected = api
        .list(&ListParams::default().labels("app=web"))
        .await
        .unwrap();
    assert_eq!(selected.items.len(), 1);
    let none = api
        .list(&ListParams::default().labels("app=other"))
        .await
        .unwrap();
    assert!(none.items.is_empty());
}

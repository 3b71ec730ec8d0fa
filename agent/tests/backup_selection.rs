//! What a backup selects, against cluster-1 (and Azurite for the archive): resource filters on
//! `Auto`'s cluster-scoped additions, names that match nothing, `*` across the whole cluster,
//! and lists read page by page.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use common::backup::*;
use common::cluster_client;
use herbarium_api::common::{BackupPhase, ClusterResources, DeletionPolicy, ResourceSelection};
use serde_json::json;

/// `Auto` adds the PV a PVC is bound to and the ClusterRole a RoleBinding names — unless the
/// resource filters leave them out. A filter name that matches nothing is a warning in status,
/// and the backup still Succeeded.
#[tokio::test]
async fn auto_additions_follow_the_resource_filters_and_unknown_names_warn() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = herbarium_test_support::unique_namespace(&client, "agent-sel")
        .await
        .unwrap();
    apply(
        &client,
        None,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": format!("{ns}-view")}, "rules": []}),
    )
    .await;
    apply(&client, Some(&ns), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "view"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("{ns}-view")},
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": ns}]})).await;
    apply(&client, None, json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": format!("{ns}-pv")},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/x"}}})).await;
    apply(&client, Some(&ns), json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": format!("{ns}-pv")}})).await;
    let selection = ResourceSelection {
        namespaces: vec![ns.clone()],
        excluded_resources: vec!["clusterroles".into(), "nosuchthings".into()],
        cluster_resources: ClusterResources::Auto,
        ..Default::default()
    };
    let job = run_job(&s, "a1", job_spec("a1", selection, DeletionPolicy::Delete)).await;
    let status = job.status.clone().unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Succeeded), "{status:?}");
    assert_eq!(status.errors.len(), 1, "{:?}", status.errors);
    assert!(
        status.errors[0].message.starts_with("warning: ")
            && status.errors[0].message.contains("\"nosuchthings\""),
        "{:?}",
        status.errors
    );
    let resources: BTreeSet<String> = entries_of(&s, &job)
        .await
        .into_iter()
        .map(|e| e.resource)
        .collect();
    assert!(resources.contains("persistentvolumes"), "{resources:?}");
    assert!(resources.contains("rolebindings"), "{resources:?}");
    assert!(
        !resources.contains("clusterroles"),
        "excluded, also from Auto: {resources:?}"
    );
}

/// `*` lists every namespaced resource across the whole cluster and keeps the selected
/// namespaces: with `excludedNamespaces` and a namespace label selector, exactly the expected
/// namespaces are in the archive, whatever else the cluster holds.
#[tokio::test]
async fn star_with_exclusions_and_a_namespace_selector_takes_exactly_those() {
    let s = setup().await;
    let client = cluster_client().await;
    let tag = common::unique("team");
    let mut names = Vec::new();
    for (i, labelled) in [true, true, true, false].into_iter().enumerate() {
        let ns = format!("{tag}-{i}");
        let labels = if labelled {
            json!({"team": tag})
        } else {
            json!({})
        };
        apply(
            &client,
            None,
            json!({"apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "labels": labels}}),
        )
        .await;
        apply(
            &client,
            Some(&ns),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c"}}),
        )
        .await;
        names.push(ns);
    }
    let selection = ResourceSelection {
        namespaces: vec!["*".into()],
        excluded_namespaces: vec![names[2].clone()],
        namespace_selector: Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_labels: Some([("team".to_string(), tag.clone())].into()),
                ..Default::default()
            },
        ),
        included_resources: vec!["configmaps".into(), "namespaces".into()],
        ..Default::default()
    };
    let job = run_job(&s, "n1", job_spec("n1", selection, DeletionPolicy::Delete)).await;
    let status = job.status.clone().unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Succeeded), "{status:?}");
    let entries = entries_of(&s, &job).await;
    let namespaces: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.resource == "namespaces")
        .map(|e| e.name.clone())
        .collect();
    let of_configmaps: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.resource == "configmaps")
        .filter_map(|e| e.namespace.clone())
        .collect();
    let want: BTreeSet<String> = names[..2].iter().cloned().collect();
    assert_eq!(namespaces, want);
    assert_eq!(of_configmaps, want);
}

/// Backs up the ConfigMaps of `ns` through `client`, listing in pages of 4; the job must
/// succeed. Returns the archive's entry names, in archive order.
async fn configmaps_in_pages_of_four(
    s: Setup,
    client: kube::Client,
    ns: &str,
    job: &str,
) -> Vec<String> {
    let (mut ctx, _) = common::context(client, &s.ctx.namespace, s.ctx.stores.inner_settings());
    Arc::get_mut(&mut ctx).unwrap().settings.page_size = 4;
    let s = Setup { ctx, ..s };
    let selection = ResourceSelection {
        namespaces: vec![ns.to_string()],
        included_resources: vec!["configmaps".into()],
        ..Default::default()
    };
    let job = run_job(&s, job, job_spec(job, selection, DeletionPolicy::Delete)).await;
    let status = job.status.clone().unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Succeeded), "{status:?}");
    entries_of(&s, &job)
        .await
        .into_iter()
        .map(|e| e.name)
        .collect()
}

fn configmap_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c-{i:02}")).collect()
}

/// Lists are read page by page: 25 ConfigMaps with pages of 4 are all in the archive.
#[tokio::test]
async fn lists_are_read_page_by_page() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = namespace_with_configmaps(&client, "agent-page", configmap_names(25)).await;
    let names = configmaps_in_pages_of_four(s, client, &ns, "p1").await;
    assert_eq!(names, configmap_names(25));
}

/// A client to cluster-1 that answers the first continued ConfigMap list with 410 Gone (the
/// continue token expired), as an API server does when the list outlives its snapshot.
async fn expiring_client() -> (kube::Client, Arc<AtomicBool>) {
    let real = cluster_client().await;
    let fired = Arc::new(AtomicBool::new(false));
    let f = fired.clone();
    let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let (real, f) = (real.clone(), f.clone());
        async move {
            let uri = req.uri().to_string();
            if uri.contains("/configmaps") && uri.contains("continue=") && !f.swap(true, SeqCst) {
                let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "The provided continue parameter is too old to display a consistent list result.",
                    "reason": "Expired", "code": 410});
                let resp = http::Response::builder()
                    .status(410)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(body.to_string().into_bytes()))
                    .unwrap();
                return Ok::<_, kube::Error>(resp);
            }
            real.send(req).await
        }
    });
    (kube::Client::new(svc, "default"), fired)
}

/// The continue token expires mid-list: the resource is listed again from the start, and every
/// object is in the archive exactly once.
#[tokio::test]
async fn an_expired_list_is_read_again_without_duplicates() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = namespace_with_configmaps(&client, "agent-page", configmap_names(10)).await;
    let (expiring, fired) = expiring_client().await;
    let names = configmaps_in_pages_of_four(s, expiring, &ns, "e1").await;
    assert!(fired.load(SeqCst), "the list expired once");
    assert_eq!(names, configmap_names(10));
}

//! What a backup selects, against cluster-1 (and Azurite for the archive): resource filters on
//! `Auto`'s cluster-scoped additions, names that match nothing, `*` across the whole cluster,
//! and lists read page by page.

mod common;

use std::collections::BTreeSet;

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

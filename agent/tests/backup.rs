//! BackupJobs run in-process against cluster-1 and Azurite through the identity chain: a
//! namespace with a mix of kinds (a custom resource among them) is backed up, the blobs are read
//! back and checked against index.json, and deleting the job deletes them — unless Retain.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::backup::*;
use common::*;
use herbarium_agent::backup::reconcile::reconcile;
use herbarium_agent::format::{backup_dir, parse_index, parse_metadata};
use herbarium_agent::store::BlobStore;
use herbarium_api::agent::BackupJob;
use herbarium_api::common::{BackupPhase, ClusterResources, DeletionPolicy, ResourceSelection};
use herbarium_api::constants::BACKUP_JOB_FINALIZER;
use kube::api::GroupVersionKind;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use serde_json::json;
use sha2::{Digest, Sha256};

/// A namespace with ConfigMaps, a Secret, a ServiceAccount, a Deployment, two Widgets (a custom
/// resource), a RoleBinding to a ClusterRole and a PVC bound to a PV.
async fn workload(client: &Client) -> String {
    let ns = herbarium_test_support::unique_namespace(client, "agent-src")
        .await
        .unwrap();
    apply(client, None, json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD},
        "spec": {"group": "agenttest.herbarium.io", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    })).await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> = Api::all(client.clone());
    herbarium_test_support::wait_for(
        "CRD established",
        std::time::Duration::from_secs(30),
        || {
            let crds = crds.clone();
            async move {
                let c = crds.get(CRD).await.ok()?;
                c.status?
                    .conditions?
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
                    .then_some(())
            }
        },
    )
    .await
    .unwrap();
    for i in 0..3 {
        apply(client, Some(&ns), json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("cm-{i}"), "labels": {"app": "web"}}, "data": {"i": i.to_string()}})).await;
    }
    apply(client, Some(&ns), json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": "v"}})).await;
    apply(
        client,
        Some(&ns),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa"}}),
    )
    .await;
    apply(client, Some(&ns), json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})).await;
    for w in ["w1", "w2"] {
        apply(
            client,
            Some(&ns),
            json!({"apiVersion": "agenttest.herbarium.io/v1", "kind": "Widget",
            "metadata": {"name": w}, "spec": {"size": 3}}),
        )
        .await;
    }
    apply(
        client,
        None,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": format!("{ns}-view")}, "rules": []}),
    )
    .await;
    apply(client, Some(&ns), json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "view"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": format!("{ns}-view")},
        "subjects": [{"kind": "ServiceAccount", "name": "sa", "namespace": ns}]})).await;
    apply(client, None, json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": format!("{ns}-pv")},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/x"}}})).await;
    apply(client, Some(&ns), json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": format!("{ns}-pv")}})).await;
    ns
}

#[tokio::test]
async fn backs_up_a_namespace_commits_metadata_last_and_deletes_on_delete() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = workload(&client).await;
    let selection = ResourceSelection {
        namespaces: vec![ns.clone()],
        cluster_resources: ClusterResources::Auto,
        ..Default::default()
    };
    let job = run_job(&s, "b1", job_spec("b1", selection, DeletionPolicy::Delete)).await;
    assert!(
        job.metadata
            .finalizers
            .as_ref()
            .unwrap()
            .contains(&BACKUP_JOB_FINALIZER.to_string())
    );
    let status = job.status.clone().unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Succeeded), "{status:?}");
    let dir = backup_dir(Some("team-a"), "cluster-1-uid", "b1", &job.spec.backup_uid);
    assert_eq!(status.storage_path.as_deref(), Some(dir.as_str()));
    assert!(status.start_time.is_some() && status.completion_time.is_some());

    let mut names: Vec<String> = s
        .store
        .list(&dir, false)
        .await
        .unwrap()
        .blobs
        .into_iter()
        .map(|b| b.name)
        .collect();
    names.sort();
    let expect: Vec<String> = [
        "index.json",
        "log.jsonl.zst",
        "metadata.json",
        "resources.tar.zst",
        "volumes.json",
    ]
    .iter()
    .map(|n| format!("{dir}{n}"))
    .collect();
    assert_eq!(names, expect);
    let calls = s.calls.list();
    assert_eq!(
        calls.last().unwrap(),
        &format!("put {dir}metadata.json"),
        "{calls:?}"
    );
    assert_eq!(
        calls.first().unwrap(),
        &format!("commit {dir}resources.tar.zst"),
        "{calls:?}"
    );

    let index = parse_index(
        &s.store
            .get(&format!("{dir}index.json"), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    let counts: BTreeMap<String, u64> = index
        .resources
        .iter()
        .map(|r| (format!("{}.{}", r.resource, r.group), r.count))
        .collect();
    let want: BTreeMap<String, u64> = [
        ("namespaces.", 1),
        ("configmaps.", 3),
        ("secrets.", 1),
        ("serviceaccounts.", 1),
        ("deployments.apps", 1),
        ("widgets.agenttest.herbarium.io", 2),
        ("rolebindings.rbac.authorization.k8s.io", 1),
        ("persistentvolumeclaims.", 1),
        ("customresourcedefinitions.apiextensions.k8s.io", 1),
        ("persistentvolumes.", 1),
        ("clusterroles.rbac.authorization.k8s.io", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, want);
    let archive = s
        .store
        .get(&format!("{dir}resources.tar.zst"), 1 << 30)
        .await
        .unwrap();
    assert_eq!(hex::encode(Sha256::digest(&archive)), index.archive.sha256);
    let read = read_archive(&archive);
    for r in &index.resources {
        assert_eq!(
            read[&format!("{}.{}", r.resource, r.group)],
            (r.count, r.sha256.clone()),
            "{}",
            r.resource
        );
    }
    let metadata = parse_metadata(
        &s.store
            .get(&format!("{dir}metadata.json"), 1 << 16)
            .await
            .unwrap(),
        &job.spec.backup_uid,
    )
    .unwrap();
    assert_eq!(metadata.items, 14);
    assert_eq!(status.progress.unwrap().items_done, 14);
    let mut stored = 0;
    for n in &names {
        stored += s.store.size(n).await.unwrap().unwrap();
    }
    assert_eq!(status.size_bytes.unwrap() as u64, stored);

    // A finished job is never run again.
    let before = s.calls.list().len();
    reconcile(Arc::new(s.api.get("b1").await.unwrap()), s.ctx.clone())
        .await
        .unwrap();
    assert_eq!(s.calls.list().len(), before);

    // Deleting the job deletes the blobs, metadata.json first, then drops the finalizer.
    s.api.delete("b1", &DeleteParams::default()).await.unwrap();
    reconcile(Arc::new(s.api.get("b1").await.unwrap()), s.ctx.clone())
        .await
        .unwrap();
    assert!(
        s.api.get_opt("b1").await.unwrap().is_none(),
        "finalizer released"
    );
    assert!(s.store.list(&dir, false).await.unwrap().blobs.is_empty());
    let deletes: Vec<String> = s
        .calls
        .list()
        .into_iter()
        .filter(|c| c.starts_with("delete"))
        .collect();
    assert_eq!(
        deletes.first().unwrap(),
        &format!("delete {dir}metadata.json")
    );
    let _ = s.location;
}

#[tokio::test]
async fn retain_keeps_the_blobs_and_label_selector_narrows() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = herbarium_test_support::unique_namespace(&client, "agent-src")
        .await
        .unwrap();
    for (name, app) in [("a", "web"), ("b", "db")] {
        apply(&client, Some(&ns), json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": app}}})).await;
    }
    let selection = ResourceSelection {
        namespaces: vec![ns.clone()],
        included_resources: vec!["configmaps".into()],
        label_selector: Some(
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                match_labels: Some([("app".to_string(), "db".to_string())].into()),
                ..Default::default()
            },
        ),
        ..Default::default()
    };
    let job = run_job(&s, "b2", job_spec("b2", selection, DeletionPolicy::Retain)).await;
    let status = job.status.clone().unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Succeeded));
    let dir = status.storage_path.unwrap();
    let index = parse_index(
        &s.store
            .get(&format!("{dir}index.json"), 1 << 20)
            .await
            .unwrap(),
    )
    .unwrap();
    let counts: Vec<(String, u64)> = index
        .resources
        .iter()
        .map(|r| (r.resource.clone(), r.count))
        .collect();
    assert_eq!(
        counts,
        [("configmaps".to_string(), 1)],
        "only the db ConfigMap, no Namespace object"
    );

    s.api.delete("b2", &DeleteParams::default()).await.unwrap();
    reconcile(Arc::new(s.api.get("b2").await.unwrap()), s.ctx.clone())
        .await
        .unwrap();
    assert!(s.api.get_opt("b2").await.unwrap().is_none());
    assert_eq!(
        s.store.list(&dir, false).await.unwrap().blobs.len(),
        5,
        "Retain keeps every blob"
    );
}

/// The test plays the snapshot controller: it marks the VolumeSnapshot the agent creates
/// readyToUse, as the CSI snapshotter would.
#[tokio::test]
async fn takes_csi_snapshots_with_the_default_class_of_the_driver() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = herbarium_test_support::unique_namespace(&client, "agent-csi")
        .await
        .unwrap();
    let driver = format!("{ns}.csi.test");
    apply(&client, None, json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
        "metadata": {"name": format!("{ns}-class"), "annotations": {"snapshot.storage.kubernetes.io/is-default-class": "true"}},
        "driver": driver, "deletionPolicy": "Delete"})).await;
    csi_claim(&client, &ns, &driver).await;

    let spec = snapshot_job_spec("b3", &ns, None, "60s");
    let snapshot = format!("b3-data-{}", spec.backup_uid);
    s.api
        .create(&PostParams::default(), &BackupJob::new("b3", spec))
        .await
        .unwrap();
    reconcile(Arc::new(s.api.get("b3").await.unwrap()), s.ctx.clone())
        .await
        .unwrap(); // finalizer
    let run = tokio::spawn(reconcile(
        Arc::new(s.api.get("b3").await.unwrap()),
        s.ctx.clone(),
    ));

    let snapshots = volume_snapshots(&client, &ns);
    let created = herbarium_test_support::wait_for(
        "the agent's VolumeSnapshot",
        std::time::Duration::from_secs(60),
        || {
            let snapshots = snapshots.clone();
            let snapshot = snapshot.clone();
            async move { snapshots.get_opt(&snapshot).await.ok().flatten() }
        },
    )
    .await
    .unwrap();
    assert_eq!(
        created.data["spec"]["volumeSnapshotClassName"],
        format!("{ns}-class")
    );
    assert_eq!(
        created.data["spec"]["source"]["persistentVolumeClaimName"],
        "data"
    );
    // The snapshot controller's content, with the storage system's handle.
    let content_name = format!("snapcontent-{ns}");
    let contents: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("snapshot.storage.k8s.io", "v1", "VolumeSnapshotContent"),
            "volumesnapshotcontents",
        ),
    );
    let content: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
        "metadata": {"name": content_name},
        "spec": {"driver": driver, "deletionPolicy": "Delete", "source": {"volumeHandle": "vol-1"},
                 "volumeSnapshotRef": {"namespace": ns, "name": snapshot}}}))
    .unwrap();
    contents
        .create(&PostParams::default(), &content)
        .await
        .unwrap();
    let content_status = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
        "status": {"readyToUse": true, "snapshotHandle": "snap-handle-1"}});
    contents
        .patch_status(
            &content_name,
            &PatchParams::apply("snapshot-controller").force(),
            &Patch::Apply(&content_status),
        )
        .await
        .unwrap();
    let status = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "status": {"readyToUse": true, "boundVolumeSnapshotContentName": content_name, "restoreSize": "1Gi"}});
    snapshots
        .patch_status(
            &snapshot,
            &PatchParams::apply("snapshot-controller").force(),
            &Patch::Apply(&status),
        )
        .await
        .unwrap();
    run.await.unwrap().unwrap();

    let status = s.api.get("b3").await.unwrap().status.unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Succeeded), "{status:?}");
    assert_eq!(status.volume_snapshots, Some(1));
    let volumes: serde_json::Value = serde_json::from_slice(
        &s.store
            .get(
                &format!("{}volumes.json", status.storage_path.unwrap()),
                1 << 20,
            )
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        volumes,
        json!([{"namespace": ns, "persistentVolumeClaim": "data", "persistentVolume": format!("{ns}-pv"),
        "driver": driver, "volumeSnapshot": snapshot, "volumeSnapshotClass": format!("{ns}-class"),
        "volumeSnapshotContent": content_name, "restoreSize": "1Gi", "snapshotHandle": "snap-handle-1"}])
    );

    // Deleting the backup deletes its VolumeSnapshots.
    s.api.delete("b3", &DeleteParams::default()).await.unwrap();
    reconcile(Arc::new(s.api.get("b3").await.unwrap()), s.ctx.clone())
        .await
        .unwrap();
    assert!(s.api.get_opt("b3").await.unwrap().is_none());
    assert!(snapshots.get_opt(&snapshot).await.unwrap().is_none());
}

/// A job found InProgress (the agent stopped mid-run) runs again from scratch; a stopping
/// agent starts no job.
#[tokio::test]
async fn an_interrupted_run_starts_again_and_a_stopping_agent_starts_nothing() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = namespace_with_configmaps(&client, "agent-src", ["a".to_string()]).await;
    let selection = ResourceSelection {
        namespaces: vec![ns.clone()],
        ..Default::default()
    };
    s.api
        .create(
            &PostParams::default(),
            &BackupJob::new("b4", job_spec("b4", selection, DeletionPolicy::Delete)),
        )
        .await
        .unwrap();
    reconcile(Arc::new(s.api.get("b4").await.unwrap()), s.ctx.clone())
        .await
        .unwrap(); // finalizer

    s.ctx.stop();
    reconcile(Arc::new(s.api.get("b4").await.unwrap()), s.ctx.clone())
        .await
        .unwrap();
    assert!(
        s.api.get("b4").await.unwrap().status.is_none(),
        "no job starts while stopping"
    );

    let interrupted = json!({"status": {"phase": "InProgress", "stage": "Uploading"}});
    s.api
        .patch_status("b4", &PatchParams::default(), &Patch::Merge(&interrupted))
        .await
        .unwrap();
    let (fresh_ctx, _) = context(
        client.clone(),
        &s.ctx.namespace,
        s.ctx.stores.inner_settings(),
    );
    reconcile(Arc::new(s.api.get("b4").await.unwrap()), fresh_ctx)
        .await
        .unwrap();
    let status = s.api.get("b4").await.unwrap().status.unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Succeeded), "{status:?}");
    assert_eq!(status.progress.unwrap().items_done, 2);
}

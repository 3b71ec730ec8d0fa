//! What keeps a backup's storage consistent when things go wrong: a rerun over an interrupted run
//! uncommits first, deletion follows the path the backup was written to. Against cluster-1 and
//! Azurite, jobs reconciled in-process.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::backup::*;
use common::cluster_client;
use herbarium_agent::backup::reconcile::reconcile;
use herbarium_agent::format::backup_dir;
use herbarium_agent::store::BlobStore;
use herbarium_api::agent::{BackupJob, LocationAccess};
use herbarium_api::common::{BackupPhase, DeletionPolicy, ResourceSelection};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use serde_json::json;

/// An interrupted run had written metadata.json; its rerun fails before writing anything. The
/// directory must not stay committed.
#[tokio::test]
async fn a_rerun_uncommits_the_interrupted_run_before_writing() {
    let s = setup().await;
    let selection = ResourceSelection {
        namespaces: vec!["default".into()],
        // Not rejected by the CRD, refused by the planner: the rerun fails.
        label_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "a".into(),
                operator: "Like".into(),
                values: None,
            }]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let spec = job_spec("r1", selection, DeletionPolicy::Delete);
    let dir = backup_dir(Some("team-a"), "cluster-1-uid", "r1", &spec.backup_uid);
    s.api
        .create(&PostParams::default(), &BackupJob::new("r1", spec))
        .await
        .unwrap();
    reconcile(Arc::new(s.api.get("r1").await.unwrap()), s.ctx.clone())
        .await
        .unwrap(); // finalizer
    for blob in ["index.json", "metadata.json"] {
        s.store
            .put(&format!("{dir}{blob}"), Bytes::from_static(b"{}"))
            .await
            .unwrap();
    }
    let interrupted = json!({"status": {"phase": "InProgress", "stage": "Uploading",
        "storagePath": dir}});
    s.api
        .patch_status("r1", &PatchParams::default(), &Patch::Merge(&interrupted))
        .await
        .unwrap();
    reconcile(Arc::new(s.api.get("r1").await.unwrap()), s.ctx.clone())
        .await
        .unwrap();
    let status = s.api.get("r1").await.unwrap().status.unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Failed), "{status:?}");
    assert_eq!(
        s.store.size(&format!("{dir}metadata.json")).await.unwrap(),
        None,
        "the failed rerun left the interrupted run's commit marker"
    );
}

async fn delete_and_reconcile(s: &Setup, name: &str) -> bool {
    s.api
        .delete(name, &kube::api::DeleteParams::default())
        .await
        .unwrap();
    reconcile(Arc::new(s.api.get(name).await.unwrap()), s.ctx.clone())
        .await
        .is_ok()
}

async fn set_location(s: &Setup, field: &str, value: &str) {
    let las: Api<LocationAccess> = Api::namespaced(s.api.clone().into_client(), &s.ctx.namespace);
    las.patch(
        "loc",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {field: value}})),
    )
    .await
    .unwrap();
}

fn one_configmap(ns: &str) -> ResourceSelection {
    ResourceSelection {
        namespaces: vec![ns.into()],
        included_resources: vec!["configmaps".into()],
        ..Default::default()
    }
}

/// The location's prefix changes after a backup was written: deleting the job deletes the blobs
/// where they were written. A backup whose blobs are already gone deletes fine.
#[tokio::test]
async fn deletion_follows_the_written_path_and_tolerates_blobs_already_gone() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = namespace_with_configmaps(&client, "agent-del", ["a".to_string()]).await;
    let job = run_job(
        &s,
        "d1",
        job_spec("d1", one_configmap(&ns), DeletionPolicy::Delete),
    )
    .await;
    let dir = job.status.unwrap().run.storage_path.unwrap();
    assert!(dir.starts_with("team-a/"), "{dir}");
    assert_eq!(s.store.list(&dir, false).await.unwrap().blobs.len(), 5);
    set_location(&s, "prefix", "team-b").await;
    assert!(delete_and_reconcile(&s, "d1").await);
    assert!(
        s.api.get_opt("d1").await.unwrap().is_none(),
        "finalizer released"
    );
    assert!(
        s.store.list(&dir, false).await.unwrap().blobs.is_empty(),
        "the blobs under the old prefix are deleted"
    );

    let job = run_job(
        &s,
        "d2",
        job_spec("d2", one_configmap(&ns), DeletionPolicy::Delete),
    )
    .await;
    let dir = job.status.unwrap().run.storage_path.unwrap();
    assert!(dir.starts_with("team-b/"), "{dir}");
    for blob in s.store.list(&dir, false).await.unwrap().blobs {
        s.store.delete(&blob.name).await.unwrap();
    }
    assert!(delete_and_reconcile(&s, "d2").await);
    assert!(
        s.api.get_opt("d2").await.unwrap().is_none(),
        "finalizer released"
    );
}

/// A deletion that cannot succeed until someone fixes the location says so in the job's status
/// and keeps the finalizer; once fixed, the next attempt deletes.
#[tokio::test]
async fn a_permanent_deletion_failure_is_reported_on_the_job() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = namespace_with_configmaps(&client, "agent-del", ["a".to_string()]).await;
    let job = run_job(
        &s,
        "d3",
        job_spec("d3", one_configmap(&ns), DeletionPolicy::Delete),
    )
    .await;
    let dir = job.status.unwrap().run.storage_path.unwrap();
    let container = s.location.spec.container.clone();
    set_location(&s, "container", &format!("{container}-gone")).await;
    assert!(!delete_and_reconcile(&s, "d3").await, "the deletion fails");
    let job = s.api.get("d3").await.unwrap();
    let status = job.status.unwrap();
    let blocked = status
        .conditions
        .iter()
        .find(|c| c.type_ == "DeletionBlocked")
        .unwrap_or_else(|| panic!("no DeletionBlocked condition: {status:?}"));
    assert!(
        ["ContainerNotFound", "AuthorizationFailed"].contains(&blocked.reason.as_str()),
        "{blocked:?}"
    );
    assert!(blocked.message.contains("does not help"), "{blocked:?}");
    assert_eq!(
        status.run.phase,
        Some(BackupPhase::Succeeded),
        "the run's status is kept"
    );
    set_location(&s, "container", &container).await;
    reconcile(Arc::new(s.api.get("d3").await.unwrap()), s.ctx.clone())
        .await
        .unwrap();
    assert!(s.api.get_opt("d3").await.unwrap().is_none());
    assert!(s.store.list(&dir, false).await.unwrap().blobs.is_empty());
}

/// A VolumeSnapshot with the name this backup would use but another backup's UID is not taken
/// for this backup's: an item error, and it survives this backup's deletion. An unbound PVC is
/// skipped without an error.
#[tokio::test]
async fn another_backups_volume_snapshot_is_never_reused() {
    let s = setup().await;
    let client = cluster_client().await;
    let ns = herbarium_test_support::unique_namespace(&client, "agent-csi")
        .await
        .unwrap();
    let driver = format!("{ns}.csi.test");
    csi_claim(&client, &ns, &driver).await;
    apply(
        &client,
        Some(&ns),
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "unbound"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}),
    )
    .await;
    let spec = snapshot_job_spec("s1", &ns, Some("any"), "5s");
    let name = format!("s1-data-{}", spec.backup_uid);
    let snapshots = volume_snapshots(&client, &ns);
    let foreign: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": name, "labels": {"herbarium.io/backup-uid": "an-older-backup"}},
        "spec": {"volumeSnapshotClassName": "any", "source": {"persistentVolumeClaimName": "data"}}}))
    .unwrap();
    snapshots
        .create(&PostParams::default(), &foreign)
        .await
        .unwrap();
    let job = run_job(&s, "s1", spec).await;
    let status = job.status.unwrap().run;
    assert_eq!(
        status.phase,
        Some(BackupPhase::PartiallySucceeded),
        "{status:?}"
    );
    assert_eq!(status.errors.len(), 1, "{:?}", status.errors);
    assert!(
        status.errors[0].message.contains("not this backup's"),
        "{:?}",
        status.errors
    );
    assert_eq!(status.volume_snapshots, Some(0));
    assert!(delete_and_reconcile(&s, "s1").await);
    assert!(s.api.get_opt("s1").await.unwrap().is_none());
    assert!(
        snapshots.get_opt(&name).await.unwrap().is_some(),
        "another backup's snapshot is not deleted"
    );
}

//! What keeps a backup's storage consistent when things go wrong: a rerun over an interrupted run
//! uncommits first, deletion follows the path the backup was written to. Against cluster-1 and
//! Azurite, jobs reconciled in-process.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::backup::*;
use herbarium_agent::backup::reconcile::reconcile;
use herbarium_agent::format::backup_dir;
use herbarium_agent::store::BlobStore;
use herbarium_api::agent::BackupJob;
use herbarium_api::common::{BackupPhase, DeletionPolicy, ResourceSelection};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use kube::api::{Patch, PatchParams, PostParams};
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

//! SyncJob against the local API servers (MemoryStore: the point here is Kubernetes).

mod common;

use std::sync::Arc;

use common::restore::*;
use herbarium_agent::store::{BlobStore, MemoryStore};
use herbarium_agent::sync::job::sync_location;
use herbarium_api::agent::{BackupJob, SyncJob};
use herbarium_api::common::{BackupPhase, DeletionPolicy, Origin};
use herbarium_api::constants::BACKUP_UID_LABEL;
use herbarium_api::garden::SyncPhase;
use herbarium_test_support::{env, unique_namespace, wait_for};
use kube::Api;
use kube::api::{ListParams, PostParams};
use serde_json::json;

const U1: &str = "7d1e2f30-0000-4000-8000-0000000000b1";
const U2: &str = "7d1e2f30-0000-4000-8000-0000000000b2";
const U3: &str = "7d1e2f30-0000-4000-8000-0000000000b3";
const U4: &str = "7d1e2f30-0000-4000-8000-0000000000b4";
const U5: &str = "7d1e2f30-0000-4000-8000-0000000000b5";

async fn storage() -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    let cm = || {
        vec![obj(
            "v1",
            "configmaps",
            "ConfigMap",
            true,
            json!({"metadata": {"name": "a", "namespace": "n"}}),
        )]
    };
    write_backup(&store, "nightly", U1, &cm()).await;
    write_backup(&store, "weekly", U2, &cm()).await;
    // Still being written: no metadata.json.
    let dir = write_backup(&store, "running", U3, &cm()).await;
    store.delete(&format!("{dir}metadata.json")).await.unwrap();
    // Unreadable metadata.
    let dir = write_backup(&store, "broken", U4, &cm()).await;
    store
        .put(&format!("{dir}metadata.json"), "{not json".into())
        .await
        .unwrap();
    // A backup directory whose name is no Kubernetes object name (leading '.').
    write_backup(&store, ".hidden", U5, &cm()).await;
    // Not a backup directory at all.
    store
        .put("herbarium/v1/backups/junk/file", "x".into())
        .await
        .unwrap();
    store
}

#[tokio::test]
async fn sync_imports_unknown_committed_backups() {
    let c2 = env().clusters[1].client().await.unwrap();
    let ns = unique_namespace(&c2, "hb-sync").await.unwrap();
    location_access(&c2, &ns, "loc").await;
    let ctl = tokio::spawn(herbarium_agent::sync::job::run(context(
        &c2,
        &ns,
        storage().await,
    )));
    let api = Api::<SyncJob>::namespaced(c2.clone(), &ns);
    let job: SyncJob = serde_json::from_value(json!({"apiVersion": "agent.herbarium.io/v1alpha1",
        "kind": "SyncJob", "metadata": {"name": "initial", "namespace": ns},
        "spec": {"location": "loc", "request": "initial"}}))
    .unwrap();
    api.create(&PostParams::default(), &job).await.unwrap();
    let status = wait_for("SyncJob to finish", WAIT, || {
        let api = api.clone();
        async move {
            let s = api.get("initial").await.ok()?.status?;
            (s.phase == Some(SyncPhase::Succeeded) || s.phase == Some(SyncPhase::Failed))
                .then_some(s)
        }
    })
    .await
    .unwrap();
    assert_eq!(status.phase, Some(SyncPhase::Succeeded), "{status:?}");
    assert_eq!(
        (status.found, status.imported, status.invalid),
        (4, 2, 2),
        "{status:?}"
    );
    let message = status.message.unwrap();
    assert!(message.contains("broken"), "{message}");
    assert!(
        message.contains("\".hidden-7d1e2f30\" is not a valid Kubernetes object name"),
        "{message}"
    );

    let jobs = Api::<BackupJob>::namespaced(c2.clone(), &ns);
    let nightly = jobs.get("nightly-7d1e2f30").await.unwrap();
    assert_eq!(nightly.spec.origin, Origin::Synced);
    assert_eq!(nightly.spec.backup_uid, U1);
    assert_eq!(nightly.spec.cluster_uid, CLUSTER_UID);
    assert_eq!(nightly.spec.deletion_policy, DeletionPolicy::Retain);
    let run = nightly.status.unwrap().run;
    assert_eq!(run.phase, Some(BackupPhase::Succeeded));
    assert!(
        run.storage_path
            .unwrap()
            .ends_with(&format!("nightly-{U1}/"))
    );
    assert!(run.size_bytes.unwrap() > 0);
    ctl.abort();
}

#[tokio::test]
async fn concurrent_syncs_create_each_record_once() {
    let c2 = env().clusters[1].client().await.unwrap();
    let ns = unique_namespace(&c2, "hb-sync2").await.unwrap();
    let store = storage().await;
    let (a, b) = tokio::join!(
        sync_location(&*store, &c2, &ns, "loc", None),
        sync_location(&*store, &c2, &ns, "loc", None),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.imported + b.imported, 2, "{a:?} {b:?}");
    let jobs = Api::<BackupJob>::namespaced(c2.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    assert_eq!(jobs.len(), 2);
    for uid in [U1, U2] {
        let n = jobs
            .iter()
            .filter(|j| j.metadata.labels.as_ref().unwrap()[BACKUP_UID_LABEL] == uid)
            .count();
        assert_eq!(n, 1, "{uid}");
    }
    // A third sync finds everything known.
    let again = sync_location(&*store, &c2, &ns, "loc", None).await.unwrap();
    assert_eq!((again.found, again.imported), (4, 0));
}

#[tokio::test]
async fn a_synced_record_left_without_status_is_repaired() {
    let c2 = env().clusters[1].client().await.unwrap();
    let ns = unique_namespace(&c2, "hb-sync3").await.unwrap();
    let store = storage().await;
    // What a sync that stopped between the create and the status patch left behind.
    let jobs = Api::<BackupJob>::namespaced(c2.clone(), &ns);
    let left: BackupJob = serde_json::from_value(json!({
        "apiVersion": "agent.herbarium.io/v1alpha1", "kind": "BackupJob",
        "metadata": {"name": "nightly-7d1e2f30", "labels": {BACKUP_UID_LABEL: U1}},
        "spec": {"backupName": "nightly", "backupUID": U1, "clusterUID": CLUSTER_UID,
            "location": "loc", "origin": "Synced", "deletionPolicy": "Retain"}}))
    .unwrap();
    jobs.create(&PostParams::default(), &left).await.unwrap();
    assert!(jobs.get("nightly-7d1e2f30").await.unwrap().status.is_none());

    let outcome = sync_location(&*store, &c2, &ns, "loc", None).await.unwrap();
    assert_eq!((outcome.found, outcome.imported), (4, 1), "{outcome:?}");
    let run = jobs
        .get("nightly-7d1e2f30")
        .await
        .unwrap()
        .status
        .expect("status written")
        .run;
    assert_eq!(run.phase, Some(BackupPhase::Succeeded));
    assert!(
        run.storage_path
            .unwrap()
            .ends_with(&format!("nightly-{U1}/"))
    );
    assert!(run.size_bytes.unwrap() > 0);
}

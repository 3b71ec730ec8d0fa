//! Restores of volumes against the local API servers: PVs and PVCs, snapshots, storage classes
//! (MemoryStore: the point here is Kubernetes). Run like tests/restore.rs.

mod common;

use std::sync::Arc;

use common::restore::*;
use herbarium_agent::store::{BlobStore, MemoryStore};
use herbarium_api::common::RestorePhase;
use herbarium_test_support::env;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, PersistentVolumeClaim};
use kube::Api;
use kube::api::{DynamicObject, PostParams};
use kube::core::ApiResource;
use serde_json::json;

#[tokio::test]
async fn replace_never_deletes_a_claim_it_cannot_update_nor_takes_a_volume() {
    let c1 = env().clusters[0].client().await.unwrap();
    let ns = format!("claim-{}", std::process::id());
    let pv_name = format!("{ns}-pv");
    let pv = |claim_ns: &str| {
        json!({"metadata": {"name": pv_name}, "spec": {"capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/tmp/x"},
            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": claim_ns, "name": "data"}}})
    };
    let pvc = |class: &str| {
        json!({"metadata": {"name": "data", "namespace": ns}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": class,
            "resources": {"requests": {"storage": "1Gi"}}}})
    };
    let store = Arc::new(MemoryStore::new());
    let dir = write_backup(
        &store,
        "nightly",
        UID,
        &[
            namespace_obj(&ns),
            obj(
                "v1",
                "persistentvolumeclaims",
                "PersistentVolumeClaim",
                true,
                pvc("fast"),
            ),
            obj(
                "v1",
                "persistentvolumes",
                "PersistentVolume",
                false,
                pv(&ns),
            ),
        ],
    )
    .await;
    // The volume exists, bound to a claim elsewhere: a restore must not rebind it.
    let volumes = Api::<PersistentVolume>::all(c1.clone());
    volumes
        .create(
            &PostParams::default(),
            &serde_json::from_value(pv("elsewhere")).unwrap(),
        )
        .await
        .unwrap();
    Api::<Namespace>::all(c1.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await
        .unwrap();
    // The live claim differs in an immutable field: the update is refused (422).
    let claims = Api::<PersistentVolumeClaim>::namespaced(c1.clone(), &ns);
    let live = claims
        .create(
            &PostParams::default(),
            &serde_json::from_value(pvc("slow")).unwrap(),
        )
        .await
        .unwrap();
    let agent = agent_namespace(&c1).await;
    let ctl = start_controller(&c1, &agent, store).await;
    let job = restore_job(
        &c1,
        &agent,
        "replace",
        &dir,
        json!({"existingResourcePolicy": "Replace"}),
    )
    .await;
    let status = run(&job);
    let counts = status.counts.clone().unwrap();
    assert_eq!(
        (counts.restored, counts.failed, counts.skipped),
        (1, 1, 1),
        "the namespace is updated, the claim fails, the volume is kept: {status:?}"
    );
    assert_eq!(status.phase, Some(RestorePhase::PartiallySucceeded));
    let errors = &status.errors;
    assert!(
        errors.iter().any(|e| e.item.contains("persistentvolumeclaims")
            && e.message
                == "immutable fields differ; not replaced (a PVC is never deleted by a restore)"),
        "{errors:?}"
    );
    let now = claims.get("data").await.unwrap();
    assert_eq!(
        now.metadata.uid, live.metadata.uid,
        "the live claim is kept"
    );
    assert!(now.metadata.deletion_timestamp.is_none());
    assert_eq!(
        now.spec.unwrap().storage_class_name.as_deref(),
        Some("slow")
    );
    let claim_ref = volumes.get(&pv_name).await.unwrap().spec.unwrap().claim_ref;
    assert_eq!(claim_ref.unwrap().namespace.as_deref(), Some("elsewhere"));
    volumes.delete(&pv_name, &Default::default()).await.unwrap();
    ctl.abort();
}

#[tokio::test]
async fn volumes_are_restored_from_snapshots_and_storage_classes_mapped() {
    let c1 = env().clusters[0].client().await.unwrap();
    let id = std::process::id();
    let src = format!("vol-{id}");
    let target = format!("{src}-copy");
    let (pv_data, pv_logs) = (format!("pv-data-{id}"), format!("pv-logs-{id}"));
    let pv = |name: &str, claim: &str| {
        json!({"metadata": {"name": name}, "spec": {"storageClassName": "fast",
            "persistentVolumeReclaimPolicy": "Delete", "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "csi": {"driver": "disk.csi.azure.com", "volumeHandle": format!("/disks/{name}")},
            "claimRef": {"kind": "PersistentVolumeClaim", "namespace": src, "name": claim,
                "uid": "old"}}})
    };
    let pvc = |name: &str, volume: &str| {
        json!({"metadata": {"name": name, "namespace": src}, "spec": {
            "accessModes": ["ReadWriteOnce"], "storageClassName": "fast", "volumeName": volume,
            "resources": {"requests": {"storage": "1Gi"}}}})
    };
    let store = Arc::new(MemoryStore::new());
    let dir = write_backup(
        &store,
        "nightly",
        UID,
        &[
            namespace_obj(&src),
            obj(
                "v1",
                "persistentvolumes",
                "PersistentVolume",
                false,
                pv(&pv_data, "data"),
            ),
            obj(
                "v1",
                "persistentvolumes",
                "PersistentVolume",
                false,
                pv(&pv_logs, "logs"),
            ),
            obj(
                "v1",
                "persistentvolumeclaims",
                "PersistentVolumeClaim",
                true,
                pvc("data", &pv_data),
            ),
            obj(
                "v1",
                "persistentvolumeclaims",
                "PersistentVolumeClaim",
                true,
                pvc("logs", &pv_logs),
            ),
            obj(
                "apps/v1",
                "statefulsets",
                "StatefulSet",
                true,
                json!({"metadata": {"name": "db", "namespace": src}, "spec": {
                    "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "template": {"metadata": {"labels": {"app": "db"}},
                        "spec": {"containers": [{"name": "db", "image": "postgres:17"}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"},
                        "spec": {"storageClassName": "fast", "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}}}}]}}),
            ),
        ],
    )
    .await;
    // Only `data` has a snapshot.
    let volumes = json!([{"namespace": src, "persistentVolumeClaim": "data",
        "persistentVolume": pv_data, "driver": "disk.csi.azure.com",
        "volumeSnapshot": "nightly-data", "volumeSnapshotClass": "csi-azuredisk",
        "snapshotHandle": "/subscriptions/s/snapshots/nightly-data", "restoreSize": "1Gi"}]);
    store
        .put(&format!("{dir}volumes.json"), volumes.to_string().into())
        .await
        .unwrap();
    let agent = agent_namespace(&c1).await;
    let ctl = start_controller(&c1, &agent, store).await;
    let job = restore_job(
        &c1,
        &agent,
        "volumes",
        &dir,
        json!({"restoreVolumes": true, "namespaceMapping": {src.clone(): target.clone()},
            "storageClassMapping": {"fast": "premium"}}),
    )
    .await;
    let status = run(&job);
    assert_eq!(status.phase, Some(RestorePhase::Succeeded), "{status:?}");
    let counts = status.counts.clone().unwrap();
    // Namespace, the logs PV, two PVCs, the StatefulSet: the data PV is replaced by the snapshot.
    assert_eq!((counts.restored, counts.failed), (5, 0), "{status:?}");

    let ar = |group: &str, kind: &str, plural: &str| ApiResource {
        group: group.into(),
        version: "v1".into(),
        api_version: if group.is_empty() {
            "v1".into()
        } else {
            format!("{group}/v1")
        },
        kind: kind.into(),
        plural: plural.into(),
    };
    let name = herbarium_agent::restore::volumes::restore_snapshot_name(
        job.metadata.uid.as_deref().unwrap(),
        &src,
        "data",
    );
    let content = Api::<DynamicObject>::all_with(
        c1.clone(),
        &ar(
            "snapshot.storage.k8s.io",
            "VolumeSnapshotContent",
            "volumesnapshotcontents",
        ),
    )
    .get(&name)
    .await
    .unwrap();
    assert_eq!(
        content.data["spec"],
        json!({"deletionPolicy": "Retain", "driver": "disk.csi.azure.com",
            "source": {"snapshotHandle": "/subscriptions/s/snapshots/nightly-data"},
            "volumeSnapshotClassName": "csi-azuredisk",
            "volumeSnapshotRef": {"namespace": target, "name": name}})
    );
    let snapshot = Api::<DynamicObject>::namespaced_with(
        c1.clone(),
        &target,
        &ar(
            "snapshot.storage.k8s.io",
            "VolumeSnapshot",
            "volumesnapshots",
        ),
    )
    .get(&name)
    .await
    .unwrap();
    assert_eq!(
        snapshot.data["spec"]["source"]["volumeSnapshotContentName"],
        name
    );

    let claims = Api::<PersistentVolumeClaim>::namespaced(c1.clone(), &target);
    let data = claims.get("data").await.unwrap().spec.unwrap();
    let source = data.data_source.unwrap();
    assert_eq!(
        (
            source.api_group.as_deref(),
            source.kind.as_str(),
            source.name.as_str()
        ),
        (
            Some("snapshot.storage.k8s.io"),
            "VolumeSnapshot",
            name.as_str()
        )
    );
    assert_eq!(data.data_source_ref.unwrap().name, name);
    assert_eq!(
        data.volume_name, None,
        "a new volume comes from the snapshot"
    );
    assert_eq!(data.storage_class_name.as_deref(), Some("premium"));
    let logs = claims.get("logs").await.unwrap().spec.unwrap();
    assert_eq!(logs.storage_class_name.as_deref(), Some("premium"));
    assert_eq!(logs.volume_name.as_deref(), Some(pv_logs.as_str()));
    assert!(logs.data_source.is_none());

    let volumes = Api::<DynamicObject>::all_with(
        c1.clone(),
        &ar("", "PersistentVolume", "persistentvolumes"),
    );
    assert!(
        volumes.get_opt(&pv_data).await.unwrap().is_none(),
        "the snapshot's PV is not restored"
    );
    let restored_pv = volumes.get(&pv_logs).await.unwrap();
    assert_eq!(restored_pv.data["spec"]["storageClassName"], "premium");
    assert_eq!(
        restored_pv.data["spec"]["persistentVolumeReclaimPolicy"],
        "Retain"
    );
    assert_eq!(restored_pv.data["spec"]["claimRef"]["namespace"], target);

    let sts = Api::<DynamicObject>::namespaced_with(
        c1.clone(),
        &target,
        &ar("apps", "StatefulSet", "statefulsets"),
    )
    .get("db")
    .await
    .unwrap();
    assert_eq!(
        sts.data["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"],
        "premium"
    );
    volumes.delete(&pv_logs, &Default::default()).await.unwrap();
    ctl.abort();
}

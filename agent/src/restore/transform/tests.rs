use herbarium_api::garden::RestoreFilter;
use serde_json::json;

use super::*;

fn res(group: &str, resource: &str, kind: &str, namespaced: bool) -> ResourceIndex {
    ResourceIndex {
        group: group.into(),
        version: "v1".into(),
        resource: resource.into(),
        kind: kind.into(),
        namespaced,
        count: 1,
        bytes: 1,
        sha256: String::new(),
    }
}

fn plan() -> Plan {
    Plan {
        filter: Filter::new(&RestoreFilter::default()).unwrap(),
        namespace_mapping: [("shop".to_string(), "shop-copy".to_string())].into(),
        storage_class_mapping: [("fast".to_string(), "premium".to_string())].into(),
        from_snapshots: BTreeMap::new(),
    }
}

fn restored(d: Decision) -> Value {
    match d {
        Decision::Restore(v) => v,
        other => panic!("expected Restore, got {other:?}"),
    }
}

#[test]
fn server_owned_fields_are_dropped_and_namespace_mapped() {
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "a", "namespace": "shop", "uid": "u", "resourceVersion": "5",
        "managedFields": [{}], "creationTimestamp": "t", "generation": 2, "selfLink": "/x",
        "ownerReferences": [{"uid": "o"}], "finalizers": ["f"], "labels": {"app": "shop"},
        "annotations": {"a": "b"}}, "data": {"k": "v"}, "status": {"x": 1}});
    let got = restored(plan().prepare(&res("", "configmaps", "ConfigMap", true), cm));
    assert_eq!(
        got,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a",
            "namespace": "shop-copy", "labels": {"app": "shop"}, "annotations": {"a": "b"}},
            "data": {"k": "v"}})
    );
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "other"}});
    let got = restored(plan().prepare(&res("", "configmaps", "ConfigMap", true), other));
    assert_eq!(got["metadata"]["namespace"], "other");
}

#[test]
fn namespaces_and_binding_subjects_are_renamed() {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop",
        "labels": {"kubernetes.io/metadata.name": "shop", "team": "a"}}, "spec": {"finalizers": ["kubernetes"]}});
    let got = restored(plan().prepare(&res("", "namespaces", "Namespace", false), ns));
    assert_eq!(got["metadata"]["name"], "shop-copy");
    assert_eq!(
        got["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "shop-copy"
    );
    assert_eq!(got["metadata"]["labels"]["team"], "a");
    for (resource, kind, namespaced) in [
        ("rolebindings", "RoleBinding", true),
        ("clusterrolebindings", "ClusterRoleBinding", false),
    ] {
        let rb = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": {"name": "rb", "namespace": "shop"},
            "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "shop"},
                         {"kind": "ServiceAccount", "name": "x", "namespace": "other"},
                         {"kind": "User", "name": "jane"}]});
        let got = restored(plan().prepare(
            &res("rbac.authorization.k8s.io", resource, kind, namespaced),
            rb,
        ));
        assert_eq!(got["subjects"][0]["namespace"], "shop-copy");
        assert_eq!(got["subjects"][1]["namespace"], "other");
        assert!(got["subjects"][2].get("namespace").is_none());
    }
}

#[test]
fn pv_and_pvc_references_and_storage_classes_are_mapped() {
    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv1",
        "annotations": {"volume.beta.kubernetes.io/storage-class": "fast"}},
        "spec": {"storageClassName": "fast", "persistentVolumeReclaimPolicy": "Delete",
        "csi": {"driver": "disk.csi.azure.com", "volumeHandle": "/subscriptions/x/disks/d1"},
        "claimRef": {"kind": "PersistentVolumeClaim",
        "namespace": "shop", "name": "data", "uid": "old", "resourceVersion": "9"}}});
    let got =
        restored(plan().prepare(&res("", "persistentvolumes", "PersistentVolume", false), pv));
    assert_eq!(
        got["spec"]["claimRef"],
        json!({"kind": "PersistentVolumeClaim", "namespace": "shop-copy", "name": "data"})
    );
    assert_eq!(got["spec"]["storageClassName"], "premium");
    assert_eq!(
        got["spec"]["persistentVolumeReclaimPolicy"], "Retain",
        "deleting the restored claim must not delete the source's disk"
    );
    assert_eq!(
        got["spec"]["csi"]["volumeHandle"],
        "/subscriptions/x/disks/d1"
    );
    let bare = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv2"},
        "spec": {"capacity": {"storage": "1Gi"}}});
    let got2 = restored(plan().prepare(
        &res("", "persistentvolumes", "PersistentVolume", false),
        bare,
    ));
    assert_eq!(got2["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(
        got["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"],
        "premium"
    );

    let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data",
        "namespace": "shop", "annotations": {"pv.kubernetes.io/bind-completed": "yes"}},
        "spec": {"storageClassName": "slow", "volumeName": "pv1"}});
    let got = restored(plan().prepare(
        &res("", "persistentvolumeclaims", "PersistentVolumeClaim", true),
        pvc.clone(),
    ));
    assert_eq!(got["spec"]["volumeName"], "pv1", "binds to the restored PV");
    assert_eq!(
        got["spec"]["storageClassName"], "slow",
        "unmapped classes stay"
    );
    assert_eq!(got["metadata"]["annotations"], json!({}));

    let mut p = plan();
    p.from_snapshots
        .insert(("shop".into(), "data".into()), "hb-data".into());
    let got = restored(p.prepare(
        &res("", "persistentvolumeclaims", "PersistentVolumeClaim", true),
        pvc,
    ));
    assert!(got["spec"].get("volumeName").is_none());
    let source =
        json!({"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "hb-data"});
    assert_eq!(got["spec"]["dataSource"], source);
    assert_eq!(got["spec"]["dataSourceRef"], source);
    let pv = json!({"metadata": {"name": "pv1"}, "spec": {"claimRef": {"namespace": "shop", "name": "data"}}});
    assert!(p.pv_replaced_by_snapshot(
        &res("", "persistentvolumes", "PersistentVolume", false),
        &pv
    ));
    assert!(!plan().pv_replaced_by_snapshot(
        &res("", "persistentvolumes", "PersistentVolume", false),
        &pv
    ));
}

#[test]
fn statefulset_claim_templates_map_their_storage_class() {
    let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"volumeClaimTemplates": [
            {"metadata": {"name": "data"}, "spec": {"storageClassName": "fast"}},
            {"metadata": {"name": "wal", "annotations": {"volume.beta.kubernetes.io/storage-class": "fast"}},
             "spec": {}},
            {"metadata": {"name": "logs"}, "spec": {"storageClassName": "slow"}},
            {"metadata": {"name": "tmp"}, "spec": {}}]}});
    let got = restored(plan().prepare(&res("apps", "statefulsets", "StatefulSet", true), sts));
    let t = &got["spec"]["volumeClaimTemplates"];
    assert_eq!(t[0]["spec"]["storageClassName"], "premium");
    assert_eq!(
        t[1]["metadata"]["annotations"]["volume.beta.kubernetes.io/storage-class"],
        "premium"
    );
    assert!(t[1]["spec"].get("storageClassName").is_none());
    assert_eq!(
        t[2]["spec"]["storageClassName"], "slow",
        "unmapped classes stay"
    );
    assert_eq!(
        t[3]["spec"],
        json!({}),
        "no class: the default class stays the default"
    );
    assert_eq!(got["metadata"]["namespace"], "shop-copy");
}

#[test]
fn services_pods_and_service_accounts_lose_what_the_cluster_assigns() {
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"},
        "spec": {"type": "NodePort", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
        "ports": [{"port": 80, "nodePort": 30080}]}});
    let got = restored(plan().prepare(&res("", "services", "Service", true), svc));
    assert_eq!(
        got["spec"],
        json!({"type": "NodePort", "ports": [{"port": 80}]})
    );
    let headless = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "n"},
        "spec": {"clusterIP": "None", "clusterIPs": ["None"]}});
    let got = restored(plan().prepare(&res("", "services", "Service", true), headless));
    assert_eq!(got["spec"]["clusterIP"], "None");

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
        "spec": {"nodeName": "node-1", "containers": []}});
    let got = restored(plan().prepare(&res("", "pods", "Pod", true), pod));
    assert!(got["spec"].get("nodeName").is_none());

    let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": "n"},
        "secrets": [{"name": "app-token-x1"}, {"name": "pull"}]});
    let got = restored(plan().prepare(&res("", "serviceaccounts", "ServiceAccount", true), sa));
    assert_eq!(got["secrets"], json!([{"name": "pull"}]));
}

#[test]
fn objects_the_cluster_makes_are_not_restored() {
    let p = plan();
    let token = json!({"metadata": {"name": "t", "namespace": "n"}, "type": "kubernetes.io/service-account-token"});
    assert!(matches!(
        p.prepare(&res("", "secrets", "Secret", true), token),
        Decision::NotRestorable(_)
    ));
    let owned = |kind: &str, controller: bool| {
        json!({"metadata": {"name": "x", "namespace": "n",
        "ownerReferences": [{"kind": "Owner", "name": "o", "uid": "u", "controller": controller}]}, "kind": kind})
    };
    assert!(matches!(
        p.prepare(&res("", "pods", "Pod", true), owned("Pod", true)),
        Decision::NotRestorable(_)
    ));
    assert!(matches!(
        p.prepare(
            &res("apps", "replicasets", "ReplicaSet", true),
            owned("ReplicaSet", true)
        ),
        Decision::NotRestorable(_)
    ));
    assert!(matches!(
        p.prepare(&res("", "pods", "Pod", true), owned("Pod", false)),
        Decision::Restore(_)
    ));
    assert!(matches!(
        p.prepare(
            &res("", "configmaps", "ConfigMap", true),
            owned("ConfigMap", true)
        ),
        Decision::Restore(_)
    ));
    assert!(matches!(
        p.prepare(
            &res("", "nodes", "Node", false),
            json!({"metadata": {"name": "n1"}})
        ),
        Decision::NotRestorable(_)
    ));
    let job = json!({"metadata": {"name": "j", "namespace": "herbarium-system"}});
    assert!(matches!(
        p.prepare(
            &res("agent.herbarium.io", "backupjobs", "BackupJob", true),
            job.clone()
        ),
        Decision::NotRestorable(_)
    ));
    assert!(matches!(
        p.prepare(&res("", "configmaps", "ConfigMap", true), job),
        Decision::NotRestorable(_)
    ));
    let filtered = Plan {
        filter: Filter::new(&RestoreFilter {
            namespaces: vec!["a".into()],
            ..Default::default()
        })
        .unwrap(),
        ..plan()
    };
    assert_eq!(
        filtered.prepare(
            &res("", "configmaps", "ConfigMap", true),
            json!({"metadata": {"name": "x", "namespace": "b"}})
        ),
        Decision::Filtered
    );
}

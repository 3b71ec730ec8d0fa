//! Backup tests' shared setup: a LocationAccess on a fresh Azurite container in a per-test agent
//! namespace, jobs reconciled in-process, archives read back.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use herbarium_agent::backup::reconcile::reconcile;
use herbarium_agent::context::StoreFactory;
use herbarium_agent::format::parse_entry_path;
use herbarium_agent::store::AzureStores;
use herbarium_api::agent::{BackupJob, BackupJobSpec, LocationAccess};
use herbarium_api::common::{DeletionPolicy, Origin, ResourceSelection};
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use sha2::{Digest, Sha256};

use super::*;

pub const CRD: &str = "widgets.agenttest.herbarium.io";

/// A fresh namespace (named from `prefix`) holding one empty ConfigMap per name.
pub async fn namespace_with_configmaps(
    client: &Client,
    prefix: &str,
    names: impl IntoIterator<Item = String>,
) -> String {
    let ns = herbarium_test_support::unique_namespace(client, prefix)
        .await
        .unwrap();
    for name in names {
        let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}});
        apply(client, Some(&ns), cm).await;
    }
    ns
}

/// A PersistentVolume of CSI driver `driver` (handle `vol-1`) and PVC `data` of `ns` bound to it.
pub async fn csi_claim(client: &Client, ns: &str, driver: &str) {
    apply(
        client,
        None,
        serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": format!("{ns}-pv")},
        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "csi": {"driver": driver, "volumeHandle": "vol-1"}}}),
    )
    .await;
    apply(
        client,
        Some(ns),
        serde_json::json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
            "volumeName": format!("{ns}-pv")}}),
    )
    .await;
}

/// The spec of a job backing up `ns` with CSI snapshots of `class` (None: the driver's default).
pub fn snapshot_job_spec(
    name: &str,
    ns: &str,
    class: Option<&str>,
    timeout: &str,
) -> BackupJobSpec {
    let mut spec = job_spec(
        name,
        ResourceSelection {
            namespaces: vec![ns.to_string()],
            ..Default::default()
        },
        DeletionPolicy::Delete,
    );
    spec.volume_snapshots = Some(herbarium_api::common::VolumeSnapshotOptions {
        enabled: true,
        class_name: class.map(str::to_string),
        timeout: Some(timeout.into()),
    });
    spec
}

/// The VolumeSnapshots of `ns`.
pub fn volume_snapshots(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        client.clone(),
        ns,
        &ApiResource {
            group: "snapshot.storage.k8s.io".into(),
            version: "v1".into(),
            api_version: "snapshot.storage.k8s.io/v1".into(),
            kind: "VolumeSnapshot".into(),
            plural: "volumesnapshots".into(),
        },
    )
}

pub async fn apply(client: &Client, ns: Option<&str>, obj: serde_json::Value) {
    let api_version = obj["apiVersion"].as_str().unwrap().to_string();
    let kind = obj["kind"].as_str().unwrap().to_string();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
    let plural = match kind.as_str() {
        "CustomResourceDefinition" => "customresourcedefinitions".to_string(),
        "Widget" => "widgets".to_string(),
        "PersistentVolume" => "persistentvolumes".to_string(),
        "PersistentVolumeClaim" => "persistentvolumeclaims".to_string(),
        "ClusterRole" => "clusterroles".to_string(),
        "VolumeSnapshotClass" => "volumesnapshotclasses".to_string(),
        "RoleBinding" => "rolebindings".to_string(),
        "ServiceAccount" => "serviceaccounts".to_string(),
        k => format!("{}s", k.to_lowercase()),
    };
    let ar = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: api_version.clone(),
        kind,
        plural,
    };
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let name = obj["metadata"]["name"].as_str().unwrap().to_string();
    api.patch(
        &name,
        &PatchParams::apply("agent-test").force(),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {api_version} {name}: {e}"));
}

pub fn job_spec(name: &str, selection: ResourceSelection, policy: DeletionPolicy) -> BackupJobSpec {
    BackupJobSpec {
        backup_name: name.into(),
        backup_uid: uuid::Uuid::new_v4().to_string(),
        cluster_uid: "cluster-1-uid".into(),
        location: "loc".into(),
        origin: Origin::Manual,
        selection: Some(selection),
        pre_hooks: vec![],
        post_hooks: vec![],
        volume_snapshots: None,
        deletion_policy: policy,
        garden: None,
    }
}

pub struct Setup {
    pub api: Api<BackupJob>,
    pub ctx: Arc<herbarium_agent::context::Context<RecordingStores>>,
    pub calls: Calls,
    pub store: <AzureStores as StoreFactory>::Store,
    pub location: LocationAccess,
}

pub async fn setup() -> Setup {
    let client = cluster_client().await;
    let c = container().await;
    let settings = agent_with_role(&c).await;
    let agent_ns = herbarium_test_support::unique_namespace(&client, "agent-sys")
        .await
        .unwrap();
    let la_api: Api<LocationAccess> = Api::namespaced(client.clone(), &agent_ns);
    let location = la_api
        .create(
            &PostParams::default(),
            &LocationAccess::new("loc", location_spec(&c, &var("HERBARIUM_BLOB_ENDPOINT"))),
        )
        .await
        .unwrap();
    let store = AzureStores::new(settings.clone())
        .open(&location.spec)
        .unwrap();
    let (ctx, calls) = context(client.clone(), &agent_ns, settings);
    Setup {
        api: Api::namespaced(client, &agent_ns),
        ctx,
        calls,
        store,
        location,
    }
}

/// Creates the job and reconciles it until it stops changing (finalizer, then the run).
pub async fn run_job(s: &Setup, name: &str, spec: BackupJobSpec) -> BackupJob {
    s.api
        .create(&PostParams::default(), &BackupJob::new(name, spec))
        .await
        .unwrap();
    for _ in 0..2 {
        let job = s.api.get(name).await.unwrap();
        reconcile(Arc::new(job), s.ctx.clone())
            .await
            .expect("reconcile");
    }
    s.api.get(name).await.unwrap()
}

/// Reads the archive back: entries per resource, each resource's checksum.
pub fn read_archive(blob: &[u8]) -> BTreeMap<String, (u64, String)> {
    let mut tar = tar::Archive::new(zstd::stream::read::Decoder::new(blob).unwrap());
    let mut out: BTreeMap<String, (u64, Sha256)> = BTreeMap::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let key = parse_entry_path(&entry.path().unwrap().to_string_lossy()).unwrap();
        let mut body = Vec::new();
        entry.read_to_end(&mut body).unwrap();
        let obj: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            obj["metadata"].get("resourceVersion").is_none()
                && obj["metadata"].get("managedFields").is_none()
        );
        assert_eq!(obj["metadata"]["name"], key.name.as_str());
        let e = out
            .entry(format!("{}.{}", key.resource, key.group))
            .or_insert((0, Sha256::new()));
        e.0 += 1;
        e.1.update(&body);
    }
    out.into_iter()
        .map(|(k, (n, sha))| (k, (n, hex::encode(sha.finalize()))))
        .collect()
}

/// Every entry of an archive, in order.
pub fn archive_entries(blob: &[u8]) -> Vec<herbarium_agent::format::EntryKey> {
    let mut tar = tar::Archive::new(zstd::stream::read::Decoder::new(blob).unwrap());
    tar.entries()
        .unwrap()
        .map(|e| parse_entry_path(&e.unwrap().path().unwrap().to_string_lossy()).unwrap())
        .collect()
}

/// The archive of a finished job, read back from the store.
pub async fn entries_of(s: &Setup, job: &BackupJob) -> Vec<herbarium_agent::format::EntryKey> {
    use herbarium_agent::store::BlobStore;
    let dir = job
        .status
        .as_ref()
        .unwrap()
        .run
        .storage_path
        .clone()
        .unwrap();
    let blob = s
        .store
        .get(&format!("{dir}resources.tar.zst"), 1 << 30)
        .await
        .unwrap();
    archive_entries(&blob)
}

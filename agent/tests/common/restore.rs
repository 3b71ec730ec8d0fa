//! Restore and sync tests: a backup written straight into a store by a small writer that follows
//! docs/backup-format.md (so a test controls every byte, including the broken ones; the agent's
//! own writer is exercised by tests/azure_roundtrip.rs), the agent objects in a per-test
//! namespace, and the controllers running against a MemoryStore.

use std::sync::Arc;
use std::time::Duration;

use herbarium_agent::context::{Context, StoreFactory};
use herbarium_agent::format::{ArchiveInfo, Index, ResourceIndex, backup_dir};
use herbarium_agent::metrics::Metrics;
use herbarium_agent::store::{BlobStore, MemoryStore, StoreError};
use herbarium_api::agent::{LocationAccess, LocationAccessSpec, RestoreJob};
use herbarium_api::common::RestorePhase;
use herbarium_test_support::{unique_namespace, wait_for};
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const CLUSTER_UID: &str = "5e0c4a2e-0000-4000-8000-00000000c001";

/// One object to back up, with the group-resource it belongs to.
pub struct Obj {
    pub group: &'static str,
    pub version: &'static str,
    pub resource: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub body: Value,
}

/// The archive entry of Namespace `ns`.
pub fn namespace_obj(ns: &str) -> Obj {
    obj(
        "v1",
        "namespaces",
        "Namespace",
        false,
        json!({"metadata": {"name": ns}}),
    )
}

pub fn obj(
    api_version: &'static str,
    resource: &'static str,
    kind: &'static str,
    namespaced: bool,
    body: Value,
) -> Obj {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let mut body = body;
    body["apiVersion"] = json!(api_version);
    body["kind"] = json!(kind);
    Obj {
        group,
        version,
        resource,
        kind,
        namespaced,
        body,
    }
}

/// Writes a committed backup of `objects` (grouped by resource in order of first appearance)
/// into `store`; returns its directory.
pub async fn write_backup(store: &MemoryStore, name: &str, uid: &str, objects: &[Obj]) -> String {
    let dir = backup_dir(None, CLUSTER_UID, name, uid);
    let mut order: Vec<(usize, &Obj)> = Vec::new();
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for o in objects {
        let k = (o.group, o.resource);
        let pos = keys.iter().position(|x| *x == k).unwrap_or_else(|| {
            keys.push(k);
            keys.len() - 1
        });
        order.push((pos, o));
    }
    order.sort_by_key(|(p, _)| *p);
    let mut tar = tar::Builder::new(Vec::new());
    let mut resources: Vec<(ResourceIndex, Sha256)> = Vec::new();
    for (_, o) in &order {
        let bytes = serde_json::to_vec(&o.body).unwrap();
        let ns = o
            .body
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("_cluster");
        let name = o
            .body
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap();
        let group = if o.group.is_empty() { "core" } else { o.group };
        let path = format!(
            "resources/{group}/{}/{}/{ns}/{name}.json",
            o.version, o.resource
        );
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, path, bytes.as_slice()).unwrap();
        if !resources
            .last()
            .is_some_and(|(r, _)| r.group == o.group && r.resource == o.resource)
        {
            resources.push((
                ResourceIndex {
                    group: o.group.into(),
                    version: o.version.into(),
                    resource: o.resource.into(),
                    kind: o.kind.into(),
                    namespaced: o.namespaced,
                    count: 0,
                    bytes: 0,
                    sha256: String::new(),
                },
                Sha256::new(),
            ));
        }
        let (r, sha) = resources.last_mut().unwrap();
        r.count += 1;
        r.bytes += bytes.len() as u64;
        sha.update(&bytes);
    }
    let compressed = zstd::encode_all(tar.into_inner().unwrap().as_slice(), 3).unwrap();
    let resources: Vec<ResourceIndex> = resources
        .into_iter()
        .map(|(mut r, sha)| {
            r.sha256 = hex::encode(sha.finalize());
            r
        })
        .collect();
    let index = Index {
        format_version: "v1".into(),
        archive: ArchiveInfo {
            bytes: compressed.len() as u64,
            sha256: hex::encode(Sha256::digest(&compressed)),
            entries: resources.iter().map(|r| r.count).sum(),
            uncompressed_bytes: resources.iter().map(|r| r.bytes).sum(),
        },
        resources,
    };
    let metadata = json!({"formatVersion": "v1", "backupName": name, "backupUID": uid,
        "clusterUID": CLUSTER_UID, "started": "2026-01-01T00:00:00Z",
        "completed": "2026-01-01T00:01:00Z", "items": index.archive.entries,
        "archiveBytes": compressed.len(), "phase": "Succeeded", "agentVersion": "test"});
    store
        .put(&format!("{dir}resources.tar.zst"), compressed.into())
        .await
        .unwrap();
    store
        .put(
            &format!("{dir}index.json"),
            serde_json::to_vec(&index).unwrap().into(),
        )
        .await
        .unwrap();
    store
        .put(&format!("{dir}metadata.json"), metadata.to_string().into())
        .await
        .unwrap();
    dir
}

/// A LocationAccess named `name` in `namespace` (its content does not matter with a MemoryStore).
pub async fn location_access(client: &Client, namespace: &str, name: &str) {
    let la: LocationAccess = serde_json::from_value(json!({
        "apiVersion": "agent.herbarium.io/v1alpha1", "kind": "LocationAccess",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"storageAccount": "devstoreaccount1", "container": "backups",
            "endpoint": "https://127.0.0.1:1/devstoreaccount1", "clusterUID": "c2",
            "location": {"namespace": "garden-p", "name": "loc"}}
    }))
    .unwrap();
    Api::<LocationAccess>::namespaced(client.clone(), namespace)
        .create(&PostParams::default(), &la)
        .await
        .unwrap();
}

/// Hands out one shared MemoryStore whatever the LocationAccess says.
pub struct SharedStore(pub Arc<MemoryStore>);

impl StoreFactory for SharedStore {
    type Store = Arc<MemoryStore>;
    fn open(&self, _: &LocationAccessSpec) -> Result<Self::Store, StoreError> {
        Ok(self.0.clone())
    }
}

/// The agent's context for `namespace`, reading `store`.
pub fn context(
    client: &Client,
    namespace: &str,
    store: Arc<MemoryStore>,
) -> Arc<Context<SharedStore>> {
    Arc::new(Context::new(
        client.clone(),
        namespace,
        SharedStore(store),
        Metrics::default(),
    ))
}

pub const WAIT: Duration = Duration::from_secs(60);

/// The backup UID the restore tests write.
pub const UID: &str = "7d1e2f30-0000-4000-8000-0000000000a1";

/// A namespace for the agent's objects of one test.
/// A `&'static str` for [`Obj`]'s fields.
pub fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

pub async fn agent_namespace(client: &Client) -> String {
    unique_namespace(client, "hb-agent").await.unwrap()
}

pub async fn start_controller(
    client: &Client,
    namespace: &str,
    store: Arc<MemoryStore>,
) -> tokio::task::JoinHandle<()> {
    location_access(client, namespace, "loc").await;
    tokio::spawn(herbarium_agent::restore::job::run(context(
        client, namespace, store,
    )))
}

pub async fn restore_job(
    client: &Client,
    namespace: &str,
    name: &str,
    dir: &str,
    filter: Value,
) -> RestoreJob {
    let mut spec = json!({"backup": {"name": "nightly", "uid": UID, "clusterUID": CLUSTER_UID,
        "storagePath": dir}, "location": "loc"});
    spec.as_object_mut()
        .unwrap()
        .extend(filter.as_object().unwrap().clone());
    let job: RestoreJob =
        serde_json::from_value(json!({"apiVersion": "agent.herbarium.io/v1alpha1",
        "kind": "RestoreJob", "metadata": {"name": name, "namespace": namespace}, "spec": spec}))
        .unwrap();
    let api = Api::<RestoreJob>::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), &job).await.unwrap();
    wait_for(&format!("RestoreJob {name} to finish"), WAIT * 3, || {
        let api = api.clone();
        async move {
            let j = api.get(name).await.ok()?;
            let phase = j.status.as_ref()?.run.phase?;
            matches!(
                phase,
                RestorePhase::Succeeded | RestorePhase::PartiallySucceeded | RestorePhase::Failed
            )
            .then_some(j)
        }
    })
    .await
    .unwrap()
}

pub fn run(job: &RestoreJob) -> &herbarium_api::common::RestoreRunStatus {
    &job.status.as_ref().unwrap().run
}

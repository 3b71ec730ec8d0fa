//! CSI volume snapshots of the backed-up PVCs (`spec.volumeSnapshots.enabled`): one
//! VolumeSnapshot per PVC bound to a CSI volume, of the class the job names or else the class
//! marked default for the volume's driver; then wait until each is `readyToUse` or the timeout
//! passes. What was taken goes to volumes.json; what failed is an item error (the backup becomes
//! PartiallySucceeded: the objects are safe, a volume is not). Deleting the backup deletes the
//! VolumeSnapshots labelled with its UID.

mod rules;

use std::time::Duration;

use herbarium_api::constants::BACKUP_UID_LABEL;
use kube::Client;
use kube::api::{DeleteParams, PostParams};
use serde_json::{Value, json};

use super::archive::ResourceId;
use super::kube_io::{self, builtin};
pub use rules::{
    Claim, DEFAULT_CLASS_ANNOTATION, SnapshotRecord, claim_of, driver_of, needs_classes, owned,
    pick_class, snapshot_name,
};

/// What [`take`] did.
#[derive(Default)]
pub struct Taken {
    pub records: Vec<SnapshotRecord>,
    /// (item, message): each makes the backup PartiallySucceeded.
    pub errors: Vec<(String, String)>,
    /// (item, why) of the PVCs that get no snapshot by design (unbound, not CSI).
    pub skipped: Vec<(String, &'static str)>,
}

fn snapshot_resource() -> ResourceId {
    builtin(
        "snapshot.storage.k8s.io",
        "v1",
        "volumesnapshots",
        "VolumeSnapshot",
        true,
    )
}

/// Takes and awaits the snapshots.
pub async fn take(
    client: &Client,
    claims: &[Claim],
    class: Option<&str>,
    timeout: Duration,
    backup: (&str, &str),
) -> Taken {
    let mut t = Taken::default();
    let pv = builtin("", "v1", "persistentvolumes", "PersistentVolume", false);
    let mut csi = Vec::new();
    for claim in claims {
        let Some(volume) = &claim.volume else {
            t.skipped.push((claim.item(), "not bound to a volume"));
            continue;
        };
        match kube_io::get(client, &pv, None, volume).await {
            Ok(found) => match driver_of(found.as_ref()) {
                Ok(driver) => csi.push((claim, volume.clone(), driver)),
                // Its data is not part of this backup.
                Err(why) => t.skipped.push((claim.item(), why)),
            },
            Err(e) => t.errors.push((
                claim.item(),
                format!("reading PersistentVolume {volume}: {e}"),
            )),
        }
    }
    let classes = if needs_classes(class, csi.len()) {
        match list_classes(client).await {
            Ok(c) => c,
            Err(e) => {
                t.errors
                    .push((String::new(), format!("listing VolumeSnapshotClasses: {e}")));
                return t;
            }
        }
    } else {
        Vec::new()
    };
    let mut pending = Vec::new();
    for (claim, volume, driver) in csi {
        let item = claim.item();
        let class = match pick_class(class, &driver, &classes) {
            Ok(c) => c,
            Err(e) => {
                t.errors.push((item, e));
                continue;
            }
        };
        let name = snapshot_name(backup.0, backup.1, &claim.name);
        let body = json!({
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": name, "namespace": claim.namespace,
                "labels": {BACKUP_UID_LABEL: backup.1}},
            "spec": {"volumeSnapshotClassName": class,
                "source": {"persistentVolumeClaimName": claim.name}}
        });
        match create(client, &claim.namespace, &body, backup.1).await {
            Ok(()) => pending.push((claim, volume, driver, class, name)),
            Err(e) => t
                .errors
                .push((item, format!("creating VolumeSnapshot {name}: {e}"))),
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    for (claim, volume, driver, class, name) in pending {
        let item = format!(
            "snapshot.storage.k8s.io/v1/volumesnapshots/{}/{name}",
            claim.namespace
        );
        match wait_ready(client, &claim.namespace, &name, deadline).await {
            Ok(status) => t.records.push(SnapshotRecord {
                snapshot_handle: match status["boundVolumeSnapshotContentName"].as_str() {
                    Some(content) => snapshot_handle(client, content).await,
                    None => None,
                },
                namespace: claim.namespace.clone(),
                persistent_volume_claim: claim.name.clone(),
                persistent_volume: volume,
                driver,
                volume_snapshot: name,
                volume_snapshot_class: class,
                volume_snapshot_content: status["boundVolumeSnapshotContentName"]
                    .as_str()
                    .map(str::to_string),
                restore_size: status["restoreSize"].as_str().map(str::to_string),
            }),
            Err(e) => t.errors.push((item, e)),
        }
    }
    t
}

/// Deletes the VolumeSnapshots labelled with the backup's UID, in every namespace. A cluster
/// without the snapshot CRDs has none; snapshots already gone are fine.
pub async fn delete_of(client: &Client, backup_uid: &str) -> Result<u64, kube::Error> {
    let r = snapshot_resource();
    let selector = format!("{BACKUP_UID_LABEL}={backup_uid}");
    let mut deleted = 0;
    let mut token = None;
    loop {
        let page = match kube_io::list_page(client, &r, None, Some(&selector), 500, token).await {
            Ok(p) => p,
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(deleted),
            Err(e) => return Err(e),
        };
        for snap in &page.items {
            let (Some(ns), Some(name)) = (
                snap["metadata"]["namespace"].as_str(),
                snap["metadata"]["name"].as_str(),
            ) else {
                continue;
            };
            let req = kube::core::Request::new(kube_io::collection_path(&r, Some(ns)))
                .delete(name, &DeleteParams::default())
                .map_err(kube::Error::BuildRequest)?;
            match client.request::<Value>(req).await {
                Ok(_) => deleted += 1,
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        token = page.metadata.continue_token.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(deleted);
        }
    }
}

async fn list_classes(client: &Client) -> Result<Vec<Value>, kube::Error> {
    let r = builtin(
        "snapshot.storage.k8s.io",
        "v1",
        "volumesnapshotclasses",
        "VolumeSnapshotClass",
        false,
    );
    Ok(kube_io::list_page(client, &r, None, None, 500, None)
        .await?
        .items)
}

async fn create(
    client: &Client,
    namespace: &str,
    body: &Value,
    backup_uid: &str,
) -> Result<(), String> {
    let path = kube_io::collection_path(&snapshot_resource(), Some(namespace));
    let data = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let req = kube::core::Request::new(path)
        .create(&PostParams::default(), data)
        .map_err(|e| e.to_string())?;
    match client.request::<Value>(req).await {
        // The same job run again (agent restart): the snapshot of the first attempt is reused,
        // if it is this backup's.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let name = body["metadata"]["name"].as_str().unwrap_or_default();
            match kube_io::get(client, &snapshot_resource(), Some(namespace), name).await {
                Ok(Some(existing)) => owned(&existing, backup_uid),
                Ok(None) => Err("it exists and was deleted meanwhile; run the backup again".into()),
                Err(e) => Err(format!("it exists and cannot be read: {e}")),
            }
        }
        other => other.map(|_| ()).map_err(|e| e.to_string()),
    }
}

/// `status.snapshotHandle` of a VolumeSnapshotContent; `None` when it cannot be read (the record
/// then says so by its absence, and a restore reports that PVC as restored without data).
async fn snapshot_handle(client: &Client, content: &str) -> Option<String> {
    let resource = builtin(
        "snapshot.storage.k8s.io",
        "v1",
        "volumesnapshotcontents",
        "VolumeSnapshotContent",
        false,
    );
    match kube_io::get(client, &resource, None, content).await {
        Ok(Some(v)) => v["status"]["snapshotHandle"].as_str().map(str::to_string),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(%content, error = %e, "reading the VolumeSnapshotContent of a snapshot");
            None
        }
    }
}

/// Polls until `status.readyToUse`; an error in status or the deadline ends the wait.
async fn wait_ready(
    client: &Client,
    namespace: &str,
    name: &str,
    deadline: tokio::time::Instant,
) -> Result<Value, String> {
    loop {
        match kube_io::get(client, &snapshot_resource(), Some(namespace), name).await {
            Ok(Some(v)) => {
                let status = &v["status"];
                if status["readyToUse"] == true {
                    return Ok(status.clone());
                }
                if let Some(m) = status["error"]["message"].as_str() {
                    return Err(format!("the snapshot failed: {m}"));
                }
            }
            Ok(None) => return Err("the VolumeSnapshot disappeared".into()),
            Err(e) => tracing::debug!(%name, error = %e, "reading VolumeSnapshot"),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err("not ready to use within the timeout (volumeSnapshots.timeout)".into());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

//! CSI volume snapshots of the backed-up PVCs (`spec.volumeSnapshots.enabled`): one
//! VolumeSnapshot per PVC bound to a CSI volume, of the class the job names or else the class
//! marked default for the volume's driver; then wait until each is `readyToUse` or the timeout
//! passes. What was taken goes to volumes.json; what failed is an item error (the backup becomes
//! PartiallySucceeded: the objects are safe, a volume is not).

use std::time::Duration;

use kube::Client;
use kube::api::PostParams;
use serde::Serialize;
use serde_json::{Value, json};

use super::archive::ResourceId;
use super::kube_io::{self, builtin};

pub const DEFAULT_CLASS_ANNOTATION: &str = "snapshot.storage.kubernetes.io/is-default-class";

/// A PVC of the backup, as noted while streaming.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub namespace: String,
    pub name: String,
    pub volume: String,
}

/// One record of volumes.json.
#[derive(Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotRecord {
    pub namespace: String,
    pub persistent_volume_claim: String,
    pub persistent_volume: String,
    pub driver: String,
    pub volume_snapshot: String,
    pub volume_snapshot_class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_size: Option<String>,
    /// The storage system's ID of the snapshot (`VolumeSnapshotContent.status.snapshotHandle`):
    /// what a restore in any cluster pre-provisions a VolumeSnapshotContent from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_handle: Option<String>,
}

/// The claim of a listed PVC bound to a volume; `None` for anything else.
pub fn claim_of(r: &ResourceId, obj: &Value) -> Option<Claim> {
    if !(r.group.is_empty() && r.resource == "persistentvolumeclaims") {
        return None;
    }
    Some(Claim {
        namespace: obj["metadata"]["namespace"].as_str()?.to_string(),
        name: obj["metadata"]["name"].as_str()?.to_string(),
        volume: obj["spec"]["volumeName"]
            .as_str()
            .filter(|v| !v.is_empty())?
            .to_string(),
    })
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

/// The class for `driver`: the one asked for, else the single default class of the driver.
pub fn pick_class(asked: Option<&str>, driver: &str, classes: &[Value]) -> Result<String, String> {
    if let Some(name) = asked {
        return Ok(name.to_string());
    }
    let defaults: Vec<&str> = classes
        .iter()
        .filter(|c| c["driver"] == driver)
        .filter(|c| c["metadata"]["annotations"][DEFAULT_CLASS_ANNOTATION] == "true")
        .filter_map(|c| c["metadata"]["name"].as_str())
        .collect();
    match defaults.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(format!(
            "no VolumeSnapshotClass is marked default ({DEFAULT_CLASS_ANNOTATION}) for driver \
             {driver}; name one in volumeSnapshots.className"
        )),
        many => Err(format!(
            "{} VolumeSnapshotClasses are marked default for driver {driver} ({}); name one in \
             volumeSnapshots.className",
            many.len(),
            many.join(", ")
        )),
    }
}

/// `<backup>-<pvc>`, cut to a valid name (253 characters) with the backup UID's start as a
/// disambiguator when cut.
pub fn snapshot_name(backup: &str, backup_uid: &str, pvc: &str) -> String {
    let name = format!("{backup}-{pvc}");
    if name.len() <= 253 {
        return name;
    }
    let tag = &backup_uid[..backup_uid.len().min(8)];
    format!("{}-{tag}", name[..244].trim_end_matches(['-', '.']))
}

/// Takes and awaits the snapshots; returns the records and the (item, message) errors.
pub async fn take(
    client: &Client,
    claims: &[Claim],
    class: Option<&str>,
    timeout: Duration,
    backup: (&str, &str),
) -> (Vec<SnapshotRecord>, Vec<(String, String)>) {
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let classes = match list_classes(client).await {
        Ok(c) => c,
        Err(e) => {
            errors.push((String::new(), format!("listing VolumeSnapshotClasses: {e}")));
            return (records, errors);
        }
    };
    let pv = builtin("", "v1", "persistentvolumes", "PersistentVolume", false);
    let mut pending = Vec::new();
    for claim in claims {
        let item = format!(
            "/v1/persistentvolumeclaims/{}/{}",
            claim.namespace, claim.name
        );
        let driver = match kube_io::get(client, &pv, None, &claim.volume).await {
            Ok(Some(v)) => v["spec"]["csi"]["driver"].as_str().map(str::to_string),
            Ok(None) => None,
            Err(e) => {
                errors.push((
                    item,
                    format!("reading PersistentVolume {}: {e}", claim.volume),
                ));
                continue;
            }
        };
        // Not a CSI volume: nothing to snapshot (its data is not part of this backup).
        let Some(driver) = driver else { continue };
        let class = match pick_class(class, &driver, &classes) {
            Ok(c) => c,
            Err(e) => {
                errors.push((item, e));
                continue;
            }
        };
        let name = snapshot_name(backup.0, backup.1, &claim.name);
        let body = json!({
            "apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": name, "namespace": claim.namespace,
                "labels": {herbarium_api::constants::BACKUP_UID_LABEL: backup.1}},
            "spec": {"volumeSnapshotClassName": class,
                "source": {"persistentVolumeClaimName": claim.name}}
        });
        match create(client, &claim.namespace, &body).await {
            Ok(()) => pending.push((claim.clone(), driver, class, name)),
            Err(e) => errors.push((item, format!("creating VolumeSnapshot {name}: {e}"))),
        }
    }
    let deadline = tokio::time::Instant::now() + timeout;
    for (claim, driver, class, name) in pending {
        let item = format!(
            "snapshot.storage.k8s.io/v1/volumesnapshots/{}/{name}",
            claim.namespace
        );
        match wait_ready(client, &claim.namespace, &name, deadline).await {
            Ok(status) => records.push(SnapshotRecord {
                snapshot_handle: match status["boundVolumeSnapshotContentName"].as_str() {
                    Some(content) => snapshot_handle(client, content).await,
                    None => None,
                },
                namespace: claim.namespace.clone(),
                persistent_volume_claim: claim.name.clone(),
                persistent_volume: claim.volume.clone(),
                driver,
                volume_snapshot: name,
                volume_snapshot_class: class,
                volume_snapshot_content: status["boundVolumeSnapshotContentName"]
                    .as_str()
                    .map(str::to_string),
                restore_size: status["restoreSize"].as_str().map(str::to_string),
            }),
            Err(e) => errors.push((item, e)),
        }
    }
    (records, errors)
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

async fn create(client: &Client, namespace: &str, body: &Value) -> Result<(), kube::Error> {
    let path = kube_io::collection_path(&snapshot_resource(), Some(namespace));
    let data = serde_json::to_vec(body).map_err(kube::Error::SerdeError)?;
    let req = kube::core::Request::new(path)
        .create(&PostParams::default(), data)
        .map_err(kube::Error::BuildRequest)?;
    match client.request::<Value>(req).await {
        // The same job run again (agent restart): the snapshot of the first attempt is reused.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        other => other.map(|_| ()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn class(name: &str, driver: &str, default: bool) -> Value {
        let ann = if default {
            json!({DEFAULT_CLASS_ANNOTATION: "true"})
        } else {
            json!({})
        };
        json!({"metadata": {"name": name, "annotations": ann}, "driver": driver})
    }

    #[test]
    fn class_is_the_asked_one_or_the_single_default_of_the_driver() {
        let classes = [
            class("a", "d1", true),
            class("b", "d1", false),
            class("c", "d2", true),
            class("e", "d3", true),
            class("f", "d3", true),
        ];
        assert_eq!(pick_class(Some("x"), "d1", &classes).unwrap(), "x");
        assert_eq!(pick_class(None, "d1", &classes).unwrap(), "a");
        assert_eq!(pick_class(None, "d2", &classes).unwrap(), "c");
        assert!(
            pick_class(None, "d4", &classes)
                .unwrap_err()
                .contains("no VolumeSnapshotClass")
        );
        assert!(
            pick_class(None, "d3", &classes)
                .unwrap_err()
                .contains("2 VolumeSnapshotClasses")
        );
    }

    #[test]
    fn snapshot_names_stay_valid() {
        assert_eq!(
            snapshot_name("nightly", "0123456789", "data"),
            "nightly-data"
        );
        let long = snapshot_name(&"b".repeat(200), "0123456789", &"p".repeat(100));
        assert!(long.len() <= 253 && long.ends_with("-01234567"), "{long}");
    }
}

//! The pure part of volume snapshots: which PVCs get one, the class, the name, and whether an
//! existing VolumeSnapshot of that name is this backup's.

use herbarium_api::constants::BACKUP_UID_LABEL;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::super::archive::ResourceId;

pub const DEFAULT_CLASS_ANNOTATION: &str = "snapshot.storage.kubernetes.io/is-default-class";

/// A PVC of the backup, as noted while streaming. `volume` is `None` while it is unbound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub namespace: String,
    pub name: String,
    pub volume: Option<String>,
}

impl Claim {
    pub fn item(&self) -> String {
        format!(
            "/v1/persistentvolumeclaims/{}/{}",
            self.namespace, self.name
        )
    }
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

/// The claim of a listed PVC; `None` for anything else.
pub fn claim_of(r: &ResourceId, obj: &Value) -> Option<Claim> {
    if !(r.group.is_empty() && r.resource == "persistentvolumeclaims") {
        return None;
    }
    Some(Claim {
        namespace: obj["metadata"]["namespace"].as_str()?.to_string(),
        name: obj["metadata"]["name"].as_str()?.to_string(),
        volume: obj["spec"]["volumeName"]
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_string),
    })
}

/// The CSI driver of a claim's PersistentVolume, or why the claim gets no snapshot.
pub fn driver_of(pv: Option<&Value>) -> Result<String, &'static str> {
    let pv = pv.ok_or("its PersistentVolume does not exist")?;
    pv["spec"]["csi"]["driver"]
        .as_str()
        .map(str::to_string)
        .ok_or("not a CSI volume")
}

/// Whether the VolumeSnapshotClasses must be listed: only to find a driver's default class, when
/// the job names none and some claim is to be snapshotted (a cluster without the snapshot CRDs
/// then backs up its non-CSI PVCs without an error).
pub fn needs_classes(asked: Option<&str>, to_snapshot: usize) -> bool {
    asked.is_none() && to_snapshot > 0
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

/// `<backup>-<pvc>-<backup-uid>`: a Backup re-created under the same name never meets the
/// snapshots of the old one. Over 253 characters, `<backup>-<pvc>` is cut and an 8-hex hash of
/// the PVC name keeps two long PVC names apart.
pub fn snapshot_name(backup: &str, backup_uid: &str, pvc: &str) -> String {
    let name = format!("{backup}-{pvc}-{backup_uid}");
    if name.len() <= 253 {
        return name;
    }
    let hash = hex::encode(&Sha256::digest(pvc.as_bytes())[..4]);
    let keep = 253 - backup_uid.len() - hash.len() - 2;
    let head = format!("{backup}-{pvc}");
    format!(
        "{}-{hash}-{backup_uid}",
        head[..keep.min(head.len())].trim_end_matches(['-', '.'])
    )
}

/// Whether an existing VolumeSnapshot (found on 409 AlreadyExists) is this backup's own, from an
/// earlier attempt of the same job, and may be reused.
pub fn owned(existing: &Value, backup_uid: &str) -> Result<(), String> {
    match existing["metadata"]["labels"][BACKUP_UID_LABEL].as_str() {
        Some(uid) if uid == backup_uid => Ok(()),
        other => Err(format!(
            "a VolumeSnapshot of this name exists and is not this backup's ({BACKUP_UID_LABEL}: \
             {}); not reused, this PVC has no snapshot",
            other.unwrap_or("none")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
    fn classes_are_listed_only_to_find_a_default_for_a_csi_claim() {
        assert!(needs_classes(None, 1));
        assert!(!needs_classes(None, 0), "no CSI claim: no listing");
        assert!(!needs_classes(Some("c"), 3), "the job names the class");
        let csi = json!({"spec": {"csi": {"driver": "d"}}});
        assert_eq!(driver_of(Some(&csi)), Ok("d".into()));
        let host = json!({"spec": {"hostPath": {"path": "/x"}}});
        assert_eq!(driver_of(Some(&host)), Err("not a CSI volume"));
        assert!(driver_of(None).is_err());
    }

    const UID: &str = "3c2b1a09-0000-4000-8000-000000000002";

    #[test]
    fn snapshot_names_carry_the_backup_uid_and_stay_valid() {
        assert_eq!(
            snapshot_name("nightly", UID, "data"),
            format!("nightly-data-{UID}")
        );
        let other = "4c2b1a09-0000-4000-8000-000000000002";
        assert_ne!(
            snapshot_name("nightly", UID, "data"),
            snapshot_name("nightly", other, "data")
        );
        let (a, b) = ("p".repeat(250) + "a", "p".repeat(250) + "b");
        let (na, nb) = (
            snapshot_name(&"b".repeat(200), UID, &a),
            snapshot_name(&"b".repeat(200), UID, &b),
        );
        assert!(na.len() <= 253 && na.ends_with(UID), "{na}");
        assert_ne!(na, nb, "long PVC names stay apart");
    }

    #[test]
    fn only_this_backups_snapshot_is_reused() {
        let mine = json!({"metadata": {"labels": {BACKUP_UID_LABEL: UID}}});
        let theirs = json!({"metadata": {"labels": {BACKUP_UID_LABEL: "old"}}});
        assert!(owned(&mine, UID).is_ok());
        assert!(owned(&theirs, UID).unwrap_err().contains("old"));
        assert!(owned(&json!({}), UID).unwrap_err().contains("none"));
    }
}

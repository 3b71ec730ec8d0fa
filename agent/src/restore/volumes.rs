//! `volumes.json` read back (untrusted, bounded) and the snapshot objects a PVC is restored from.
//!
//! A backup records each CSI snapshot's handle; the target cluster may never have seen it, so the
//! restore pre-provisions it: a VolumeSnapshotContent naming the handle (deletionPolicy Retain:
//! deleting the restored objects never deletes the backup's snapshot) bound to a new
//! VolumeSnapshot in the target namespace, which the restored PVC names as its dataSource.

use serde::Deserialize;
use serde_json::{Value, json};

/// Larger is not a volumes file of ours.
pub const MAX_VOLUMES_BYTES: u64 = 4 * 1024 * 1024;
const MAX_VOLUMES: usize = 10_000;

/// One CSI snapshot taken by the backup.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeRecord {
    pub namespace: String,
    #[serde(alias = "persistentVolumeClaim")]
    pub pvc: String,
    pub volume_snapshot: String,
    #[serde(default)]
    pub volume_snapshot_class: Option<String>,
    pub driver: String,
    /// The storage snapshot's ID; without it the snapshot cannot be used in another cluster.
    #[serde(default)]
    pub snapshot_handle: Option<String>,
    #[serde(default, alias = "restoreSize")]
    pub size: Option<String>,
    #[serde(default)]
    pub storage_class: Option<String>,
}

/// Reads `volumes.json`: a JSON list of records (or `{"volumes": [...]}`), bounded.
pub fn parse_volumes(bytes: &[u8]) -> Result<Vec<VolumeRecord>, String> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum File {
        List(Vec<VolumeRecord>),
        Wrapped { volumes: Vec<VolumeRecord> },
    }
    if bytes.len() as u64 > MAX_VOLUMES_BYTES {
        return Err(format!("volumes.json: more than {MAX_VOLUMES_BYTES} bytes"));
    }
    let records = match serde_json::from_slice::<File>(bytes)
        .map_err(|e| format!("volumes.json is not valid: {e}"))?
    {
        File::List(v) | File::Wrapped { volumes: v } => v,
    };
    if records.len() > MAX_VOLUMES {
        return Err(format!("volumes.json: more than {MAX_VOLUMES} records"));
    }
    Ok(records)
}

/// Name of the VolumeSnapshot (and VolumeSnapshotContent) a restore creates for a PVC:
/// deterministic per restore job, so a rerun finds its own objects, and at most 253 characters
/// (a DNS-1123 subdomain: namespace and PVC names are ones already). The source namespace is part
/// of it: VolumeSnapshotContents are cluster-scoped. `<ns>-<pvc>` alone is ambiguous (`a-b`+`c`
/// and `a`+`b-c`), and truncation could cut the difference off: a short hash of the pair comes
/// first, so distinct PVCs get distinct names.
pub fn restore_snapshot_name(job_uid: &str, namespace: &str, pvc: &str) -> String {
    use sha2::{Digest, Sha256};
    let short: String = job_uid
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase();
    // '/' occurs in neither name: the pair is hashed unambiguously.
    let pair = hex::encode(&Sha256::digest(format!("{namespace}/{pvc}"))[..5]);
    let mut name = format!("hb-{short}-{pair}-{namespace}-{pvc}");
    name.truncate(253);
    name.trim_end_matches(['-', '.']).to_string()
}

/// The VolumeSnapshotContent and VolumeSnapshot that make `record`'s snapshot usable in
/// `namespace` under `name`.
pub fn snapshot_objects(record: &VolumeRecord, namespace: &str, name: &str) -> (Value, Value) {
    let mut content = json!({
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshotContent",
        "metadata": {"name": name},
        "spec": {
            "deletionPolicy": "Retain",
            "driver": record.driver,
            "source": {"snapshotHandle": record.snapshot_handle.as_deref().unwrap_or_default()},
            "volumeSnapshotRef": {"namespace": namespace, "name": name},
        }
    });
    let mut snapshot = json!({
        "apiVersion": "snapshot.storage.k8s.io/v1",
        "kind": "VolumeSnapshot",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"source": {"volumeSnapshotContentName": name}}
    });
    if let Some(class) = &record.volume_snapshot_class {
        content["spec"]["volumeSnapshotClassName"] = json!(class);
        snapshot["spec"]["volumeSnapshotClassName"] = json!(class);
    }
    (content, snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> VolumeRecord {
        VolumeRecord {
            namespace: "shop".into(),
            pvc: "data".into(),
            volume_snapshot: "data-snap".into(),
            volume_snapshot_class: Some("csi".into()),
            driver: "disk.csi.azure.com".into(),
            snapshot_handle: Some("/subscriptions/x/snapshots/s1".into()),
            size: Some("1Gi".into()),
            storage_class: Some("fast".into()),
        }
    }

    #[test]
    fn reads_records_bounded() {
        let text = r#"[{"namespace":"shop","pvc":"data","volumeSnapshot":"data-snap",
            "volumeSnapshotClass":"csi","driver":"disk.csi.azure.com",
            "snapshotHandle":"/subscriptions/x/snapshots/s1","size":"1Gi","storageClass":"fast"}]"#;
        assert_eq!(parse_volumes(text.as_bytes()).unwrap(), vec![record()]);
        let wrapped = format!(r#"{{"volumes": {text}}}"#);
        assert_eq!(parse_volumes(wrapped.as_bytes()).unwrap().len(), 1);
        assert!(parse_volumes(b"[{}]").is_err());
        // As the agent's writer records them (no handle: usable only as a reported error).
        let written = br#"[{"namespace": "shop", "persistentVolumeClaim": "data",
            "persistentVolume": "pv-1", "driver": "disk.csi.azure.com",
            "volumeSnapshot": "nightly-data", "volumeSnapshotClass": "csi-azuredisk",
            "volumeSnapshotContent": "snapcontent-1", "restoreSize": "10Gi"}]"#;
        let r = &parse_volumes(written).unwrap()[0];
        assert_eq!(
            (
                r.pvc.as_str(),
                r.size.as_deref(),
                r.snapshot_handle.as_deref()
            ),
            ("data", Some("10Gi"), None)
        );
        assert!(parse_volumes(&vec![b' '; MAX_VOLUMES_BYTES as usize + 1]).is_err());
    }

    #[test]
    fn snapshot_objects_point_at_each_other() {
        let name = restore_snapshot_name("1234abcd-ef00-0000-0000-000000000000", "shop", "data");
        assert!(name.starts_with("hb-1234abcd-"), "{name}");
        assert!(name.ends_with("-shop-data"), "{name}");
        assert_eq!(name.len(), "hb-1234abcd-0123456789-shop-data".len());
        let long = restore_snapshot_name("u", "n", &"p".repeat(300));
        assert_eq!(long.len(), 253);
        let (content, snapshot) = snapshot_objects(&record(), "shop-copy", &name);
        assert_eq!(
            content["spec"]["volumeSnapshotRef"]["namespace"],
            "shop-copy"
        );
        assert_eq!(
            content["spec"]["source"]["snapshotHandle"],
            "/subscriptions/x/snapshots/s1"
        );
        assert_eq!(content["spec"]["deletionPolicy"], "Retain");
        assert_eq!(
            snapshot["spec"]["source"]["volumeSnapshotContentName"],
            name
        );
        assert_eq!(snapshot["metadata"]["namespace"], "shop-copy");
        assert_eq!(snapshot["spec"]["volumeSnapshotClassName"], "csi");
    }

    #[test]
    fn snapshot_names_of_distinct_claims_differ() {
        let uid = "1234abcd-ef00-0000-0000-000000000000";
        let a = restore_snapshot_name(uid, "a-b", "c");
        let b = restore_snapshot_name(uid, "a", "b-c");
        assert_ne!(a, b, "namespace a-b + PVC c is not namespace a + PVC b-c");
        assert_eq!(a, restore_snapshot_name(uid, "a-b", "c"), "deterministic");
        // Names that differ only past the truncation point still differ.
        let long = "p".repeat(300);
        let (x, y) = (
            restore_snapshot_name(uid, "n", &format!("{long}x")),
            restore_snapshot_name(uid, "n", &format!("{long}y")),
        );
        assert_ne!(x, y);
        for name in [&a, &b, &x] {
            assert!(name.len() <= 253);
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'),
                "{name}"
            );
            assert!(!name.ends_with(['-', '.']));
        }
    }
}

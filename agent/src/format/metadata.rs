//! `metadata.json`, written last: its presence means the backup is complete.

use serde::{Deserialize, Serialize};

use super::FormatError;

/// Larger is not a metadata file of ours.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Always `v1` for this format.
    pub format_version: String,
    pub backup_name: String,
    #[serde(rename = "backupUID")]
    pub backup_uid: String,
    #[serde(rename = "clusterUID")]
    pub cluster_uid: String,
    /// RFC 3339.
    pub started: String,
    pub completed: String,
    /// Objects in the archive.
    pub items: u64,
    /// Size of `resources.tar.zst` in bytes.
    pub archive_bytes: u64,
    /// `Succeeded` or `PartiallySucceeded`.
    pub phase: String,
    /// Version of the agent that wrote it.
    pub agent_version: String,
}

/// Reads `metadata.json` from storage: bounded size, known format version, known fields only,
/// and the identity it claims must match the directory it was found in.
pub fn parse_metadata(bytes: &[u8], expect_uid: &str) -> Result<Metadata, FormatError> {
    if bytes.len() > MAX_METADATA_BYTES {
        return Err(FormatError::Metadata(format!(
            "{} bytes, more than the {MAX_METADATA_BYTES} allowed",
            bytes.len()
        )));
    }
    let m: Metadata = serde_json::from_slice(bytes)
        .map_err(|e| FormatError::Metadata(format!("not valid: {e}")))?;
    if m.format_version != herbarium_api::constants::FORMAT_VERSION {
        return Err(FormatError::Metadata(format!(
            "format version {:?} is not supported (want v1)",
            m.format_version
        )));
    }
    if m.backup_uid != expect_uid {
        return Err(FormatError::Metadata(format!(
            "names backup {:?} but lies in the directory of {expect_uid:?}",
            m.backup_uid
        )));
    }
    if !matches!(m.phase.as_str(), "Succeeded" | "PartiallySucceeded") {
        return Err(FormatError::Metadata(format!(
            "phase {:?} is not a completed backup",
            m.phase
        )));
    }
    Ok(m)
}

#[cfg(test)]
impl Metadata {
    /// The metadata of a committed backup `nightly` with one object, for tests.
    pub(crate) fn sample(uid: &str, cluster: &str) -> Self {
        Metadata {
            format_version: "v1".into(),
            backup_name: "nightly".into(),
            backup_uid: uid.into(),
            cluster_uid: cluster.into(),
            started: "2026-01-01T00:00:00Z".into(),
            completed: "2026-01-01T00:01:00Z".into(),
            items: 1,
            archive_bytes: 1,
            phase: "Succeeded".into(),
            agent_version: "t".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> serde_json::Value {
        json!({
            "formatVersion": "v1", "backupName": "b", "backupUID": "u1", "clusterUID": "c1",
            "started": "2026-01-01T00:00:00Z", "completed": "2026-01-01T00:01:00Z",
            "items": 3, "archiveBytes": 1024, "phase": "Succeeded", "agentVersion": "0.1.0"
        })
    }

    #[test]
    fn reads_what_the_agent_writes() {
        let m = parse_metadata(sample().to_string().as_bytes(), "u1").unwrap();
        assert_eq!(m.items, 3);
        let written = serde_json::to_value(&m).unwrap();
        assert_eq!(written, sample());
    }

    #[test]
    fn refuses_what_it_cannot_trust() {
        let with = |k: &str, v: serde_json::Value| {
            let mut s = sample();
            s[k] = v;
            s.to_string()
        };
        let cases = [
            (with("formatVersion", json!("v2")), "not supported"),
            (with("backupUID", json!("other")), "lies in the directory"),
            (with("phase", json!("InProgress")), "not a completed backup"),
            (with("unexpected", json!(1)), "unknown field"),
            (with("items", json!(-1)), "not valid"),
            ("{".to_string(), "not valid"),
            (" ".repeat(MAX_METADATA_BYTES + 1), "more than"),
        ];
        for (text, want) in cases {
            let err = parse_metadata(text.as_bytes(), "u1")
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }
}

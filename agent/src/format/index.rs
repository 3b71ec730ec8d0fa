//! `index.json`: what the archive holds, per group-resource, with checksums. Written after the
//! archive is committed and before `metadata.json`; read back as untrusted input before a restore
//! trusts a single archive byte.

use serde::{Deserialize, Serialize};

use super::FormatError;

/// Larger is not an index of ours (10,000 group-resources at a few hundred bytes each).
pub const MAX_INDEX_BYTES: usize = 4 * 1024 * 1024;
/// More group-resources than any real cluster serves.
pub const MAX_RESOURCES: usize = 10_000;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Index {
    /// Always `v1`.
    pub format_version: String,
    pub archive: ArchiveInfo,
    /// In archive order: entries of one group-resource are contiguous in the tar.
    pub resources: Vec<ResourceIndex>,
}

/// The `resources.tar.zst` blob as a whole.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArchiveInfo {
    /// Size of the compressed blob.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the compressed blob.
    pub sha256: String,
    /// Tar entries (objects) in it.
    pub entries: u64,
    /// Sum of the entries' sizes (JSON bytes), before compression.
    pub uncompressed_bytes: u64,
}

/// One group-resource in the archive.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceIndex {
    /// API group; `""` for the core group (`core` in entry paths).
    pub group: String,
    pub version: String,
    /// Plural resource name, e.g. `configmaps`.
    pub resource: String,
    pub kind: String,
    pub namespaced: bool,
    /// Objects of this resource in the archive.
    pub count: u64,
    /// Sum of their JSON sizes.
    pub bytes: u64,
    /// Lowercase hex SHA-256 over their JSON contents, concatenated in archive order.
    pub sha256: String,
}

/// Reads `index.json` from storage: bounded size, known fields, and totals that add up.
pub fn parse_index(bytes: &[u8]) -> Result<Index, FormatError> {
    let bad = |m: String| FormatError::Index(m);
    if bytes.len() > MAX_INDEX_BYTES {
        return Err(bad(format!(
            "{} bytes, more than the {MAX_INDEX_BYTES} allowed",
            bytes.len()
        )));
    }
    let index: Index = serde_json::from_slice(bytes).map_err(|e| bad(format!("not valid: {e}")))?;
    if index.format_version != herbarium_api::constants::FORMAT_VERSION {
        return Err(bad(format!(
            "format version {:?} is not supported (want v1)",
            index.format_version
        )));
    }
    if index.resources.len() > MAX_RESOURCES {
        return Err(bad(format!(
            "{} resources, more than the {MAX_RESOURCES} allowed",
            index.resources.len()
        )));
    }
    if !is_sha256(&index.archive.sha256) || index.resources.iter().any(|r| !is_sha256(&r.sha256)) {
        return Err(bad("a checksum is not 64 lowercase hex digits".into()));
    }
    let entries: u64 = index.resources.iter().map(|r| r.count).sum();
    let uncompressed: u64 = index.resources.iter().map(|r| r.bytes).sum();
    if entries != index.archive.entries || uncompressed != index.archive.uncompressed_bytes {
        return Err(bad(format!(
            "per-resource totals ({entries} entries, {uncompressed} bytes) differ from the \
             archive's ({} entries, {} bytes)",
            index.archive.entries, index.archive.uncompressed_bytes
        )));
    }
    Ok(index)
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SUM: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn sample() -> serde_json::Value {
        json!({
            "formatVersion": "v1",
            "archive": {"bytes": 100, "sha256": SUM, "entries": 3, "uncompressedBytes": 30},
            "resources": [
                {"group": "", "version": "v1", "resource": "configmaps", "kind": "ConfigMap",
                 "namespaced": true, "count": 2, "bytes": 20, "sha256": SUM},
                {"group": "apps", "version": "v1", "resource": "deployments", "kind": "Deployment",
                 "namespaced": true, "count": 1, "bytes": 10, "sha256": SUM}
            ]
        })
    }

    #[test]
    fn reads_what_the_agent_writes() {
        let index = parse_index(sample().to_string().as_bytes()).unwrap();
        assert_eq!(index.resources.len(), 2);
        let again = serde_json::to_vec(&index).unwrap();
        assert_eq!(parse_index(&again).unwrap(), index);
    }

    #[test]
    fn refuses_what_does_not_add_up() {
        let cases = [
            ("totals", "/archive/entries", json!(4)),
            ("version", "/formatVersion", json!("v2")),
            ("checksum", "/resources/0/sha256", json!("XYZ")),
            ("count", "/resources/1/count", json!(2)),
        ];
        for (what, pointer, value) in cases {
            let mut v = sample();
            *v.pointer_mut(pointer).unwrap() = value;
            assert!(
                parse_index(v.to_string().as_bytes()).is_err(),
                "{what} must be refused"
            );
        }
        let mut v = sample();
        v["extra"] = json!(1);
        assert!(
            parse_index(v.to_string().as_bytes()).is_err(),
            "unknown field"
        );
        let huge = vec![b' '; MAX_INDEX_BYTES + 1];
        assert!(
            parse_index(&huge)
                .unwrap_err()
                .to_string()
                .contains("allowed")
        );
    }
}

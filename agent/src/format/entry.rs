//! Names of entries in `resources.tar.zst`:
//! `resources/<group|core>/<version>/<resource>/<namespace|_cluster>/<name>.json`.

use super::FormatError;

/// Longest entry name accepted when reading (group 253 + version + resource 253 + namespace 63 +
/// name 253 + separators, rounded up).
const MAX_ENTRY_PATH: usize = 1024;

/// What an entry holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryKey {
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub resource: String,
    /// `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    pub name: String,
}

/// The entry name of an object.
pub fn entry_path(key: &EntryKey) -> String {
    let group = if key.group.is_empty() {
        "core"
    } else {
        &key.group
    };
    let namespace = key.namespace.as_deref().unwrap_or("_cluster");
    format!(
        "resources/{group}/{}/{}/{namespace}/{}.json",
        key.version, key.resource, key.name
    )
}

/// Reads an entry name from an archive: exactly the shape above, every segment a plain name
/// (no '..', no '.', nothing empty, no backslash, no control characters), nothing absolute.
pub fn parse_entry_path(path: &str) -> Result<EntryKey, FormatError> {
    let bad = |reason| {
        Err(FormatError::Entry {
            path: path.chars().take(200).collect(),
            reason,
        })
    };
    if path.len() > MAX_ENTRY_PATH {
        return bad("name too long");
    }
    if path.starts_with('/') || path.contains('\\') || path.chars().any(char::is_control) {
        return bad("not a relative path of plain segments");
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return bad("empty, '.' or '..' segment");
    }
    let [root, group, version, resource, scope, file] = segments[..] else {
        return bad("not resources/<group>/<version>/<resource>/<namespace>/<name>.json");
    };
    if root != "resources" {
        return bad("outside resources/");
    }
    let Some(name) = file.strip_suffix(".json").filter(|n| !n.is_empty()) else {
        return bad("not a .json entry");
    };
    Ok(EntryKey {
        group: if group == "core" {
            String::new()
        } else {
            group.to_string()
        },
        version: version.to_string(),
        resource: resource.to_string(),
        namespace: (scope != "_cluster").then(|| scope.to_string()),
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(group: &str, namespace: Option<&str>) -> EntryKey {
        EntryKey {
            group: group.into(),
            version: "v1".into(),
            resource: "things".into(),
            namespace: namespace.map(Into::into),
            name: "a.b".into(),
        }
    }

    #[test]
    fn names_round_trip() {
        for k in [
            key("", Some("shop")),
            key("apps", Some("shop")),
            key("example.com", None),
        ] {
            assert_eq!(parse_entry_path(&entry_path(&k)).unwrap(), k);
        }
        assert_eq!(
            entry_path(&key("", Some("shop"))),
            "resources/core/v1/things/shop/a.b.json"
        );
        assert_eq!(
            entry_path(&key("rbac", None)),
            "resources/rbac/v1/things/_cluster/a.b.json"
        );
    }

    #[test]
    fn hostile_names_are_refused() {
        let long = format!("resources/core/v1/cm/ns/{}.json", "a".repeat(2000));
        for path in [
            "/resources/core/v1/cm/ns/a.json",
            "resources/core/v1/cm/../../../../etc/passwd.json",
            "resources/core/v1/cm/ns/../a.json",
            "resources/core/v1/cm/./a.json",
            "resources/core//cm/ns/a.json",
            "resources\\core\\v1\\cm\\ns\\a.json",
            "resources/core/v1/cm/ns/a\n.json",
            "other/core/v1/cm/ns/a.json",
            "resources/core/v1/cm/ns/a.yaml",
            "resources/core/v1/cm/ns/.json",
            "resources/core/v1/cm/a.json",
            "resources/core/v1/cm/ns/x/a.json",
            long.as_str(),
        ] {
            assert!(parse_entry_path(path).is_err(), "{path:?} accepted");
        }
    }
}

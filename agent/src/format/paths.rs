//! Blob paths of format v1:
//! `<prefix>/herbarium/v1/backups/<cluster-uid>/<backup-name>-<backup-uid>/` and
//! `<prefix>/herbarium/v1/validation/<cluster-uid>`.

use herbarium_api::constants::FORMAT_VERSION;

/// `<prefix>/herbarium/v1/backups/` (no leading '/'; an empty prefix is the container's root).
pub fn backups_root(prefix: Option<&str>) -> String {
    format!("{}herbarium/{FORMAT_VERSION}/backups/", prefix_dir(prefix))
}

/// The directory of one backup, ending in '/'.
pub fn backup_dir(prefix: Option<&str>, cluster_uid: &str, name: &str, uid: &str) -> String {
    format!("{}{cluster_uid}/{name}-{uid}/", backups_root(prefix))
}

/// The probe blob of location validation.
pub fn validation_blob(prefix: Option<&str>, cluster_uid: &str) -> String {
    format!(
        "{}herbarium/{FORMAT_VERSION}/validation/{cluster_uid}",
        prefix_dir(prefix)
    )
}

fn prefix_dir(prefix: Option<&str>) -> String {
    match prefix.map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => format!("{p}/"),
        _ => String::new(),
    }
}

/// A backup directory found in storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupDir {
    pub cluster_uid: String,
    pub name: String,
    pub uid: String,
}

/// Reads `<cluster-uid>/<name>-<uid>/` relative to [`backups_root`], as listed by a sync. The
/// UID is the trailing 36-character UUID (names may contain '-'). `None` for anything else: a
/// sync skips what it does not recognise instead of guessing.
pub fn parse_backup_dir(relative: &str) -> Option<BackupDir> {
    let relative = relative.strip_suffix('/').unwrap_or(relative);
    let (cluster_uid, rest) = relative.split_once('/')?;
    if cluster_uid.is_empty() || rest.contains('/') || rest.len() < 38 {
        return None;
    }
    let (name, uid) = rest.split_at(rest.len() - 36);
    let name = name.strip_suffix('-')?;
    let valid_name = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    (valid_name && is_uuid(uid) && is_uuid_like(cluster_uid)).then(|| BackupDir {
        cluster_uid: cluster_uid.to_string(),
        name: name.to_string(),
        uid: uid.to_string(),
    })
}

/// Reads a whole backup directory path, `<prefix>/herbarium/v1/backups/<cluster-uid>/<name>-<uid>/`
/// as [`backup_dir`] writes it, into (prefix, directory). `None` unless the path is exactly what
/// `backup_dir` gives for them: no empty, `.` or `..` segment in the prefix, no leading '/'.
pub fn parse_backup_path(path: &str) -> Option<(Option<String>, BackupDir)> {
    let marker = format!("herbarium/{FORMAT_VERSION}/backups/");
    let at = path.find(&marker)?;
    let (prefix, relative) = (&path[..at], &path[at + marker.len()..]);
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    let safe = |seg: &str| {
        !seg.is_empty() && seg != "." && seg != ".." && !seg.chars().any(char::is_control)
    };
    if !relative.ends_with('/') || (!prefix.is_empty() && !prefix.split('/').all(safe)) {
        return None;
    }
    let dir = parse_backup_dir(relative)?;
    let prefix = (!prefix.is_empty()).then(|| prefix.to_string());
    (backup_dir(prefix.as_deref(), &dir.cluster_uid, &dir.name, &dir.uid) == path)
        .then_some((prefix, dir))
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Cluster UIDs are Kubernetes UIDs; accept any short token of safe characters.
fn is_uuid_like(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "3c2b1a09-0000-4000-8000-000000000002";

    #[test]
    fn paths_with_and_without_prefix() {
        assert_eq!(backups_root(None), "herbarium/v1/backups/");
        assert_eq!(backups_root(Some("")), "herbarium/v1/backups/");
        assert_eq!(backups_root(Some("a/b")), "a/b/herbarium/v1/backups/");
        assert_eq!(
            backup_dir(Some("a"), "c1", "nightly-1", UID),
            format!("a/herbarium/v1/backups/c1/nightly-1-{UID}/")
        );
        assert_eq!(
            validation_blob(Some("a/b"), "c1"),
            "a/b/herbarium/v1/validation/c1"
        );
    }

    #[test]
    fn whole_backup_paths_round_trip_and_escapes_are_refused() {
        for prefix in [None, Some("a"), Some("a/b.c")] {
            let path = backup_dir(prefix, "c1", "nightly", UID);
            let (p, dir) = parse_backup_path(&path).expect(&path);
            assert_eq!(p.as_deref(), prefix);
            assert_eq!(
                (dir.cluster_uid.as_str(), dir.name.as_str()),
                ("c1", "nightly")
            );
        }
        let tail = format!("herbarium/v1/backups/c1/nightly-{UID}/");
        for bad in [
            format!("/{tail}"),
            format!("../{tail}"),
            format!("a/../{tail}"),
            format!("a//{tail}"),
            format!("./{tail}"),
            format!("a{tail}"),
            tail.trim_end_matches('/').to_string(),
            format!("{tail}x/"),
            format!("herbarium/v1/backups/c1/../nightly-{UID}/"),
            "herbarium/v1/backups/".to_string(),
        ] {
            assert_eq!(parse_backup_path(&bad), None, "{bad:?}");
        }
    }

    #[test]
    fn backup_dirs_round_trip_and_junk_is_skipped() {
        let dir = backup_dir(None, "c1", "shop-before-upgrade", UID);
        let relative = dir.strip_prefix(&backups_root(None)).unwrap();
        assert_eq!(
            parse_backup_dir(relative),
            Some(BackupDir {
                cluster_uid: "c1".into(),
                name: "shop-before-upgrade".into(),
                uid: UID.into()
            })
        );
        for junk in [
            "",
            "c1/",
            &format!("c1/{UID}/"),
            &format!("c1/-{UID}/"),
            &format!("c1/Shop-{UID}/"),
            &format!("c1/a/b-{UID}/"),
            &format!("../x-{UID}/"),
            "c1/name-not-a-uuid-at-all-0000000000000000/",
            &format!("c1/name_{UID}/"),
        ] {
            assert_eq!(parse_backup_dir(junk), None, "{junk:?}");
        }
    }
}

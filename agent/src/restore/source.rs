//! Whether the backup a RestoreJob names is the one its storage path holds: the same identity
//! checks a sync makes (docs/backup-format.md, "Reading"). Pure.

use herbarium_api::agent::BackupSource;

use crate::format::{Metadata, parse_backup_path};

/// `Ok` when `metadata.json` (already parsed and checked against `source.uid`) belongs to the
/// backup `source` names: its cluster UID is the job's, and the storage path is that backup's
/// directory `<cluster-uid>/<name>-<uid>/`. A mismatch is a wrong path or a replaced backup;
/// a retry does not help.
pub fn check_source(source: &BackupSource, metadata: &Metadata) -> Result<(), String> {
    let path = source.storage_path.trim_end_matches('/');
    let refused = |why: String| {
        Err(format!(
            "backup {path}/ refused: {why}; a retry does not help"
        ))
    };
    if metadata.backup_uid != source.uid {
        return refused(format!(
            "metadata.json names backup {:?}, the restore asks for {:?}",
            metadata.backup_uid, source.uid
        ));
    }
    if metadata.cluster_uid != source.cluster_uid {
        return refused(format!(
            "metadata.json names cluster {:?}, the restore asks for the backup of cluster {:?}",
            metadata.cluster_uid, source.cluster_uid
        ));
    }
    match parse_backup_path(&format!("{path}/")) {
        Some((_, dir))
            if dir.cluster_uid == metadata.cluster_uid && dir.uid == metadata.backup_uid =>
        {
            Ok(())
        }
        Some((_, dir)) => refused(format!(
            "the directory is cluster {:?}'s backup {:?}, metadata.json names cluster {:?}'s \
             backup {:?}",
            dir.cluster_uid, dir.uid, metadata.cluster_uid, metadata.backup_uid
        )),
        None => refused(
            "the storage path is not a backup directory \
             (<prefix>/herbarium/v1/backups/<cluster-uid>/<name>-<uid>/)"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::backup_dir;

    const UID: &str = "3c2b1a09-0000-4000-8000-000000000002";
    const OTHER: &str = "3c2b1a09-0000-4000-8000-000000000003";

    fn metadata(cluster: &str, uid: &str) -> Metadata {
        Metadata::sample(uid, cluster)
    }

    fn source(cluster: &str, path: String) -> BackupSource {
        BackupSource {
            name: "nightly".into(),
            uid: UID.into(),
            cluster_uid: cluster.into(),
            storage_path: path,
        }
    }

    #[test]
    fn the_backup_must_be_the_one_the_job_names() {
        let dir = backup_dir(Some("team/a"), "c1", "nightly", UID);
        assert_eq!(
            check_source(&source("c1", dir.clone()), &metadata("c1", UID)),
            Ok(())
        );
        let no_slash = dir.trim_end_matches('/').to_string();
        assert_eq!(
            check_source(&source("c1", no_slash), &metadata("c1", UID)),
            Ok(())
        );

        // Another cluster's backup (same backup UID) at the job's path.
        let e = check_source(&source("c1", dir.clone()), &metadata("c2", UID)).unwrap_err();
        assert!(
            e.contains("names cluster \"c2\"") && e.contains("\"c1\""),
            "{e}"
        );
        assert!(e.contains("a retry does not help"), "{e}");
        // The job names another cluster than the directory and metadata.
        let e = check_source(&source("c2", dir.clone()), &metadata("c1", UID)).unwrap_err();
        assert!(e.contains("cluster \"c1\""), "{e}");
        // Metadata and job agree, the directory is another cluster's or another backup's.
        let elsewhere = backup_dir(None, "c2", "nightly", UID);
        let e = check_source(&source("c1", elsewhere), &metadata("c1", UID)).unwrap_err();
        assert!(e.contains("the directory is cluster \"c2\""), "{e}");
        let other = backup_dir(None, "c1", "nightly", OTHER);
        assert!(check_source(&source("c1", other), &metadata("c1", UID)).is_err());
        // Not a backup directory at all.
        for path in ["", "/", "nightly", "x/y/z/"] {
            assert!(
                check_source(&source("c1", path.into()), &metadata("c1", UID)).is_err(),
                "{path}"
            );
        }
        // Another backup UID than the job's.
        assert!(check_source(&source("c1", dir), &metadata("c1", OTHER)).is_err());
    }
}

//! Names of the objects the controller writes, derived from the garden objects so that every
//! retry, restart or second replica arrives at the same name instead of a new object.

/// Kubernetes object names are at most 253 characters.
const MAX_NAME: usize = 253;

/// `<name>-<first 8 characters of uid>`: the agent object for a garden object (BackupJob for a
/// Backup, RestoreJob for a Restore). The agent names Synced BackupJobs the same way.
pub fn job_name(name: &str, uid: &str) -> String {
    let short: String = uid.chars().filter(|c| *c != '-').take(8).collect();
    let keep = MAX_NAME - short.len() - 1;
    let base = if name.len() > keep {
        &name[..keep]
    } else {
        name
    };
    format!("{}-{short}", base.trim_end_matches(['-', '.']))
}

/// The SyncJob of a location in a cluster.
pub fn sync_job_name(location: &str) -> String {
    let keep = MAX_NAME - 5;
    let base = if location.len() > keep {
        &location[..keep]
    } else {
        location
    };
    format!("{base}-sync")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_bounded() {
        let uid = "3c2b1a09-0000-4000-8000-000000000002";
        assert_eq!(job_name("nightly", uid), "nightly-3c2b1a09");
        let long = "a".repeat(253);
        assert_eq!(job_name(&long, uid).len(), 253);
        assert_eq!(sync_job_name("azure-eu"), "azure-eu-sync");
        assert_eq!(sync_job_name(&long).len(), 253);
    }
}

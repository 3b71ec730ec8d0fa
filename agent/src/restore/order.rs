//! The order a restore creates objects in. Objects of one stage are created concurrently; a stage
//! starts when the previous one is done (and, after CRDs, when they are Established), so what an
//! object refers to exists before it: its namespace, service account, secrets and config, its
//! volume claim; workloads come last so they start with everything in place.

use crate::format::ResourceIndex;

/// Number of stages; [`stage`] returns `0..STAGES`.
pub const STAGES: usize = 8;

/// Names of the stages, for status and logs.
pub const STAGE_NAMES: [&str; STAGES] = [
    "CustomResourceDefinitions",
    "Namespaces",
    "Accounts",
    "Configuration",
    "Volumes",
    "VolumeClaims",
    "Resources",
    "Workloads",
];

/// The stage of a group-resource.
pub fn stage(r: &ResourceIndex) -> usize {
    match (r.group.as_str(), r.resource.as_str()) {
        ("apiextensions.k8s.io", "customresourcedefinitions") => 0,
        ("", "namespaces") => 1,
        ("", "serviceaccounts" | "limitranges" | "resourcequotas")
        | ("rbac.authorization.k8s.io", "roles" | "clusterroles")
        | ("storage.k8s.io", "storageclasses")
        | ("scheduling.k8s.io", "priorityclasses") => 2,
        ("", "secrets" | "configmaps")
        | ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => 3,
        ("", "persistentvolumes")
        | ("snapshot.storage.k8s.io", "volumesnapshotcontents" | "volumesnapshots") => 4,
        ("", "persistentvolumeclaims") => 5,
        ("", "pods" | "replicationcontrollers")
        | ("apps", "deployments" | "statefulsets" | "daemonsets" | "replicasets")
        | ("batch", "jobs" | "cronjobs") => 7,
        _ => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(group: &str, resource: &str) -> ResourceIndex {
        ResourceIndex {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: String::new(),
            namespaced: true,
            count: 1,
            bytes: 1,
            sha256: String::new(),
        }
    }

    #[test]
    fn dependencies_come_first_and_workloads_last() {
        let order = [
            r("apiextensions.k8s.io", "customresourcedefinitions"),
            r("", "namespaces"),
            r("", "serviceaccounts"),
            r("", "secrets"),
            r("", "persistentvolumes"),
            r("", "persistentvolumeclaims"),
            r("example.com", "widgets"),
            r("apps", "deployments"),
        ];
        let stages: Vec<usize> = order.iter().map(stage).collect();
        assert_eq!(stages, (0..STAGES).collect::<Vec<_>>());
        assert_eq!(stage(&r("", "services")), 6);
        assert_eq!(stage(&r("", "configmaps")), 3);
        assert_eq!(stage(&r("batch", "cronjobs")), 7);
        assert_eq!(
            stage(&r("other.io", "deployments")),
            6,
            "only apps/deployments is a workload"
        );
        assert_eq!(STAGE_NAMES[stage(&r("", "pods"))], "Workloads");
    }
}

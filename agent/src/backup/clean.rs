//! How an object is stored, and which cluster-scoped objects it needs. Pure.
//!
//! Dropped: the fields the API server owns and would refuse or ignore on create
//! (`managedFields`, `resourceVersion`, `uid`, `creationTimestamp`, `generation`, `selfLink`,
//! `deletionTimestamp`, `deletionGracePeriodSeconds`). Kept: `ownerReferences` (a restore
//! decides whether they still point anywhere) and `status` (a restore drops it; it is kept
//! because it is what the object looked like, e.g. a PVC's bound volume, and cheap).
//! `apiVersion` and `kind` are set, as list items may lack them.

use std::collections::BTreeSet;

use serde_json::Value;

use super::archive::ResourceId;

const SERVER_OWNED: [&str; 8] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

pub fn clean(obj: &mut Value, r: &ResourceId) {
    let Some(map) = obj.as_object_mut() else {
        return;
    };
    let api_version = if r.group.is_empty() {
        r.version.clone()
    } else {
        format!("{}/{}", r.group, r.version)
    };
    map.insert("apiVersion".into(), Value::String(api_version));
    map.insert("kind".into(), Value::String(r.kind.clone()));
    if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
        for f in SERVER_OWNED {
            meta.remove(f);
        }
    }
}

/// Name and namespace of a listed object.
pub fn name_of(obj: &Value) -> (Option<&str>, Option<&str>) {
    let meta = &obj["metadata"];
    (meta["name"].as_str(), meta["namespace"].as_str())
}

/// The cluster-scoped objects that `Auto` adds, collected while the namespaced ones stream by.
/// Bounded by the number of distinct names, not by the number of objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// CustomResourceDefinition names (`plural.group`).
    pub crds: BTreeSet<String>,
    pub persistent_volumes: BTreeSet<String>,
    pub cluster_roles: BTreeSet<String>,
}

impl Needs {
    /// Notes what `obj` (of resource `r`) needs; `custom` when `r` is served by a CRD.
    pub fn note(&mut self, r: &ResourceId, obj: &Value, custom: bool) {
        if custom {
            self.crds.insert(format!("{}.{}", r.resource, r.group));
        }
        match (r.group.as_str(), r.resource.as_str()) {
            ("", "persistentvolumeclaims") => {
                if let Some(pv) = obj["spec"]["volumeName"].as_str().filter(|s| !s.is_empty()) {
                    self.persistent_volumes.insert(pv.to_string());
                }
            }
            ("rbac.authorization.k8s.io", "rolebindings") => {
                let role = &obj["roleRef"];
                if role["kind"] == "ClusterRole"
                    && let Some(name) = role["name"].as_str()
                {
                    self.cluster_roles.insert(name.to_string());
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rid(group: &str, resource: &str) -> ResourceId {
        ResourceId {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: "Kind".into(),
            namespaced: true,
        }
    }

    #[test]
    fn drops_server_fields_keeps_owner_references_and_status() {
        let mut obj = json!({
            "metadata": {"name": "a", "namespace": "n", "uid": "u", "resourceVersion": "5",
                "managedFields": [{}], "creationTimestamp": "t", "generation": 2,
                "ownerReferences": [{"name": "o"}], "labels": {"x": "y"}},
            "spec": {"k": 1}, "status": {"phase": "Bound"}
        });
        clean(&mut obj, &rid("apps", "deployments"));
        assert_eq!(
            obj,
            json!({
                "apiVersion": "apps/v1", "kind": "Kind",
                "metadata": {"name": "a", "namespace": "n", "ownerReferences": [{"name": "o"}],
                    "labels": {"x": "y"}},
                "spec": {"k": 1}, "status": {"phase": "Bound"}
            })
        );
        let mut core = json!({"metadata": {}});
        clean(&mut core, &rid("", "configmaps"));
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(name_of(&obj), (Some("a"), Some("n")));
    }

    #[test]
    fn auto_needs_crds_bound_volumes_and_bound_cluster_roles() {
        let mut needs = Needs::default();
        needs.note(&rid("example.com", "widgets"), &json!({}), true);
        needs.note(
            &rid("", "persistentvolumeclaims"),
            &json!({"spec": {"volumeName": "pv-1"}}),
            false,
        );
        needs.note(
            &rid("", "persistentvolumeclaims"),
            &json!({"spec": {}}),
            false,
        );
        let rb = rid("rbac.authorization.k8s.io", "rolebindings");
        needs.note(
            &rb,
            &json!({"roleRef": {"kind": "ClusterRole", "name": "view"}}),
            false,
        );
        needs.note(
            &rb,
            &json!({"roleRef": {"kind": "Role", "name": "local"}}),
            false,
        );
        assert_eq!(
            needs.crds,
            BTreeSet::from(["widgets.example.com".to_string()])
        );
        assert_eq!(
            needs.persistent_volumes,
            BTreeSet::from(["pv-1".to_string()])
        );
        assert_eq!(needs.cluster_roles, BTreeSet::from(["view".to_string()]));
    }
}

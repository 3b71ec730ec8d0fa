//! What a restored object looks like: server-owned fields cleaned (again: the archive is
//! untrusted, whatever the writer dropped), namespaces and storage classes mapped, and the objects
//! that must not be restored at all recognised. Pure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::filter::Filter;
use crate::format::ResourceIndex;

/// How a restore treats the backup's objects; built once per job.
#[derive(Debug, Clone)]
pub struct Plan {
    pub filter: Filter,
    pub namespace_mapping: BTreeMap<String, String>,
    pub storage_class_mapping: BTreeMap<String, String>,
    /// `(source namespace, PVC name)` → name of the VolumeSnapshot (in the target namespace)
    /// the PVC is restored from. Empty unless the job restores volumes.
    pub from_snapshots: BTreeMap<(String, String), String>,
}

/// What to do with one object of the archive.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Create this (cleaned, mapped) object.
    Restore(Value),
    /// Not selected by the job's filter: not counted.
    Filtered,
    /// Selected, but never restored (the reason is for logs): not counted either, since the
    /// cluster makes these itself.
    NotRestorable(&'static str),
}

/// Resources the cluster makes or owns itself; restoring them is wrong or impossible.
const NEVER: [(&str, &str); 6] = [
    ("", "nodes"),
    ("", "events"),
    ("events.k8s.io", "events"),
    ("storage.k8s.io", "csinodes"),
    ("storage.k8s.io", "volumeattachments"),
    ("", "componentstatuses"),
];

/// Kinds whose controller owner makes them again (a restored Deployment makes its ReplicaSets,
/// which make the Pods); restoring them too would duplicate or fight the owner.
const MADE_BY_OWNER: [&str; 5] = [
    "Pod",
    "ReplicaSet",
    "Job",
    "ControllerRevision",
    "EndpointSlice",
];

impl Plan {
    pub fn map_namespace<'a>(&'a self, ns: &'a str) -> &'a str {
        self.namespace_mapping
            .get(ns)
            .map(String::as_str)
            .unwrap_or(ns)
    }

    fn map_class(&self, class: &str) -> String {
        self.storage_class_mapping
            .get(class)
            .cloned()
            .unwrap_or_else(|| class.to_string())
    }

    pub fn prepare(&self, r: &ResourceIndex, mut object: Value) -> Decision {
        if let Some(reason) = not_restorable(r, &object) {
            return Decision::NotRestorable(reason);
        }
        if !self.filter.wants(r, &object) {
            return Decision::Filtered;
        }
        clean(&mut object);
        let source_ns = str_at(&object, "/metadata/namespace");
        if let Some(ns) = &source_ns {
            object["metadata"]["namespace"] = json!(self.map_namespace(ns));
        }
        match (r.group.as_str(), r.resource.as_str()) {
            ("", "namespaces") => {
                let name = self
                    .map_namespace(&str_at(&object, "/metadata/name").unwrap_or_default())
                    .to_string();
                object["metadata"]["name"] = json!(name);
                if let Some(labels) = object
                    .pointer_mut("/metadata/labels")
                    .and_then(Value::as_object_mut)
                    && labels.contains_key("kubernetes.io/metadata.name")
                {
                    labels.insert("kubernetes.io/metadata.name".into(), json!(name));
                }
            }
            ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
                for s in array_mut(&mut object, "/subjects") {
                    if let Some(ns) = s.get("namespace").and_then(Value::as_str) {
                        let mapped = self.map_namespace(ns).to_string();
                        s["namespace"] = json!(mapped);
                    }
                }
            }
            ("", "persistentvolumes") => {
                if let Some(claim) = object
                    .pointer_mut("/spec/claimRef")
                    .and_then(Value::as_object_mut)
                {
                    // The claim is re-created with a new UID; the PV binds to it by name.
                    claim.remove("uid");
                    claim.remove("resourceVersion");
                    if let Some(ns) = claim.get("namespace").and_then(Value::as_str) {
                        let mapped = self.map_namespace(ns).to_string();
                        claim.insert("namespace".into(), json!(mapped));
                    }
                }
                // The restored PV names the source's disk (its volume handle is kept). With
                // Delete, deleting the restored claim would delete that disk, which may still
                // be the source cluster's live volume: a restored PV always retains it.
                if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.insert("persistentVolumeReclaimPolicy".into(), json!("Retain"));
                }
                self.map_storage_class(&mut object);
            }
            ("", "persistentvolumeclaims") => {
                remove_annotations(
                    &mut object,
                    &[
                        "pv.kubernetes.io/bind-completed",
                        "pv.kubernetes.io/bound-by-controller",
                    ],
                );
                let name = str_at(&object, "/metadata/name").unwrap_or_default();
                let key = (source_ns.clone().unwrap_or_default(), name);
                if let Some(snapshot) = self.from_snapshots.get(&key) {
                    // A new volume is provisioned from the snapshot: no old volume to bind to.
                    remove_annotations(
                        &mut object,
                        &[
                            "volume.kubernetes.io/selected-node",
                            "volume.beta.kubernetes.io/storage-provisioner",
                            "volume.kubernetes.io/storage-provisioner",
                        ],
                    );
                    let source = json!({"apiGroup": "snapshot.storage.k8s.io",
                        "kind": "VolumeSnapshot", "name": snapshot});
                    let spec = &mut object["spec"];
                    if let Some(spec) = spec.as_object_mut() {
                        spec.remove("volumeName");
                        spec.insert("dataSource".into(), source.clone());
                        spec.insert("dataSourceRef".into(), source);
                    }
                }
                self.map_storage_class(&mut object);
            }
            ("apps", "statefulsets") => {
                // The claims the StatefulSet makes are PVCs too: same shape (metadata + spec).
                for template in array_mut(&mut object, "/spec/volumeClaimTemplates") {
                    self.map_storage_class(template);
                }
            }
            ("", "services") => clean_service(&mut object),
            ("", "pods") => {
                if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("nodeName");
                }
            }
            ("", "serviceaccounts") => {
                // Legacy token secrets are not restored (see not_restorable); drop references
                // to them so the account does not name missing secrets.
                let prefix = format!(
                    "{}-token-",
                    str_at(&object, "/metadata/name").unwrap_or_default()
                );
                if let Some(list) = object.get_mut("secrets").and_then(Value::as_array_mut) {
                    list.retain(|s| {
                        !s.get("name")
                            .and_then(Value::as_str)
                            .is_some_and(|n| n.starts_with(&prefix))
                    });
                }
            }
            _ => {}
        }
        Decision::Restore(object)
    }

    fn map_storage_class(&self, object: &mut Value) {
        if let Some(class) = str_at(object, "/spec/storageClassName") {
            object["spec"]["storageClassName"] = json!(self.map_class(&class));
        }
        const BETA: &str = "volume.beta.kubernetes.io/storage-class";
        if let Some(class) = object
            .pointer(&format!(
                "/metadata/annotations/{}",
                BETA.replace('/', "~1")
            ))
            .and_then(Value::as_str)
        {
            let mapped = self.map_class(class);
            object["metadata"]["annotations"][BETA] = json!(mapped);
        }
    }

    /// Whether a PersistentVolume is replaced by one provisioned from a snapshot (then the old
    /// PV is not restored).
    pub fn pv_replaced_by_snapshot(&self, r: &ResourceIndex, object: &Value) -> bool {
        r.group.is_empty()
            && r.resource == "persistentvolumes"
            && match (
                str_at(object, "/spec/claimRef/namespace"),
                str_at(object, "/spec/claimRef/name"),
            ) {
                (Some(ns), Some(name)) => self.from_snapshots.contains_key(&(ns, name)),
                _ => false,
            }
    }
}

fn not_restorable(r: &ResourceIndex, object: &Value) -> Option<&'static str> {
    if NEVER.contains(&(r.group.as_str(), r.resource.as_str())) {
        return Some("made by the cluster itself");
    }
    if r.group == herbarium_api::constants::AGENT_GROUP {
        return Some("Herbarium's own agent objects");
    }
    let namespace = str_at(object, "/metadata/namespace");
    let is_agent_ns = namespace.as_deref() == Some(herbarium_api::constants::AGENT_NAMESPACE)
        || (r.group.is_empty()
            && r.resource == "namespaces"
            && str_at(object, "/metadata/name").as_deref()
                == Some(herbarium_api::constants::AGENT_NAMESPACE));
    if is_agent_ns {
        return Some("the agent's own namespace");
    }
    if r.group.is_empty()
        && r.resource == "secrets"
        && str_at(object, "/type").as_deref() == Some("kubernetes.io/service-account-token")
    {
        return Some("service-account token secrets are issued by the target cluster");
    }
    let controlled = object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| {
            refs.iter()
                .any(|o| o.get("controller") == Some(&json!(true)))
        });
    if controlled && MADE_BY_OWNER.contains(&r.kind.as_str()) {
        return Some("made again by its controller owner");
    }
    None
}

/// Drops what the server or controllers own. Finalizers go too: the controllers that own them
/// add them again when they reconcile the object, and a finalizer whose controller is missing
/// in the target cluster would make the object undeletable.
fn clean(object: &mut Value) {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in [
            "uid",
            "resourceVersion",
            "managedFields",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
            "ownerReferences",
            "finalizers",
        ] {
            meta.remove(field);
        }
    }
    if let Some(o) = object.as_object_mut() {
        o.remove("status");
    }
}

/// ClusterIPs and node ports are allocated by the target cluster; a headless Service keeps
/// `None`.
fn clean_service(object: &mut Value) {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if spec.get("clusterIP").and_then(Value::as_str) != Some("None") {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
    }
    spec.remove("healthCheckNodePort");
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.remove("nodePort");
        }
    }
}

fn str_at(object: &Value, pointer: &str) -> Option<String> {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn array_mut<'a>(object: &'a mut Value, pointer: &str) -> impl Iterator<Item = &'a mut Value> {
    object
        .pointer_mut(pointer)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

fn remove_annotations(object: &mut Value, keys: &[&str]) {
    if let Some(a) = object
        .pointer_mut("/metadata/annotations")
        .and_then(Value::as_object_mut)
    {
        for k in keys {
            a.remove(*k);
        }
    }
}

#[cfg(test)]
mod tests;

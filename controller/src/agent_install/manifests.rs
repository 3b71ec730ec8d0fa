//! The agent's objects in a cluster, as a pure function of [`AgentSpec`]. Everything the pod needs
//! for workload identity is set in the pod itself (projected token, AZURE_* variables): no
//! mutating webhook is assumed in the cluster.

use std::collections::BTreeMap;

use herbarium_api::constants::{
    AGENT_NAME, AGENT_NAMESPACE, AGENT_SERVICE_ACCOUNT, AGENT_VERSION_LABEL,
    AZURE_CLIENT_ID_ANNOTATION, AZURE_TENANT_ID_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
    TOKEN_EXCHANGE_AUDIENCE,
};
use k8s_openapi::api::core::v1::{Namespace, ResourceRequirements, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use kube::Resource;
use kube::api::{ApiResource, DynamicObject, ObjectMeta};
use serde::Serialize;

use super::manifests_deployment::deployment;

/// Directory of the projected service-account token for Entra ID.
pub const TOKEN_DIR: &str = "/var/run/secrets/azure/tokens";
pub const TOKEN_FILE_NAME: &str = "azure-identity-token";
/// `AZURE_FEDERATED_TOKEN_FILE` of the agent.
pub const FEDERATED_TOKEN_FILE: &str = "/var/run/secrets/azure/tokens/azure-identity-token";

/// What the manifests depend on.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentSpec {
    pub image: String,
    pub image_pull_policy: Option<String>,
    /// The agent version (also the value of the version label; see [`agent_labels`]).
    pub version: String,
    /// Client ID of the cluster's user-assigned identity.
    pub client_id: String,
    pub tenant_id: String,
    /// Entra ID authority (`AZURE_AUTHORITY_HOST`), e.g. `https://login.microsoftonline.com/`.
    pub authority_host: String,
    pub resources: Option<ResourceRequirements>,
}

impl AgentSpec {
    /// From a DiscoveryConfig's agent settings (image and resources; `default_image` when none is
    /// set) and the cluster's identity.
    pub fn new(
        settings: &herbarium_api::garden::AgentSettings,
        default_image: &str,
        version: &str,
        client_id: &str,
        tenant_id: &str,
        authority_host: &str,
    ) -> Self {
        Self {
            image: settings
                .image
                .clone()
                .unwrap_or_else(|| default_image.to_string()),
            image_pull_policy: settings.image_pull_policy.clone(),
            version: version.to_string(),
            client_id: client_id.to_string(),
            tenant_id: tenant_id.to_string(),
            authority_host: authority_host.to_string(),
            resources: settings.resources.clone(),
        }
    }
}

/// One object to apply: its API resource and the object.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub resource: ApiResource,
    pub object: DynamicObject,
}

impl Manifest {
    pub fn name(&self) -> &str {
        self.object.metadata.name.as_deref().unwrap_or_default()
    }
    pub fn namespace(&self) -> Option<&str> {
        self.object.metadata.namespace.as_deref()
    }
}

/// A label value from a version: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at both ends.
pub(super) fn label_value(version: &str) -> String {
    let v: String = version
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(63)
        .collect();
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// Labels of every installed object: managed by Herbarium, of this agent version.
pub fn agent_labels(version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
        ("app.kubernetes.io/name".to_string(), AGENT_NAME.to_string()),
        (AGENT_VERSION_LABEL.to_string(), label_value(version)),
    ])
}

pub(super) fn meta(name: &str, namespace: Option<&str>, version: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: Some(agent_labels(version)),
        ..Default::default()
    }
}

fn manifest<K>(object: &K) -> Manifest
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let resource = ApiResource::erase::<K>(&());
    let mut value = serde_json::to_value(object).expect("k8s-openapi objects serialise");
    value["apiVersion"] = resource.api_version.clone().into();
    value["kind"] = resource.kind.clone().into();
    let object = serde_json::from_value(value).expect("every object is a DynamicObject");
    Manifest { resource, object }
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let s = |v: &[&str]| Some(v.iter().map(|x| x.to_string()).collect());
    PolicyRule {
        api_groups: s(groups),
        resources: s(resources),
        verbs: verbs.iter().map(|x| x.to_string()).collect(),
        ..Default::default()
    }
}

/// What the agent does, as RBAC. Backup reads everything; restore writes everything (any kind a
/// backup may hold, and Replace deletes). The narrower rules after those are implied today but
/// name what the agent itself relies on, so narrowing restore later cannot silently break it.
fn cluster_role(version: &str) -> ClusterRole {
    const WRITE: &[&str] = &["create", "update", "patch", "delete"];
    ClusterRole {
        metadata: meta(AGENT_NAME, None, version),
        rules: Some(vec![
            rule(&["*"], &["*"], &["get", "list", "watch"]),
            rule(&["*"], &["*"], WRITE),
            rule(
                &["agent.herbarium.io"],
                &[
                    "locationaccesses",
                    "locationaccesses/status",
                    "backupjobs",
                    "backupjobs/status",
                    "backupjobs/finalizers",
                    "restorejobs",
                    "restorejobs/status",
                    "syncjobs",
                    "syncjobs/status",
                ],
                &["get", "list", "watch", "create", "update", "patch"],
            ),
            rule(
                &["coordination.k8s.io"],
                &["leases"],
                &["get", "create", "update"],
            ),
            rule(
                &["snapshot.storage.k8s.io"],
                &[
                    "volumesnapshots",
                    "volumesnapshotcontents",
                    "volumesnapshotclasses",
                ],
                &["get", "list", "watch", "create", "delete", "patch"],
            ),
            rule(&[""], &["pods/exec"], &["create"]),
        ]),
        ..Default::default()
    }
}

/// Every object of the agent, in apply order (namespace and CRDs before what uses them), each
/// stamped with its hash ([`super::plan::MANIFEST_HASH_ANNOTATION`]).
pub fn manifests(spec: &AgentSpec) -> Vec<Manifest> {
    let v = spec.version.as_str();
    let mut namespace = vec![manifest(&Namespace {
        metadata: meta(AGENT_NAMESPACE, None, v),
        ..Default::default()
    })];
    super::plan::stamp(&mut namespace);
    let mut out = namespace;
    out.extend(crd_manifests(v));
    let own = out.len();
    let mut sa = ServiceAccount {
        metadata: meta(AGENT_SERVICE_ACCOUNT, Some(AGENT_NAMESPACE), v),
        ..Default::default()
    };
    sa.metadata.annotations = Some(BTreeMap::from([
        (
            AZURE_CLIENT_ID_ANNOTATION.to_string(),
            spec.client_id.clone(),
        ),
        (
            AZURE_TENANT_ID_ANNOTATION.to_string(),
            spec.tenant_id.clone(),
        ),
    ]));
    out.push(manifest(&sa));
    out.push(manifest(&cluster_role(v)));
    out.push(manifest(&ClusterRoleBinding {
        metadata: meta(AGENT_NAME, None, v),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: AGENT_NAME.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: AGENT_SERVICE_ACCOUNT.into(),
            namespace: Some(AGENT_NAMESPACE.into()),
            ..Default::default()
        }]),
    }));
    out.push(manifest(&deployment(spec, TOKEN_EXCHANGE_AUDIENCE)));
    super::plan::stamp(&mut out[own..]);
    out
}

/// The agent's CRDs of `version`, stamped: the same for every cluster, and the largest objects
/// by far, so generated and hashed once per version rather than once per install.
fn crd_manifests(version: &str) -> Vec<Manifest> {
    static CACHE: std::sync::Mutex<Vec<(String, Vec<Manifest>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, m)) = cache.iter().find(|(v, _)| v == version) {
        return m.clone();
    }
    let mut out: Vec<Manifest> = herbarium_api::crds::agent_crds()
        .into_iter()
        .map(|mut crd| {
            let labels = crd.metadata.labels.get_or_insert_with(Default::default);
            labels.extend(agent_labels(version));
            manifest(&crd)
        })
        .collect();
    super::plan::stamp(&mut out);
    cache.push((version.to_string(), out.clone()));
    out
}

#[cfg(test)]
#[path = "manifests_tests.rs"]
mod tests;

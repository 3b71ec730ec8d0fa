//! Applying the agent's manifests (server-side apply, field manager `herbarium-controller`,
//! forced: the controller owns these objects) as far as they differ from what is there, pruning
//! objects of other agent versions ([`super::plan`] decides), and reading what the health
//! conditions are computed from.

use herbarium_api::constants::{
    AGENT_NAMESPACE, AGENT_VERSION_LABEL, CONTROLLER_MANAGER, MANAGED_BY_LABEL, MANAGED_BY_VALUE,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, Resource};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use super::manifests::{AgentSpec, Manifest, manifests};
use super::plan::{MANIFEST_HASH_ANNOTATION, ObjectKey, Present, key_of, plan};

/// A failed call to the cluster while installing or observing the agent.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{action}: {message}{}", if crate::agent_install::apply::code_retryable(*.code) { " (retrying may help)" } else { " (retrying does not help until this is fixed)" })]
pub struct InstallError {
    /// What was done, e.g. `applying Deployment herbarium-system/herbarium-agent`.
    pub action: String,
    /// HTTP status of the answer; `None` when there was no answer.
    pub code: Option<u16>,
    pub message: String,
}

pub(crate) fn code_retryable(code: Option<u16>) -> bool {
    match code {
        None => true,
        Some(c) => c == 409 || c == 429 || c == 408 || c >= 500,
    }
}

impl InstallError {
    fn new(action: String, e: kube::Error) -> Self {
        match e {
            kube::Error::Api(s) => Self {
                action,
                code: Some(s.code),
                message: s.message,
            },
            other => Self {
                action,
                code: None,
                message: other.to_string(),
            },
        }
    }

    /// Whether trying again (after a backoff) can succeed without any change.
    pub fn retryable(&self) -> bool {
        code_retryable(self.code)
    }
}

fn api_for(client: &Client, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    }
}

/// Server-side applies `manifests` in order. Applying unchanged objects changes nothing (no new
/// resourceVersion), so this is safe to run on every reconcile.
pub async fn apply(client: &Client, manifests: &[Manifest]) -> Result<(), InstallError> {
    for m in manifests {
        apply_one(client, m).await?;
    }
    Ok(())
}

async fn apply_one(client: &Client, m: &Manifest) -> Result<(), InstallError> {
    let params = PatchParams::apply(CONTROLLER_MANAGER).force();
    let api = api_for(client, &m.resource, m.namespace());
    api.patch(m.name(), &params, &Patch::Apply(&m.object))
        .await
        .map_err(|e| InstallError::new(format!("applying {}", key_of(m)), e))?;
    Ok(())
}

/// Kinds the agent's objects are of, and whether objects of other agent versions are deleted.
/// Never the Namespace or the CRDs: deleting those would delete every agent object (and the
/// backups' records) with them. A kind a later version stops using must stay listed here, so
/// that what the older agent had is still found and pruned.
fn kinds() -> Vec<(ApiResource, bool, bool)> {
    fn r<K: Resource<DynamicType = ()>>(
        namespaced: bool,
        prunable: bool,
    ) -> (ApiResource, bool, bool) {
        (ApiResource::erase::<K>(&()), namespaced, prunable)
    }
    vec![
        r::<Namespace>(false, false),
        r::<CustomResourceDefinition>(false, false),
        r::<Deployment>(true, true),
        r::<ServiceAccount>(true, true),
        r::<ClusterRoleBinding>(false, true),
        r::<ClusterRole>(false, true),
    ]
}

/// Herbarium's objects in the cluster: metadata only, one list per kind. One after the other, on
/// one connection: lists in parallel would each open a connection of their own, and a TLS
/// handshake costs the API server more than the list. Served from the API server's cache (no
/// etcd read): an answer a few milliseconds stale costs at most a redundant apply, or a repair
/// left to the next install (hourly, or forced when the heartbeat stops).
pub async fn present(client: &Client) -> Result<Vec<Present>, InstallError> {
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}");
    let mut out = Vec::new();
    for (resource, namespaced, prunable) in kinds() {
        let api = api_for(client, &resource, namespaced.then_some(AGENT_NAMESPACE));
        let list = api
            .list_metadata(&ListParams::default().labels(&selector).match_any())
            .await
            .map_err(|e| InstallError::new(format!("listing {}", resource.plural), e))?;
        out.extend(list.items.into_iter().map(|o| {
            let label = |k: &str| o.metadata.labels.as_ref().and_then(|l| l.get(k).cloned());
            Present {
                key: ObjectKey {
                    group: resource.group.clone(),
                    kind: resource.kind.clone(),
                    namespace: o.metadata.namespace.clone(),
                    name: o.metadata.name.clone().unwrap_or_default(),
                },
                version: label(AGENT_VERSION_LABEL),
                hash: o
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(MANIFEST_HASH_ANNOTATION).cloned()),
                prunable,
            }
        }));
    }
    Ok(out)
}

/// Deletes one object; gone already is fine.
async fn delete(client: &Client, key: &ObjectKey) -> Result<(), InstallError> {
    let (resource, _, _) = kinds()
        .into_iter()
        .find(|(r, _, _)| r.group == key.group && r.kind == key.kind)
        .ok_or_else(|| InstallError {
            action: format!("deleting {key}"),
            code: None,
            message: "not a kind the agent install manages".into(),
        })?;
    let api = api_for(client, &resource, key.namespace.as_deref());
    match api.delete(&key.name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(InstallError::new(format!("deleting {key}"), e)),
    }
}

/// What an install did: objects applied and objects of other agent versions deleted
/// (`Kind namespace/name`).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct InstallReport {
    pub applied: Vec<String>,
    pub pruned: Vec<String>,
}

/// Brings the cluster to the manifests of `spec`: applies what is missing or changed (everything
/// with `force`), then deletes other versions' objects. Nothing changed: reads only.
pub async fn install(
    client: &Client,
    spec: &AgentSpec,
    force: bool,
) -> Result<InstallReport, InstallError> {
    let desired = manifests(spec);
    let present = present(client).await?;
    let plan = plan(&desired, &present, &spec.version, force);
    for m in &plan.apply {
        apply_one(client, m).await?;
    }
    for key in &plan.delete {
        delete(client, key).await?;
    }
    Ok(InstallReport {
        applied: plan.apply.iter().map(|m| key_of(m).to_string()).collect(),
        pruned: plan.delete.iter().map(ToString::to_string).collect(),
    })
}

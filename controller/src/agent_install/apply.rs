//! Applying the agent's manifests (server-side apply, field manager `herbarium-controller`,
//! forced: the controller owns these objects), pruning objects of other agent versions, and
//! reading what the health conditions are computed from.

use herbarium_api::constants::{
    AGENT_NAME, AGENT_NAMESPACE, AGENT_VERSION_LABEL, CONTROLLER_MANAGER, MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, Resource};

use super::manifests::{AgentSpec, Manifest, label_value, manifests};

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
    let params = PatchParams::apply(CONTROLLER_MANAGER).force();
    for m in manifests {
        let api = api_for(client, &m.resource, m.namespace());
        api.patch(m.name(), &params, &Patch::Apply(&m.object))
            .await
            .map_err(|e| {
                let at = m.namespace().map(|n| format!("{n}/")).unwrap_or_default();
                InstallError::new(format!("applying {} {at}{}", m.resource.kind, m.name()), e)
            })?;
    }
    Ok(())
}

/// Kinds that may hold agent objects of other versions. Never the Namespace or the CRDs:
/// deleting those would delete every agent object (and the backups' records) with them.
fn prunable() -> Vec<(ApiResource, bool)> {
    fn r<K: Resource<DynamicType = ()>>(namespaced: bool) -> (ApiResource, bool) {
        (ApiResource::erase::<K>(&()), namespaced)
    }
    vec![
        r::<Deployment>(true),
        r::<ServiceAccount>(true),
        r::<ConfigMap>(true),
        r::<Service>(true),
        r::<Role>(true),
        r::<RoleBinding>(true),
        r::<ClusterRoleBinding>(false),
        r::<ClusterRole>(false),
    ]
}

/// Deletes Herbarium's agent objects labelled with another agent version than `version`;
/// returns what was deleted (`Kind namespace/name`).
pub async fn prune(client: &Client, version: &str) -> Result<Vec<String>, InstallError> {
    let selector = format!(
        "{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{AGENT_VERSION_LABEL},{AGENT_VERSION_LABEL}!={}",
        label_value(version)
    );
    let mut deleted = Vec::new();
    for (resource, namespaced) in prunable() {
        let api = api_for(client, &resource, namespaced.then_some(AGENT_NAMESPACE));
        let list = api
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| InstallError::new(format!("listing old {}", resource.plural), e))?;
        for o in list.items {
            let name = o.metadata.name.unwrap_or_default();
            let at = if namespaced {
                format!("{AGENT_NAMESPACE}/")
            } else {
                String::new()
            };
            match api.delete(&name, &DeleteParams::background()).await {
                Ok(_) => deleted.push(format!("{} {at}{name}", resource.kind)),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    return Err(InstallError::new(
                        format!("deleting {} {at}{name}", resource.kind),
                        e,
                    ));
                }
            }
        }
    }
    Ok(deleted)
}

/// Applies the manifests of `spec`, then prunes other versions' objects; returns what was pruned.
pub async fn install(client: &Client, spec: &AgentSpec) -> Result<Vec<String>, InstallError> {
    apply(client, &manifests(spec)).await?;
    prune(client, &spec.version).await
}

/// The agent's Deployment and heartbeat Lease, as far as they exist.
pub async fn observe(client: &Client) -> Result<(Option<Deployment>, Option<Lease>), InstallError> {
    let deployment = Api::<Deployment>::namespaced(client.clone(), AGENT_NAMESPACE)
        .get_opt(AGENT_NAME)
        .await
        .map_err(|e| {
            InstallError::new(
                format!("reading Deployment {AGENT_NAMESPACE}/{AGENT_NAME}"),
                e,
            )
        })?;
    let lease = Api::<Lease>::namespaced(client.clone(), AGENT_NAMESPACE)
        .get_opt(AGENT_NAME)
        .await
        .map_err(|e| {
            InstallError::new(format!("reading Lease {AGENT_NAMESPACE}/{AGENT_NAME}"), e)
        })?;
    Ok((deployment, lease))
}

//! The Kubernetes reads of a backup: discovery, raw JSON lists page by page, single gets. Raw
//! JSON (not typed objects) so that any resource, built-in or custom, is stored as served.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{GetParams, ListParams};
use kube::discovery::{Discovery, Scope, verbs};
use kube::{Api, Client};
use serde::Deserialize;
use serde_json::Value;

use super::archive::ResourceId;
use super::select::Served;

/// The preferred version of every group's resources, and the names of the CRDs.
pub async fn discover(client: &Client) -> Result<(Vec<Served>, BTreeSet<String>), kube::Error> {
    let discovery = Discovery::new(client.clone()).run().await?;
    let mut served = Vec::new();
    for group in discovery.groups() {
        for (ar, caps) in group.recommended_resources() {
            served.push(Served {
                id: ResourceId {
                    group: ar.group.clone(),
                    version: ar.version.clone(),
                    resource: ar.plural.clone(),
                    kind: ar.kind.clone(),
                    namespaced: caps.scope == Scope::Namespaced,
                },
                listable: caps.supports_operation(verbs::LIST),
            });
        }
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let names = crds
        .list_metadata(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    Ok((served, names))
}

/// `/api/v1[/namespaces/<ns>]/<resource>` or `/apis/<group>/<version>[/namespaces/<ns>]/<resource>`.
pub fn collection_path(r: &ResourceId, namespace: Option<&str>) -> String {
    let base = if r.group.is_empty() {
        format!("/api/{}", r.version)
    } else {
        format!("/apis/{}/{}", r.group, r.version)
    };
    match namespace {
        Some(ns) => format!("{base}/namespaces/{ns}/{}", r.resource),
        None => format!("{base}/{}", r.resource),
    }
}

#[derive(Deserialize)]
pub struct RawList {
    #[serde(default)]
    pub metadata: RawListMeta,
    #[serde(default)]
    pub items: Vec<Value>,
}

#[derive(Deserialize, Default)]
pub struct RawListMeta {
    #[serde(default, rename = "continue")]
    pub continue_token: Option<String>,
}

/// One page of a list, retried a few times on transient errors.
pub async fn list_page(
    client: &Client,
    r: &ResourceId,
    namespace: Option<&str>,
    label_selector: Option<&str>,
    limit: u32,
    continue_token: Option<String>,
) -> Result<RawList, kube::Error> {
    let params = ListParams {
        limit: Some(limit),
        continue_token,
        label_selector: label_selector.filter(|s| !s.is_empty()).map(str::to_string),
        ..Default::default()
    };
    let request = kube::core::Request::new(collection_path(r, namespace));
    let mut attempt = 0;
    loop {
        let req = request.list(&params).map_err(kube::Error::BuildRequest)?;
        match client.request::<RawList>(req).await {
            Err(e) if attempt < 3 && transient(&e) => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(500 * attempt)).await;
            }
            other => return other,
        }
    }
}

/// One object by name; `None` when it does not exist.
pub async fn get(
    client: &Client,
    r: &ResourceId,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Value>, kube::Error> {
    let req = kube::core::Request::new(collection_path(r, namespace))
        .get(name, &GetParams::default())
        .map_err(kube::Error::BuildRequest)?;
    match client.request::<Value>(req).await {
        Ok(v) => Ok(Some(v)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

fn transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Every namespace as (name, labels), with its object.
pub async fn namespaces(
    client: &Client,
) -> Result<Vec<(String, BTreeMap<String, String>, Value)>, kube::Error> {
    let r = namespace_resource();
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = list_page(client, &r, None, None, 500, token).await?;
        for item in page.items {
            let name = item["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let labels = item["metadata"]["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            out.push((name, labels, item));
        }
        token = page.metadata.continue_token.filter(|t| !t.is_empty());
        if token.is_none() {
            return Ok(out);
        }
    }
}

pub fn namespace_resource() -> ResourceId {
    builtin("", "v1", "namespaces", "Namespace", false)
}

pub fn builtin(
    group: &str,
    version: &str,
    resource: &str,
    kind: &str,
    namespaced: bool,
) -> ResourceId {
    ResourceId {
        group: group.into(),
        version: version.into(),
        resource: resource.into(),
        kind: kind.into(),
        namespaced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_core_and_grouped_resources() {
        let cm = builtin("", "v1", "configmaps", "ConfigMap", true);
        assert_eq!(
            collection_path(&cm, Some("a")),
            "/api/v1/namespaces/a/configmaps"
        );
        let crd = builtin(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "X",
            false,
        );
        assert_eq!(
            collection_path(&crd, None),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        );
    }
}

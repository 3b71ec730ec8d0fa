//! The Kubernetes reads of a backup: discovery, raw JSON lists page by page, single gets. Raw
//! JSON (not typed objects) so that any resource, built-in or custom, is stored as served.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::APIGroup;
use kube::api::{GetParams, ListParams};
use kube::core::GroupVersion;
use kube::discovery::{Scope, verbs};
use kube::{Api, Client};
use serde::Deserialize;
use serde_json::Value;

use super::archive::ResourceId;
use super::select::Served;

/// What discovery found: the preferred version of every group's resources, the names of the
/// CRDs, and the groups that could not be discovered (name, error).
#[derive(Default)]
pub struct Discovered {
    pub served: Vec<Served>,
    pub crds: BTreeSet<String>,
    pub failed: Vec<(String, String)>,
}

/// The group-version to discover for a group: its preferred version, else its first.
pub fn query_version(g: &APIGroup) -> Option<GroupVersion> {
    let version = g
        .preferred_version
        .as_ref()
        .or_else(|| g.versions.first())?;
    Some(GroupVersion::gv(&g.name, &version.version))
}

/// Discovers group by group: one failing group (a broken aggregated APIService) is reported in
/// `failed` instead of failing the backup. Only the list of groups itself is required.
pub async fn discover(client: &Client) -> Result<Discovered, kube::Error> {
    let groups = client.list_api_groups().await?;
    let mut targets = vec![GroupVersion::gv("", "v1")];
    targets.extend(groups.groups.iter().filter_map(query_version));
    let mut found = Discovered::default();
    for gv in targets {
        let group = match kube::discovery::pinned_group(client, &gv).await {
            Ok(g) => g,
            Err(e) => {
                found.failed.push((gv.api_version(), e.to_string()));
                continue;
            }
        };
        for (ar, caps) in group.recommended_resources() {
            found.served.push(Served {
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
    match crds.list_metadata(&ListParams::default()).await {
        Ok(list) => {
            found.crds = list
                .items
                .into_iter()
                .filter_map(|c| c.metadata.name)
                .collect()
        }
        Err(e) => found.failed.push((
            "apiextensions.k8s.io/v1".into(),
            format!("listing CRDs: {e}"),
        )),
    }
    Ok(found)
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

/// Whether the same call may succeed later: throttled, a server error, no connection.
pub(crate) fn transient(e: &kube::Error) -> bool {
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
    fn a_group_is_discovered_at_its_preferred_version_else_its_first() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::GroupVersionForDiscovery;
        let v = |version: &str| GroupVersionForDiscovery {
            group_version: format!("g/{version}"),
            version: version.into(),
        };
        let mut g = APIGroup {
            name: "g".into(),
            versions: vec![v("v1beta1"), v("v1")],
            preferred_version: Some(v("v1")),
            ..Default::default()
        };
        assert_eq!(query_version(&g).unwrap().api_version(), "g/v1");
        g.preferred_version = None;
        assert_eq!(query_version(&g).unwrap().api_version(), "g/v1beta1");
        g.versions.clear();
        assert!(query_version(&g).is_none());
    }

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

//! Which objects of a backup a restore takes: the RestoreFilter's namespaces, resources and label
//! selector. Pure; objects are the (untrusted) JSON read from the archive.

use std::collections::BTreeMap;

use herbarium_api::garden::RestoreFilter;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde_json::Value;

use crate::format::ResourceIndex;

/// A RestoreFilter, checked once.
#[derive(Debug, Clone)]
pub struct Filter {
    namespaces: Vec<String>,
    excluded_namespaces: Vec<String>,
    included_resources: Vec<String>,
    excluded_resources: Vec<String>,
    selector: Option<LabelSelector>,
}

/// A label selector the filter cannot evaluate (unknown operator, values where none belong).
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid label selector: {0}")]
pub struct SelectorError(String);

impl Filter {
    pub fn new(f: &RestoreFilter) -> Result<Self, SelectorError> {
        if let Some(s) = &f.label_selector {
            for e in s.match_expressions.iter().flatten() {
                let has_values = e.values.as_ref().is_some_and(|v| !v.is_empty());
                match (e.operator.as_str(), has_values) {
                    ("In" | "NotIn", true) | ("Exists" | "DoesNotExist", false) => {}
                    (op, _) => {
                        return Err(SelectorError(format!(
                            "operator {op:?} on key {:?} with{} values",
                            e.key,
                            if has_values { "" } else { "out" }
                        )));
                    }
                }
            }
        }
        Ok(Self {
            namespaces: f.namespaces.iter().filter(|n| *n != "*").cloned().collect(),
            excluded_namespaces: f.excluded_namespaces.clone(),
            included_resources: f.included_resources.clone(),
            excluded_resources: f.excluded_resources.clone(),
            selector: f.label_selector.clone(),
        })
    }

    /// Whether a whole group-resource is wanted (`resource` matches any group, `resource.group`
    /// only that group; `resource.core`... is not a form: the core group is `resource`).
    pub fn wants_resource(&self, r: &ResourceIndex) -> bool {
        let named = |list: &[String]| {
            list.iter().any(|n| match n.split_once('.') {
                None => *n == r.resource,
                Some((res, group)) => res == r.resource && group == r.group,
            })
        };
        (self.included_resources.is_empty() || named(&self.included_resources))
            && !named(&self.excluded_resources)
    }

    /// Whether a source namespace is wanted.
    pub fn wants_namespace(&self, ns: &str) -> bool {
        (self.namespaces.is_empty() || self.namespaces.iter().any(|n| n == ns))
            && !self.excluded_namespaces.iter().any(|n| n == ns)
    }

    /// Whether one object is wanted. Namespaced objects by their namespace; Namespace objects by
    /// their name; PersistentVolumes by their claim's namespace (a PV goes with its claim); other
    /// cluster-scoped objects are taken whatever the namespaces (the backup already chose only
    /// those its namespaces need). The label selector applies to every object.
    pub fn wants(&self, r: &ResourceIndex, object: &Value) -> bool {
        let namespace = if r.namespaced {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
        } else if r.group.is_empty() && r.resource == "namespaces" {
            object.pointer("/metadata/name").and_then(Value::as_str)
        } else if r.group.is_empty() && r.resource == "persistentvolumes" {
            object
                .pointer("/spec/claimRef/namespace")
                .and_then(Value::as_str)
        } else {
            None
        };
        if namespace.is_some_and(|ns| !self.wants_namespace(ns)) {
            return false;
        }
        match &self.selector {
            None => true,
            Some(s) => matches_selector(s, &labels(object)),
        }
    }
}

fn labels(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// Kubernetes label selector semantics: every matchLabels pair and every expression must hold.
/// Operators were checked in [`Filter::new`].
pub fn matches_selector(s: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let pairs = s
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let exprs = s.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    pairs && exprs
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use serde_json::json;

    fn res(group: &str, resource: &str, namespaced: bool) -> ResourceIndex {
        ResourceIndex {
            group: group.into(),
            version: "v1".into(),
            resource: resource.into(),
            kind: String::new(),
            namespaced,
            count: 1,
            bytes: 1,
            sha256: String::new(),
        }
    }

    fn filter(f: RestoreFilter) -> Filter {
        Filter::new(&f).unwrap()
    }

    #[test]
    fn resources_by_name_and_by_name_dot_group() {
        let f = filter(RestoreFilter {
            included_resources: vec!["configmaps".into(), "deployments.apps".into()],
            excluded_resources: vec!["secrets".into()],
            ..Default::default()
        });
        assert!(f.wants_resource(&res("", "configmaps", true)));
        assert!(f.wants_resource(&res("apps", "deployments", true)));
        assert!(!f.wants_resource(&res("other.io", "deployments", true)));
        assert!(!f.wants_resource(&res("", "secrets", true)));
        let all = filter(RestoreFilter {
            excluded_resources: vec!["things.example.com".into()],
            ..Default::default()
        });
        assert!(all.wants_resource(&res("", "secrets", true)));
        assert!(!all.wants_resource(&res("example.com", "things", true)));
        assert!(all.wants_resource(&res("other.com", "things", true)));
    }

    #[test]
    fn namespaces_apply_to_objects_namespace_objects_and_pvs() {
        let f = filter(RestoreFilter {
            namespaces: vec!["shop".into(), "db".into()],
            excluded_namespaces: vec!["db".into()],
            ..Default::default()
        });
        let cm = |ns: &str| json!({"metadata": {"name": "a", "namespace": ns}});
        assert!(f.wants(&res("", "configmaps", true), &cm("shop")));
        assert!(!f.wants(&res("", "configmaps", true), &cm("db")));
        assert!(!f.wants(&res("", "configmaps", true), &cm("other")));
        let ns = |n: &str| json!({"metadata": {"name": n}});
        assert!(f.wants(&res("", "namespaces", false), &ns("shop")));
        assert!(!f.wants(&res("", "namespaces", false), &ns("other")));
        let pv =
            |n: &str| json!({"metadata": {"name": "pv"}, "spec": {"claimRef": {"namespace": n}}});
        assert!(f.wants(&res("", "persistentvolumes", false), &pv("shop")));
        assert!(!f.wants(&res("", "persistentvolumes", false), &pv("other")));
        let role = json!({"metadata": {"name": "r"}});
        assert!(f.wants(
            &res("rbac.authorization.k8s.io", "clusterroles", false),
            &role
        ));
        let star = filter(RestoreFilter {
            namespaces: vec!["*".into()],
            ..Default::default()
        });
        assert!(star.wants(&res("", "configmaps", true), &cm("anything")));
    }

    #[test]
    fn label_selector_semantics() {
        let req = |key: &str, op: &str, values: &[&str]| LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        };
        let s = LabelSelector {
            match_labels: Some([("app".to_string(), "shop".to_string())].into()),
            match_expressions: Some(vec![
                req("tier", "In", &["web", "api"]),
                req("debug", "DoesNotExist", &[]),
                req("zone", "NotIn", &["b"]),
            ]),
        };
        let f = filter(RestoreFilter {
            label_selector: Some(s),
            ..Default::default()
        });
        let obj =
            |labels: Value| json!({"metadata": {"name": "a", "namespace": "n", "labels": labels}});
        let cm = res("", "configmaps", true);
        assert!(f.wants(&cm, &obj(json!({"app": "shop", "tier": "web"}))));
        assert!(f.wants(
            &cm,
            &obj(json!({"app": "shop", "tier": "api", "zone": "a"}))
        ));
        assert!(!f.wants(&cm, &obj(json!({"app": "shop", "tier": "db"}))));
        assert!(!f.wants(
            &cm,
            &obj(json!({"app": "shop", "tier": "web", "debug": "1"}))
        ));
        assert!(!f.wants(
            &cm,
            &obj(json!({"app": "shop", "tier": "web", "zone": "b"}))
        ));
        assert!(!f.wants(&cm, &obj(json!({"tier": "web"}))));
        assert!(!f.wants(&cm, &json!({"metadata": {"name": "a", "namespace": "n"}})));

        let bad = RestoreFilter {
            label_selector: Some(LabelSelector {
                match_expressions: Some(vec![req("a", "Exists", &["x"])]),
                match_labels: None,
            }),
            ..Default::default()
        };
        assert!(Filter::new(&bad).is_err());
        let bad_op = RestoreFilter {
            label_selector: Some(LabelSelector {
                match_expressions: Some(vec![req("a", "Gt", &["1"])]),
                match_labels: None,
            }),
            ..Default::default()
        };
        assert!(Filter::new(&bad_op).is_err());
    }
}

//! What a backup takes, decided from the job's selection and what the cluster serves. Pure: no
//! I/O, table-tested.
//!
//! Rules: `*` means every namespace but the system ones; a system namespace named next to `*`
//! (`["*", "kube-system"]`) is taken too — naming it is explicit intent. `excludedNamespaces` and
//! the namespace label selector narrow the set. Resources are named `resource` (any group) or
//! `resource.group`; events, subresources and resources without `list` are never taken. The
//! Namespace objects of the selected namespaces are always taken (a restore needs them) unless
//! `namespaces` is excluded by the resource filters. Cluster-scoped resources: `Include` takes
//! every listable one that passes the resource filters; `Auto` takes only what the selected
//! namespaced objects need (see `clean.rs`), also only when it passes the resource filters;
//! `Exclude` none. Resource names that match nothing the cluster serves are reported
//! ([`unmatched`]), not an error.

use std::collections::{BTreeMap, BTreeSet};

use herbarium_api::common::{ClusterResources, ResourceSelection};
use herbarium_api::constants::SYSTEM_NAMESPACES;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::archive::ResourceId;

/// A resource the cluster serves (preferred version of its group).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Served {
    pub id: ResourceId,
    pub listable: bool,
}

/// What to list, in archive order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Selected namespaces, sorted.
    pub namespaces: Vec<String>,
    /// Take the Namespace objects of `namespaces`.
    pub namespace_objects: bool,
    /// List each namespaced resource across all namespaces and keep the selected ones (for
    /// `*`), instead of once per selected namespace.
    pub list_all_namespaces: bool,
    pub namespaced: Vec<ResourceId>,
    /// Cluster-scoped resources listed whole (`Include`).
    pub cluster: Vec<ResourceId>,
    /// Add the cluster-scoped objects the namespaced ones need (`Auto`).
    pub auto: bool,
    /// Label selector for listing, in the API's string form.
    pub label_selector: Option<String>,
}

fn is_namespaces(r: &ResourceId) -> bool {
    r.group.is_empty() && r.resource == "namespaces"
}

fn is_event(r: &ResourceId) -> bool {
    r.resource == "events" && (r.group.is_empty() || r.group == "events.k8s.io")
}

/// `resource` or `resource.group`.
pub fn names_resource(pattern: &str, r: &ResourceId) -> bool {
    pattern == r.resource
        || (!r.group.is_empty() && pattern == format!("{}.{}", r.resource, r.group))
}

/// Whether the resource filters (`includedResources`, `excludedResources`) let `r` in.
pub fn wanted(sel: &ResourceSelection, r: &ResourceId) -> bool {
    (sel.included_resources.is_empty()
        || sel.included_resources.iter().any(|p| names_resource(p, r)))
        && !sel.excluded_resources.iter().any(|p| names_resource(p, r))
}

/// The plan, or what is wrong with the selection (a selector that cannot be parsed).
pub fn plan(
    sel: &ResourceSelection,
    served: &[Served],
    namespaces: &[(String, BTreeMap<String, String>)],
) -> Result<Plan, String> {
    let all = sel.namespaces.iter().any(|n| n == "*");
    let mut chosen: BTreeSet<String> = BTreeSet::new();
    for (name, labels) in namespaces {
        let listed =
            sel.namespaces.contains(name) || (all && !SYSTEM_NAMESPACES.contains(&name.as_str()));
        let excluded = sel.excluded_namespaces.contains(name);
        let by_labels = match &sel.namespace_selector {
            Some(s) => matches(s, labels)?,
            None => true,
        };
        if listed && !excluded && by_labels {
            chosen.insert(name.clone());
        }
    }
    let usable: Vec<&ResourceId> = served
        .iter()
        .filter(|s| s.listable && !is_event(&s.id) && wanted(sel, &s.id))
        .map(|s| &s.id)
        .collect();
    let namespaces_resource = usable.iter().any(|r| is_namespaces(r));
    let cluster = match sel.cluster_resources {
        ClusterResources::Include => usable
            .iter()
            .filter(|r| !r.namespaced && !is_namespaces(r))
            .map(|r| (*r).clone())
            .collect(),
        _ => Vec::new(),
    };
    Ok(Plan {
        namespaces: chosen.into_iter().collect(),
        namespace_objects: namespaces_resource,
        list_all_namespaces: all,
        namespaced: usable
            .iter()
            .filter(|r| r.namespaced)
            .map(|r| (*r).clone())
            .collect(),
        cluster,
        auto: sel.cluster_resources == ClusterResources::Auto,
        label_selector: sel
            .label_selector
            .as_ref()
            .map(selector_string)
            .transpose()?,
    })
}

/// The warning for names in `includedResources`/`excludedResources` that match no resource the
/// cluster serves (a typo, or an API not installed): `None` when every name matches. At most
/// 10 names are quoted.
pub fn unmatched(sel: &ResourceSelection, served: &[Served]) -> Option<String> {
    let mut parts = Vec::new();
    for (field, names) in [
        ("includedResources", &sel.included_resources),
        ("excludedResources", &sel.excluded_resources),
    ] {
        let missing: Vec<&str> = names
            .iter()
            .filter(|p| !served.iter().any(|s| names_resource(p, &s.id)))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().take(10).map(|m| format!("{m:?}")).collect();
            let more = missing.len().saturating_sub(10);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            parts.push(format!("{field} {}{more}", shown.join(", ")));
        }
    }
    (!parts.is_empty()).then(|| {
        format!(
            "{} match no resource the cluster serves (name them `resource` or \
             `resource.group`); ignored",
            parts.join("; ")
        )
    })
}

/// A LabelSelector in the form the API's `labelSelector` parameter takes.
pub fn selector_string(s: &LabelSelector) -> Result<String, String> {
    let mut parts: Vec<String> = s
        .match_labels
        .iter()
        .flatten()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for e in s.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            op => return Err(format!("label selector operator {op:?} is not known")),
        });
    }
    Ok(parts.join(","))
}

/// Whether `labels` match the selector (an empty selector matches everything).
pub fn matches(s: &LabelSelector, labels: &BTreeMap<String, String>) -> Result<bool, String> {
    for (k, v) in s.match_labels.iter().flatten() {
        if labels.get(k) != Some(v) {
            return Ok(false);
        }
    }
    for e in s.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default();
        let value = labels.get(&e.key);
        let ok = match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            op => return Err(format!("label selector operator {op:?} is not known")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn served(group: &str, resource: &str, namespaced: bool) -> Served {
        Served {
            id: ResourceId {
                group: group.into(),
                version: "v1".into(),
                resource: resource.into(),
                kind: "K".into(),
                namespaced,
            },
            listable: true,
        }
    }

    fn cluster() -> Vec<Served> {
        let mut v = vec![
            served("", "configmaps", true),
            served("", "events", true),
            served("events.k8s.io", "events", true),
            served("apps", "deployments", true),
            served("", "namespaces", false),
            served("", "persistentvolumes", false),
            served("example.com", "widgets", true),
        ];
        v.push(Served {
            listable: false,
            ..served("", "bindings", true)
        });
        v
    }

    fn ns(name: &str, labels: &[(&str, &str)]) -> (String, BTreeMap<String, String>) {
        let l = labels.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        (name.into(), l.collect())
    }

    fn namespaces() -> Vec<(String, BTreeMap<String, String>)> {
        vec![
            ns("default", &[]),
            ns("kube-system", &[]),
            ns("herbarium-system", &[]),
            ns("shop", &[("team", "a")]),
            ns("blog", &[("team", "b")]),
        ]
    }

    fn names(rs: &[ResourceId]) -> Vec<String> {
        rs.iter()
            .map(|r| format!("{}.{}", r.resource, r.group))
            .collect()
    }

    #[test]
    fn star_takes_all_but_system_namespaces_and_never_events() {
        let sel = ResourceSelection {
            namespaces: vec!["*".into()],
            excluded_namespaces: vec!["default".into()],
            ..Default::default()
        };
        let p = plan(&sel, &cluster(), &namespaces()).unwrap();
        assert_eq!(p.namespaces, ["blog", "shop"]);
        assert!(p.list_all_namespaces && p.auto && p.namespace_objects);
        assert_eq!(
            names(&p.namespaced),
            ["configmaps.", "deployments.apps", "widgets.example.com"]
        );
        assert!(p.cluster.is_empty(), "Auto lists no cluster resource whole");
    }

    #[test]
    fn a_system_namespace_named_next_to_star_is_taken() {
        let sel = ResourceSelection {
            namespaces: vec!["*".into(), "kube-system".into()],
            excluded_namespaces: vec!["default".into()],
            ..Default::default()
        };
        let p = plan(&sel, &cluster(), &namespaces()).unwrap();
        assert_eq!(p.namespaces, ["blog", "kube-system", "shop"]);
        let excluded = ResourceSelection {
            excluded_namespaces: vec!["kube-system".into()],
            ..sel
        };
        let p = plan(&excluded, &cluster(), &namespaces()).unwrap();
        assert_eq!(
            p.namespaces,
            ["blog", "default", "shop"],
            "exclusion still wins"
        );
    }

    #[test]
    fn resource_filters_apply_to_auto_extras_and_unknown_names_are_reported() {
        let crds = ResourceId {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            resource: "customresourcedefinitions".into(),
            kind: "CustomResourceDefinition".into(),
            namespaced: false,
        };
        let only_cms = ResourceSelection {
            included_resources: vec!["configmaps".into()],
            ..Default::default()
        };
        assert!(!wanted(&only_cms, &crds));
        let no_crds = ResourceSelection {
            excluded_resources: vec!["customresourcedefinitions.apiextensions.k8s.io".into()],
            ..Default::default()
        };
        assert!(!wanted(&no_crds, &crds));
        assert!(wanted(&ResourceSelection::default(), &crds));

        assert_eq!(unmatched(&only_cms, &cluster()), None);
        let typos = ResourceSelection {
            included_resources: vec!["configmap".into(), "deployments.apps".into()],
            excluded_resources: (0..12).map(|i| format!("x{i}")).collect(),
            ..Default::default()
        };
        let w = unmatched(&typos, &cluster()).unwrap();
        assert!(
            w.starts_with("includedResources \"configmap\"; excludedResources \"x0\""),
            "{w}"
        );
        assert!(
            w.contains("and 2 more") && !w.contains("deployments"),
            "{w}"
        );
    }

    #[test]
    fn filters_by_name_labels_and_resources() {
        let sel = ResourceSelection {
            namespaces: vec!["shop".into(), "blog".into(), "missing".into()],
            namespace_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "team".into(),
                    operator: "In".into(),
                    values: Some(vec!["a".into()]),
                }]),
                ..Default::default()
            }),
            included_resources: vec![
                "configmaps".into(),
                "deployments.apps".into(),
                "persistentvolumes".into(),
            ],
            excluded_resources: vec!["deployments".into()],
            cluster_resources: ClusterResources::Include,
            excluded_namespaces: vec![],
            label_selector: Some(LabelSelector {
                match_labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
        };
        let p = plan(&sel, &cluster(), &namespaces()).unwrap();
        assert_eq!(p.namespaces, ["shop"]);
        assert!(!p.list_all_namespaces);
        assert_eq!(names(&p.namespaced), ["configmaps."]);
        assert_eq!(names(&p.cluster), ["persistentvolumes."]);
        assert!(!p.namespace_objects, "namespaces not in includedResources");
        assert_eq!(p.label_selector.as_deref(), Some("app=web"));
        let exclude = ResourceSelection {
            cluster_resources: ClusterResources::Exclude,
            ..sel
        };
        let p = plan(&exclude, &cluster(), &namespaces()).unwrap();
        assert!(p.cluster.is_empty() && !p.auto);
    }

    #[test]
    fn selectors_match_and_print_like_the_api() {
        let req = |k: &str, op: &str, v: &[&str]| LabelSelectorRequirement {
            key: k.into(),
            operator: op.into(),
            values: Some(v.iter().map(|s| s.to_string()).collect()),
        };
        let s = LabelSelector {
            match_labels: Some([("a".to_string(), "1".to_string())].into()),
            match_expressions: Some(vec![
                req("b", "NotIn", &["x", "y"]),
                req("c", "Exists", &[]),
                req("d", "DoesNotExist", &[]),
            ]),
        };
        assert_eq!(selector_string(&s).unwrap(), "a=1,b notin (x,y),c,!d");
        let labels = |kv: &[(&str, &str)]| -> BTreeMap<String, String> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(matches(&s, &labels(&[("a", "1"), ("c", "")])).unwrap());
        assert!(!matches(&s, &labels(&[("a", "1"), ("b", "x"), ("c", "")])).unwrap());
        assert!(!matches(&s, &labels(&[("a", "1"), ("c", ""), ("d", "")])).unwrap());
        assert!(!matches(&s, &labels(&[("c", "")])).unwrap());
        let bad = LabelSelector {
            match_expressions: Some(vec![req("a", "Like", &[])]),
            ..Default::default()
        };
        assert!(selector_string(&bad).is_err() && matches(&bad, &labels(&[])).is_err());
    }
}

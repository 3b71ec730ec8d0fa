//! Which Shoots Herbarium adopts, and through which DiscoveryConfig: pure decisions over the
//! configs, the Shoot and its project.

use std::collections::BTreeMap;

use herbarium_api::garden::{DiscoveryConfig, DiscoveryConfigSpec};
use herbarium_api::gardener::Shoot;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;
use kube::core::{Selector, SelectorExt};

/// What discovery needs of a Gardener project.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProjectInfo {
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// A selector in a DiscoveryConfig that cannot be evaluated; the config reports it in a
/// condition, and retrying does not help until it is fixed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid {field} selector: {message}")]
pub struct SelectorError {
    pub field: &'static str,
    pub message: String,
}

/// Whether `spec` selects `shoot` of `project`: the project is named or selected (neither given:
/// every project), the Shoot's labels match, and it carries the opt-in annotation with its value.
pub fn selects(
    spec: &DiscoveryConfigSpec,
    project: &ProjectInfo,
    shoot: &Shoot,
) -> Result<bool, SelectorError> {
    let projects = &spec.projects;
    let project_ok = (projects.names.is_empty() && projects.selector.is_none())
        || projects.names.iter().any(|n| n == &project.name)
        || matches(projects.selector.as_ref(), &project.labels, "projects")?.unwrap_or(false);
    if !project_ok {
        return Ok(false);
    }
    if !matches(spec.shoots.selector.as_ref(), shoot.labels(), "shoots")?.unwrap_or(true) {
        return Ok(false);
    }
    Ok(shoot.annotations().get(&spec.shoots.opt_in_annotation) == Some(&spec.shoots.opt_in_value))
}

/// `None` without a selector, else whether it matches.
fn matches(
    selector: Option<&LabelSelector>,
    labels: &BTreeMap<String, String>,
    field: &'static str,
) -> Result<Option<bool>, SelectorError> {
    let Some(selector) = selector else {
        return Ok(None);
    };
    let selector = Selector::try_from(selector.clone()).map_err(|e| SelectorError {
        field,
        message: e.to_string(),
    })?;
    Ok(Some(selector.matches(labels)))
}

/// Of the configs that select `shoot`, the one that adopts it: the oldest, then by name, so
/// overlapping configs agree without talking to each other. Suspended configs and configs whose
/// selectors are invalid adopt nothing.
pub fn adopting_config<'a>(
    configs: &'a [DiscoveryConfig],
    project: &ProjectInfo,
    shoot: &Shoot,
) -> Option<&'a DiscoveryConfig> {
    configs
        .iter()
        .filter(|c| !c.spec.suspend && selects(&c.spec, project, shoot).unwrap_or(false))
        .min_by(|a, b| {
            let key = |c: &DiscoveryConfig| {
                (
                    c.metadata.creation_timestamp.clone().map(|t| t.0),
                    c.name_any(),
                )
            };
            key(a).cmp(&key(b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    fn config(name: &str, created: &str, spec: serde_json::Value) -> DiscoveryConfig {
        let mut spec = spec;
        spec["azure"] = json!({"tenantID": "t", "subscriptionID": "s", "resourceGroup": "rg", "location": "westeurope"});
        let mut c = DiscoveryConfig::new(name, serde_json::from_value(spec).unwrap());
        c.metadata.creation_timestamp = Some(Time(created.parse().unwrap()));
        c
    }

    fn shoot(labels: serde_json::Value, annotations: serde_json::Value) -> Shoot {
        serde_json::from_value(json!({
            "apiVersion": "core.gardener.cloud/v1beta1", "kind": "Shoot",
            "metadata": {"name": "s", "namespace": "garden-dev", "labels": labels, "annotations": annotations},
            "spec": {}
        }))
        .unwrap()
    }

    fn project(name: &str, labels: serde_json::Value) -> ProjectInfo {
        ProjectInfo {
            name: name.into(),
            labels: serde_json::from_value(labels).unwrap(),
        }
    }

    #[test]
    fn selection_needs_project_labels_and_opt_in() {
        let opted_in = json!({"herbarium.io/backup": "enabled"});
        let cases = [
            // (spec, project, shoot labels, annotations, selected)
            (
                json!({}),
                project("dev", json!({})),
                json!({}),
                opted_in.clone(),
                true,
            ),
            (
                json!({}),
                project("dev", json!({})),
                json!({}),
                json!({}),
                false,
            ),
            (
                json!({}),
                project("dev", json!({})),
                json!({}),
                json!({"herbarium.io/backup": "disabled"}),
                false,
            ),
            (
                json!({"projects": {"names": ["prod"]}}),
                project("dev", json!({})),
                json!({}),
                opted_in.clone(),
                false,
            ),
            (
                json!({"projects": {"names": ["prod", "dev"]}}),
                project("dev", json!({})),
                json!({}),
                opted_in.clone(),
                true,
            ),
            (
                json!({"projects": {"selector": {"matchLabels": {"tier": "gold"}}}}),
                project("dev", json!({"tier": "gold"})),
                json!({}),
                opted_in.clone(),
                true,
            ),
            (
                json!({"projects": {"selector": {"matchLabels": {"tier": "gold"}}}}),
                project("dev", json!({"tier": "bronze"})),
                json!({}),
                opted_in.clone(),
                false,
            ),
            (
                json!({"shoots": {"selector": {"matchExpressions": [{"key": "purpose", "operator": "In", "values": ["production"]}]}}}),
                project("dev", json!({})),
                json!({"purpose": "production"}),
                opted_in.clone(),
                true,
            ),
            (
                json!({"shoots": {"selector": {"matchExpressions": [{"key": "purpose", "operator": "In", "values": ["production"]}]}}}),
                project("dev", json!({})),
                json!({"purpose": "evaluation"}),
                opted_in.clone(),
                false,
            ),
            (
                json!({"shoots": {"optInAnnotation": "example.com/backup", "optInValue": "yes"}}),
                project("dev", json!({})),
                json!({}),
                json!({"example.com/backup": "yes"}),
                true,
            ),
            (
                json!({"shoots": {"optInAnnotation": "example.com/backup", "optInValue": "yes"}}),
                project("dev", json!({})),
                json!({}),
                opted_in.clone(),
                false,
            ),
        ];
        for (spec, project, labels, annotations, want) in cases {
            let c = config("c", "2026-01-01T00:00:00Z", spec.clone());
            let got = selects(
                &c.spec,
                &project,
                &shoot(labels.clone(), annotations.clone()),
            )
            .unwrap();
            assert_eq!(got, want, "{spec} / {project:?} / {labels} / {annotations}");
        }
    }

    #[test]
    fn an_invalid_selector_is_an_error_not_a_match() {
        let c = config(
            "c",
            "2026-01-01T00:00:00Z",
            json!({"shoots": {"selector": {"matchExpressions": [{"key": "a", "operator": "Sometimes"}]}}}),
        );
        let err = selects(
            &c.spec,
            &project("dev", json!({})),
            &shoot(json!({}), json!({"herbarium.io/backup": "enabled"})),
        )
        .unwrap_err();
        assert_eq!(err.field, "shoots");
    }

    #[test]
    fn overlapping_configs_agree_on_the_oldest() {
        let configs = vec![
            config("b-newer", "2026-02-01T00:00:00Z", json!({})),
            config("z-oldest", "2026-01-01T00:00:00Z", json!({})),
            config("a-oldest", "2026-01-01T00:00:00Z", json!({})),
            config(
                "suspended",
                "2025-01-01T00:00:00Z",
                json!({"suspend": true}),
            ),
            config(
                "other-project",
                "2024-01-01T00:00:00Z",
                json!({"projects": {"names": ["prod"]}}),
            ),
        ];
        let s = shoot(json!({}), json!({"herbarium.io/backup": "enabled"}));
        let adopted = adopting_config(&configs, &project("dev", json!({})), &s).unwrap();
        assert_eq!(adopted.name_any(), "a-oldest");
        let none = shoot(json!({}), json!({}));
        assert!(adopting_config(&configs, &project("dev", json!({})), &none).is_none());
    }
}

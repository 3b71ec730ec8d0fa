use super::*;
use crate::agent_install::{AgentSpec, manifests};

fn spec(version: &str, client_id: &str) -> AgentSpec {
    AgentSpec {
        image: "registry.example/herbarium-agent:1".into(),
        image_pull_policy: None,
        version: version.into(),
        client_id: client_id.into(),
        tenant_id: "tenant".into(),
        authority_host: "https://login.example/".into(),
        resources: None,
    }
}

fn hash(m: &Manifest) -> Option<String> {
    m.object
        .metadata
        .annotations
        .as_ref()?
        .get(MANIFEST_HASH_ANNOTATION)
        .cloned()
}

/// What the cluster looks like right after `desired` was applied by version `version`.
fn installed(desired: &[Manifest], version: &str) -> Vec<Present> {
    desired
        .iter()
        .map(|m| Present {
            key: key_of(m),
            version: Some(version.into()),
            hash: hash(m),
            prunable: !matches!(
                m.resource.kind.as_str(),
                "Namespace" | "CustomResourceDefinition"
            ),
        })
        .collect()
}

fn kinds(plan: &Plan) -> Vec<String> {
    plan.apply.iter().map(|m| key_of(m).to_string()).collect()
}

fn other(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    version: Option<&str>,
    prunable: bool,
) -> Present {
    Present {
        key: ObjectKey {
            group: String::new(),
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
        },
        version: version.map(str::to_string),
        hash: Some("whatever".into()),
        prunable,
    }
}

#[test]
fn an_empty_cluster_gets_everything_in_order() {
    let desired = manifests(&spec("1.0.0", "a"));
    let plan = plan(&desired, &[], "1.0.0", false);
    assert_eq!(plan.apply.len(), desired.len());
    assert_eq!(plan.apply[0].resource.kind, "Namespace");
    assert_eq!(plan.apply.last().unwrap().resource.kind, "Deployment");
    assert!(plan.delete.is_empty());
}

#[test]
fn an_unchanged_install_is_reads_only_unless_forced() {
    let desired = manifests(&spec("1.0.0", "a"));
    let present = installed(&desired, "1.0.0");
    let p = plan(&desired, &present, "1.0.0", false);
    assert!(p.apply.is_empty() && p.delete.is_empty(), "{p:?}");
    let forced = plan(&desired, &present, "1.0.0", true);
    assert_eq!(forced.apply.len(), desired.len());
    assert!(forced.delete.is_empty());
}

#[test]
fn a_new_identity_reapplies_only_what_names_it() {
    let before = manifests(&spec("1.0.0", "a"));
    let after = manifests(&spec("1.0.0", "b"));
    let p = plan(&after, &installed(&before, "1.0.0"), "1.0.0", false);
    assert_eq!(
        kinds(&p),
        [
            "ServiceAccount herbarium-system/herbarium-agent",
            "Deployment herbarium-system/herbarium-agent"
        ]
    );
}

#[test]
fn missing_unstamped_or_edited_objects_are_applied() {
    let desired = manifests(&spec("1.0.0", "a"));
    let mut present = installed(&desired, "1.0.0");
    present.retain(|p| p.key.kind != "ClusterRoleBinding");
    present
        .iter_mut()
        .find(|p| p.key.kind == "ServiceAccount")
        .unwrap()
        .hash = None;
    present
        .iter_mut()
        .find(|p| p.key.kind == "Deployment")
        .unwrap()
        .hash = Some("edited".into());
    let p = plan(&desired, &present, "1.0.0", false);
    assert_eq!(
        kinds(&p),
        [
            "ServiceAccount herbarium-system/herbarium-agent",
            "ClusterRoleBinding herbarium-agent",
            "Deployment herbarium-system/herbarium-agent"
        ]
    );
}

#[test]
fn only_prunable_leftovers_of_other_versions_go() {
    let desired = manifests(&spec("2.0.0", "a"));
    let mut present = installed(&manifests(&spec("1.0.0", "a")), "1.0.0");
    present.push(other(
        "ConfigMap",
        Some("herbarium-system"),
        "old",
        Some("1.0.0"),
        true,
    ));
    present.push(other(
        "ConfigMap",
        Some("herbarium-system"),
        "current",
        Some("2.0.0"),
        true,
    ));
    present.push(other(
        "ConfigMap",
        Some("herbarium-system"),
        "user",
        None,
        true,
    ));
    present.push(other("Namespace", None, "old-ns", Some("1.0.0"), false));
    let p = plan(&desired, &present, "2.0.0", false);
    // The upgrade relabels every desired object (its hash changes with the label) ...
    assert_eq!(p.apply.len(), desired.len());
    // ... and deletes only what the new version no longer has.
    assert_eq!(
        p.delete.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["ConfigMap herbarium-system/old"]
    );
}

#[test]
fn hashes_are_stable_and_ignore_the_stamp() {
    let a = manifests(&spec("1.0.0", "a"));
    let b = manifests(&spec("1.0.0", "a"));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(hash(x), hash(y));
        assert_eq!(hash(x), Some(manifest_hash(x)), "the stamp is not hashed");
        assert_eq!(hash(x).unwrap().len(), 32);
    }
}

//! The generated CRDs carry every validation rule, at the place it belongs. (They are exercised
//! against a real API server by the integration suite in test/support.)

use std::collections::BTreeSet;

use herbarium_api::crds;
use serde_json::Value;

/// Every `x-kubernetes-validations` rule in a schema as (path, rule, message).
fn rules(schema: &Value, path: &str, out: &mut Vec<(String, String, String)>) {
    if let Some(list) = schema
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
    {
        for r in list {
            out.push((
                path.to_string(),
                r["rule"].as_str().unwrap_or_default().to_string(),
                r["message"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            rules(sub, &format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = schema.get("items") {
        rules(items, &format!("{path}[]"), out);
    }
    if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
        rules(values, &format!("{path}{{}}"), out);
    }
}

fn crd_rules(plural: &str) -> Vec<(String, String, String)> {
    let crd = crds::all()
        .into_iter()
        .find(|c| c.spec.names.plural == plural)
        .unwrap_or_else(|| panic!("no CRD {plural}"));
    let schema = serde_json::to_value(
        crd.spec.versions[0]
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    rules(&schema, "", &mut out);
    out
}

/// Asserts that `plural` has a rule at `path` whose message contains `message`.
fn has_rule(plural: &str, path: &str, message: &str) {
    let all = crd_rules(plural);
    assert!(
        all.iter().any(|(p, _, m)| p == path && m.contains(message)),
        "{plural}: no rule at {path} with message containing {message:?}; rules: {all:#?}"
    );
}

#[test]
fn cluster_has_exactly_one_source_and_keeps_its_kind() {
    has_rule("clusters", "", "exactly one source");
    has_rule("clusters", ".spec", "cannot change");
    has_rule("clusters", ".spec.kubeconfig.issuerURL", "https");
}

#[test]
fn backup_location_checks_azure_names() {
    has_rule(
        "backuplocations",
        ".spec.azure.storageAccount",
        "3-24 lowercase",
    );
    has_rule("backuplocations", ".spec.azure.container", "3-63 lowercase");
    has_rule("backuplocations", ".spec.azure.prefix", "segments");
    has_rule(
        "backuplocations",
        ".spec.azure",
        "at most one of cloud and endpoint",
    );
    has_rule("backuplocations", ".spec.azure.endpoint", "https");
    has_rule("backuplocations", ".spec.clusters", "in this namespace");
}

#[test]
fn schedule_policy_has_exactly_one_kind_and_sane_times() {
    has_rule(
        "schedulepolicies",
        ".spec",
        "exactly one of interval, daily, weekly, monthly and cron",
    );
    has_rule("schedulepolicies", ".spec.daily.times", "HH:MM");
    has_rule("schedulepolicies", ".spec.weekly.time", "HH:MM");
    has_rule("schedulepolicies", ".spec.monthly.time", "HH:MM");
    has_rule("schedulepolicies", ".spec.cron.expression", "five fields");
    has_rule("schedulepolicies", ".spec.interval.every", "duration");
}

#[test]
fn retain_is_at_least_one() {
    let crd = crds::all()
        .into_iter()
        .find(|c| c.spec.names.plural == "schedulepolicies")
        .unwrap();
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
    for kind in ["interval", "daily", "weekly", "monthly", "cron"] {
        let retain = &schema["openAPIV3Schema"]["properties"]["spec"]["properties"][kind]["properties"]
            ["retain"];
        assert_eq!(
            retain["minimum"].as_f64(),
            Some(1.0),
            "{kind}.retain: {retain}"
        );
    }
}

#[test]
fn references_stay_in_the_namespace() {
    for field in ["cluster", "location", "preRule", "postRule"] {
        has_rule(
            "backups",
            &format!(".spec.{field}"),
            "references to other namespaces are not allowed",
        );
    }
    has_rule("backups", ".spec", "cannot change once created");
    has_rule("backups", ".spec.namespaces", "'*' or DNS labels");
    has_rule("restores", ".spec.backup", "references to other namespaces");
    has_rule(
        "restores",
        ".spec.targetCluster",
        "references to other namespaces",
    );
    has_rule("restores", ".spec.namespaceMapping", "DNS labels");
    has_rule(
        "backupschedules",
        ".spec.policy",
        "references to other namespaces",
    );
    has_rule(
        "backupschedules",
        ".spec.template.cluster",
        "references to other namespaces",
    );
}

#[test]
fn discovery_config_checks_azure_ids() {
    has_rule("discoveryconfigs", ".spec.azure.tenantID", "GUID");
    has_rule("discoveryconfigs", ".spec.azure.subscriptionID", "GUID");
    has_rule(
        "discoveryconfigs",
        ".spec.azure.resourceGroup",
        "resourceGroup",
    );
}

#[test]
fn agent_objects_check_what_they_are_given() {
    has_rule("locationaccesses", ".spec.storageAccount", "3-24 lowercase");
    has_rule("locationaccesses", ".spec.endpoint", "https");
    has_rule("backupjobs", ".spec", "needs a selection");
}

#[test]
fn every_rule_has_a_message() {
    for crd in crds::all() {
        for (path, rule, message) in crd_rules(&crd.spec.names.plural) {
            assert!(
                !message.is_empty(),
                "{}{path}: rule {rule} has no message",
                crd.spec.names.plural
            );
        }
    }
}

#[test]
fn twelve_crds_with_unique_short_names_that_collide_with_nothing_known() {
    let all = crds::all();
    assert_eq!(all.len(), 12);
    // Velero's and Kubernetes' own short names.
    let taken: BTreeSet<&str> = [
        "bsl", "vsl", "po", "svc", "cm", "ns", "pv", "pvc", "sa", "deploy", "ds", "sts", "rs",
        "cj", "ev", "ep", "no", "crd", "crds", "sc", "csr", "ing", "netpol", "pdb", "hpa", "pc",
        "quota", "limits", "rc", "cs", "vs", "vsc", "vsclass",
    ]
    .into();
    let mut seen = BTreeSet::new();
    for crd in &all {
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["herbarium".to_string()][..])
        );
        for short in crd.spec.names.short_names.clone().unwrap_or_default() {
            assert!(!taken.contains(short.as_str()), "{short} collides");
            assert!(seen.insert(short.clone()), "{short} used twice");
        }
    }
    assert_eq!(seen.len(), 12, "every CRD has a short name");
}

#[test]
fn conditions_merge_by_type_under_server_side_apply() {
    let crd = crds::all()
        .into_iter()
        .find(|c| c.spec.names.plural == "clusters")
        .unwrap();
    let schema = serde_json::to_value(&crd.spec.versions[0].schema).unwrap();
    let conditions = &schema["openAPIV3Schema"]["properties"]["status"]["properties"]["conditions"];
    assert_eq!(conditions["x-kubernetes-list-type"], "map");
    assert_eq!(
        conditions["x-kubernetes-list-map-keys"],
        serde_json::json!(["type"])
    );
}

#[test]
fn committed_crds_match_the_types() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for crd in crds::all() {
        let path = format!("{root}/crds/{}", crds::file_name(&crd));
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(
            committed,
            crds::to_yaml(&crd).unwrap(),
            "{path} is stale: run hack/gen-crds.sh"
        );
    }
}

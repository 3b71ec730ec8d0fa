use serde_json::Value;

use super::*;

fn spec() -> AgentSpec {
    AgentSpec {
        image: "registry.example/herbarium-agent:1.2.3".into(),
        image_pull_policy: Some("IfNotPresent".into()),
        version: "1.2.3".into(),
        client_id: "client-guid".into(),
        tenant_id: "tenant-guid".into(),
        authority_host: "https://login.example/".into(),
        resources: None,
    }
}

fn find<'a>(ms: &'a [Manifest], kind: &str, name: &str) -> &'a Manifest {
    ms.iter()
        .find(|m| m.resource.kind == kind && m.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn data(m: &Manifest) -> Value {
    serde_json::to_value(&m.object).unwrap()
}

#[test]
fn every_object_is_labelled_and_ordered() {
    let ms = manifests(&spec());
    let kinds: Vec<&str> = ms.iter().map(|m| m.resource.kind.as_str()).collect();
    assert_eq!(kinds[0], "Namespace");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == "CustomResourceDefinition")
            .count(),
        4
    );
    assert_eq!(kinds.last(), Some(&"Deployment"));
    for m in &ms {
        let labels = m.object.metadata.labels.as_ref().unwrap();
        assert_eq!(
            labels
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("herbarium"),
            "{}",
            m.name()
        );
        assert_eq!(
            labels.get("herbarium.io/agent-version").map(String::as_str),
            Some("1.2.3"),
            "{}",
            m.name()
        );
        let v = data(m);
        assert_eq!(v["apiVersion"], m.resource.api_version.as_str());
        assert_eq!(v["kind"], m.resource.kind.as_str());
    }
    assert_eq!(manifests(&spec()).len(), ms.len(), "deterministic");
}

#[test]
fn service_account_and_pod_carry_the_workload_identity() {
    let ms = manifests(&spec());
    let sa = data(find(&ms, "ServiceAccount", "herbarium-agent"));
    assert_eq!(sa["metadata"]["namespace"], "herbarium-system");
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/client-id"],
        "client-guid"
    );
    assert_eq!(
        sa["metadata"]["annotations"]["azure.workload.identity/tenant-id"],
        "tenant-guid"
    );

    let d = data(find(&ms, "Deployment", "herbarium-agent"));
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "herbarium-agent");
    assert_eq!(
        d["spec"]["selector"]["matchLabels"],
        serde_json::json!({"app.kubernetes.io/name": "herbarium-agent"})
    );
    let token = &pod["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(token["audience"], "api://AzureADTokenExchange");
    assert_eq!(
        format!("{TOKEN_DIR}/{}", token["path"].as_str().unwrap()),
        FEDERATED_TOKEN_FILE
    );
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "registry.example/herbarium-agent:1.2.3");
    assert_eq!(c["volumeMounts"][0]["mountPath"], TOKEN_DIR);
    let env = |name: &str| {
        c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    assert_eq!(env("AZURE_CLIENT_ID"), Some("client-guid".into()));
    assert_eq!(env("AZURE_TENANT_ID"), Some("tenant-guid".into()));
    assert_eq!(
        env("AZURE_FEDERATED_TOKEN_FILE"),
        Some(FEDERATED_TOKEN_FILE.into())
    );
    assert_eq!(
        env("AZURE_AUTHORITY_HOST"),
        Some("https://login.example/".into())
    );
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"]["herbarium.io/agent-version"],
        "1.2.3"
    );
}

#[test]
fn rbac_grants_what_the_agent_does() {
    let ms = manifests(&spec());
    let role = data(find(&ms, "ClusterRole", "herbarium-agent"));
    let allows = |group: &str, resource: &str, verb: &str| {
        role["rules"].as_array().unwrap().iter().any(|r| {
            let has =
                |f: &str, v: &str| r[f].as_array().unwrap().iter().any(|x| x == v || x == "*");
            has("apiGroups", group) && has("resources", resource) && has("verbs", verb)
        })
    };
    for (g, r, v) in [
        ("apps", "deployments", "list"),
        ("", "secrets", "get"),
        ("apps", "deployments", "create"),
        ("", "configmaps", "delete"),
        ("agent.herbarium.io", "backupjobs/status", "patch"),
        ("coordination.k8s.io", "leases", "update"),
        ("snapshot.storage.k8s.io", "volumesnapshots", "create"),
        ("", "pods/exec", "create"),
    ] {
        assert!(allows(g, r, v), "{v} {g}/{r}");
    }
    assert!(!allows("", "serviceaccounts", "impersonate"));
    let binding = data(find(&ms, "ClusterRoleBinding", "herbarium-agent"));
    assert_eq!(binding["roleRef"]["name"], "herbarium-agent");
    assert_eq!(binding["subjects"][0]["namespace"], "herbarium-system");
}

#[test]
fn versions_become_valid_label_values() {
    assert_eq!(label_value("0.1.0"), "0.1.0");
    assert_eq!(label_value("1.0.0+build/7"), "1.0.0_build_7");
    assert_eq!(label_value("-v1-"), "v1");
    assert_eq!(label_value(&"x".repeat(80)).len(), 63);
}

#[test]
fn spec_from_discovery_settings() {
    let mut settings = herbarium_api::garden::AgentSettings::default();
    let s = AgentSpec::new(&settings, "default/agent:1", "1", "c", "t", "https://a/");
    assert_eq!(
        (s.image.as_str(), s.client_id.as_str()),
        ("default/agent:1", "c")
    );
    settings.image = Some("mirror/agent:1".into());
    assert_eq!(
        AgentSpec::new(&settings, "default/agent:1", "1", "c", "t", "https://a/").image,
        "mirror/agent:1"
    );
}

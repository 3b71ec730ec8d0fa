//! Every CEL and schema rule of the api crate, against the real API server: each fixture of
//! api/tests/fixtures/kinds is accepted as written, and each invalid variant is refused with the
//! rule's message.

use std::collections::BTreeMap;

use herbarium_api::crds;
use herbarium_test_support::{env, repo_root, unique_namespace};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

/// The fixture documents of `file`, without status (status is not the user's to write).
fn fixture(file: &str) -> Vec<Value> {
    let path = repo_root().join("api/tests/fixtures/kinds").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| {
            let mut v: Value = serde::Deserialize::deserialize(d).unwrap();
            v.as_object_mut().unwrap().remove("status");
            v
        })
        .collect()
}

struct Kinds {
    garden: Client,
    cluster: Client,
    plural: BTreeMap<String, (String, bool)>,
}

impl Kinds {
    async fn new() -> Self {
        let plural = crds::all()
            .into_iter()
            .map(|c| {
                (
                    c.spec.names.kind.clone(),
                    (c.spec.names.plural.clone(), c.spec.scope == "Namespaced"),
                )
            })
            .collect();
        Self {
            garden: env().garden_client().await.unwrap(),
            cluster: env().clusters[0].client().await.unwrap(),
            plural,
        }
    }

    /// The API for `obj`'s kind, in `ns` when namespaced, on the garden or the cluster by group.
    fn api(&self, obj: &Value, ns: &str) -> Api<DynamicObject> {
        let (group, version) = obj["apiVersion"].as_str().unwrap().split_once('/').unwrap();
        let kind = obj["kind"].as_str().unwrap();
        let (plural, namespaced) = &self.plural[kind];
        let ar =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let client = if group == "agent.herbarium.io" {
            &self.cluster
        } else {
            &self.garden
        };
        if *namespaced {
            Api::namespaced_with(client.clone(), ns, &ar)
        } else {
            Api::all_with(client.clone(), &ar)
        }
    }

    async fn create(
        &self,
        mut obj: Value,
        ns: &str,
        name: &str,
    ) -> Result<DynamicObject, kube::Error> {
        obj["metadata"] = json!({"name": name});
        let dynamic: DynamicObject = serde_json::from_value(obj.clone()).unwrap();
        self.api(&obj, ns)
            .create(&PostParams::default(), &dynamic)
            .await
    }
}

/// Sets `pointer` (a JSON pointer; a missing last key is added) to `value`, or removes it (`None`).
fn edit(mut obj: Value, pointer: &str, value: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = obj
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"));
    let map = target.as_object_mut().unwrap();
    match value {
        Some(v) => {
            map.insert(key.to_string(), v);
        }
        None => {
            map.remove(key);
        }
    }
    obj
}

fn expect_refused(result: Result<DynamicObject, kube::Error>, message: &str, case: &str) {
    match result {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422, "{case}: {s:?}");
            assert!(
                s.message.contains(message),
                "{case}: want {message:?} in {:?}",
                s.message
            );
        }
        other => panic!("{case}: expected a 422 naming {message:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn every_fixture_is_accepted() {
    let kinds = Kinds::new().await;
    let ns = unique_namespace(&kinds.garden, "valid").await.unwrap();
    let cluster_ns = unique_namespace(&kinds.cluster, "valid").await.unwrap();
    for file in [
        "discoveryconfig.yaml",
        "cluster-gardener.yaml",
        "cluster-kubeconfig.yaml",
        "backuplocation.yaml",
        "backup.yaml",
        "restore.yaml",
        "schedulepolicy.yaml",
        "backupschedule.yaml",
        "rule.yaml",
        "locationaccess.yaml",
        "backupjob.yaml",
        "restorejob.yaml",
        "syncjob.yaml",
    ] {
        for (i, obj) in fixture(file).into_iter().enumerate() {
            let target = if obj["apiVersion"].as_str().unwrap().starts_with("agent.") {
                &cluster_ns
            } else {
                &ns
            };
            let name = format!(
                "{}-{i}-{}",
                file.trim_end_matches(".yaml"),
                std::process::id()
            );
            kinds
                .create(obj, target, &name)
                .await
                .unwrap_or_else(|e| panic!("{file}[{i}] refused: {e}"));
        }
    }
}

#[tokio::test]
async fn every_invalid_combination_is_refused_with_its_message() {
    let kinds = Kinds::new().await;
    let ns = unique_namespace(&kinds.garden, "invalid").await.unwrap();
    let cluster_ns = unique_namespace(&kinds.cluster, "invalid").await.unwrap();
    let first = |file: &str| fixture(file).remove(0);
    let nth = |file: &str, i: usize| fixture(file).remove(i);
    let kubeconfig_cluster = first("cluster-kubeconfig.yaml");
    let gardener = json!({"shootName": "s", "shootUID": "u", "discoveryConfig": "d"});
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "cluster with both sources",
            edit(
                kubeconfig_cluster.clone(),
                "/spec/gardener",
                Some(gardener.clone()),
            ),
            "exactly one source",
        ),
        (
            "cluster with no source",
            edit(kubeconfig_cluster.clone(), "/spec/kubeconfig", None),
            "exactly one source",
        ),
        (
            "issuer over http",
            edit(
                kubeconfig_cluster.clone(),
                "/spec/kubeconfig/issuerURL",
                Some(json!("http://oidc.example.com")),
            ),
            "issuerURL must be an https URL",
        ),
        (
            "storage account with capitals",
            edit(
                first("backuplocation.yaml"),
                "/spec/azure/storageAccount",
                Some(json!("Herbarium_01")),
            ),
            "3-24 lowercase",
        ),
        (
            "storage account too short",
            edit(
                first("backuplocation.yaml"),
                "/spec/azure/storageAccount",
                Some(json!("ab")),
            ),
            "3-24 lowercase",
        ),
        (
            "container too short",
            edit(
                first("backuplocation.yaml"),
                "/spec/azure/container",
                Some(json!("ab")),
            ),
            "3-63 lowercase",
        ),
        (
            "container with a double hyphen",
            edit(
                first("backuplocation.yaml"),
                "/spec/azure/container",
                Some(json!("a--b")),
            ),
            "3-63 lowercase",
        ),
        (
            "container ending in a hyphen",
            edit(
                first("backuplocation.yaml"),
                "/spec/azure/container",
                Some(json!("abc-")),
            ),
            "3-63 lowercase",
        ),
        (
            "prefix with a leading slash",
            edit(
                first("backuplocation.yaml"),
                "/spec/azure/prefix",
                Some(json!("/a")),
            ),
            "prefix must be",
        ),
        (
            "prefix escaping upwards",
            edit(
                first("backuplocation.yaml"),
                "/spec/azure/prefix",
                Some(json!("a/../b")),
            ),
            "prefix must be",
        ),
        (
            "cloud and endpoint",
            edit(
                first("backuplocation.yaml"),
                "/spec/azure/endpoint",
                Some(json!("https://x.example.com")),
            ),
            "at most one of cloud and endpoint",
        ),
        (
            "endpoint over http",
            edit(
                edit(first("backuplocation.yaml"), "/spec/azure/cloud", None),
                "/spec/azure/endpoint",
                Some(json!("http://127.0.0.1:10000/devstoreaccount1")),
            ),
            "endpoint must be an https URL",
        ),
        (
            "location assigned to another namespace's cluster",
            edit(
                first("backuplocation.yaml"),
                "/spec/clusters",
                Some(json!(["other/c"])),
            ),
            "references to other namespaces are not allowed",
        ),
        (
            "backup of another namespace's cluster",
            edit(
                first("backup.yaml"),
                "/spec/cluster",
                Some(json!("other-ns/c")),
            ),
            "references to other namespaces are not allowed",
        ),
        (
            "backup rule in another namespace",
            edit(
                first("backup.yaml"),
                "/spec/preRule",
                Some(json!("other/flush")),
            ),
            "references to other namespaces are not allowed",
        ),
        (
            "backup of an invalid namespace name",
            edit(
                first("backup.yaml"),
                "/spec/namespaces",
                Some(json!(["Shop"])),
            ),
            "'*' or DNS labels",
        ),
        (
            "backup with a bad ttl",
            edit(first("backup.yaml"), "/spec/ttl", Some(json!("soon"))),
            "non-negative duration",
        ),
        (
            "restore mapped to an invalid namespace",
            edit(
                first("restore.yaml"),
                "/spec/namespaceMapping",
                Some(json!({"shop": "Shop_Staging"})),
            ),
            "namespace mapping targets must be DNS labels",
        ),
        (
            "restore into another namespace's cluster",
            edit(
                first("restore.yaml"),
                "/spec/targetCluster",
                Some(json!("x/y")),
            ),
            "references to other namespaces are not allowed",
        ),
        (
            "policy with two kinds",
            edit(
                nth("schedulepolicy.yaml", 0),
                "/spec/interval",
                Some(json!({"every": "1h", "retain": 1})),
            ),
            "exactly one of interval, daily, weekly, monthly and cron",
        ),
        (
            "policy with no kind",
            edit(nth("schedulepolicy.yaml", 0), "/spec/daily", None),
            "exactly one of interval, daily, weekly, monthly and cron",
        ),
        (
            "daily at 25:00",
            edit(
                nth("schedulepolicy.yaml", 0),
                "/spec/daily/times",
                Some(json!(["25:00"])),
            ),
            "HH:MM",
        ),
        (
            "retain zero",
            edit(
                nth("schedulepolicy.yaml", 1),
                "/spec/interval/retain",
                Some(json!(0)),
            ),
            "should be greater than or equal to 1",
        ),
        (
            "weekly at 3:15",
            edit(
                nth("schedulepolicy.yaml", 2),
                "/spec/weekly/time",
                Some(json!("3:15")),
            ),
            "HH:MM",
        ),
        (
            "monthly on day 32",
            edit(
                nth("schedulepolicy.yaml", 3),
                "/spec/monthly/days",
                Some(json!([32])),
            ),
            "should be less than or equal to 31",
        ),
        (
            "cron with six fields",
            edit(
                nth("schedulepolicy.yaml", 4),
                "/spec/cron/expression",
                Some(json!("0 0 9 * * 1-5")),
            ),
            "five fields",
        ),
        (
            "schedule template in another namespace",
            edit(
                first("backupschedule.yaml"),
                "/spec/template/cluster",
                Some(json!("a/b")),
            ),
            "references to other namespaces are not allowed",
        ),
        (
            "schedule policy in another namespace",
            edit(
                first("backupschedule.yaml"),
                "/spec/policy",
                Some(json!("a/b")),
            ),
            "references to other namespaces are not allowed",
        ),
        (
            "tenant that is not a GUID",
            edit(
                first("discoveryconfig.yaml"),
                "/spec/azure/tenantID",
                Some(json!("contoso")),
            ),
            "tenantID must be a GUID",
        ),
        (
            "resource group ending in a dot",
            edit(
                first("discoveryconfig.yaml"),
                "/spec/azure/resourceGroup",
                Some(json!("rg.")),
            ),
            "must not end with '.'",
        ),
        (
            "rule without a command",
            edit(
                first("rule.yaml"),
                "/spec/actions",
                Some(json!([{"podSelector": {}, "command": []}])),
            ),
            "should have at least 1 items",
        ),
        (
            "location access with a bad account",
            edit(
                first("locationaccess.yaml"),
                "/spec/storageAccount",
                Some(json!("UPPER")),
            ),
            "3-24 lowercase",
        ),
        (
            "location access over http",
            edit(
                first("locationaccess.yaml"),
                "/spec/endpoint",
                Some(json!("http://a")),
            ),
            "endpoint must be an https URL",
        ),
        (
            "manual backup job without a selection",
            edit(nth("backupjob.yaml", 0), "/spec/selection", None),
            "needs a selection",
        ),
    ];
    for (i, (case, obj, message)) in cases.into_iter().enumerate() {
        let target = if obj["apiVersion"].as_str().unwrap().starts_with("agent.") {
            &cluster_ns
        } else {
            &ns
        };
        let name = format!("bad-{i}-{}", std::process::id());
        expect_refused(kinds.create(obj, target, &name).await, message, case);
    }
}

#[tokio::test]
async fn transition_rules_keep_what_must_not_change() {
    let kinds = Kinds::new().await;
    let ns = unique_namespace(&kinds.garden, "transition").await.unwrap();
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        (
            "backup spec",
            first_doc("backup.yaml"),
            json!({"spec": {"location": "elsewhere"}}),
            "a Backup's spec cannot change once created",
        ),
        (
            "restore spec",
            first_doc("restore.yaml"),
            json!({"spec": {"restoreVolumes": false}}),
            "a Restore's spec cannot change once created",
        ),
        (
            "cluster source kind",
            first_doc("cluster-kubeconfig.yaml"),
            json!({"spec": {"kubeconfig": null, "gardener": {"shootName": "s", "shootUID": "u", "discoveryConfig": "d"}}}),
            "the source kind of a Cluster",
        ),
    ];
    for (i, (case, obj, patch, message)) in cases.into_iter().enumerate() {
        let name = format!("t-{i}");
        let api = kinds.api(&obj, &ns);
        kinds
            .create(obj, &ns, &name)
            .await
            .unwrap_or_else(|e| panic!("{case}: create: {e}"));
        let result = api
            .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
            .await;
        expect_refused(result, message, case);
    }
}

fn first_doc(file: &str) -> Value {
    fixture(file).remove(0)
}

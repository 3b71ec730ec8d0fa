//! `hack/demo.sh`: the whole story on the local environment, narrated. Two Shoots opt in, get
//! their own Azure identities and agents, a location is validated, a namespace of cluster 1 is
//! backed up to Azurite and restored into cluster 2 under another name.

use std::time::{Duration, Instant};

use herbarium_api::garden::{Backup, BackupLocation, Cluster, DiscoveryConfig, Restore};
use herbarium_e2e::procs::controller;
use herbarium_e2e::{WAIT, shoot, start_agent};
use herbarium_test_support::{azure, env, unique_namespace};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

const CONFIGMAPS: usize = 500;

fn say(start: Instant, text: impl AsRef<str>) {
    println!(
        "[{:>5.1}s] {}",
        start.elapsed().as_secs_f64(),
        text.as_ref()
    );
}

/// Polls `describe` every 500 ms, printing each new description, until `done` says so.
async fn follow<F, Fut>(start: Instant, what: &str, mut describe: F) -> String
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<(String, bool)>>,
{
    let mut last = String::new();
    let began = Instant::now();
    loop {
        if let Some((text, done)) = describe().await {
            if text != last {
                say(start, format!("{what}: {text}"));
                last = text.clone();
            }
            if done {
                return text;
            }
        }
        if began.elapsed() > WAIT {
            panic!("{what}: no progress for {WAIT:?} (last: {last})");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn create<K>(api: &Api<K>, value: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(value).expect("object");
    api.create(&PostParams::default(), &object)
        .await
        .expect("create");
}

#[tokio::main]
async fn main() {
    let start = Instant::now();
    let garden: Client = env().garden_client().await.expect("garden");
    let a = azure();
    let ns = unique_namespace(&garden, "garden-demo").await.unwrap();
    let project = ns.trim_start_matches("garden-").to_string();
    say(
        start,
        format!("garden project namespace {ns}; blob container \"backups\" in Azurite"),
    );
    a.create_container("backups").await;

    create(&Api::<BackupLocation>::namespaced(garden.clone(), &ns), json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "BackupLocation", "metadata": {"name": "azure"},
        "spec": {"azure": {"storageAccount": a.var("HERBARIUM_STORAGE_ACCOUNT"), "container": "backups",
                           "endpoint": a.var("HERBARIUM_BLOB_ENDPOINT")}, "clusters": ["app-1", "app-2"]}})).await;
    create(&Api::<DiscoveryConfig>::all(garden.clone()), json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "DiscoveryConfig", "metadata": {"name": "demo"},
        "spec": {"projects": {"names": [project]},
                 "azure": {"tenantID": a.var("AZURE_TENANT_ID"), "subscriptionID": a.var("HERBARIUM_SUBSCRIPTION_ID"),
                           "resourceGroup": a.var("HERBARIUM_RESOURCE_GROUP"), "location": "westeurope"}}})).await;
    say(
        start,
        "starting herbarium-controller (workload identity of the garden, no cloud secret)",
    );
    let _controller = controller();
    for (name, cluster) in [("app-1", "cluster-1"), ("app-2", "cluster-2")] {
        shoot(&garden, &ns, name, cluster).await;
        say(
            start,
            format!(
                "Shoot {name} annotated herbarium.io/backup=enabled (served by local {cluster})"
            ),
        );
    }
    let clusters: Api<Cluster> = Api::namespaced(garden.clone(), &ns);
    let mut agents = Vec::new();
    for (i, name) in ["app-1", "app-2"].into_iter().enumerate() {
        agents.push(start_agent(&clusters, name, i).await);
        let id = clusters
            .get(name)
            .await
            .unwrap()
            .status
            .unwrap()
            .identity
            .unwrap();
        say(
            start,
            format!(
                "Cluster {name}: identity {} (federated credential for {}), agent started as its pod would run",
                id.client_id, id.issuer
            ),
        );
    }
    for name in ["app-1", "app-2"] {
        follow(start, &format!("Cluster {name}"), || async {
            let s = clusters.get(name).await.ok()?.status?;
            let phase = format!("{:?}", s.phase?);
            Some((phase.clone(), phase == "Ready"))
        })
        .await;
    }
    let locations: Api<BackupLocation> = Api::namespaced(garden.clone(), &ns);
    follow(start, "BackupLocation azure", || async {
        let s = locations.get("azure").await.ok()?.status?;
        let phase = format!("{:?}", s.phase?);
        let per: Vec<String> = s
            .clusters
            .iter()
            .map(|c| format!("{}={:?}", c.cluster, c.state))
            .collect();
        Some((format!("{phase} ({})", per.join(", ")), phase == "Valid"))
    })
    .await;

    let c1 = env().clusters[0].client().await.unwrap();
    let shop = unique_namespace(&c1, "shop").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(c1.clone(), &shop);
    for i in 0..CONFIGMAPS {
        create(&cms, json!({"metadata": {"name": format!("item-{i:04}")}, "data": {"price": (i * 7 % 100).to_string()}})).await;
    }
    say(
        start,
        format!("workload: namespace {shop} in cluster-1 with {CONFIGMAPS} ConfigMaps"),
    );

    let backups: Api<Backup> = Api::namespaced(garden.clone(), &ns);
    create(&backups, json!({"apiVersion": "herbarium.io/v1alpha1", "kind": "Backup", "metadata": {"name": "shop"},
        "spec": {"cluster": "app-1", "location": "azure", "namespaces": [shop]}})).await;
    let result = follow(start, "Backup shop", || async {
        let s = backups.get("shop").await.ok()?.status?;
        let phase = format!("{:?}", s.run.phase?);
        let p = s.run.progress.unwrap_or_default();
        let done = !matches!(phase.as_str(), "Pending" | "InProgress");
        Some((
            format!(
                "{phase} {} {}/{} items, {} bytes",
                s.run.stage.unwrap_or_default(),
                p.items_done,
                p.items_total,
                s.run.size_bytes.unwrap_or(p.bytes)
            ),
            done,
        ))
    })
    .await;
    assert!(
        result.starts_with("Succeeded"),
        "the backup did not succeed: {result}"
    );
    let path = backups
        .get("shop")
        .await
        .unwrap()
        .status
        .unwrap()
        .run
        .storage_path
        .unwrap_or_default();
    say(
        start,
        format!(
            "stored at {}/backups/{path}",
            a.var("HERBARIUM_BLOB_ENDPOINT")
        ),
    );

    let target = format!("{shop}-restored");
    let restores: Api<Restore> = Api::namespaced(garden.clone(), &ns);
    create(&restores, json!({"apiVersion": "herbarium.io/v1alpha1", "kind": "Restore", "metadata": {"name": "shop-to-app-2"},
        "spec": {"backup": "shop", "targetCluster": "app-2", "namespaceMapping": {shop.clone(): target.clone()}}})).await;
    let result = follow(start, "Restore shop-to-app-2", || async {
        let s = restores.get("shop-to-app-2").await.ok()?.status?;
        let phase = format!("{:?}", s.run.phase?);
        let c = s.run.counts.unwrap_or_default();
        let done = !matches!(phase.as_str(), "Pending" | "InProgress");
        Some((
            format!(
                "{phase} {} restored {}/{}, skipped {}, failed {}",
                s.run.stage.unwrap_or_default(),
                c.restored,
                c.total,
                c.skipped,
                c.failed
            ),
            done,
        ))
    })
    .await;
    assert!(
        result.starts_with("Succeeded"),
        "the restore did not succeed: {result}"
    );
    let c2 = env().clusters[1].client().await.unwrap();
    let copies = Api::<ConfigMap>::namespaced(c2, &target)
        .list(&ListParams::default())
        .await
        .unwrap();
    let restored = copies
        .items
        .iter()
        .filter(|c| {
            c.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("item-"))
        })
        .count();
    say(
        start,
        format!("cluster-2 namespace {target}: {restored} of {CONFIGMAPS} ConfigMaps back"),
    );
    assert_eq!(restored, CONFIGMAPS);
    say(
        start,
        "done: discovery, identities, agents, a backup and a cross-cluster restore",
    );
    drop(agents);
}

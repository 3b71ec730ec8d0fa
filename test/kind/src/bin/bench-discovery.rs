//! `hack/bench-discovery.sh N`: N opted-in Shoots, served round-robin by the environment's local
//! clusters, the release controller as a host process against the environment's ARM stand-in
//! (latency set by the script), and three figures: seconds until every Cluster is Ready, the
//! controller's peak RSS, and API writes per minute (garden + every cluster, leases excluded)
//! at rest afterwards. The agents' heartbeat Leases are played by this program.
//!
//! A real landscape has one API server per Shoot; here a few serve them all, so Shoots that share
//! a server write the same agent objects (each with its own identity): the more servers, the
//! less of that contention, which a real landscape does not have.

use std::time::{Duration, Instant};

use futures::StreamExt;
use herbarium_api::garden::{Cluster, DiscoveryConfig};
use herbarium_api::gardener::Shoot;
use herbarium_test_support::{azure, env};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use serde_json::json;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let controller_bin = args
        .get(2)
        .cloned()
        .expect("usage: bench-discovery N CONTROLLER_BINARY");
    let garden = env().garden_client().await.expect("garden");
    let mut servers = Vec::new();
    for c in &env().clusters {
        servers.push((c.name.clone(), c.client().await.expect("cluster client")));
    }
    let a = azure();
    let ns = "garden-bench";
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(garden.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
        )
        .await;
    let config: DiscoveryConfig = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "DiscoveryConfig", "metadata": {"name": "bench"},
        "spec": {"projects": {"names": ["bench"]},
                 "azure": {"tenantID": a.var("AZURE_TENANT_ID"), "subscriptionID": a.var("HERBARIUM_SUBSCRIPTION_ID"),
                           "resourceGroup": a.var("HERBARIUM_RESOURCE_GROUP"), "location": "westeurope", "roleAssignments": false}}
    }))
    .unwrap();
    Api::<DiscoveryConfig>::all(garden.clone())
        .create(&PostParams::default(), &config)
        .await
        .expect("DiscoveryConfig");
    for (_, client) in &servers {
        tokio::spawn(heartbeat(client.clone()));
    }
    let issuers: Vec<String> = servers
        .iter()
        .map(|(name, _)| a.mint(name, &["--print-issuer"]))
        .collect();
    let names: Vec<String> = servers.iter().map(|(name, _)| name.clone()).collect();
    let shoots: Api<Shoot> = Api::namespaced(garden.clone(), ns);
    let started = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(32, |i| {
            let (shoots, issuer) = (shoots.clone(), issuers[i % issuers.len()].clone());
            let served_by = names[i % names.len()].clone();
            async move {
                let name = format!("s{i:05}");
                let shoot: Shoot = serde_json::from_value(json!({
                    "apiVersion": "core.gardener.cloud/v1beta1", "kind": "Shoot",
                    "metadata": {"name": name, "annotations": {"herbarium.io/backup": "enabled",
                        "authentication.gardener.cloud/issuer": "managed", "test.herbarium.io/cluster": served_by}},
                    "spec": {}
                }))
                .unwrap();
                shoots.create(&PostParams::default(), &shoot).await.expect("Shoot");
                let status = json!({"status": {"advertisedAddresses": [{"name": "service-account-issuer", "url": issuer}]}});
                shoots.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await.expect("Shoot status");
            }
        })
        .await;
    eprintln!(
        "created {n} Shoots in {:.1}s; starting the controller",
        started.elapsed().as_secs_f64()
    );

    let token = a.token_file(
        "garden",
        "system:serviceaccount:herbarium-system:herbarium-controller",
    );
    let mut child = std::process::Command::new(&controller_bin)
        .env("KUBECONFIG", &env().garden.kubeconfig)
        .env("AZURE_CLIENT_ID", a.var("HERBARIUM_CONTROLLER_CLIENT_ID"))
        .env("AZURE_TENANT_ID", a.var("AZURE_TENANT_ID"))
        .env("AZURE_FEDERATED_TOKEN_FILE", &token)
        .env("AZURE_AUTHORITY_HOST", a.var("AZURE_AUTHORITY_HOST"))
        .env("HERBARIUM_CA_FILE", a.var("HERBARIUM_CA_FILE"))
        .env("HERBARIUM_ARM_ENDPOINT", a.var("HERBARIUM_ARM_ENDPOINT"))
        .env("HERBARIUM_NO_LEADER_ELECTION", "true")
        .env("HERBARIUM_LISTEN_ADDRESS", "127.0.0.1:0")
        .env(
            "HERBARIUM_LOG",
            std::env::var("HERBARIUM_BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting the controller");
    let pid = child.id();
    let start = Instant::now();
    // Watched, not listed: polling 2,000 Clusters twice a second would load the garden more than
    // the controller does.
    let (store, writer) = reflector::store::<Cluster>();
    let watch = reflector::reflector(
        writer,
        watcher(
            Api::<Cluster>::namespaced(garden.clone(), ns),
            Default::default(),
        ),
    )
    .default_backoff()
    .for_each(|_| async {});
    let watch = tokio::spawn(watch);
    let mut last_report = Instant::now();
    let ready_s = loop {
        let list = store.state();
        let ready = list
            .iter()
            .filter(|c| {
                c.status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .map(|p| format!("{p:?}"))
                    == Some("Ready".into())
            })
            .count();
        if ready == n {
            break start.elapsed().as_secs_f64();
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "  {:>5.0}s: {} Clusters, {ready} Ready, controller RSS {} MiB",
                start.elapsed().as_secs_f64(),
                list.len(),
                hwm_mib(pid)
            );
            last_report = Instant::now();
        }
        if start.elapsed() > Duration::from_secs(1800) {
            eprintln!("giving up after 30 minutes with {ready} of {n} Ready");
            break f64::NAN;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    watch.abort();
    eprintln!("all {n} Clusters Ready after {ready_s:.1}s; measuring writes at rest for 60s");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let all_writes = || async {
        let mut sum = writes(&garden).await;
        for (_, client) in &servers {
            sum += writes(client).await;
        }
        sum
    };
    let before = all_writes().await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let after = all_writes().await;
    let rss = hwm_mib(pid);
    let _ = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status();
    let _ = child.wait();
    println!(
        "discovery n={n} ready_s={ready_s:.1} rss_mib={rss} writes_per_min={}",
        after - before
    );
}

/// Peak RSS of `pid` in MiB (VmHWM).
fn hwm_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}

/// Write requests the API server has served (POST, PUT, PATCH, APPLY, DELETE), leases excluded.
async fn writes(client: &Client) -> u64 {
    let text = client
        .request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
        .await
        .expect("API server metrics");
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total{"))
        .filter(|l| {
            ["POST", "PUT", "PATCH", "APPLY", "DELETE"]
                .iter()
                .any(|v| l.contains(&format!("verb=\"{v}\"")))
        })
        .filter(|l| !l.contains("resource=\"leases\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Plays the agent of a cluster: its heartbeat Lease, renewed every 5 seconds.
async fn heartbeat(client: Client) {
    let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .patch("herbarium-system", &PatchParams::apply("bench").force(), &Patch::Apply(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "herbarium-system"}})))
        .await;
    let leases: Api<Lease> = Api::namespaced(client, "herbarium-system");
    loop {
        let lease = Lease {
            metadata: kube::api::ObjectMeta {
                name: Some("herbarium-agent".into()),
                annotations: Some(
                    [(
                        "herbarium.io/agent-version".to_string(),
                        "bench".to_string(),
                    )]
                    .into(),
                ),
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
                holder_identity: Some("bench".into()),
                renew_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
                    k8s_openapi::jiff::Timestamp::now(),
                )),
                lease_duration_seconds: Some(30),
                ..Default::default()
            }),
        };
        if let Err(e) = leases
            .patch(
                "herbarium-agent",
                &PatchParams::apply("bench").force(),
                &Patch::Apply(&lease),
            )
            .await
        {
            eprintln!("heartbeat: {e}");
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}

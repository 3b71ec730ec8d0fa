//! `hack/bench-discovery.sh N`: N opted-in Shoots (all served by local cluster-1), the release
//! controller as a host process against the environment's ARM stand-in (latency set by the
//! script), and three figures: seconds until every Cluster is Ready, the controller's peak RSS,
//! and API writes per minute (garden + cluster-1, leases excluded) at rest afterwards.
//! The agent's heartbeat Lease in cluster-1 is played by this program.

use std::time::{Duration, Instant};

use futures::StreamExt;
use herbarium_api::garden::{Cluster, DiscoveryConfig};
use herbarium_api::gardener::Shoot;
use herbarium_test_support::{azure, env};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
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
    let c1 = env().clusters[0].client().await.expect("cluster-1");
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
    tokio::spawn(heartbeat(c1.clone()));

    let issuer = a.mint("cluster-1", &["--print-issuer"]);
    let shoots: Api<Shoot> = Api::namespaced(garden.clone(), ns);
    let started = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(32, |i| {
            let (shoots, issuer) = (shoots.clone(), issuer.clone());
            async move {
                let name = format!("s{i:05}");
                let shoot: Shoot = serde_json::from_value(json!({
                    "apiVersion": "core.gardener.cloud/v1beta1", "kind": "Shoot",
                    "metadata": {"name": name, "annotations": {"herbarium.io/backup": "enabled",
                        "authentication.gardener.cloud/issuer": "managed", "test.herbarium.io/cluster": "cluster-1"}},
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
        .env("HERBARIUM_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("starting the controller");
    let pid = child.id();
    let start = Instant::now();
    let clusters: Api<Cluster> = Api::namespaced(garden.clone(), ns);
    let mut last_report = Instant::now();
    let ready_s = loop {
        let list = clusters
            .list(&ListParams::default())
            .await
            .expect("listing Clusters");
        let ready = list
            .items
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
                list.items.len(),
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
    eprintln!("all {n} Clusters Ready after {ready_s:.1}s; measuring writes at rest for 60s");
    tokio::time::sleep(Duration::from_secs(30)).await;
    let before = writes(&garden).await + writes(&c1).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let after = writes(&garden).await + writes(&c1).await;
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

/// Plays the agent of cluster-1: its heartbeat Lease, renewed every 5 seconds.
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

//! The backup benchmark's helper (driven by hack/bench-backup.sh): creates N ConfigMaps fast,
//! measures the floor (a plain paginated LIST), and runs one backup in this dedicated process so
//! that its peak RSS (VmHWM) is the backup's alone.

use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand};
use futures::StreamExt;
use herbarium_agent::backup::run::{Job, run};
use herbarium_agent::context::{Settings, StoreFactory};
use herbarium_agent::store::{AzureSettings, AzureStores};
use herbarium_api::agent::{GardenRef, LocationAccessSpec};
use herbarium_api::common::ResourceSelection;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::{Api, Client};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Creates `count` ConfigMaps of 1 KiB in `namespace` (which must exist).
    Populate {
        #[arg(long)]
        namespace: String,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Lists every ConfigMap of `namespace` with limit 500; prints `seconds items`.
    Floor {
        #[arg(long)]
        namespace: String,
    },
    /// Backs up `namespace` to `container` at `endpoint` with the AZURE_* identity; prints
    /// `seconds items rss_kib`.
    Backup {
        #[arg(long)]
        namespace: String,
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        container: String,
        #[arg(long, env = "HERBARIUM_CA_FILE")]
        ca_file: Option<std::path::PathBuf>,
    },
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("herbarium-agent-bench: {what}: {e}");
    std::process::exit(1)
}

/// Peak resident set size of this process (VmHWM), in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = Client::try_default()
        .await
        .unwrap_or_else(|e| fail("kube client", e));
    match args.command {
        Command::Populate {
            namespace,
            count,
            concurrency,
        } => {
            let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
            let value = "x".repeat(1024);
            let started = Instant::now();
            let results = futures::stream::iter(0..count)
                .map(|i| {
                    let (api, value) = (api.clone(), value.clone());
                    async move {
                        let cm = ConfigMap {
                            metadata: ObjectMeta {
                                name: Some(format!("cm-{i:07}")),
                                ..Default::default()
                            },
                            data: Some([("v".to_string(), value)].into()),
                            ..Default::default()
                        };
                        match api.create(&PostParams::default(), &cm).await {
                            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
                            other => other.map(|_| ()),
                        }
                    }
                })
                .buffer_unordered(concurrency)
                .collect::<Vec<_>>()
                .await;
            if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
                fail("creating ConfigMaps", e);
            }
            println!("{:.2}", started.elapsed().as_secs_f64());
        }
        Command::Floor { namespace } => {
            let api: Api<ConfigMap> = Api::namespaced(client, &namespace);
            let started = Instant::now();
            let mut items = 0;
            let mut params = ListParams::default().limit(500);
            loop {
                let page = api.list(&params).await.unwrap_or_else(|e| fail("list", e));
                items += page.items.len();
                match page.metadata.continue_ {
                    Some(t) if !t.is_empty() => params = params.continue_token(&t),
                    _ => break,
                }
            }
            println!("{:.3} {items}", started.elapsed().as_secs_f64());
        }
        Command::Backup {
            namespace,
            endpoint,
            container,
            ca_file,
        } => {
            let settings = AzureSettings::from_env(ca_file);
            settings
                .create_container(&endpoint, &container)
                .await
                .unwrap_or_else(|e| fail("creating the container", e));
            let location = LocationAccessSpec {
                storage_account: "bench".into(),
                container,
                prefix: Some("bench".into()),
                endpoint,
                cluster_uid: "bench-cluster".into(),
                validate_request: None,
                location: GardenRef::default(),
            };
            let store = Arc::new(
                AzureStores::new(settings)
                    .open(&location)
                    .unwrap_or_else(|e| fail("opening the store", e)),
            );
            let uid = format!("{:08x}-0000-4000-8000-000000000000", std::process::id());
            let dir = herbarium_agent::format::backup_dir(
                location.prefix.as_deref(),
                "bench-cluster",
                "bench",
                &uid,
            );
            let selection = ResourceSelection {
                namespaces: vec![namespace],
                ..Default::default()
            };
            let job = Job {
                name: "bench",
                uid: &uid,
                cluster_uid: "bench-cluster",
                selection: &selection,
                dir: &dir,
                started: Timestamp::now(),
                agent_version: env!("CARGO_PKG_VERSION"),
                snapshots: None,
                hooks: None,
            };
            let (progress, _) = tokio::sync::watch::channel(Default::default());
            let started = Instant::now();
            let outcome = run(
                &client,
                store,
                job,
                &Settings::default(),
                &progress,
                std::future::pending(),
            )
            .await
            .unwrap_or_else(|e| fail("backup", e));
            println!(
                "{:.3} {} {}",
                started.elapsed().as_secs_f64(),
                outcome.items,
                peak_rss_kib()
            );
        }
    }
}

//! The restore half of `hack/bench-backup.sh --restore` (run by `hack/bench-restore.sh`): N
//! ConfigMaps of 1 KiB written by the agent's archive writer to Azurite (through the identity
//! chain), then, in the same run, the floor — a plain create loop of the same N objects at the
//! same concurrency — and the agent's restore of the backup into a fresh namespace. Prints
//! `restore n=<N> floor_s=<s> restore_s=<s> ratio=<r>`. Ignored by default: it measures, it does
//! not assert a time.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::azure::{agent_store, new_container};
use futures::StreamExt;
use herbarium_agent::backup::archive::{ArchiveWriter, ResourceId};
use herbarium_agent::format::{Index, backup_dir};
use herbarium_agent::restore::run::{RunSettings, run_restore};
use herbarium_agent::store::BlobStore;
use herbarium_api::agent::RestoreJobSpec;
use herbarium_test_support::{env, unique_namespace};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use tokio::sync::watch;

fn config_map(ns: &str, i: usize) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("cm-{i:06}"), "namespace": ns, "labels": {"bench": "restore"}},
        "data": {"payload": "x".repeat(1024)}})
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run through hack/bench-restore.sh"]
async fn restore_against_a_create_loop() {
    let n: usize = std::env::var("HERBARIUM_BENCH_RESTORE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let concurrency: usize = std::env::var("HERBARIUM_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    let client = env().clusters[0].client().await.unwrap();

    // The backup: written by the agent's own writer, to Azurite.
    let container = new_container().await;
    let store = Arc::new(agent_store("cluster-1", &container).await);
    let src = "bench-src";
    let uid = uuid::Uuid::new_v4().to_string();
    let dir = backup_dir(None, "bench", "bench", &uid);
    let mut w = ArchiveWriter::new(
        store.clone(),
        &format!("{dir}resources.tar.zst"),
        4 << 20,
        4,
        0,
    )
    .unwrap();
    // The namespace is part of a backup of a namespace, as the agent's backup writes it.
    let ns_id = ResourceId {
        group: String::new(),
        version: "v1".into(),
        resource: "namespaces".into(),
        kind: "Namespace".into(),
        namespaced: false,
    };
    let ns_body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": src}});
    w.add(&ns_id, None, src, &serde_json::to_vec(&ns_body).unwrap())
        .await
        .unwrap();
    let id = ResourceId {
        group: String::new(),
        version: "v1".into(),
        resource: "configmaps".into(),
        kind: "ConfigMap".into(),
        namespaced: true,
    };
    for i in 0..n {
        let body = serde_json::to_vec(&config_map(src, i)).unwrap();
        w.add(&id, Some(src), &format!("cm-{i:06}"), &body)
            .await
            .unwrap();
    }
    let finished = w.finish().await.unwrap();
    let index = Index {
        format_version: "v1".into(),
        archive: finished.archive,
        resources: finished.resources,
    };
    let metadata = json!({"formatVersion": "v1", "backupName": "bench", "backupUID": uid,
        "clusterUID": "bench", "started": "2026-01-01T00:00:00Z", "completed": "2026-01-01T00:01:00Z",
        "items": n + 1, "archiveBytes": index.archive.bytes, "phase": "Succeeded", "agentVersion": "bench"});
    store
        .put(
            &format!("{dir}index.json"),
            serde_json::to_vec(&index).unwrap().into(),
        )
        .await
        .unwrap();
    store
        .put(&format!("{dir}metadata.json"), metadata.to_string().into())
        .await
        .unwrap();

    // Floor: the same objects, created by a plain loop at the same concurrency.
    let floor_ns = unique_namespace(&client, "bench-floor").await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &floor_ns);
    let start = Instant::now();
    let failures = futures::stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            let cm: ConfigMap = serde_json::from_value(config_map(&floor_ns, i)).unwrap();
            async move { api.create(&PostParams::default(), &cm).await.is_err() }
        })
        .buffer_unordered(concurrency)
        .filter(|failed| futures::future::ready(*failed))
        .count()
        .await;
    let floor_s = start.elapsed().as_secs_f64();
    assert_eq!(failures, 0, "the floor loop must create every object");

    // The agent's restore of the backup (verify pass + apply) into a fresh namespace.
    let target = format!("{floor_ns}-restored");
    let spec: RestoreJobSpec = serde_json::from_value(json!({
        "backup": {"name": "bench", "uid": uid, "clusterUID": "bench", "storagePath": dir},
        "location": "bench", "namespaceMapping": {src: target}}))
    .unwrap();
    let (tx, _rx) = watch::channel(Default::default());
    let settings = RunSettings {
        concurrency,
        ..RunSettings::default()
    };
    let rss_before = peak_rss_mib();
    let start = Instant::now();
    let result = run_restore(store, &client, &spec, "bench", &settings, &tx).await;
    let restore_s = start.elapsed().as_secs_f64();
    assert!(result.failure.is_none(), "{:?}", result.failure);
    assert_eq!(
        result.tally.counts.restored as usize,
        n + 1,
        "{:?}",
        result.tally.counts
    );

    println!(
        "\nrestore archive_bytes={} uncompressed_bytes={} peak_rss_mib_before={rss_before} peak_rss_mib_after={}",
        index.archive.bytes,
        index.archive.uncompressed_bytes,
        peak_rss_mib()
    );
    println!(
        "restore n={n} floor_s={floor_s:.2} restore_s={restore_s:.2} ratio={:.2}",
        restore_s / floor_s
    );
    for ns in [floor_ns, target] {
        let _ = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
            .delete(&ns, &Default::default())
            .await;
    }
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0)
}

/// Memory of the verification pass for 10,000 and 100,000 objects: the peak RSS above the
/// process's RSS just before the scan (peak reset through /proc/self/clear_refs). The archive
/// itself sits in a MemoryStore, so it is part of the baseline, not of the delta. Prints
/// `reader n=<N> archive_mib=<m> peak_delta_mib=<m>` per size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo test -p herbarium-agent --test bench_restore -- --ignored --nocapture reader_memory"]
async fn reader_memory_does_not_grow_with_the_archive() {
    use herbarium_agent::archive::read::scan_blob;
    use herbarium_agent::store::MemoryStore;
    use std::ops::ControlFlow;
    for n in [10_000usize, 100_000] {
        let store = Arc::new(MemoryStore::new());
        let path = format!("m{n}/resources.tar.zst");
        let mut w = ArchiveWriter::new(store.clone(), &path, 4 << 20, 4, 0).unwrap();
        let id = ResourceId {
            group: String::new(),
            version: "v1".into(),
            resource: "configmaps".into(),
            kind: "ConfigMap".into(),
            namespaced: true,
        };
        let mut seed = 0x9e3779b97f4a7c15u64;
        for i in 0..n {
            // 1 KiB of pseudo-random hex: compresses like real data, not like a run of 'x'.
            let payload: String = (0..64)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    format!("{seed:016x}")
                })
                .collect();
            let mut cm = config_map("m", i);
            cm["data"]["payload"] = json!(payload);
            w.add(
                &id,
                Some("m"),
                &format!("cm-{i:06}"),
                &serde_json::to_vec(&cm).unwrap(),
            )
            .await
            .unwrap();
        }
        let finished = w.finish().await.unwrap();
        let index = Arc::new(Index {
            format_version: "v1".into(),
            archive: finished.archive,
            resources: finished.resources,
        });
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS:");
        let summary = scan_blob(store.clone(), path, index.clone(), |_| {
            Ok(ControlFlow::Continue(()))
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(summary.entries as usize, n);
        let peak = status_kib("VmHWM:");
        println!(
            "\nreader n={n} archive_mib={:.1} uncompressed_mib={:.1} peak_delta_mib={:.1}",
            index.archive.bytes as f64 / 1048576.0,
            index.archive.uncompressed_bytes as f64 / 1048576.0,
            peak.saturating_sub(before) as f64 / 1024.0
        );
    }
}

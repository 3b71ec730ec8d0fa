//! One restore, start to end: read `metadata.json`, `index.json` (and `volumes.json`), verify the
//! whole archive, then apply it stage by stage.
//!
//! Why two kinds of pass instead of spooling: the first pass verifies everything (checksums,
//! counts, limits, identities) and keeps nothing, so a truncated or corrupt archive fails before
//! the cluster is touched. Each apply stage then streams the archive again and takes only its
//! group-resources, stopping after the last of them (entries of one group-resource are contiguous
//! and in index order). Memory stays flat (one 4 MiB range, the zstd window, a bounded channel of
//! objects) and no local disk is needed; the price is one extra download per non-empty stage,
//! small next to the API calls (see the bench). Every pass checks again what it reads, so a blob
//! replaced between passes is caught, though the stages already applied stay applied.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use herbarium_api::agent::RestoreJobSpec;
use herbarium_api::common::ItemError;
use kube::Client;
use kube::core::ApiResource;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::apply::{Target, apply};
use super::filter::Filter;
use super::order::{STAGE_NAMES, stage};
use super::prepare::{ensure_namespaces, snapshots, wait_established};
use super::tally::{RateLimit, Tally};
use super::transform::{Decision, Plan};
use super::volumes::{VolumeRecord, parse_volumes, restore_snapshot_name};
use crate::archive::read::{ArchiveError, scan_blob};
use crate::format::{MAX_INDEX_BYTES, MAX_METADATA_BYTES, parse_index, parse_metadata};
use crate::store::{BlobStore, StoreError};

/// Tunables of a restore.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// Objects created at once within one stage.
    pub concurrency: usize,
    /// Progress is published at most this often.
    pub progress_every: Duration,
    /// How long to wait for restored CRDs to be Established.
    pub crd_timeout: Duration,
}

impl Default for RunSettings {
    fn default() -> Self {
        Self {
            concurrency: 32,
            progress_every: Duration::from_secs(2),
            crd_timeout: Duration::from_secs(60),
        }
    }
}

/// Progress as published while the restore runs.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub tally: Tally,
    pub stage: String,
}

/// How a restore ended.
#[derive(Debug)]
pub struct RunResult {
    pub tally: Tally,
    /// Why it stopped before the end; `None` when every stage ran.
    pub failure: Option<String>,
    /// Compressed size of the archive restored from (0 when its index was never read).
    pub archive_bytes: u64,
}

/// Runs the restore of `spec` into the cluster of `client`. `job_uid` names what the restore
/// creates for itself (snapshot objects), so a rerun of the same job finds them.
pub async fn run_restore<S: BlobStore>(
    store: Arc<S>,
    client: &Client,
    spec: &RestoreJobSpec,
    job_uid: &str,
    settings: &RunSettings,
    progress: &watch::Sender<Snapshot>,
) -> RunResult {
    let mut tally = Tally::default();
    let mut archive_bytes = 0;
    let failure = restore(
        store,
        client,
        spec,
        (job_uid, settings),
        progress,
        (&mut tally, &mut archive_bytes),
    )
    .await
    .err();
    RunResult {
        tally,
        failure,
        archive_bytes,
    }
}

fn store_failure(what: &str, e: StoreError) -> String {
    format!(
        "reading {what} failed: {e}{}",
        if e.retryable() {
            " (transient; a new Restore may succeed)"
        } else {
            ""
        }
    )
}

async fn restore<S: BlobStore>(
    store: Arc<S>,
    client: &Client,
    spec: &RestoreJobSpec,
    (job_uid, settings): (&str, &RunSettings),
    progress: &watch::Sender<Snapshot>,
    (tally, archive_bytes): (&mut Tally, &mut u64),
) -> Result<(), String> {
    let publish = |tally: &Tally, stage: &str| {
        progress.send_replace(Snapshot {
            tally: tally.clone(),
            stage: stage.to_string(),
        });
    };
    publish(tally, "Verifying");
    let dir = format!("{}/", spec.backup.storage_path.trim_end_matches('/'));
    let metadata = match store
        .get(&format!("{dir}metadata.json"), MAX_METADATA_BYTES as u64)
        .await
    {
        Ok(b) => b,
        Err(StoreError::NotFound(_)) => {
            return Err(format!(
                "backup {dir} is not complete: metadata.json is missing"
            ));
        }
        Err(e) => return Err(store_failure("metadata.json", e)),
    };
    let metadata = parse_metadata(&metadata, &spec.backup.uid).map_err(|e| e.to_string())?;
    super::source::check_source(&spec.backup, &metadata)?;
    let index = store
        .get(&format!("{dir}index.json"), MAX_INDEX_BYTES as u64)
        .await
        .map_err(|e| store_failure("index.json", e))?;
    let index = Arc::new(parse_index(&index).map_err(|e| e.to_string())?);
    *archive_bytes = index.archive.bytes;
    let filter = Filter::new(&spec.filter).map_err(|e| e.to_string())?;
    let records = if spec.filter.restore_volumes {
        match store
            .get(
                &format!("{dir}volumes.json"),
                super::volumes::MAX_VOLUMES_BYTES,
            )
            .await
        {
            Ok(b) => parse_volumes(&b)?,
            Err(StoreError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(store_failure("volumes.json", e)),
        }
    } else {
        Vec::new()
    };
    let (records, unusable): (Vec<VolumeRecord>, Vec<VolumeRecord>) = records
        .into_iter()
        .filter(|r| filter.wants_namespace(&r.namespace))
        .partition(|r| r.snapshot_handle.as_deref().is_some_and(|h| !h.is_empty()));
    for r in &unusable {
        tally.error(ItemError {
            item: format!("core/v1/persistentvolumeclaims/{}/{}", r.namespace, r.pvc),
            message: "volumes.json records no snapshotHandle for this PVC's snapshot; the PVC is \
                      restored without its data"
                .into(),
        });
    }
    let from_snapshots: BTreeMap<(String, String), String> = records
        .iter()
        .map(|r| {
            let name = restore_snapshot_name(job_uid, &r.namespace, &r.pvc);
            ((r.namespace.clone(), r.pvc.clone()), name)
        })
        .collect();
    let plan = Arc::new(Plan {
        filter,
        namespace_mapping: spec.filter.namespace_mapping.clone(),
        storage_class_mapping: spec.filter.storage_class_mapping.clone(),
        from_snapshots,
    });

    // Pass 1: verify everything, keep nothing but the set of namespaces the wanted objects
    // live in (bounded), so that a namespace the backup does not hold as an object (it was not
    // selected, or filtered out) can be created before its objects.
    let namespaces = Arc::new(std::sync::Mutex::new(BTreeSet::new()));
    let (seen, plan1, index1) = (namespaces.clone(), plan.clone(), index.clone());
    scan_blob(
        store.clone(),
        format!("{dir}resources.tar.zst"),
        index.clone(),
        move |entry| {
            let r = &index1.resources[entry.resource];
            if let Some(ns) = &entry.key.namespace
                && plan1.filter.wants_resource(r)
                && plan1.filter.wants_namespace(ns)
            {
                let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
                if seen.len() < MAX_NAMESPACES {
                    seen.insert(ns.clone());
                }
            }
            Ok(ControlFlow::Continue(()))
        },
    )
    .await
    .map_err(archive_failure)?;
    let namespaces: Vec<String> = namespaces
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|ns| ns.as_str() != herbarium_api::constants::AGENT_NAMESPACE)
        .map(|ns| plan.map_namespace(ns).to_string())
        .collect();

    let stages: Vec<usize> = index.resources.iter().map(stage).collect();
    let wanted: Vec<bool> = index
        .resources
        .iter()
        .map(|r| r.count > 0 && plan.filter.wants_resource(r))
        .collect();
    let targets: Arc<Vec<Target>> = Arc::new(index.resources.iter().map(target).collect());
    let mut rate = RateLimit::new(settings.progress_every);
    for (s, stage_name) in STAGE_NAMES.iter().enumerate() {
        if s == 2 {
            ensure_namespaces(client, &namespaces, tally).await;
        }
        let last = (0..index.resources.len())
            .rev()
            .find(|&i| stages[i] == s && wanted[i]);
        if s == 4 && !records.is_empty() {
            publish(tally, stage_name);
            snapshots(client, &plan, &records, tally).await;
        }
        let Some(last) = last else { continue };
        publish(tally, stage_name);
        let (tx, mut rx) = mpsc::channel::<(usize, Value)>(64);
        let (plan2, index2, stages2, wanted2) =
            (plan.clone(), index.clone(), stages.clone(), wanted.clone());
        let reader = tokio::spawn(scan_blob(
            store.clone(),
            format!("{dir}resources.tar.zst"),
            index.clone(),
            move |entry| {
                let i = entry.resource;
                if i > last {
                    return Ok(ControlFlow::Break(()));
                }
                let r = &index2.resources[i];
                if stages2[i] != s || !wanted2[i] {
                    return Ok(ControlFlow::Continue(()));
                }
                let object = entry.object()?;
                if plan2.pv_replaced_by_snapshot(r, &object) {
                    return Ok(ControlFlow::Continue(()));
                }
                if let Decision::Restore(object) = plan2.prepare(r, object) {
                    tx.blocking_send((i, object))
                        .map_err(|_| ArchiveError::Aborted("restore stopped".into()))?;
                }
                Ok(ControlFlow::Continue(()))
            },
        ));
        let policy = spec.filter.existing_resource_policy;
        let mut crds = Vec::new();
        let objects = futures::stream::poll_fn(|cx| rx.poll_recv(cx));
        let mut results = objects
            .map(|(i, object)| {
                let targets = targets.clone();
                if s == 0 {
                    crds.push(
                        object
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                    );
                }
                async move { apply(client, &targets[i], object, policy).await }
            })
            .buffer_unordered(settings.concurrency.max(1));
        while let Some(outcome) = results.next().await {
            tally.add(outcome);
            if rate.ready(Instant::now()) {
                publish(tally, stage_name);
            }
        }
        drop(results);
        reader
            .await
            .map_err(|e| format!("archive reader stopped: {e}"))?
            .map_err(archive_failure)?;
        if s == 0 {
            wait_established(client, &crds, settings.crd_timeout, tally).await;
        }
    }
    publish(tally, "Done");
    Ok(())
}

/// Most distinct namespaces remembered from the verification pass.
const MAX_NAMESPACES: usize = 10_000;

fn archive_failure(e: ArchiveError) -> String {
    format!(
        "{e}{}",
        if e.retryable() {
            " (transient; a new Restore may succeed)"
        } else {
            ""
        }
    )
}

fn target(r: &crate::format::ResourceIndex) -> Target {
    let api_version = if r.group.is_empty() {
        r.version.clone()
    } else {
        format!("{}/{}", r.group, r.version)
    };
    Target {
        resource: ApiResource {
            group: r.group.clone(),
            version: r.version.clone(),
            api_version,
            kind: r.kind.clone(),
            plural: r.resource.clone(),
        },
        namespaced: r.namespaced,
    }
}

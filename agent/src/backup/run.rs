//! One backup run: discover, plan, stream every selected object into the archive while the
//! next page is already being listed, add what `Auto` needs, then write index.json,
//! volumes.json, log.jsonl.zst and — last — metadata.json. Nothing here writes status: progress
//! goes out through a watch channel; the reconciler decides how often to report it.

use std::collections::BTreeSet;
use std::sync::Arc;

use herbarium_api::common::{BackupPhase, ItemError, ResourceSelection, VolumeSnapshotOptions};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::archive::{ArchiveWriter, ResourceId};
use super::clean::{Needs, clean, name_of};
use super::commit::commit;
use super::hooks::{HookRun, Hooks};
use super::journal::Journal;
use super::kube_io::{self, builtin};
use super::listing::{Msg, lister, targets};
use super::select::{plan, unmatched, wanted};
use super::snapshots::{self, Claim};
pub use super::stage::{Report, Stage};
use crate::context::Settings;
use crate::store::{BlobStore, StoreError};

/// The backup being taken.
pub struct Job<'a> {
    pub name: &'a str,
    pub uid: &'a str,
    pub cluster_uid: &'a str,
    pub selection: &'a ResourceSelection,
    /// Backup directory (from `format::backup_dir`), ending in '/'.
    pub dir: &'a str,
    pub started: Timestamp,
    pub agent_version: &'a str,
    /// CSI snapshots of the backed-up PVCs, when enabled.
    pub snapshots: Option<&'a VolumeSnapshotOptions>,
    /// Pre/post hooks, when the job has any.
    pub hooks: Option<&'a Hooks<'a>>,
}

/// A finished, committed backup.
#[derive(Debug)]
pub struct Outcome {
    pub phase: BackupPhase,
    pub items: u64,
    /// Bytes of every blob written.
    pub size_bytes: u64,
    pub errors: Vec<ItemError>,
    pub completed: Timestamp,
    /// Volume snapshots taken (ready to use).
    pub volume_snapshots: u64,
}

/// Why a run failed (the backup is not committed).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("reading the cluster: {0}")]
    Kube(#[from] kube::Error),
    #[error("the selection is invalid: {0}")]
    Selection(String),
    #[error("writing to storage: {0}")]
    Store(#[from] StoreError),
    #[error("{0}; the backup was not taken (post-hooks ran)")]
    Hook(String),
    #[error(
        "the agent was stopped before the backup was written; it was not committed (post-hooks ran)"
    )]
    Stopped,
}

impl RunError {
    /// Whether taking the backup again may succeed with nothing changed.
    pub fn retryable(&self) -> bool {
        match self {
            RunError::Kube(e) => kube_io::transient(e),
            RunError::Store(e) => e.retryable(),
            RunError::Selection(_) | RunError::Hook(_) | RunError::Stopped => false,
        }
    }
}

fn item_name(r: &ResourceId, ns: Option<&str>, name: &str) -> String {
    format!(
        "{}/{}/{}/{}/{name}",
        r.group,
        r.version,
        r.resource,
        ns.unwrap_or("")
    )
}

/// Takes the backup. On error nothing is committed: metadata.json is never written.
///
/// When `stop` resolves before the archive and snapshots are done, the run gives up
/// ([`RunError::Stopped`]), still runs the post-hooks (whatever the pre-hooks froze is thawed)
/// and commits nothing. Once the commit has begun it is finished: a few small writes, and a
/// half-written commit is what a stop must never leave.
pub async fn run<S: BlobStore>(
    client: &Client,
    store: Arc<S>,
    job: Job<'_>,
    settings: &Settings,
    progress: &watch::Sender<Report>,
    stop: impl Future<Output = ()>,
) -> Result<Outcome, RunError> {
    let mut journal = Journal::default();
    let discovered = kube_io::discover(client).await?;
    for (group, error) in &discovered.failed {
        journal.error(
            format!("{group}/"),
            format!("discovering API group {group}: {error}; its resources are not in this backup"),
        );
    }
    let (served, crd_names) = (discovered.served, discovered.crds);
    let namespaces = kube_io::namespaces(client).await?;
    let labels: Vec<_> = namespaces
        .iter()
        .map(|(n, l, _)| (n.clone(), l.clone()))
        .collect();
    let plan = plan(job.selection, &served, &labels).map_err(RunError::Selection)?;
    if let Some(warning) = unmatched(job.selection, &served) {
        journal.warn("selection".into(), warning);
    }
    journal.info(json!({"msg": "planned", "namespaces": plan.namespaces,
        "resources": plan.namespaced.len() + plan.cluster.len()}));
    let stage = |stage: Stage| progress.send_modify(|r| r.stage = stage);
    if job.hooks.is_some_and(|h| !h.pre.is_empty()) {
        stage(Stage::PreHooks);
    }
    let mut hooks = HookRun::new(client, job.hooks, plan.namespaces.iter().cloned().collect());
    if let Err(e) = hooks.pre(&mut journal).await {
        hooks.post(&mut journal).await;
        return Err(RunError::Hook(e));
    }
    let body = async {
        stage(Stage::Uploading);
        let archive_path = format!("{}resources.tar.zst", job.dir);
        let mtime = job.started.as_second().max(0) as u64;
        let mut w = ArchiveWriter::new(
            store.clone(),
            &archive_path,
            settings.block_bytes,
            settings.upload_concurrency,
            mtime,
        )?;
        let selected: BTreeSet<&str> = plan.namespaces.iter().map(String::as_str).collect();
        let report = |w: &ArchiveWriter<S>, total: u64| {
            progress.send_modify(|r| {
                r.progress.items_total = total as i64;
                r.progress.items_done = w.entries() as i64;
                r.progress.bytes = w.compressed_bytes() as i64;
            });
        };
        let mut total = 0u64;

        if plan.namespace_objects {
            let r = kube_io::namespace_resource();
            for (name, _, obj) in namespaces
                .iter()
                .filter(|(n, _, _)| selected.contains(n.as_str()))
            {
                let mut obj = obj.clone();
                clean(&mut obj, &r);
                w.add(
                    &r,
                    None,
                    name,
                    &serde_json::to_vec(&obj).unwrap_or_default(),
                )
                .await?;
                total += 1;
            }
        }

        let targets = targets(&plan);
        let (tx, mut rx) = mpsc::channel(2);
        let lister = tokio::spawn(lister(
            client.clone(),
            targets.clone(),
            plan.label_selector.clone(),
            settings.page_size,
            tx,
        ));
        let mut needs = Needs::default();
        let want_snapshots = job.snapshots.is_some_and(|o| o.enabled);
        let mut claims: Vec<Claim> = Vec::new();
        let mut counts = vec![0u64; targets.len()];
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Failed { target, error } => {
                    let (r, ns) = &targets[target];
                    journal.error(item_name(r, ns.as_deref(), ""), error);
                }
                Msg::Restarted { target } => {
                    let (r, ns) = &targets[target];
                    journal.info(
                        json!({"msg": "the list expired (410 Gone); listed again from \
                        the start, objects already listed are skipped",
                        "item": item_name(r, ns.as_deref(), "")}),
                    );
                }
                Msg::Page { target, items } => {
                    let (r, _) = &targets[target];
                    let custom = crd_names.contains(&format!("{}.{}", r.resource, r.group));
                    for mut obj in items {
                        let (name, ns) = name_of(&obj);
                        let (Some(name), ns) = (name.map(str::to_string), ns.map(str::to_string))
                        else {
                            continue;
                        };
                        if r.namespaced && !ns.as_deref().is_some_and(|n| selected.contains(n)) {
                            continue;
                        }
                        if plan.auto {
                            needs.note(r, &obj, custom);
                        }
                        if want_snapshots && let Some(claim) = snapshots::claim_of(r, &obj) {
                            claims.push(claim);
                        }
                        clean(&mut obj, r);
                        let json = serde_json::to_vec(&obj).unwrap_or_default();
                        w.add(r, ns.as_deref(), &name, &json).await?;
                        counts[target] += 1;
                        total += 1;
                    }
                    report(&w, total);
                }
            }
        }
        let _ = lister.await;
        for (i, (r, ns)) in targets.iter().enumerate() {
            if counts[i] > 0 {
                journal.info(
                    json!({"msg": "backed up", "resource": format!("{}.{}", r.resource, r.group),
                "namespace": ns, "items": counts[i]}),
                );
            }
        }

        if plan.auto {
            let extra = [
                (
                    builtin(
                        "apiextensions.k8s.io",
                        "v1",
                        "customresourcedefinitions",
                        "CustomResourceDefinition",
                        false,
                    ),
                    &needs.crds,
                ),
                (
                    builtin("", "v1", "persistentvolumes", "PersistentVolume", false),
                    &needs.persistent_volumes,
                ),
                (
                    builtin(
                        "rbac.authorization.k8s.io",
                        "v1",
                        "clusterroles",
                        "ClusterRole",
                        false,
                    ),
                    &needs.cluster_roles,
                ),
            ];
            for (r, names) in extra.into_iter().filter(|(r, _)| wanted(job.selection, r)) {
                for name in names {
                    match kube_io::get(client, &r, None, name).await {
                    Ok(Some(mut obj)) => {
                        clean(&mut obj, &r);
                        w.add(
                            &r,
                            None,
                            name,
                            &serde_json::to_vec(&obj).unwrap_or_default(),
                        )
                        .await?;
                        total += 1;
                    }
                    Ok(None) => journal.info(
                        json!({"msg": "needed object is gone", "item": item_name(&r, None, name)}),
                    ),
                    Err(e) => journal.error(item_name(&r, None, name), format!("reading: {e}")),
                }
                }
            }
            report(&w, total);
        }

        let finished = w.finish().await?;
        let mut volumes = Vec::new();
        if let Some(options) = job.snapshots.filter(|o| o.enabled) {
            stage(Stage::Snapshotting);
            let timeout = match options.timeout.as_ref().map(|t| t.parse()) {
                Some(Ok(t)) => t,
                Some(Err(e)) => return Err(RunError::Selection(e)),
                None => std::time::Duration::from_secs(600),
            };
            let taken = snapshots::take(
                client,
                &claims,
                options.class_name.as_deref(),
                timeout,
                (job.name, job.uid),
            )
            .await;
            for (item, message) in taken.errors {
                journal.error(item, message);
            }
            if !taken.skipped.is_empty() {
                let first: Vec<String> = (taken.skipped.iter().take(50))
                    .map(|(item, why)| format!("{item}: {why}"))
                    .collect();
                tracing::info!(backup = job.name, skipped = ?first, "PVCs without a volume snapshot");
                journal.info(json!({"msg": "PVCs without a volume snapshot",
                    "count": taken.skipped.len(), "first": first}));
            }
            journal.info(json!({"msg": "volume snapshots", "ready": taken.records.len()}));
            volumes = taken.records;
        }
        Ok::<_, RunError>((finished, volumes))
    };
    let body = tokio::select! {
        biased;
        () = stop => Err(RunError::Stopped),
        r = body => r,
    };
    if job.hooks.is_some_and(|h| !h.post.is_empty()) {
        stage(Stage::PostHooks);
    }
    hooks.post(&mut journal).await;
    let (finished, volumes) = body?;
    stage(Stage::Committing);
    commit(store.as_ref(), &job, finished, volumes, journal)
        .await
        .map_err(RunError::Store)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_say_a_new_backup_may_succeed() {
        let api = |code| {
            RunError::Kube(kube::Error::Api(
                kube::core::Status::failure("x", "y")
                    .with_code(code)
                    .boxed(),
            ))
        };
        assert!(api(503).retryable() && api(429).retryable() && !api(403).retryable());
        assert!(RunError::Store(StoreError::Network("reset".into())).retryable());
        assert!(!RunError::Store(StoreError::Authorization("role".into())).retryable());
        assert!(!RunError::Selection("bad".into()).retryable());
        assert!(!RunError::Stopped.retryable());
    }
}

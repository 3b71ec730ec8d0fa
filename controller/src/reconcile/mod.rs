//! The controller's reconcilers: each one small and idempotent, reading the garden (and, through
//! [`AgentClients`], the registered clusters) and writing only when something changed, so a
//! landscape at rest costs no API writes.
//!
//! Shared here: the [`Context`] every reconciler gets, the error type with its retry policy, and
//! helpers for server-side apply and conditions.

pub mod backup;
pub mod clients;
pub mod cluster;
pub mod conditions;
pub mod discovery;
pub mod location;
pub mod memo;
pub mod names;
pub mod orphans;
pub mod reclaim;
pub mod restore;
pub mod schedule;
pub mod sync;

use std::sync::Arc;
use std::time::Duration;

use herbarium_api::garden::{BackupLocation, Cluster, DiscoveryConfig};
use herbarium_api::gardener::{Project, Shoot};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use clients::AgentClients;

use crate::events::Note;
use crate::metrics::Metrics;

/// What every reconciler gets.
pub struct Context {
    /// The garden cluster.
    pub garden: Client,
    /// Clients for the registered clusters.
    pub clusters: Arc<dyn AgentClients>,
    pub metrics: Arc<Metrics>,
    /// Azure identities, issuer checks and agent installs (see [`cluster::Registrar`]).
    pub registrar: Arc<dyn cluster::Registrar>,
    /// What was already ensured per cluster (see [`memo`]).
    pub memo: memo::Memo,
    /// Caches of the garden objects several reconcilers look through.
    pub stores: Stores,
    /// Publishes Kubernetes Events about the garden objects (see [`Context::publish`]).
    pub recorder: Recorder,
}

/// The name events are reported under.
pub const REPORTER: &str = "herbarium-controller";

/// A recorder writing `events.k8s.io/v1` Events into the garden as [`REPORTER`], instance the
/// pod's name (`POD_NAME`) or else the host name.
pub fn recorder(garden: Client) -> Recorder {
    let mut reporter = Reporter::from(REPORTER);
    if let Ok(pod) = std::env::var("POD_NAME") {
        reporter.instance = Some(pod);
    }
    Recorder::new(garden, reporter)
}

impl Context {
    /// Publishes `notes` as Events about `object`. Callers pass only transitions (see
    /// [`crate::events`]): events are API writes, and an object at rest must cost none. A failure
    /// is logged and never fails the reconcile; the status already says what the event would.
    pub async fn publish<K>(&self, object: &K, notes: impl IntoIterator<Item = Note>)
    where
        K: Resource<DynamicType = ()>,
    {
        let reference = object.object_ref(&());
        for note in notes {
            let event = Event {
                type_: note.type_,
                reason: note.reason.to_string(),
                note: Some(note.note),
                action: note.action.to_string(),
                secondary: None,
            };
            if let Err(e) = self.recorder.publish(&event, &reference).await {
                tracing::warn!(
                    kind = ?reference.kind, namespace = ?reference.namespace, name = ?reference.name,
                    reason = note.reason,
                    "publishing an event failed (not retried; the object's status carries the same news): {e}"
                );
            }
        }
    }
}

/// Reflector stores, filled by watches the controller runs (see `run`).
#[derive(Clone)]
pub struct Stores {
    pub shoots: Store<Shoot>,
    pub projects: Store<Project>,
    pub configs: Store<DiscoveryConfig>,
    pub clusters: Store<Cluster>,
    pub locations: Store<BackupLocation>,
    /// Turns true once all the caches are filled.
    pub ready: tokio::sync::watch::Receiver<bool>,
}

impl Stores {
    /// Waits until every cache has been filled once. Reconcilers that conclude something from an
    /// object's absence (a Cluster whose Shoot is missing is deleted) call this first.
    ///
    /// Backed by a watch channel set by one task (see `run`), because a reflector store's own
    /// `wait_until_ready` wakes only the last of several concurrent waiters.
    pub async fn ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|r| *r).await;
    }
}

/// Why a reconcile failed. [`Error::retryable`] decides how soon it runs again.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to a Kubernetes API server failed (garden or cluster).
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: kube::Error,
    },
    /// A registered cluster could not be reached.
    #[error("cluster {cluster}: {message}")]
    Cluster {
        cluster: String,
        message: String,
        retryable: bool,
    },
    /// The object itself is wrong; retrying does not help until someone changes it.
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn kube(what: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let what = what.into();
        move |source| Error::Kube { what, source }
    }

    pub fn retryable(&self) -> bool {
        match self {
            Error::Kube { source, .. } => match source {
                kube::Error::Api(s) => s.code == 429 || s.code == 409 || s.code >= 500,
                _ => true,
            },
            Error::Cluster { retryable, .. } => *retryable,
            Error::Invalid(_) => false,
        }
    }
}

/// Transient errors come back soon (with the controller's own per-object backoff on top), the
/// others only after a long pause: a status condition already tells the user what to fix, and
/// the change they make triggers a reconcile anyway.
pub fn requeue_after(error: &Error) -> Action {
    if error.retryable() {
        Action::requeue(Duration::from_secs(10))
    } else {
        Action::requeue(Duration::from_secs(300))
    }
}

/// Server-side apply of `object` with the controller's field manager (force: the controller owns
/// these fields).
pub async fn apply<K>(api: &Api<K>, name: &str, object: &K) -> Result<K, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Serialize + std::fmt::Debug,
{
    let params = PatchParams::apply(herbarium_api::constants::CONTROLLER_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(object)).await
}

/// Writes `status` to the status subresource by merge patch, only when it differs from `current`.
/// Returns whether it wrote.
pub async fn patch_status_if_changed<K, S>(
    api: &Api<K>,
    name: &str,
    current: Option<&S>,
    status: &S,
) -> Result<bool, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize + PartialEq,
{
    if current == Some(status) {
        return Ok(false);
    }
    let patch = serde_json::json!({ "status": status });
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(true)
}

/// Adds `finalizer` unless present (merge patch carrying the resourceVersion, so a concurrent
/// change makes it fail with 409 and retry instead of dropping someone else's finalizer).
pub async fn add_finalizer<K>(api: &Api<K>, object: &K, finalizer: &str) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let meta = object.meta();
    let mut finalizers = meta.finalizers.clone().unwrap_or_default();
    if finalizers.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    finalizers.push(finalizer.to_string());
    patch_finalizers(api, object, finalizers).await
}

/// Removes `finalizer` if present.
pub async fn remove_finalizer<K>(api: &Api<K>, object: &K, finalizer: &str) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let meta = object.meta();
    let finalizers = meta.finalizers.clone().unwrap_or_default();
    if !finalizers.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let rest = finalizers.into_iter().filter(|f| f != finalizer).collect();
    patch_finalizers(api, object, rest).await
}

async fn patch_finalizers<K>(api: &Api<K>, object: &K, finalizers: Vec<String>) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let meta = object.meta();
    let name = meta.name.clone().unwrap_or_default();
    let patch = serde_json::json!({
        "metadata": { "finalizers": finalizers, "resourceVersion": meta.resource_version }
    });
    match api
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        // Gone already: nothing left to guard.
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube(format!("updating the finalizers of {name}"))(e)),
    }
}

//! Starts the reconcilers: one watch per garden kind, shared caches for the kinds several
//! reconcilers read, and nothing until those caches are filled (a Cluster must never look
//! orphaned just because the Shoot cache is still empty).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, future::BoxFuture};
use herbarium_api::garden::{
    Backup, BackupLocation, BackupSchedule, Cluster, DiscoveryConfig, Restore,
};
use herbarium_api::gardener::{Project, Shoot};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::metrics::{Controller as Kind, Metrics};
use crate::reconcile::{self, AgentClients, Context, Error, Stores, cluster::Registrar};

/// How often the DiscoveryConfig counts and the Shoot → Cluster pass are recomputed from the
/// caches, besides reacting to changes (both are in-memory and write only on change).
pub const RESYNC: Duration = Duration::from_secs(30);

/// Cluster reconciles running at once.
pub const CLUSTER_CONCURRENCY: u16 = 64;

/// Shoot (discovery) reconciles running at once: each may create a Cluster, and a landscape of
/// new Shoots should not open a garden connection per Shoot.
pub const DISCOVERY_CONCURRENCY: u16 = 16;

/// A cache of `api` filled by its own watch, for kinds no controller of ours runs on.
fn cached<K>(api: Api<K>) -> (Store<K>, impl futures::Stream<Item = ()> + Send)
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    // managedFields are the largest part of most objects and no reconciler reads them.
    let stream = reflector::reflector(
        writer,
        watcher(api, watcher::Config::default().any_semantic())
            .modify(|o: &mut K| o.meta_mut().managed_fields = None),
    )
    .default_backoff()
    .map(|_| ());
    (reader, stream)
}

fn all<K>(garden: &Client) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = kube::core::NamespaceResourceScope>,
{
    Api::all(garden.clone())
}

fn config() -> watcher::Config {
    watcher::Config::default().any_semantic()
}

/// Wraps a reconcile function with metrics and logging.
fn timed<K, F, Fut>(
    kind: Kind,
    f: F,
) -> impl Fn(Arc<K>, Arc<Context>) -> BoxFuture<'static, Result<Action, Error>>
where
    K: Send + Sync + 'static,
    F: Fn(Arc<K>, Arc<Context>) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<Action, Error>> + Send + 'static,
{
    move |object, ctx| {
        Box::pin(async move {
            let start = Instant::now();
            let result = f(object, ctx.clone()).await;
            ctx.metrics.observe(kind, start.elapsed());
            result
        })
    }
}

fn on_error<K: ResourceExt>(kind: Kind) -> impl Fn(Arc<K>, &Error, Arc<Context>) -> Action {
    move |object, error, ctx| {
        ctx.metrics.error(kind, error.retryable());
        tracing::warn!(controller = ?kind, object = %object.name_any(), namespace = ?object.namespace(), retryable = error.retryable(), "{error}");
        reconcile::requeue_after(error)
    }
}

async fn drain<S: futures::Stream + Send>(stream: S) {
    stream.for_each(|_| async {}).await;
}

/// Runs every reconciler until `shutdown` resolves.
pub async fn run(
    garden: Client,
    clusters: Arc<dyn AgentClients>,
    registrar: Arc<dyn Registrar>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let (projects, project_stream) = cached(Api::<Project>::all(garden.clone()));
    let ticks = || {
        futures::stream::unfold((), |()| async {
            tokio::time::sleep(RESYNC).await;
            Some(((), ()))
        })
    };
    let discovery = Controller::new(all::<Shoot>(&garden), config())
        .with_config(
            kube::runtime::controller::Config::default().concurrency(DISCOVERY_CONCURRENCY),
        )
        .reconcile_all_on(ticks());
    let config_status = Controller::new(Api::<DiscoveryConfig>::all(garden.clone()), config())
        .reconcile_all_on(ticks());
    let cluster_ctl = Controller::new(all::<Cluster>(&garden), config())
        // Registration talks to ARM and to each cluster: bounded, so that 2,000 new Clusters
        // queue instead of opening 2,000 connections to ARM at once.
        .with_config(kube::runtime::controller::Config::default().concurrency(CLUSTER_CONCURRENCY))
        .watches(all::<Shoot>(&garden), config(), |shoot: Shoot| {
            Some(
                ObjectRef::<Cluster>::new(&shoot.name_any())
                    .within(&shoot.namespace().unwrap_or_default()),
            )
        })
        // Assigning a cluster to a location changes the containers its identity needs a role on.
        .watches(
            all::<BackupLocation>(&garden),
            config(),
            |location: BackupLocation| {
                let namespace = location.namespace().unwrap_or_default();
                location
                    .spec
                    .clusters
                    .into_iter()
                    .map(move |c| ObjectRef::<Cluster>::new(&c).within(&namespace))
            },
        );
    // The caches reconcilers read have their own watches: a controller's store cannot be waited
    // on by anyone but the controller itself (see `Stores::ready`).
    let (shoots, shoot_stream) = cached(all::<Shoot>(&garden));
    let (configs, config_stream) = cached(Api::<DiscoveryConfig>::all(garden.clone()));
    let (cluster_cache, cluster_stream) = cached(all::<Cluster>(&garden));
    let (locations, location_stream) = cached(all::<BackupLocation>(&garden));
    let (ready_tx, ready) = tokio::sync::watch::channel(false);
    let stores = Stores {
        shoots,
        projects,
        configs,
        clusters: cluster_cache,
        locations,
        ready,
    };
    let caches = {
        let stores = stores.clone();
        tokio::spawn(async move {
            let fill = futures::future::join5(
                drain(project_stream),
                drain(shoot_stream),
                drain(config_stream),
                drain(cluster_stream),
                drain(location_stream),
            );
            let signal = async {
                let _ = stores.shoots.wait_until_ready().await;
                let _ = stores.projects.wait_until_ready().await;
                let _ = stores.configs.wait_until_ready().await;
                let _ = stores.clusters.wait_until_ready().await;
                let _ = stores.locations.wait_until_ready().await;
                let _ = ready_tx.send(true);
                futures::future::pending::<()>().await;
            };
            futures::future::join(fill, signal).await;
        })
    };
    let cluster_store = stores.clusters.clone();
    let ctx = Arc::new(Context {
        recorder: reconcile::recorder(garden.clone()),
        garden: garden.clone(),
        clusters,
        metrics: metrics.clone(),
        registrar,
        stores,
        memo: Default::default(),
    });
    let discovery = discovery.graceful_shutdown_on(shutdown.clone()).run(
        timed(Kind::Discovery, reconcile::discovery::reconcile_shoot),
        on_error(Kind::Discovery),
        ctx.clone(),
    );
    let config_status = config_status.graceful_shutdown_on(shutdown.clone()).run(
        timed(
            Kind::DiscoveryStatus,
            reconcile::discovery::reconcile_config,
        ),
        on_error(Kind::DiscoveryStatus),
        ctx.clone(),
    );
    let cluster_ctl = cluster_ctl.graceful_shutdown_on(shutdown.clone()).run(
        timed(Kind::Cluster, reconcile::cluster::reconcile),
        on_error(Kind::Cluster),
        ctx.clone(),
    );
    let locations = Controller::new(all::<BackupLocation>(&garden), config());
    let locations = reconcile::location::watch_clusters(locations, &garden)
        .graceful_shutdown_on(shutdown.clone())
        .run(
            timed(Kind::Location, reconcile::location::reconcile),
            on_error(Kind::Location),
            ctx.clone(),
        );
    let backups = Controller::new(all::<Backup>(&garden), config())
        .graceful_shutdown_on(shutdown.clone())
        .run(
            timed(Kind::Backup, reconcile::backup::reconcile),
            on_error(Kind::Backup),
            ctx.clone(),
        );
    let restores = Controller::new(all::<Restore>(&garden), config())
        .graceful_shutdown_on(shutdown.clone())
        .run(
            timed(Kind::Restore, reconcile::restore::reconcile),
            on_error(Kind::Restore),
            ctx.clone(),
        );
    let schedules = Controller::new(all::<BackupSchedule>(&garden), config())
        .graceful_shutdown_on(shutdown.clone())
        .run(
            timed(Kind::Schedule, reconcile::schedule::reconcile),
            on_error(Kind::Schedule),
            ctx.clone(),
        );
    let phases = count_phases(cluster_store, metrics, shutdown.clone());
    tokio::join!(
        drain(discovery),
        drain(config_status),
        drain(cluster_ctl),
        drain(locations),
        drain(backups),
        drain(restores),
        drain(schedules),
        phases
    );
    caches.abort();
}

/// Keeps the clusters-per-phase gauge current from the cache.
async fn count_phases(
    clusters: Store<Cluster>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()>,
) {
    let work = async {
        loop {
            let mut counts = std::collections::BTreeMap::<String, i64>::new();
            for phase in [
                "Pending",
                "Registering",
                "Ready",
                "Unreachable",
                "Hibernated",
                "Unmanaged",
                "Deleting",
                "Failed",
            ] {
                counts.insert(phase.to_string(), 0);
            }
            for c in clusters.state() {
                let phase = c
                    .status
                    .as_ref()
                    .and_then(|s| s.phase)
                    .map(|p| format!("{p:?}"))
                    .unwrap_or_else(|| "Pending".into());
                *counts.entry(phase).or_default() += 1;
            }
            for (phase, n) in counts {
                metrics
                    .clusters
                    .get_or_create(&crate::metrics::PhaseLabels { phase })
                    .set(n);
            }
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
    };
    tokio::select! { _ = work => {}, _ = shutdown => {} }
}

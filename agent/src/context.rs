//! What every reconciler shares. Controllers get an `Arc<Context<F>>`; the restore and sync
//! controllers are added next to the backup ones with the same context (see `controllers.rs`).

use herbarium_api::agent::LocationAccessSpec;
use kube::Client;
use tokio::sync::watch;

use crate::metrics::Metrics;
use crate::store::{BlobStore, StoreError};

/// Opens the blob store of a LocationAccess. Azure in the binary, memory in unit tests.
pub trait StoreFactory: Send + Sync + 'static {
    type Store: BlobStore;
    fn open(&self, location: &LocationAccessSpec) -> Result<Self::Store, StoreError>;
}

/// Everything a reconciler needs besides the object it reconciles.
pub struct Context<F: StoreFactory> {
    pub client: Client,
    /// Namespace of the agent objects (herbarium-system).
    pub namespace: String,
    pub stores: F,
    pub metrics: Metrics,
    /// Set on SIGTERM: no new jobs start; running ones finish or fail within the grace period.
    pub stopping: watch::Sender<bool>,
    pub settings: Settings,
    /// How hooks exec into pods (pods/exec; tests put a fake here).
    pub exec: std::sync::Arc<dyn crate::backup::hooks::Exec>,
    /// Jobs running now (see [`Context::busy`]); shutdown waits for them, and only for them.
    active: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Held while a job runs; dropping it marks the job done.
pub struct Busy(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Tunables, with defaults the binary uses; tests shorten them.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Revalidate a location at least this often.
    pub revalidate_every: std::time::Duration,
    /// Status progress updates at most this often.
    pub progress_every: std::time::Duration,
    /// Size of the archive's staged blocks.
    pub block_bytes: usize,
    /// Staged blocks in flight at once.
    pub upload_concurrency: usize,
    /// Objects per LIST page.
    pub page_size: u32,
    /// After SIGTERM, how long a running backup may go on before it is marked Failed.
    pub shutdown_grace: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            revalidate_every: std::time::Duration::from_secs(600),
            progress_every: std::time::Duration::from_secs(2),
            block_bytes: 4 * 1024 * 1024,
            upload_concurrency: 4,
            page_size: 500,
            shutdown_grace: std::time::Duration::from_secs(20),
        }
    }
}

impl<F: StoreFactory> Context<F> {
    pub fn new(client: Client, namespace: &str, stores: F, metrics: Metrics) -> Self {
        Self {
            client: client.clone(),
            namespace: namespace.to_string(),
            stores,
            metrics,
            stopping: watch::Sender::new(false),
            settings: Settings::default(),
            exec: std::sync::Arc::new(crate::backup::hooks::KubeExec(client.clone())),
            active: Default::default(),
        }
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Marks a job as running until the guard is dropped.
    pub fn busy(&self) -> Busy {
        self.active
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Busy(self.active.clone())
    }

    /// Resolves once stop was asked and no job is running. kube's graceful shutdown alone can
    /// hang when it comes before a watcher's first list; this bounds it to the running jobs.
    pub fn drained(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let stopped = self.stopped();
        let active = self.active.clone();
        async move {
            stopped.await;
            while active.load(std::sync::atomic::Ordering::SeqCst) > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }

    /// Asks every controller to stop taking work (SIGTERM).
    pub fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Resolves once [`Context::stop`] was called: give it to `Controller::graceful_shutdown_on`.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.stopping.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }
}

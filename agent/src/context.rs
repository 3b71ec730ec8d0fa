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
            client,
            namespace: namespace.to_string(),
            stores,
            metrics,
            stopping: watch::Sender::new(false),
            settings: Settings::default(),
        }
    }

    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
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

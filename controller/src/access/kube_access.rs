//! [`ClusterAccess`] through the garden: Gardener's `shoots/adminkubeconfig` subresource for
//! adopted Shoots, the uploaded Secret for kubeconfig Clusters. Client configurations are cached
//! in memory only (never written anywhere): admin kubeconfigs until shortly before they expire,
//! Secret ones until the Secret's resourceVersion changes. Clients are not cached: each caller
//! gets a new one, whose connections close when it is dropped, so that 2,000 clusters rechecked
//! every 30 seconds do not hold 2,000 idle TLS connections (and their buffers) open in between.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use herbarium_api::garden::Cluster;
use herbarium_api::gardener::AdminKubeconfigRequest;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client, ResourceExt};

use super::ClientFactory;
use super::kubeconfig::{classify, client_of, error_chain, factory_from_kubeconfig, probe};
use super::{AccessError, ClusterAccess};
use crate::keyed_lock::KeyedLock;

/// Tunables of [`KubeAccess`].
#[derive(Clone, Debug)]
pub struct AccessConfig {
    /// Lifetime requested for admin kubeconfigs (Gardener's minimum is 600 s).
    pub admin_kubeconfig_seconds: i64,
    /// Refresh an admin kubeconfig once less than this is left.
    pub refresh_before: Duration,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            admin_kubeconfig_seconds: 600,
            refresh_before: Duration::from_secs(180),
        }
    }
}

#[derive(Clone)]
struct Cached {
    factory: ClientFactory,
    /// Where it came from, for errors.
    source_name: String,
    /// Admin kubeconfig: when to fetch a new one. Secret: `None`.
    refresh_at: Option<Instant>,
    /// Secret: the resourceVersion the client was built from.
    version: Option<String>,
}

/// Cluster access through the garden API.
pub struct KubeAccess {
    garden: Client,
    config: AccessConfig,
    cache: Mutex<HashMap<(String, String), Cached>>,
    /// One admin-kubeconfig fetch per cluster at a time: reconciles that find it expired together
    /// wait for the first one's result.
    fetching: KeyedLock,
}

fn key(cluster: &Cluster) -> (String, String) {
    (cluster.namespace().unwrap_or_default(), cluster.name_any())
}

impl KubeAccess {
    pub fn new(garden: Client, config: AccessConfig) -> Self {
        Self {
            garden,
            config,
            cache: Mutex::new(HashMap::new()),
            fetching: KeyedLock::default(),
        }
    }

    fn cached(&self, k: &(String, String)) -> Option<Cached> {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(k)
            .cloned()
    }

    fn store(&self, k: (String, String), c: Cached) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, c);
    }

    async fn admin_kubeconfig(
        &self,
        ns: &str,
        shoot: &str,
    ) -> Result<(Cached, Client), AccessError> {
        let url = format!(
            "/apis/core.gardener.cloud/v1beta1/namespaces/{ns}/shoots/{shoot}/adminkubeconfig"
        );
        let body = AdminKubeconfigRequest::new(self.config.admin_kubeconfig_seconds);
        let request = http::Request::post(&url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap_or_default())
            .map_err(|e| AccessError::Api {
                what: format!("building {url}"),
                code: 0,
                message: e.to_string(),
            })?;
        let answer: AdminKubeconfigRequest = match self.garden.request(request).await {
            Ok(a) => a,
            Err(kube::Error::Api(s)) if s.code == 404 => {
                return Err(AccessError::ShootNotFound {
                    namespace: ns.to_string(),
                    name: shoot.to_string(),
                });
            }
            Err(kube::Error::Api(s)) => {
                return Err(AccessError::Api {
                    what: format!("garden POST {url}"),
                    code: s.code,
                    message: s.message,
                });
            }
            Err(e) => {
                return Err(AccessError::Unreachable {
                    server: "garden".into(),
                    message: error_chain(&e),
                });
            }
        };
        let source_name = format!("adminkubeconfig of Shoot {ns}/{shoot}");
        let status = answer
            .status
            .ok_or_else(|| AccessError::MalformedKubeconfig {
                source_name: source_name.clone(),
                message: "the answer has no status".into(),
            })?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(status.kubeconfig.as_bytes())
            .map_err(|e| AccessError::MalformedKubeconfig {
                source_name: source_name.clone(),
                message: format!("status.kubeconfig is not base64: {e}"),
            })?;
        let (factory, client) = factory_from_kubeconfig(&bytes, &source_name).await?;
        probe(&client, &factory.server(), true).await?;
        // Refresh relative to our clock: what is left now, minus the margin.
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        let left = (status.expiration_timestamp.0.as_second() - now).max(0);
        let left = Duration::from_secs(left as u64).saturating_sub(self.config.refresh_before);
        let cached = Cached {
            factory,
            source_name,
            refresh_at: Some(Instant::now() + left),
            version: None,
        };
        Ok((cached, client))
    }

    async fn kubeconfig_secret(
        &self,
        ns: &str,
        name: &str,
        data_key: &str,
        cached: Option<Cached>,
    ) -> Result<(Cached, Client), AccessError> {
        let secrets: Api<Secret> = Api::namespaced(self.garden.clone(), ns);
        let secret = match secrets.get_opt(name).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                return Err(AccessError::SecretMissing {
                    namespace: ns.to_string(),
                    name: name.to_string(),
                });
            }
            Err(e) => return Err(garden_error(&format!("reading Secret {ns}/{name}"), e)),
        };
        let version = secret.resource_version();
        if let Some(c) = cached.filter(|c| c.version.is_some() && c.version == version) {
            let client = client_of(&c.factory, &c.source_name)?;
            return Ok((c, client));
        }
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(data_key))
            .ok_or_else(|| AccessError::KeyMissing {
                namespace: ns.to_string(),
                name: name.to_string(),
                key: data_key.to_string(),
            })?;
        let source_name = format!("Secret {ns}/{name} key {data_key}");
        let (factory, client) = factory_from_kubeconfig(&bytes.0, &source_name).await?;
        probe(&client, &factory.server(), false).await?;
        let cached = Cached {
            factory,
            source_name,
            refresh_at: None,
            version,
        };
        Ok((cached, client))
    }
}

fn garden_error(what: &str, e: kube::Error) -> AccessError {
    match classify("garden", true, e) {
        AccessError::Unreachable { message, .. } => AccessError::Unreachable {
            server: "garden".into(),
            message: format!("{what}: {message}"),
        },
        AccessError::Unauthorized { message, .. } | AccessError::Forbidden { message, .. } => {
            AccessError::Api {
                what: format!("garden: {what}"),
                code: 403,
                message,
            }
        }
        AccessError::Api { code, message, .. } => AccessError::Api {
            what: format!("garden: {what}"),
            code,
            message,
        },
        other => other,
    }
}

impl ClusterAccess for KubeAccess {
    async fn client(&self, cluster: &Cluster) -> Result<Client, AccessError> {
        let k = key(cluster);
        if let Some(g) = &cluster.spec.gardener {
            let valid =
                |c: Option<Cached>| c.filter(|c| c.refresh_at.is_some_and(|t| Instant::now() < t));
            if let Some(c) = valid(self.cached(&k)) {
                return client_of(&c.factory, &c.source_name);
            }
            // One fetch per cluster; the result is stored before the lock is released, so the
            // waiters find it.
            let _one = self.fetching.lock(&format!("{}/{}", k.0, k.1)).await;
            if let Some(c) = valid(self.cached(&k)) {
                return client_of(&c.factory, &c.source_name);
            }
            let (fresh, client) = self.admin_kubeconfig(&k.0, &g.shoot_name).await?;
            self.store(k, fresh);
            Ok(client)
        } else if let Some(kc) = &cluster.spec.kubeconfig {
            let r = &kc.secret_ref;
            let (fresh, client) = self
                .kubeconfig_secret(&k.0, &r.name, &r.key, self.cached(&k))
                .await?;
            self.store(k, fresh);
            Ok(client)
        } else {
            Err(AccessError::NoSource(format!("{}/{}", k.0, k.1)))
        }
    }

    fn forget(&self, cluster: &Cluster) {
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&key(cluster));
    }
}

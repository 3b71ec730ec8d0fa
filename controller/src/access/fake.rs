//! Test doubles for reconcilers: [`StaticAccess`] hands out preset clients (or errors) per
//! Cluster, [`StaticIssuers`] preset issuer results. No garden, no network.

use std::collections::HashMap;
use std::sync::Mutex;

use herbarium_api::garden::Cluster;
use kube::{Client, ResourceExt};

use super::{AccessError, ClusterAccess, IssuerCheck, IssuerError};

type Key = (String, String);

fn key(cluster: &Cluster) -> Key {
    (cluster.namespace().unwrap_or_default(), cluster.name_any())
}

/// [`ClusterAccess`] from a preset map `(namespace, name) → client or error`; an unknown Cluster
/// is [`AccessError::NoSource`]. `forget` calls are counted.
#[derive(Default)]
pub struct StaticAccess {
    entries: Mutex<HashMap<Key, Result<Client, AccessError>>>,
    forgotten: Mutex<Vec<Key>>,
}

impl StaticAccess {
    pub fn new() -> Self {
        Self::default()
    }

    /// What `client` returns for the Cluster `namespace/name` from now on.
    pub fn set(&self, namespace: &str, name: &str, result: Result<Client, AccessError>) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((namespace.to_string(), name.to_string()), result);
    }

    /// The Clusters `forget` was called for, in order.
    pub fn forgotten(&self) -> Vec<(String, String)> {
        self.forgotten
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ClusterAccess for StaticAccess {
    async fn client(&self, cluster: &Cluster) -> Result<Client, AccessError> {
        let k = key(cluster);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(&k) {
            Some(r) => r.clone(),
            None => Err(AccessError::NoSource(format!("{}/{}", k.0, k.1))),
        }
    }

    fn forget(&self, cluster: &Cluster) {
        self.forgotten
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(key(cluster));
    }
}

/// [`IssuerCheck`] from a preset map `issuer → result`; unknown issuers answer 404.
#[derive(Default, Debug)]
pub struct StaticIssuers {
    results: Mutex<HashMap<String, Result<(), IssuerError>>>,
}

impl StaticIssuers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&self, issuer: &str, result: Result<(), IssuerError>) {
        self.results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(issuer.to_string(), result);
    }
}

impl IssuerCheck for StaticIssuers {
    async fn check(&self, issuer: &str) -> Result<(), IssuerError> {
        let results = self.results.lock().unwrap_or_else(|e| e.into_inner());
        results.get(issuer).cloned().unwrap_or_else(|| {
            Err(IssuerError::Status {
                url: super::issuer::discovery_url(issuer),
                status: 404,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use herbarium_api::garden::ClusterSpec;

    use super::*;

    #[tokio::test]
    async fn presets_are_returned() {
        let access = StaticAccess::new();
        let mut c = Cluster::new(
            "a",
            ClusterSpec {
                gardener: None,
                kubeconfig: None,
            },
        );
        c.metadata.namespace = Some("ns".into());
        assert!(matches!(
            access.client(&c).await,
            Err(AccessError::NoSource(_))
        ));
        let down = AccessError::Unreachable {
            server: "s".into(),
            message: "m".into(),
        };
        access.set("ns", "a", Err(down.clone()));
        assert_eq!(access.client(&c).await.err(), Some(down));
        access.forget(&c);
        assert_eq!(access.forgotten(), [("ns".to_string(), "a".to_string())]);

        let issuers = StaticIssuers::new();
        issuers.set("https://i", Ok(()));
        assert_eq!(issuers.check("https://i").await, Ok(()));
        assert!(matches!(
            issuers.check("https://j").await,
            Err(IssuerError::Status { status: 404, .. })
        ));
    }
}

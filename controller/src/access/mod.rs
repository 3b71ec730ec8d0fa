//! Access to registered clusters: a `kube::Client` for a garden `Cluster`, from Gardener's
//! `shoots/adminkubeconfig` (short-lived, refreshed before expiry, kept in memory only) or from the
//! kubeconfig Secret a user uploaded. And the issuer check: a cluster's service-account issuer
//! must serve an OIDC discovery document, or Entra ID cannot verify the agent's tokens.
//!
//! Reconcilers see the traits [`ClusterAccess`] and [`IssuerCheck`]; [`KubeAccess`] and
//! [`HttpIssuerCheck`] are the implementations; [`StaticAccess`] and [`StaticIssuers`] are
//! preset doubles for reconciler tests. Every failure is an [`AccessError`] /
//! [`IssuerError`] that names what failed and says whether retrying helps — never a panic.

mod client;
mod error;
mod fake;
mod issuer;
mod kube_access;
mod kubeconfig;

use std::future::Future;

use herbarium_api::garden::Cluster;

pub use client::ClientFactory;
pub use error::AccessError;
pub use fake::{StaticAccess, StaticIssuers};
pub use issuer::{HttpIssuerCheck, IssuerCheck, IssuerError, check_discovery_document};
pub use kube_access::{AccessConfig, KubeAccess};
pub use kubeconfig::{factory_from_kubeconfig, probe};

/// Gives clients for registered clusters.
pub trait ClusterAccess: Send + Sync {
    /// A client for `cluster` (cached; the first one for a cluster is probed, so an unreachable
    /// or refusing server is reported here rather than on first use).
    fn client(
        &self,
        cluster: &Cluster,
    ) -> impl Future<Output = Result<kube::Client, AccessError>> + Send;

    /// Drops what is cached for `cluster` (after a 401, or when the Cluster goes away).
    fn forget(&self, cluster: &Cluster);
}

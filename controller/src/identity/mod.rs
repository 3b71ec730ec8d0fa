//! Per-cluster Azure identities: a user-assigned managed identity, a federated identity credential
//! trusting the cluster's service-account issuer for the agent's subject, and optional
//! "Storage Blob Data Contributor" role assignments on the containers the cluster may use.
//!
//! The rest of the controller sees only [`IdentityProvider`]. [`arm::ArmIdentities`] is the one
//! implementation that talks to Azure (ARM through an azure_core pipeline);
//! [`FakeIdentities`] is an in-memory one for reconciler unit tests. What to change is decided by
//! the pure [`plan()`]; every name is derived from the cluster ([`names`]), so re-runs, restarts
//! and concurrent controllers converge on the same resources instead of creating new ones.

pub mod arm;
mod error;
mod fake;

pub mod names;
mod plan;

use std::future::Future;

pub use error::IdentityError;
pub use fake::FakeIdentities;
pub use plan::{
    Action, DesiredState, ObservedAssignment, ObservedCredential, ObservedIdentity, ObservedState,
    plan, plan_delete,
};

/// The cluster an identity belongs to. `uid` makes the identity name unique: a Cluster object
/// that is deleted and created again under the same name gets a different identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClusterKey {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// Where identities are created: one subscription and resource group (the DiscoveryConfig's
/// `azure` target, or the controller's defaults for kubeconfig Clusters).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AzureTarget {
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
}

/// What a cluster's identity should look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredIdentity {
    pub target: AzureTarget,
    pub cluster: ClusterKey,
    /// The cluster's service-account issuer (https URL, exactly as it appears in tokens).
    pub issuer: String,
    /// ARM scopes to grant "Storage Blob Data Contributor" on (see [`names::container_scope`]);
    /// empty when role assignments are turned off. Assignments of this identity at scopes no
    /// longer listed are removed.
    pub role_scopes: Vec<String>,
}

/// The identity as it exists after [`IdentityProvider::ensure`]; goes into `Cluster.status.identity`
/// and the agent's ServiceAccount (`client_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityInfo {
    pub name: String,
    pub client_id: String,
    pub principal_id: String,
    pub resource_id: String,
    pub federated_credential_name: String,
    pub issuer: String,
    pub subject: String,
}

/// Creates, updates and deletes the Azure identities of clusters.
///
/// Both operations are idempotent and safe to call concurrently for the same cluster (writes to
/// one identity are serialised inside the provider). An error's [`IdentityError::retryable`] says
/// whether calling again can help.
pub trait IdentityProvider: Send + Sync {
    /// Makes the identity of `desired.cluster` match `desired`: identity with tags, exactly one
    /// federated credential (for the current issuer; stale ones deleted), role assignments on
    /// exactly `role_scopes`.
    fn ensure(
        &self,
        desired: &DesiredIdentity,
    ) -> impl Future<Output = Result<IdentityInfo, IdentityError>> + Send;

    /// Deletes the role assignments, federated credentials and the identity of `cluster`;
    /// whatever is already gone is fine.
    fn delete(
        &self,
        target: &AzureTarget,
        cluster: &ClusterKey,
    ) -> impl Future<Output = Result<(), IdentityError>> + Send;
}

impl ClusterKey {
    /// The key of a garden Cluster object (its namespace, name and UID); `None` for an object
    /// that was never stored (no UID).
    pub fn of(cluster: &herbarium_api::garden::Cluster) -> Option<Self> {
        let m = &cluster.metadata;
        Some(Self {
            namespace: m.namespace.clone()?,
            name: m.name.clone()?,
            uid: m.uid.clone()?,
        })
    }
}

impl From<&herbarium_api::garden::AzureIdentityTarget> for AzureTarget {
    fn from(t: &herbarium_api::garden::AzureIdentityTarget) -> Self {
        Self {
            subscription_id: t.subscription_id.clone(),
            resource_group: t.resource_group.clone(),
            location: t.location.clone(),
        }
    }
}

impl From<&IdentityInfo> for herbarium_api::garden::IdentityStatus {
    fn from(i: &IdentityInfo) -> Self {
        Self {
            client_id: i.client_id.clone(),
            principal_id: i.principal_id.clone(),
            resource_id: i.resource_id.clone(),
            federated_credential_name: i.federated_credential_name.clone(),
            issuer: i.issuer.clone(),
            subject: i.subject.clone(),
        }
    }
}

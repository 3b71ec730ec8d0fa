//! The ARM adapter: [`ArmIdentities`] implements [`IdentityProvider`] with
//! Microsoft.ManagedIdentity (user-assigned identities, federated identity credentials) and
//! Microsoft.Authorization (role assignments). No maintained crate covers these APIs on
//! azure_core 1.x, so this module calls them through an azure_core pipeline itself; no azure
//! type leaves it.
//!
//! Each operation observes, asks [`plan`] what to change, executes and observes again until the
//! plan is empty; all of it under a per-identity lock, because ARM refuses concurrent writes to
//! one identity with 409.

mod client;
mod config;
mod credential;
mod execute;
mod model;

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::Method;
use serde_json::Value;

pub use config::{
    ArmConfig, ArmObserver, ArmOutcome, DEFAULT_ARM_ENDPOINT, DEFAULT_ARM_SCOPE, RetryPolicy,
};
pub use credential::{WorkloadIdentityOptions, workload_identity_credential};

use self::client::ArmClient;
use super::names::{blob_contributor_role, credential_name, identity_name, identity_tags};
use super::plan::{DesiredState, ObservedState, plan, plan_delete};
use super::{
    AzureTarget, ClusterKey, DesiredIdentity, IdentityError, IdentityInfo, IdentityProvider,
};
use crate::keyed_lock::KeyedLock;
use herbarium_api::constants::{AGENT_SUBJECT, TOKEN_EXCHANGE_AUDIENCE};

/// Pinned API versions (the ones the ARM stand-in in test/azure-fakes checks as well).
pub const MANAGED_IDENTITY_API_VERSION: &str = "2023-01-31";
pub const ROLE_ASSIGNMENTS_API_VERSION: &str = "2022-04-01";

/// Observe–plan–execute rounds before giving up; one round normally suffices, a second grants
/// role assignments to a just-created principal.
const MAX_ROUNDS: usize = 4;

/// Identities through Azure Resource Manager.
#[derive(Debug)]
pub struct ArmIdentities {
    arm: ArmClient,
    locks: KeyedLock,
}

fn identity_path(t: &AzureTarget, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        t.subscription_id, t.resource_group
    )
}

fn desired_state(d: &DesiredIdentity) -> DesiredState {
    DesiredState {
        identity_name: identity_name(&d.cluster),
        tags: identity_tags(&d.cluster),
        credential_name: credential_name(&d.issuer, AGENT_SUBJECT),
        issuer: d.issuer.clone(),
        subject: AGENT_SUBJECT.to_string(),
        audience: TOKEN_EXCHANGE_AUDIENCE.to_string(),
        role_definition_id: blob_contributor_role(&d.target.subscription_id),
        role_scopes: d.role_scopes.clone(),
    }
}

impl ArmIdentities {
    /// `http` is the transport (e.g. with an extra CA); `None` uses azure_core's default.
    pub fn new(
        config: ArmConfig,
        credential: Arc<dyn TokenCredential>,
        http: Option<reqwest::Client>,
    ) -> Self {
        Self {
            arm: ArmClient::new(
                &config.endpoint,
                &config.scope,
                credential,
                http,
                config.retry,
            ),
            locks: KeyedLock::default(),
        }
    }

    /// Reports the outcome of every ARM request to `observer` (for metrics).
    pub fn with_observer(mut self, observer: ArmObserver) -> Self {
        self.arm.observer = Some(observer);
        self
    }

    async fn identity_call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<client::Answer, IdentityError> {
        self.arm
            .call(method, path, MANAGED_IDENTITY_API_VERSION, body)
            .await
    }

    /// What ARM holds for the identity at `path`: the identity, its credentials, and the role
    /// assignments of its principal at the resource group and at `scopes` (and below them).
    async fn observe(
        &self,
        target: &AzureTarget,
        path: &str,
        scopes: &[String],
    ) -> Result<ObservedState, IdentityError> {
        let got = self.identity_call(Method::Get, path, None).await?;
        if got.status == 404 {
            return Ok(ObservedState::default());
        }
        let identity = model::identity(&got.body, path)?;
        let creds = self
            .arm
            .list(
                &format!("{path}/federatedIdentityCredentials"),
                MANAGED_IDENTITY_API_VERSION,
            )
            .await?;
        let rg = format!(
            "/subscriptions/{}/resourceGroups/{}",
            target.subscription_id, target.resource_group
        );
        let rg_prefix = format!("{}/", rg.to_lowercase());
        let mut list_at = vec![rg];
        list_at.extend(
            scopes
                .iter()
                .filter(|s| !s.to_lowercase().starts_with(&rg_prefix))
                .cloned(),
        );
        let mut assignments = Vec::new();
        for scope in list_at {
            let filter = format!(
                "{scope}/providers/Microsoft.Authorization/roleAssignments?$filter=principalId%20eq%20'{}'",
                identity.principal_id
            );
            let found = self.arm.list(&filter, ROLE_ASSIGNMENTS_API_VERSION).await?;
            for a in model::assignments(&found) {
                if !assignments
                    .iter()
                    .any(|b: &super::ObservedAssignment| b.id == a.id)
                {
                    assignments.push(a);
                }
            }
        }
        Ok(ObservedState {
            identity: Some(identity),
            credentials: model::credentials(&creds),
            assignments,
        })
    }
}

impl IdentityProvider for ArmIdentities {
    async fn ensure(&self, d: &DesiredIdentity) -> Result<IdentityInfo, IdentityError> {
        if !d.issuer.starts_with("https://") {
            return Err(IdentityError::Invalid(format!(
                "issuer {:?} of cluster {}/{} is not an https URL",
                d.issuer, d.cluster.namespace, d.cluster.name
            )));
        }
        let desired = desired_state(d);
        let path = identity_path(&d.target, &desired.identity_name);
        let _held = self.locks.lock(&path).await;
        let mut last = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let observed = self.observe(&d.target, &path, &d.role_scopes).await?;
            let actions = plan(&desired, &observed);
            if actions.is_empty() {
                let i = observed.identity.unwrap_or_default();
                return Ok(IdentityInfo {
                    name: desired.identity_name,
                    client_id: i.client_id,
                    principal_id: i.principal_id,
                    resource_id: if i.resource_id.is_empty() {
                        path
                    } else {
                        i.resource_id
                    },
                    federated_credential_name: desired.credential_name,
                    issuer: desired.issuer,
                    subject: desired.subject,
                });
            }
            tracing::info!(identity = %desired.identity_name, ?actions, "updating identity");
            for action in &actions {
                self.execute(action, &d.target, &path, &desired, &observed)
                    .await?;
            }
            last = actions;
        }
        Err(IdentityError::NotConverged {
            resource: path,
            remaining: format!("{last:?}"),
        })
    }

    async fn delete(
        &self,
        target: &AzureTarget,
        cluster: &ClusterKey,
    ) -> Result<(), IdentityError> {
        let path = identity_path(target, &identity_name(cluster));
        let _held = self.locks.lock(&path).await;
        let role = blob_contributor_role(&target.subscription_id);
        let observed = self.observe(target, &path, &[]).await?;
        let actions = plan_delete(&observed, &role);
        if !actions.is_empty() {
            tracing::info!(identity = %path, ?actions, "deleting identity");
        }
        let unused = DesiredState {
            identity_name: String::new(),
            tags: Default::default(),
            credential_name: String::new(),
            issuer: String::new(),
            subject: String::new(),
            audience: String::new(),
            role_definition_id: role,
            role_scopes: Vec::new(),
        };
        for action in &actions {
            self.execute(action, target, &path, &unused, &observed)
                .await?;
        }
        Ok(())
    }
}

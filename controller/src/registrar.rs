//! The production wiring of the reconcilers' two object-safe seams: [`AzureRegistrar`] (issuer
//! check, ARM identity, agent install) and [`AccessClients`] (cluster clients). Each delegates to
//! the adapter module that owns the external system; this file only translates types and errors.

use futures::future::BoxFuture;
use herbarium_api::constants::AGENT_SUBJECT;
use herbarium_api::garden::{Cluster, DiscoveryConfig, IdentityStatus};
use kube::{Client, ResourceExt};

use crate::access::{ClusterAccess, IssuerCheck};
use crate::agent_install::{AgentSpec, install};
use crate::identity::names::container_scope;
use crate::identity::{AzureTarget, ClusterKey, DesiredIdentity, IdentityProvider};
use crate::reconcile::cluster::{Registrar, StepError};
use crate::reconcile::{AgentClients, Error};

/// Settings for clusters whose DiscoveryConfig does not say (kubeconfig Clusters), and for the
/// agent every cluster gets.
#[derive(Clone, Debug)]
pub struct Defaults {
    /// Where identities of kubeconfig Clusters go; `None`: such Clusters cannot get one.
    pub target: Option<AzureTarget>,
    pub tenant_id: String,
    pub role_assignments: bool,
    pub authority_host: String,
    pub agent_image: String,
    pub agent_version: String,
}

pub struct AzureRegistrar<I, C> {
    pub identities: I,
    pub issuers: C,
    pub defaults: Defaults,
}

fn key(cluster: &Cluster) -> ClusterKey {
    ClusterKey {
        namespace: cluster.namespace().unwrap_or_default(),
        name: cluster.name_any(),
        uid: cluster.uid().unwrap_or_default(),
    }
}

impl<I: IdentityProvider, C: IssuerCheck> AzureRegistrar<I, C> {
    fn target(&self, config: Option<&DiscoveryConfig>) -> Result<(AzureTarget, bool), StepError> {
        match config {
            Some(c) => Ok((
                AzureTarget {
                    subscription_id: c.spec.azure.subscription_id.clone(),
                    resource_group: c.spec.azure.resource_group.clone(),
                    location: c.spec.azure.location.clone(),
                },
                c.spec.azure.role_assignments,
            )),
            None => self
                .defaults
                .target
                .clone()
                .map(|t| (t, self.defaults.role_assignments))
                .ok_or(StepError {
                    message: "the controller has no default Azure target for kubeconfig Clusters \
                          (set --subscription-id, --resource-group and --location)"
                        .into(),
                    retryable: false,
                }),
        }
    }

    fn tenant(&self, config: Option<&DiscoveryConfig>) -> String {
        config
            .map(|c| c.spec.azure.tenant_id.clone())
            .unwrap_or_else(|| self.defaults.tenant_id.clone())
    }
}

impl<I: IdentityProvider, C: IssuerCheck> Registrar for AzureRegistrar<I, C> {
    fn check_issuer<'a>(&'a self, issuer: &'a str) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            self.issuers.check(issuer).await.map_err(|e| StepError {
                retryable: e.retryable(),
                message: e.to_string(),
            })
        })
    }

    fn ensure_identity<'a>(
        &'a self,
        cluster: &'a Cluster,
        config: Option<&'a DiscoveryConfig>,
        issuer: &'a str,
        containers: Vec<(String, String)>,
    ) -> BoxFuture<'a, Result<IdentityStatus, StepError>> {
        Box::pin(async move {
            let (target, roles) = self.target(config)?;
            // Storage accounts are assumed to live in the identities' subscription and resource
            // group (docs/architecture.md); grant roles yourself when they do not.
            let role_scopes = if roles {
                containers
                    .iter()
                    .map(|(account, container)| {
                        container_scope(
                            &target.subscription_id,
                            &target.resource_group,
                            account,
                            container,
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let desired = DesiredIdentity {
                target,
                cluster: key(cluster),
                issuer: issuer.to_string(),
                role_scopes,
            };
            let info = self
                .identities
                .ensure(&desired)
                .await
                .map_err(|e| StepError {
                    retryable: e.retryable(),
                    message: e.to_string(),
                })?;
            Ok(IdentityStatus {
                client_id: info.client_id,
                principal_id: info.principal_id,
                resource_id: info.resource_id,
                federated_credential_name: info.federated_credential_name,
                issuer: info.issuer,
                subject: AGENT_SUBJECT.to_string(),
            })
        })
    }

    fn delete_identity<'a>(
        &'a self,
        cluster: &'a Cluster,
        config: Option<&'a DiscoveryConfig>,
    ) -> BoxFuture<'a, Result<(), StepError>> {
        Box::pin(async move {
            // A Cluster that never got an identity has nothing to delete.
            if cluster
                .status
                .as_ref()
                .and_then(|s| s.identity.as_ref())
                .is_none()
            {
                return Ok(());
            }
            let (target, _) = self.target(config)?;
            self.identities
                .delete(&target, &key(cluster))
                .await
                .map_err(|e| StepError {
                    retryable: e.retryable(),
                    message: e.to_string(),
                })
        })
    }

    fn install_agent<'a>(
        &'a self,
        client: &'a Client,
        identity: &'a IdentityStatus,
        config: Option<&'a DiscoveryConfig>,
        force: bool,
    ) -> BoxFuture<'a, Result<String, StepError>> {
        Box::pin(async move {
            let settings = config.map(|c| c.spec.agent.clone()).unwrap_or_default();
            let spec = AgentSpec {
                image: settings
                    .image
                    .unwrap_or_else(|| self.defaults.agent_image.clone()),
                image_pull_policy: settings.image_pull_policy,
                version: self.defaults.agent_version.clone(),
                client_id: identity.client_id.clone(),
                tenant_id: self.tenant(config),
                authority_host: self.defaults.authority_host.clone(),
                resources: settings.resources,
            };
            let report = install(client, &spec, force).await.map_err(|e| StepError {
                retryable: e.retryable(),
                message: e.to_string(),
            })?;
            if !report.applied.is_empty() || !report.pruned.is_empty() {
                tracing::info!(applied = ?report.applied, pruned = ?report.pruned, force, "agent install");
            }
            Ok(spec.version)
        })
    }
}

/// [`AgentClients`] over a [`ClusterAccess`].
pub struct AccessClients<A>(pub A);

impl<A: ClusterAccess> AgentClients for AccessClients<A> {
    fn client<'a>(&'a self, cluster: &'a Cluster) -> BoxFuture<'a, Result<Client, Error>> {
        Box::pin(async move {
            self.0.client(cluster).await.map_err(|e| Error::Cluster {
                cluster: cluster.name_any(),
                retryable: e.retryable(),
                message: e.to_string(),
            })
        })
    }
}

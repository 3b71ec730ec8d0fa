//! Cluster: issuer → Azure identity → connection → agent install → heartbeat, then the status
//! from [`crate::cluster_status`]. A finalizer (`herbarium.io/identity`) deletes the identity
//! (credential, role assignments, identity) when the Cluster goes; a Cluster whose Shoot is gone
//! is deleted (its backups stay). Writes happen only when something changed.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use herbarium_api::constants::{
    AGENT_NAME, AGENT_NAMESPACE, AGENT_VERSION_ANNOTATION, CLUSTER_FINALIZER,
};
use herbarium_api::garden::{Cluster, DiscoveryConfig, IdentityStatus};
use herbarium_api::gardener::Shoot;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{DeleteParams, GetParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};

use super::{Context, Error, add_finalizer, patch_status_if_changed, remove_finalizer};
use crate::cluster_status::{
    Heartbeat, Observed, failed_step, next_status, no_managed_issuer, requeue,
};

/// A failed registration step: the message for the condition, and whether a retry may help.
#[derive(Debug, Clone)]
pub struct StepError {
    pub message: String,
    pub retryable: bool,
}

/// What the Cluster reconciler needs from Azure and from the cluster. Object-safe; production
/// wires the ARM identity provider, the issuer check and the agent installer behind it.
pub trait Registrar: Send + Sync {
    /// Whether `issuer` serves an OIDC discovery document naming itself.
    fn check_issuer<'a>(&'a self, issuer: &'a str) -> BoxFuture<'a, Result<(), StepError>>;
    /// Ensures the cluster's identity and federated credential for `issuer`, with role
    /// assignments on the given containers (`account/container`) when `config` asks for them.
    fn ensure_identity<'a>(
        &'a self,
        cluster: &'a Cluster,
        config: Option<&'a DiscoveryConfig>,
        issuer: &'a str,
        containers: Vec<(String, String)>,
    ) -> BoxFuture<'a, Result<IdentityStatus, StepError>>;
    /// Deletes everything the identity step created for `cluster`; gone is fine.
    fn delete_identity<'a>(
        &'a self,
        cluster: &'a Cluster,
        config: Option<&'a DiscoveryConfig>,
    ) -> BoxFuture<'a, Result<(), StepError>>;
    /// Installs (or updates) the agent, writing only what differs from what is there (`force`:
    /// everything, to repair objects changed by hand); returns the installed version.
    fn install_agent<'a>(
        &'a self,
        client: &'a Client,
        identity: &'a IdentityStatus,
        config: Option<&'a DiscoveryConfig>,
        force: bool,
    ) -> BoxFuture<'a, Result<String, StepError>>;
}

/// How long a successful identity ensure is trusted before ARM is asked again (reads only,
/// unless someone changed the identity in Azure).
pub const IDENTITY_RECHECK: Duration = Duration::from_secs(3600);

fn fingerprint(value: &impl std::hash::Hash) -> u64 {
    use std::hash::Hasher;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Ready clusters are looked at again after this long (heartbeat check; reads only).
pub const RECHECK: Duration = Duration::from_secs(30);

/// How long a successful agent install is trusted before the cluster's objects are read again
/// (and anything missing re-applied).
pub const AGENT_RECHECK: Duration = Duration::from_secs(3600);

/// While the heartbeat is stale, the agent is re-installed (forced) at most this often: once
/// right away when a beating agent stops, then with this pause, so that an agent that cannot
/// start does not turn into a stream of writes.
pub const AGENT_REPAIR_EVERY: Duration = Duration::from_secs(120);

pub async fn reconcile(cluster: Arc<Cluster>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.stores.ready().await;
    let namespace = cluster.namespace().unwrap_or_default();
    let api: Api<Cluster> = Api::namespaced(ctx.garden.clone(), &namespace);
    let shoot = shoot_of(&ctx, &cluster);
    let config = config_of(&ctx, &cluster);
    if cluster.metadata.deletion_timestamp.is_some() {
        if let Err(e) = ctx
            .registrar
            .delete_identity(&cluster, config.as_deref())
            .await
        {
            return Err(Error::Cluster {
                cluster: cluster.name_any(),
                message: format!("deleting its Azure identity: {}", e.message),
                retryable: e.retryable,
            });
        }
        remove_finalizer(&api, cluster.as_ref(), CLUSTER_FINALIZER).await?;
        ctx.memo.forget(&cluster.uid().unwrap_or_default());
        return Ok(Action::await_change());
    }
    let shoot_gone = shoot
        .as_ref()
        .is_none_or(|s| s.metadata.deletion_timestamp.is_some());
    if cluster.spec.gardener.is_some() && shoot_gone {
        // The Shoot is gone or going: so is its Cluster (its backups stay in the garden).
        api.delete(&cluster.name_any(), &DeleteParams::default())
            .await
            .map_err(Error::kube("deleting the Cluster of a deleted Shoot"))?;
        return Ok(Action::await_change());
    }
    add_finalizer(&api, cluster.as_ref(), CLUSTER_FINALIZER).await?;
    let previous = cluster.status.clone().unwrap_or_default();
    let observed = observe(&ctx, &cluster, shoot.as_deref(), config.as_deref()).await?;
    let mut status = next_status(
        &previous,
        &observed,
        chrono::Utc::now(),
        cluster.metadata.generation,
    );
    status.cluster_uid = previous
        .cluster_uid
        .clone()
        .or_else(|| cluster_uid(&cluster));
    let written =
        patch_status_if_changed(&api, &cluster.name_any(), cluster.status.as_ref(), &status)
            .await
            .map_err(Error::kube(format!(
                "writing the status of Cluster {}",
                cluster.name_any()
            )))?;
    if written {
        tracing::debug!(cluster = %cluster.name_any(), phase = ?status.phase, had_status = cluster.status.is_some(), "Cluster status written");
    }
    ctx.publish(cluster.as_ref(), crate::events::cluster(&previous, &status))
        .await;
    let failures = ctx
        .memo
        .count_failure(&cluster.uid().unwrap_or_default(), failed_step(&observed));
    Ok(Action::requeue(requeue(&status, &observed, failures)))
}

/// The UID backups of this cluster are stored under: the Shoot's (stable across Cluster
/// re-registration), else the Cluster's own.
fn cluster_uid(cluster: &Cluster) -> Option<String> {
    match &cluster.spec.gardener {
        Some(g) => Some(g.shoot_uid.clone()),
        None => cluster.uid(),
    }
}

fn shoot_of(ctx: &Context, cluster: &Cluster) -> Option<Arc<Shoot>> {
    let g = cluster.spec.gardener.as_ref()?;
    let namespace = cluster.namespace().unwrap_or_default();
    ctx.stores
        .shoots
        .get(&ObjectRef::new(&g.shoot_name).within(&namespace))
}

fn config_of(ctx: &Context, cluster: &Cluster) -> Option<Arc<DiscoveryConfig>> {
    let g = cluster.spec.gardener.as_ref()?;
    ctx.stores.configs.get(&ObjectRef::new(&g.discovery_config))
}

/// Runs the registration steps in order, stopping at the first failure.
async fn observe(
    ctx: &Context,
    cluster: &Cluster,
    shoot: Option<&Shoot>,
    config: Option<&DiscoveryConfig>,
) -> Result<Observed, Error> {
    let mut o = Observed {
        managed: true,
        ..Default::default()
    };
    let issuer = match (&cluster.spec.gardener, shoot) {
        (Some(_), Some(shoot)) => {
            o.managed = super::discovery::adopter(ctx, shoot).is_some();
            o.hibernated = shoot.is_hibernated();
            o.shoot_error = shoot_error(shoot);
            match shoot.issuer_url() {
                Some(url) if shoot.requests_managed_issuer() => Ok(url.to_string()),
                _ => {
                    o.permanent = true;
                    Err(no_managed_issuer())
                }
            }
        }
        (_, _) => match &cluster.spec.kubeconfig {
            Some(k) => match ctx.registrar.check_issuer(&k.issuer_url).await {
                Ok(()) => Ok(k.issuer_url.clone()),
                Err(e) => {
                    o.permanent = !e.retryable;
                    Err(e.message)
                }
            },
            None => {
                o.permanent = true;
                Err("the Cluster has no source".to_string())
            }
        },
    };
    if !o.managed || o.hibernated {
        return Ok(o);
    }
    o.issuer = Some(issuer.clone());
    let Ok(issuer) = issuer else { return Ok(o) };
    let containers = assigned_containers(ctx, cluster);
    let uid = cluster.uid().unwrap_or_default();
    let azure = config.map(|c| serde_json::to_string(&c.spec.azure).unwrap_or_default());
    let identity_key = fingerprint(&(&issuer, &containers, &azure));
    let remembered = ctx.memo.identity(&uid, identity_key, IDENTITY_RECHECK);
    let identity = match remembered {
        Some(identity) => identity,
        None => match ctx
            .registrar
            .ensure_identity(cluster, config, &issuer, containers)
            .await
        {
            Ok(identity) => {
                ctx.memo
                    .remember_identity(&uid, identity_key, identity.clone());
                identity
            }
            Err(e) => {
                ctx.memo.forget_identity(&uid);
                o.permanent = !e.retryable;
                o.identity = Some(Err(e.message));
                return Ok(o);
            }
        },
    };
    o.identity = Some(Ok(identity.clone()));
    let client = match ctx.clusters.client(cluster).await {
        Ok(client) => client,
        Err(e) => {
            o.permanent = !e.retryable();
            o.reachable = Some(Err(e.to_string()));
            return Ok(o);
        }
    };
    o.reachable = Some(Ok(()));
    let agent = config.map(|c| serde_json::to_string(&c.spec.agent).unwrap_or_default());
    let agent_key = fingerprint(&(
        &identity.client_id,
        &agent,
        config.map(|c| &c.spec.azure.tenant_id),
    ));
    o.agent_deployed = Some(match ctx.memo.agent(&uid, agent_key, AGENT_RECHECK) {
        Some(version) => Ok(version),
        None => {
            let force = ctx.memo.agent_needs_repair(&uid);
            match ctx
                .registrar
                .install_agent(&client, &identity, config, force)
                .await
            {
                Ok(version) => {
                    ctx.memo.remember_agent(&uid, agent_key, version.clone());
                    Ok(version)
                }
                Err(e) => {
                    o.permanent = !e.retryable;
                    Err(e.message)
                }
            }
        }
    });
    if matches!(o.agent_deployed, Some(Ok(_))) {
        let beat = heartbeat(&client).await;
        let fresh = matches!(&beat, Ok(Some(h)) if chrono::Utc::now() - h.renewed <= crate::cluster_status::HEARTBEAT_STALE_AFTER);
        if fresh {
            ctx.memo.agent_beating(&uid);
        } else {
            ctx.memo.agent_stale(&uid, AGENT_REPAIR_EVERY);
        }
        o.heartbeat = Some(beat);
    }
    Ok(o)
}

fn shoot_error(shoot: &Shoot) -> Option<String> {
    let op = shoot.status.as_ref()?.last_operation.as_ref()?;
    matches!(op.state.as_deref(), Some("Failed" | "Error")).then(|| {
        format!(
            "{} {}: {}",
            op.type_.as_deref().unwrap_or("operation"),
            op.state.as_deref().unwrap_or_default(),
            op.description.as_deref().unwrap_or_default()
        )
    })
}

/// `(account, container)` of every BackupLocation this cluster is assigned to (from the cache).
fn assigned_containers(ctx: &Context, cluster: &Cluster) -> Vec<(String, String)> {
    let namespace = cluster.namespace();
    let mut containers: Vec<(String, String)> = ctx
        .stores
        .locations
        .state()
        .iter()
        .filter(|l| l.namespace() == namespace && l.spec.clusters.contains(&cluster.name_any()))
        .map(|l| {
            (
                l.spec.azure.storage_account.clone(),
                l.spec.azure.container.clone(),
            )
        })
        .collect();
    containers.sort();
    containers.dedup();
    containers
}

async fn heartbeat(client: &Client) -> Result<Option<Heartbeat>, String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), AGENT_NAMESPACE);
    // From the API server's cache: a heartbeat a few milliseconds old is as good, and 2,000
    // clusters rechecked every 30 s should not each cost a read in etcd.
    let lease = match leases.get_with(AGENT_NAME, &GetParams::any()).await {
        Ok(lease) => Some(lease),
        Err(kube::Error::Api(s)) if s.code == 404 => None,
        Err(e) => return Err(e.to_string()),
    };
    Ok(lease.and_then(|l| {
        let spec = l.spec?;
        Some(Heartbeat {
            holder: spec.holder_identity.unwrap_or_default(),
            version: l
                .metadata
                .annotations
                .and_then(|a| a.get(AGENT_VERSION_ANNOTATION).cloned()),
            renewed: crate::time::to_chrono(&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                spec.renew_time?.0,
            )),
        })
    }))
}

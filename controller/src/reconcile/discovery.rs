//! Discovery: every Shoot a DiscoveryConfig adopts gets a Cluster (same name, same project
//! namespace); DiscoveryConfig status counts what it found. Whether an existing Cluster is still
//! managed, and what happens when its Shoot goes, is the Cluster reconciler's decision, so
//! removing the opt-in annotation never deletes anything.

use std::sync::Arc;

use herbarium_api::constants::{
    CLUSTER_FINALIZER, CONTROLLER_MANAGER, DISCOVERY_CONFIG_LABEL, MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
};
use herbarium_api::garden::{
    Cluster, ClusterPhase, ClusterSpec, DiscoveryConfig, DiscoveryConfigStatus, GardenerSource,
};
use herbarium_api::gardener::{Project, Shoot};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::Store;
use kube::{Api, ResourceExt};

use super::{Context, Error, conditions, patch_status_if_changed};
use crate::discovery::{ProjectInfo, adopting_config, selects};
use crate::events::{Note, reason};

/// The project a Shoot's namespace belongs to (Gardener: `Project.spec.namespace`).
pub fn project_of(projects: &Store<Project>, namespace: &str) -> ProjectInfo {
    projects
        .state()
        .iter()
        .find(|p| p.spec.namespace.as_deref() == Some(namespace))
        .map(|p| ProjectInfo {
            name: p.name_any(),
            labels: p.labels().clone(),
        })
        // A namespace without a Project (not Gardener-managed): named after itself.
        .unwrap_or_else(|| ProjectInfo {
            name: namespace.trim_start_matches("garden-").to_string(),
            ..Default::default()
        })
}

/// The DiscoveryConfig that adopts `shoot` now, if any.
pub fn adopter(ctx: &Context, shoot: &Shoot) -> Option<Arc<DiscoveryConfig>> {
    let configs: Vec<DiscoveryConfig> = ctx
        .stores
        .configs
        .state()
        .iter()
        .map(|c| (**c).clone())
        .collect();
    let project = project_of(&ctx.stores.projects, &shoot.namespace().unwrap_or_default());
    let name = adopting_config(&configs, &project, shoot)?.name_any();
    ctx.stores
        .configs
        .state()
        .into_iter()
        .find(|c| c.name_any() == name)
}

/// Creates the Cluster of an adopted Shoot, or points an existing one at the current Shoot UID and
/// config; writes nothing when it already matches.
pub async fn reconcile_shoot(shoot: Arc<Shoot>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.stores.ready().await;
    let Some(config) = adopter(&ctx, &shoot) else {
        tracing::debug!(shoot = %shoot.name_any(), "no DiscoveryConfig adopts the Shoot");
        return Ok(Action::await_change());
    };
    tracing::debug!(shoot = %shoot.name_any(), config = %config.name_any(), "adopted");
    if shoot.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let namespace = shoot.namespace().unwrap_or_default();
    let api: Api<Cluster> = Api::namespaced(ctx.garden.clone(), &namespace);
    let source = GardenerSource {
        shoot_name: shoot.name_any(),
        shoot_uid: shoot.uid().unwrap_or_default(),
        discovery_config: config.name_any(),
    };
    // From the cache: the periodic pass over every Shoot must not cost a GET each. A Cluster the
    // cache does not show yet is created, and 409 says it exists.
    let existing = ctx
        .stores
        .clusters
        .get(&kube::runtime::reflector::ObjectRef::new(&shoot.name_any()).within(&namespace))
        .map(|c| (*c).clone());
    match existing {
        Some(cluster) if cluster.spec.gardener.as_ref() == Some(&source) => {}
        Some(cluster) if cluster.spec.gardener.is_none() => {
            tracing::warn!(cluster = %cluster.name_any(), %namespace, "a kubeconfig Cluster has the name of an adopted Shoot; leaving it alone");
        }
        Some(cluster) => {
            let patch = serde_json::json!({ "spec": { "gardener": source } });
            let patched = api
                .patch(
                    &shoot.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
                .map_err(Error::kube("pointing a Cluster at its Shoot"))?;
            let old = cluster.spec.gardener.unwrap_or_default();
            let note = if old.shoot_uid == source.shoot_uid {
                Note::normal(
                    reason::ADOPTED,
                    "Discover",
                    format!(
                        "Shoot {} adopted by DiscoveryConfig {} (was {})",
                        source.shoot_name, source.discovery_config, old.discovery_config
                    ),
                )
            } else {
                Note::normal(
                    reason::SHOOT_RECREATED,
                    "Discover",
                    format!(
                        "Shoot {} was re-created (UID {} → {}); the Cluster follows it",
                        source.shoot_name, old.shoot_uid, source.shoot_uid
                    ),
                )
            };
            ctx.publish(&patched, [note]).await;
        }
        None => {
            let cluster = Cluster {
                metadata: ObjectMeta {
                    name: Some(shoot.name_any()),
                    labels: Some(
                        [
                            (DISCOVERY_CONFIG_LABEL.to_string(), config.name_any()),
                            (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
                        ]
                        .into(),
                    ),
                    // Born with the finalizer the Cluster reconciler would add first thing:
                    // one write fewer per Shoot.
                    finalizers: Some(vec![CLUSTER_FINALIZER.to_string()]),
                    ..Default::default()
                },
                spec: ClusterSpec {
                    gardener: Some(source),
                    kubeconfig: None,
                },
                status: None,
            };
            let params = PostParams {
                field_manager: Some(CONTROLLER_MANAGER.into()),
                ..Default::default()
            };
            match api.create(&params, &cluster).await {
                // No event: the new Cluster names its DiscoveryConfig (label and spec), and its
                // registration ends in one (Ready, or the step that failed). Re-adoption by
                // another config is an event (above).
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(Error::kube("registering a Shoot as a Cluster")(e)),
            }
        }
    }
    Ok(Action::await_change())
}

/// Counts of one DiscoveryConfig, from the stores (pure).
pub fn config_status(
    config: &DiscoveryConfig,
    shoots: &[Arc<Shoot>],
    projects: &Store<Project>,
    clusters: &[Arc<Cluster>],
) -> DiscoveryConfigStatus {
    let mut status = config.status.clone().unwrap_or_default();
    let mut invalid = None;
    status.discovered = 0;
    for shoot in shoots {
        let project = project_of(projects, &shoot.namespace().unwrap_or_default());
        match selects(&config.spec, &project, shoot) {
            Ok(true) => status.discovered += 1,
            Ok(false) => {}
            Err(e) => invalid = Some(e.to_string()),
        }
    }
    let mine = clusters.iter().filter(|c| {
        c.spec
            .gardener
            .as_ref()
            .is_some_and(|g| g.discovery_config == config.name_any())
    });
    let (mut managed, mut unmanaged, mut failed) = (0, 0, 0);
    for cluster in mine {
        let s = cluster.status.clone().unwrap_or_default();
        match (s.managed, s.phase) {
            (_, Some(ClusterPhase::Failed)) => failed += 1,
            (true, _) => managed += 1,
            (false, Some(_)) => unmanaged += 1,
            (false, None) => {}
        }
    }
    (status.managed, status.unmanaged, status.failed) = (managed, unmanaged, failed);
    status.observed_generation = config.metadata.generation;
    match invalid {
        Some(message) => conditions::set(
            &mut status.conditions,
            "Ready",
            false,
            "InvalidSelector",
            message,
            config.metadata.generation,
        ),
        None if config.spec.suspend => conditions::set(
            &mut status.conditions,
            "Ready",
            false,
            "Suspended",
            "discovery is suspended: no new Shoots are adopted",
            config.metadata.generation,
        ),
        None => conditions::set(
            &mut status.conditions,
            "Ready",
            true,
            "Watching",
            format!("{} Shoots selected, {managed} managed", status.discovered),
            config.metadata.generation,
        ),
    }
    status
}

pub async fn reconcile_config(
    config: Arc<DiscoveryConfig>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    ctx.stores.ready().await;
    let status = config_status(
        &config,
        &ctx.stores.shoots.state(),
        &ctx.stores.projects,
        &ctx.stores.clusters.state(),
    );
    let api: Api<DiscoveryConfig> = Api::all(ctx.garden.clone());
    patch_status_if_changed(&api, &config.name_any(), config.status.as_ref(), &status)
        .await
        .map_err(Error::kube("writing DiscoveryConfig status"))?;
    Ok(Action::await_change())
}

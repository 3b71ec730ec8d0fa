//! BackupLocation → one LocationAccess in each assigned cluster; the agents' validations back
//! into the location's status and phase. Clusters taken off the list lose their LocationAccess;
//! deleting the location removes them all (finalizer `herbarium.io/location`). Syncs are in
//! [`super::sync`], the reclaim of orphaned backups in [`super::reclaim`].

use std::sync::Arc;
use std::time::Duration;

use herbarium_api::agent::{GardenRef, LocationAccess, LocationAccessSpec};
use herbarium_api::constants::{
    AGENT_NAMESPACE, LOCATION_FINALIZER, LOCATION_LABEL, VALIDATE_REQUESTED_ANNOTATION,
};
use herbarium_api::garden::{
    BackupLocation, BackupLocationStatus, Cluster, ClusterValidation, ValidationState,
};
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};

use super::clients::ready_cluster;
use super::{Context, Error, add_finalizer, apply, reclaim, remove_finalizer, sync};
use crate::events;
use crate::location::location_phase;

pub async fn reconcile(location: Arc<BackupLocation>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = location.namespace().unwrap_or_default();
    let api: Api<BackupLocation> = Api::namespaced(ctx.garden.clone(), &namespace);
    let previous = location.status.clone().unwrap_or_default();
    if location.metadata.deletion_timestamp.is_some() {
        let mut all: Vec<String> = location.spec.clusters.clone();
        all.extend(previous.clusters.iter().map(|c| c.cluster.clone()));
        for cluster in all {
            remove_access(&ctx, &namespace, &cluster, &location.name_any()).await?;
        }
        remove_finalizer(&api, location.as_ref(), LOCATION_FINALIZER).await?;
        return Ok(Action::await_change());
    }
    add_finalizer(&api, location.as_ref(), LOCATION_FINALIZER).await?;
    let request = location
        .annotations()
        .get(VALIDATE_REQUESTED_ANNOTATION)
        .cloned();
    let mut status = previous.clone();
    status.clusters = Vec::new();
    let mut served_everywhere = true;
    for cluster in &location.spec.clusters {
        let (validation, served) =
            validate_in(&ctx, &location, cluster, request.as_deref()).await?;
        served_everywhere &= served;
        status.clusters.push(validation);
    }
    for gone in previous
        .clusters
        .iter()
        .filter(|c| !location.spec.clusters.contains(&c.cluster))
    {
        remove_access(&ctx, &namespace, &gone.cluster, &location.name_any()).await?;
    }
    let states: Vec<ValidationState> = status.clusters.iter().map(|c| c.state).collect();
    status.phase = Some(location_phase(&states));
    if served_everywhere {
        status.last_validate_request = request;
    }
    status.observed_generation = location.metadata.generation;
    let sync_wait = sync::reconcile(&ctx, &location, &mut status).await?;
    let reclaim_wait = reclaim::reconcile(&ctx, &location, &mut status).await?;
    write_status(&api, &location, &previous, status.clone()).await?;
    ctx.publish(location.as_ref(), events::location(&previous, &status))
        .await;
    let settled = states
        .iter()
        .all(|s| matches!(s, ValidationState::Valid | ValidationState::Failed));
    let wait = if settled {
        Duration::from_secs(300)
    } else {
        Duration::from_secs(10)
    };
    let wait = [sync_wait, reclaim_wait]
        .into_iter()
        .flatten()
        .fold(wait, Duration::min);
    Ok(Action::requeue(wait))
}

/// Adds a watch on Clusters to the location controller: a cluster turning Ready or not (phase,
/// managed, storage UID) changes what its locations can do — validate, sync, reclaim orphans —
/// so each location listing it is reconciled. Other Cluster changes trigger nothing.
pub fn watch_clusters(
    controller: Controller<BackupLocation>,
    garden: &Client,
) -> Controller<BackupLocation> {
    let locations = controller.store();
    // What each Cluster looked like when last seen (a hand-made predicate filter; kube's needs
    // an unstable feature for controllers).
    let seen = std::sync::Mutex::new(std::collections::HashMap::<(String, String), u64>::new());
    controller.watches(
        Api::<Cluster>::all(garden.clone()),
        watcher::Config::default().any_semantic(),
        move |cluster: Cluster| {
            let namespace = cluster.namespace();
            let name = cluster.name_any();
            let key = (namespace.clone().unwrap_or_default(), name.clone());
            let now = registration(&cluster);
            let before = seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key, now);
            let changed = before != Some(now);
            locations
                .state()
                .into_iter()
                .filter(|l| {
                    changed && l.namespace() == namespace && l.spec.clusters.contains(&name)
                })
                .map(|l| ObjectRef::from(l.as_ref()))
                .collect::<Vec<_>>()
        },
    )
}

/// What of a Cluster matters to its locations.
fn registration(cluster: &Cluster) -> u64 {
    use std::hash::{Hash, Hasher};
    let status = cluster.status.as_ref();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        status.and_then(|s| s.phase).map(|p| format!("{p:?}")),
        status.map(|s| s.managed),
        status.and_then(|s| s.cluster_uid.clone()),
        cluster.metadata.deletion_timestamp.is_some(),
    )
        .hash(&mut h);
    h.finish()
}

/// Writes the status when it changed, leaving `orphaned` to [`super::orphans`].
async fn write_status(
    api: &Api<BackupLocation>,
    location: &BackupLocation,
    previous: &BackupLocationStatus,
    mut status: BackupLocationStatus,
) -> Result<(), Error> {
    status.orphaned = previous.orphaned.clone();
    if &status == previous {
        return Ok(());
    }
    let mut value = serde_json::to_value(&status).expect("status serialises");
    if let Some(map) = value.as_object_mut() {
        map.remove("orphaned");
        // Merge patch: absent keys would be kept, so clear what is now empty.
        map.entry("clusters").or_insert(serde_json::json!([]));
    }
    let patch = serde_json::json!({ "status": value });
    api.patch_status(
        &location.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(Error::kube(format!(
        "writing the status of BackupLocation {}",
        location.name_any()
    )))?;
    Ok(())
}

/// The LocationAccess a cluster gets for `location`.
pub fn access_spec(
    location: &BackupLocation,
    cluster_uid: &str,
    request: Option<&str>,
) -> LocationAccessSpec {
    let azure = &location.spec.azure;
    LocationAccessSpec {
        storage_account: azure.storage_account.clone(),
        container: azure.container.clone(),
        prefix: azure.prefix.clone(),
        endpoint: azure.account_url(),
        cluster_uid: cluster_uid.to_string(),
        validate_request: request.map(str::to_string),
        location: GardenRef {
            namespace: location.namespace().unwrap_or_default(),
            name: location.name_any(),
            uid: location.uid(),
        },
    }
}

/// Ensures the LocationAccess in `cluster` and reads its validation. The flag says whether the
/// current validate request has been served there.
async fn validate_in(
    ctx: &Context,
    location: &BackupLocation,
    cluster: &str,
    request: Option<&str>,
) -> Result<(ClusterValidation, bool), Error> {
    let namespace = location.namespace().unwrap_or_default();
    let pending = |message: String| ClusterValidation {
        cluster: cluster.to_string(),
        state: ValidationState::Pending,
        message: Some(message),
        ..Default::default()
    };
    let ready = match ready_cluster(&ctx.garden, ctx.clusters.as_ref(), &namespace, cluster).await?
    {
        Ok(ready) => ready,
        Err(reason) => return Ok((pending(reason), false)),
    };
    let api: Api<LocationAccess> = Api::namespaced(ready.client.clone(), AGENT_NAMESPACE);
    let name = location.name_any();
    let spec = access_spec(location, &ready.uid, request);
    let current = api
        .get_opt(&name)
        .await
        .map_err(Error::kube("reading the LocationAccess"))?;
    let access = match current {
        Some(access) if access.spec == spec => access,
        _ => {
            let desired = LocationAccess {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some([(LOCATION_LABEL.to_string(), name.clone())].into()),
                    ..Default::default()
                },
                spec,
                status: None,
            };
            apply(&api, &name, &desired)
                .await
                .map_err(Error::kube("writing the LocationAccess"))?
        }
    };
    let Some(status) = access
        .status
        .filter(|s| s.observed_generation == access.metadata.generation)
    else {
        return Ok((
            ClusterValidation {
                cluster: cluster.to_string(),
                state: ValidationState::InProgress,
                message: Some("waiting for the agent to validate".into()),
                ..Default::default()
            },
            false,
        ));
    };
    let served = request.is_none() || status.last_validate_request.as_deref() == request;
    Ok((
        ClusterValidation {
            cluster: cluster.to_string(),
            state: if served {
                status.state
            } else {
                ValidationState::InProgress
            },
            reason: status.reason,
            message: status.message,
            last_validated: status.last_validated,
        },
        served,
    ))
}

async fn remove_access(
    ctx: &Context,
    namespace: &str,
    cluster: &str,
    name: &str,
) -> Result<(), Error> {
    // An unreachable cluster keeps a stale LocationAccess; it holds no secret and is replaced or
    // removed the next time the location is reconciled while the cluster is ready.
    let Ok(ready) = ready_cluster(&ctx.garden, ctx.clusters.as_ref(), namespace, cluster).await?
    else {
        return Ok(());
    };
    let api: Api<LocationAccess> = Api::namespaced(ready.client, AGENT_NAMESPACE);
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::kube("deleting a LocationAccess")(e)),
    }
}

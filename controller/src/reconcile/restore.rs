//! Restore → RestoreJob in the target cluster, and the job's status back. Refused when the
//! backup is not complete or the target cluster has no validated access to the backup's location:
//! the agent could not read it, and the garden never reads storage itself.

use std::sync::Arc;
use std::time::Duration;

use herbarium_api::agent::{BackupSource, GardenRef, RestoreJob, RestoreJobSpec};
use herbarium_api::common::{BackupPhase, RestorePhase};
use herbarium_api::constants::AGENT_NAMESPACE;
use herbarium_api::garden::{Backup, BackupLocation, Restore, RestoreStatus, ValidationState};
use kube::api::ObjectMeta;
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::clients::ready_cluster;
use super::{Context, Error, apply, conditions, names, patch_status_if_changed};
use crate::events::{self, reason};

/// Condition: the RestoreJob is in the target cluster (or why not).
pub const SCHEDULED: &str = "Scheduled";

pub async fn reconcile(restore: Arc<Restore>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = restore.namespace().unwrap_or_default();
    let api: Api<Restore> = Api::namespaced(ctx.garden.clone(), &namespace);
    let mut status = restore.status.clone().unwrap_or_default();
    status.observed_generation = restore.metadata.generation;
    let action = if is_final(&status) {
        Action::await_change()
    } else {
        match plan(&restore, &ctx, &mut status).await? {
            Err((why, message)) => {
                status.run.phase.get_or_insert(RestorePhase::Pending);
                conditions::set(
                    &mut status.conditions,
                    SCHEDULED,
                    false,
                    why,
                    message,
                    restore.metadata.generation,
                );
                Action::requeue(Duration::from_secs(30))
            }
            Ok(()) => {
                if is_final(&status) {
                    Action::await_change()
                } else {
                    Action::requeue(Duration::from_secs(5))
                }
            }
        }
    };
    patch_status_if_changed(&api, &restore.name_any(), restore.status.as_ref(), &status)
        .await
        .map_err(Error::kube(format!(
            "writing the status of Restore {}",
            restore.name_any()
        )))?;
    ctx.publish(
        restore.as_ref(),
        events::restore(restore.status.as_ref(), &status),
    )
    .await;
    Ok(action)
}

fn is_final(status: &RestoreStatus) -> bool {
    matches!(
        status.run.phase,
        Some(RestorePhase::Succeeded | RestorePhase::PartiallySucceeded | RestorePhase::Failed)
    )
}

/// Why a restore does not run (yet): the condition's reason (`Refused` or `Waiting`) and message.
type NotNow = (&'static str, String);

/// Checks the backup and the target, writes the job and copies its status into `status`.
async fn plan(
    restore: &Restore,
    ctx: &Context,
    status: &mut RestoreStatus,
) -> Result<Result<(), NotNow>, Error> {
    let namespace = restore.namespace().unwrap_or_default();
    let backups: Api<Backup> = Api::namespaced(ctx.garden.clone(), &namespace);
    let Some(backup) = backups
        .get_opt(&restore.spec.backup)
        .await
        .map_err(Error::kube("reading the Backup"))?
    else {
        return Ok(Err((
            reason::WAITING,
            format!(
                "no Backup {:?} in namespace {namespace}",
                restore.spec.backup
            ),
        )));
    };
    let backup_status = backup.status.clone().unwrap_or_default();
    let (
        Some(BackupPhase::Succeeded | BackupPhase::PartiallySucceeded),
        Some(path),
        Some(cluster_uid),
    ) = (
        backup_status.run.phase,
        backup_status.run.storage_path.clone(),
        backup_status.cluster_uid.clone(),
    )
    else {
        return Ok(Err((
            reason::WAITING,
            format!("Backup {} is not complete", backup.name_any()),
        )));
    };
    let target = restore
        .spec
        .target_cluster
        .clone()
        .unwrap_or_else(|| backup.spec.template.cluster.clone());
    status.target_cluster = Some(target.clone());
    let location_name = &backup.spec.template.location;
    let locations: Api<BackupLocation> = Api::namespaced(ctx.garden.clone(), &namespace);
    let location = locations
        .get_opt(location_name)
        .await
        .map_err(Error::kube("reading the BackupLocation"))?;
    let valid = location
        .as_ref()
        .and_then(|l| l.status.as_ref())
        .is_some_and(|s| {
            s.clusters
                .iter()
                .any(|c| c.cluster == target && c.state == ValidationState::Valid)
        });
    if !valid {
        return Ok(Err((
            reason::REFUSED,
            format!(
                "refused: cluster {target} has no validated access to BackupLocation \
                 {location_name}, where Backup {} is stored; assign the cluster to the location \
                 first",
                backup.name_any()
            ),
        )));
    }
    let ready = match ready_cluster(&ctx.garden, ctx.clusters.as_ref(), &namespace, &target).await?
    {
        Ok(ready) => ready,
        Err(why) => return Ok(Err((reason::WAITING, why))),
    };
    let jobs: Api<RestoreJob> = Api::namespaced(ready.client.clone(), AGENT_NAMESPACE);
    let name = names::job_name(&restore.name_any(), &restore.uid().unwrap_or_default());
    let job = match jobs
        .get_opt(&name)
        .await
        .map_err(Error::kube("reading the RestoreJob"))?
    {
        Some(job) => job,
        None => {
            let job = RestoreJob {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..Default::default()
                },
                spec: RestoreJobSpec {
                    backup: BackupSource {
                        name: backup.name_any(),
                        uid: super::backup::storage_uid(&backup),
                        cluster_uid,
                        storage_path: path,
                    },
                    location: location_name.clone(),
                    filter: restore.spec.filter.clone(),
                    garden: Some(GardenRef {
                        namespace,
                        name: restore.name_any(),
                        uid: restore.uid(),
                    }),
                },
                status: None,
            };
            apply(&jobs, &name, &job)
                .await
                .map_err(Error::kube("creating the RestoreJob"))?
        }
    };
    conditions::set(
        &mut status.conditions,
        SCHEDULED,
        true,
        "JobCreated",
        format!("RestoreJob {AGENT_NAMESPACE}/{name} in cluster {target}"),
        restore.metadata.generation,
    );
    if let Some(job_status) = job.status {
        status.run = job_status.run;
    }
    Ok(Ok(()))
}

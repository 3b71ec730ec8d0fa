//! Backup → BackupJob in the backed-up cluster, and the job's status back into the Backup.
//! Deleting a Backup deletes its data through an agent (finalizer `herbarium.io/backup`), unless
//! it is force-deleted: then the record goes at once and the location lists the data as orphaned
//! until its cluster can delete it (see `reclaim`).

use std::sync::Arc;
use std::time::Duration;

use herbarium_api::agent::{BackupJob, BackupJobSpec, GardenRef};
use herbarium_api::common::{BackupPhase, DeletionPolicy, Origin, RuleAction};
use herbarium_api::constants::{
    AGENT_NAMESPACE, BACKUP_FINALIZER, BACKUP_LABEL, BACKUP_UID_LABEL, CLUSTER_LABEL,
    FORCE_DELETE_ANNOTATION, ORIGIN_LABEL, SCHEDULE_LABEL,
};
use herbarium_api::garden::{Backup, BackupLocation, BackupStatus, Rule, ValidationState};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{DeleteParams, ObjectMeta};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::clients::{ReadyCluster, ready_cluster};
use super::{Context, Error, add_finalizer, apply, conditions, names, patch_status_if_changed};
use super::{orphans, remove_finalizer};
use crate::events::{self, Note, reason};

/// Condition: the BackupJob is in the cluster (or why not).
pub const SCHEDULED: &str = "Scheduled";

pub async fn reconcile(backup: Arc<Backup>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = backup.namespace().unwrap_or_default();
    let api: Api<Backup> = Api::namespaced(ctx.garden.clone(), &namespace);
    if backup.metadata.deletion_timestamp.is_some() {
        return match cleanup(&backup, &ctx).await? {
            None => {
                remove_finalizer(&api, backup.as_ref(), BACKUP_FINALIZER).await?;
                Ok(Action::await_change())
            }
            Some(wait) => Ok(Action::requeue(wait)),
        };
    }
    add_finalizer(&api, backup.as_ref(), BACKUP_FINALIZER).await?;
    let mut status = backup.status.clone().unwrap_or_default();
    status.origin = origin(&backup);
    status.observed_generation = backup.metadata.generation;
    let action = match prepare(&backup, &ctx).await? {
        Err(reason) => {
            waiting(&mut status, &backup, &reason);
            Action::requeue(Duration::from_secs(30))
        }
        Ok((ready, spec)) => {
            let jobs: Api<BackupJob> = Api::namespaced(ready.client.clone(), AGENT_NAMESPACE);
            let job = ensure_job(&jobs, &backup, spec).await?;
            conditions::set(
                &mut status.conditions,
                SCHEDULED,
                true,
                "JobCreated",
                format!(
                    "BackupJob {AGENT_NAMESPACE}/{} in cluster {}",
                    job.name_any(),
                    ready.cluster.name_any()
                ),
                backup.metadata.generation,
            );
            status.cluster_uid = Some(job.spec.cluster_uid.clone());
            if let Some(run) = job.status.map(|s| s.run) {
                status.run = run;
            }
            status.expiration = expiration(&backup, &status);
            next_check(&status)
        }
    };
    patch_status_if_changed(&api, &backup.name_any(), backup.status.as_ref(), &status)
        .await
        .map_err(Error::kube(format!(
            "writing the status of Backup {}",
            backup.name_any()
        )))?;
    ctx.publish(
        backup.as_ref(),
        events::backup(backup.status.as_ref(), &status),
    )
    .await;
    if expired(&status) {
        let note = format!(
            "ttl {} passed; deleting the Backup (and its data, unless the deletion policy is Retain)",
            backup
                .spec
                .template
                .ttl
                .as_ref()
                .map(|t| t.0.as_str())
                .unwrap_or("?")
        );
        ctx.publish(
            backup.as_ref(),
            [Note::normal(reason::EXPIRED, "Delete", note)],
        )
        .await;
        api.delete(&backup.name_any(), &DeleteParams::default())
            .await
            .map_err(Error::kube("deleting an expired Backup"))?;
    }
    Ok(action)
}

/// Origin from the labels the schedule and the sync importer set.
pub fn origin(backup: &Backup) -> Origin {
    let labels = backup.labels();
    match labels.get(ORIGIN_LABEL).map(String::as_str) {
        Some("Synced") => Origin::Synced,
        _ if labels.contains_key(SCHEDULE_LABEL) => Origin::Schedule,
        _ => Origin::Manual,
    }
}

/// The UID the backup is stored under: its own, or for an imported backup the original one.
pub fn storage_uid(backup: &Backup) -> String {
    backup
        .labels()
        .get(BACKUP_UID_LABEL)
        .cloned()
        .or_else(|| backup.uid())
        .unwrap_or_default()
}

/// Checks the references and the cluster; `Ok(Err(reason))` when the backup has to wait or is
/// refused (the reason goes into the Scheduled condition).
async fn prepare(
    backup: &Backup,
    ctx: &Context,
) -> Result<Result<(ReadyCluster, BackupJobSpec), String>, Error> {
    let namespace = backup.namespace().unwrap_or_default();
    let template = &backup.spec.template;
    let locations: Api<BackupLocation> = Api::namespaced(ctx.garden.clone(), &namespace);
    let Some(location) = locations
        .get_opt(&template.location)
        .await
        .map_err(Error::kube("reading the BackupLocation"))?
    else {
        return Ok(Err(format!(
            "no BackupLocation {:?} in namespace {namespace}",
            template.location
        )));
    };
    if !location.spec.clusters.contains(&template.cluster) {
        return Ok(Err(format!(
            "cluster {} is not assigned to BackupLocation {}",
            template.cluster, template.location
        )));
    }
    let valid = location.status.as_ref().is_some_and(|s| {
        s.clusters
            .iter()
            .any(|c| c.cluster == template.cluster && c.state == ValidationState::Valid)
    });
    if !valid {
        return Ok(Err(format!(
            "cluster {} has no validated access to BackupLocation {} yet",
            template.cluster, template.location
        )));
    }
    let mut hooks = Vec::new();
    for rule in [&template.pre_rule, &template.post_rule] {
        hooks.push(match rule {
            None => Vec::new(),
            Some(name) => match resolve_rule(ctx, &namespace, name).await? {
                Ok(actions) => actions,
                Err(reason) => return Ok(Err(reason)),
            },
        });
    }
    let ready = match ready_cluster(
        &ctx.garden,
        ctx.clusters.as_ref(),
        &namespace,
        &template.cluster,
    )
    .await?
    {
        Ok(ready) => ready,
        Err(reason) => return Ok(Err(reason)),
    };
    let post_hooks = hooks.pop().unwrap_or_default();
    let pre_hooks = hooks.pop().unwrap_or_default();
    let synced = origin(backup) == Origin::Synced;
    let spec = BackupJobSpec {
        backup_name: backup.name_any(),
        backup_uid: storage_uid(backup),
        cluster_uid: if synced {
            backup
                .status
                .as_ref()
                .and_then(|s| s.cluster_uid.clone())
                .unwrap_or_else(|| ready.uid.clone())
        } else {
            ready.uid.clone()
        },
        location: template.location.clone(),
        origin: origin(backup),
        selection: (!synced).then(|| template.selection.clone()),
        pre_hooks,
        post_hooks,
        volume_snapshots: template.volume_snapshots.clone(),
        deletion_policy: template.deletion_policy,
        garden: Some(GardenRef {
            namespace,
            name: backup.name_any(),
            uid: backup.uid(),
        }),
    };
    Ok(Ok((ready, spec)))
}

async fn resolve_rule(
    ctx: &Context,
    namespace: &str,
    name: &str,
) -> Result<Result<Vec<RuleAction>, String>, Error> {
    let rules: Api<Rule> = Api::namespaced(ctx.garden.clone(), namespace);
    Ok(
        match rules
            .get_opt(name)
            .await
            .map_err(Error::kube("reading a Rule"))?
        {
            Some(rule) => Ok(rule.spec.actions),
            None => Err(format!("no Rule {name:?} in namespace {namespace}")),
        },
    )
}

/// Creates the job, or leaves it alone when it exists: the spec never changes after creation, so
/// an unchanged landscape costs no write. A Synced job was written by the agent's sync already.
async fn ensure_job(
    jobs: &Api<BackupJob>,
    backup: &Backup,
    spec: BackupJobSpec,
) -> Result<BackupJob, Error> {
    let name = names::job_name(&spec.backup_name, &spec.backup_uid);
    if let Some(job) = jobs
        .get_opt(&name)
        .await
        .map_err(Error::kube("reading the BackupJob"))?
    {
        return Ok(job);
    }
    if spec.origin == Origin::Synced {
        let selector = format!("{BACKUP_UID_LABEL}={}", spec.backup_uid);
        let found = jobs
            .list(&kube::api::ListParams::default().labels(&selector))
            .await
            .map_err(Error::kube("listing BackupJobs"))?;
        if let Some(job) = found.items.into_iter().next() {
            return Ok(job);
        }
    }
    let job = BackupJob {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(AGENT_NAMESPACE.into()),
            labels: Some(
                [
                    (BACKUP_LABEL.to_string(), backup.name_any()),
                    (BACKUP_UID_LABEL.to_string(), spec.backup_uid.clone()),
                    (
                        CLUSTER_LABEL.to_string(),
                        backup.spec.template.cluster.clone(),
                    ),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec,
        status: None,
    };
    apply(jobs, &name, &job)
        .await
        .map_err(Error::kube("creating the BackupJob"))
}

fn waiting(status: &mut BackupStatus, backup: &Backup, reason: &str) {
    if status.run.phase.is_none() {
        status.run.phase = Some(BackupPhase::Pending);
    }
    conditions::set(
        &mut status.conditions,
        SCHEDULED,
        false,
        "Waiting",
        reason,
        backup.metadata.generation,
    );
}

fn expiration(backup: &Backup, status: &BackupStatus) -> Option<Time> {
    let ttl = backup.spec.template.ttl.as_ref()?.parse().ok()?;
    let done = status.run.completion_time.as_ref()?;
    Some(crate::time::to_time(
        crate::time::to_chrono(done) + chrono::Duration::from_std(ttl).ok()?,
    ))
}

fn expired(status: &BackupStatus) -> bool {
    status
        .expiration
        .as_ref()
        .is_some_and(|t| crate::time::to_chrono(t) <= chrono::Utc::now())
}

/// While the agent works, look again soon; when done, only at expiration.
fn next_check(status: &BackupStatus) -> Action {
    match status.run.phase {
        Some(BackupPhase::Succeeded | BackupPhase::PartiallySucceeded | BackupPhase::Failed) => {
            match &status.expiration {
                Some(t) => Action::requeue(
                    (crate::time::to_chrono(t) - chrono::Utc::now())
                        .to_std()
                        .unwrap_or_default()
                        + Duration::from_secs(1),
                ),
                None => Action::await_change(),
            }
        }
        _ => Action::requeue(Duration::from_secs(5)),
    }
}

/// `None` when the data is gone (or kept on purpose) and the finalizer can go; else how long to
/// wait before looking again.
async fn cleanup(backup: &Backup, ctx: &Context) -> Result<Option<Duration>, Error> {
    let namespace = backup.namespace().unwrap_or_default();
    let template = &backup.spec.template;
    let stored = backup
        .status
        .as_ref()
        .and_then(|s| s.run.storage_path.clone());
    if backup
        .annotations()
        .get(FORCE_DELETE_ANNOTATION)
        .map(String::as_str)
        == Some("true")
    {
        let note = match (&stored, template.deletion_policy) {
            // Retain keeps the data on any deletion: nothing to reclaim later.
            (Some(path), DeletionPolicy::Retain) => format!(
                "force-deleted: the record goes; deletion policy Retain keeps the data at {path}"
            ),
            (Some(path), DeletionPolicy::Delete) => {
                orphans::record(ctx, &namespace, &template.location, backup, path).await?;
                format!(
                    "force-deleted: the record goes now, the data at {path} when cluster {} can \
                     delete it (listed in BackupLocation {}'s status.orphaned until then)",
                    template.cluster, template.location
                )
            }
            (None, _) => "force-deleted; it had no data in storage".to_string(),
        };
        ctx.publish(
            backup,
            [Note::warning(reason::FORCE_DELETED, "Delete", note)],
        )
        .await;
        return Ok(None);
    }
    // Data is deleted by the agent of the cluster that holds the job (the backed-up cluster, or
    // for an imported backup the cluster the sync ran through).
    if let Ok(ready) = ready_cluster(
        &ctx.garden,
        ctx.clusters.as_ref(),
        &namespace,
        &template.cluster,
    )
    .await?
    {
        let jobs: Api<BackupJob> = Api::namespaced(ready.client.clone(), AGENT_NAMESPACE);
        let name = names::job_name(&backup.name_any(), &storage_uid(backup));
        return match jobs
            .get_opt(&name)
            .await
            .map_err(Error::kube("reading the BackupJob"))?
        {
            // Gone: the agent deleted the data (or there never was any) and let the job go.
            None => Ok(None),
            Some(job) => {
                if job.metadata.deletion_timestamp.is_none() {
                    jobs.delete(&name, &DeleteParams::default())
                        .await
                        .map_err(Error::kube("deleting the BackupJob"))?;
                }
                Ok(Some(Duration::from_secs(2)))
            }
        };
    }
    if stored.is_none() {
        return Ok(None);
    }
    let api: Api<Backup> = Api::namespaced(ctx.garden.clone(), &namespace);
    let mut status = backup.status.clone().unwrap_or_default();
    status.run.phase = Some(BackupPhase::Deleting);
    let reason = format!(
        "cluster {} is not ready to delete the data; retried until it is, or annotate \
         {FORCE_DELETE_ANNOTATION}=true to drop only the record",
        template.cluster
    );
    conditions::set(
        &mut status.conditions,
        SCHEDULED,
        false,
        "WaitingForCluster",
        reason,
        backup.metadata.generation,
    );
    patch_status_if_changed(&api, &backup.name_any(), backup.status.as_ref(), &status)
        .await
        .map_err(Error::kube("writing the status of a Backup being deleted"))?;
    ctx.publish(backup, events::backup(backup.status.as_ref(), &status))
        .await;
    Ok(Some(Duration::from_secs(30)))
}

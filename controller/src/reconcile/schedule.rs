//! BackupSchedule → Backups at the policy's times, and retention of the schedule's Backups.
//! Suspended schedules and hibernated clusters skip runs and say so in `lastSkipped`; runs missed
//! while the controller was down collapse into one.

use std::sync::Arc;
use std::time::Duration;

use crate::time::{to_chrono, to_time};
use chrono::{DateTime, Utc};
use herbarium_api::constants::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, SCHEDULE_LABEL};
use herbarium_api::garden::{
    Backup, BackupSchedule, BackupSpec, Cluster, ClusterPhase, SchedulePolicy, SkippedRun,
};
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};

use super::{Context, Error, conditions, patch_status_if_changed};
use crate::events::{self, Note, reason};
use crate::schedule::{Candidate, Schedule, to_delete};

/// The run to make now, if one is due: the latest scheduled time not after `now` and after the
/// last run (older missed runs are skipped, not made up).
pub fn due_run(
    schedule: &Schedule,
    created: DateTime<Utc>,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let mut next = match last {
        Some(last) => schedule.next_after(last),
        None => schedule.first_run(created),
    };
    if next > now {
        return None;
    }
    loop {
        let after = schedule.next_after(next);
        if after > now {
            return Some(next);
        }
        next = after;
    }
}

/// Name of the Backup for the run at `at`.
pub fn backup_name(schedule: &str, at: DateTime<Utc>) -> String {
    let stamp = at.format("%Y%m%d%H%M%S").to_string();
    let keep = 253 - stamp.len() - 1;
    let base = if schedule.len() > keep {
        &schedule[..keep]
    } else {
        schedule
    };
    format!("{base}-{stamp}")
}

pub async fn reconcile(bs: Arc<BackupSchedule>, ctx: Arc<Context>) -> Result<Action, Error> {
    let namespace = bs.namespace().unwrap_or_default();
    let api: Api<BackupSchedule> = Api::namespaced(ctx.garden.clone(), &namespace);
    let mut status = bs.status.clone().unwrap_or_default();
    status.observed_generation = bs.metadata.generation;
    let policies: Api<SchedulePolicy> = Api::namespaced(ctx.garden.clone(), &namespace);
    let policy = policies
        .get_opt(&bs.spec.policy)
        .await
        .map_err(Error::kube("reading the SchedulePolicy"))?;
    let schedule = match policy.map(|p| Schedule::from_policy(&p.spec)) {
        None => Err(format!(
            "no SchedulePolicy {:?} in namespace {namespace}",
            bs.spec.policy
        )),
        Some(Err(e)) => Err(format!("SchedulePolicy {}: {e}", bs.spec.policy)),
        Some(Ok(s)) => Ok(s),
    };
    let schedule = match schedule {
        Err(message) => {
            conditions::set(
                &mut status.conditions,
                "Ready",
                false,
                "InvalidPolicy",
                message,
                bs.metadata.generation,
            );
            patch_status_if_changed(&api, &bs.name_any(), bs.status.as_ref(), &status)
                .await
                .map_err(Error::kube("writing BackupSchedule status"))?;
            let previous = bs.status.as_ref().map(|s| s.conditions.as_slice());
            ctx.publish(
                bs.as_ref(),
                events::schedule(previous.unwrap_or_default(), &status.conditions),
            )
            .await;
            return Ok(Action::requeue(Duration::from_secs(300)));
        }
        Ok(s) => s,
    };
    conditions::set(
        &mut status.conditions,
        "Ready",
        true,
        "Scheduled",
        "",
        bs.metadata.generation,
    );
    let now = Utc::now();
    let created = bs
        .metadata
        .creation_timestamp
        .clone()
        .map(|t| to_chrono(&t))
        .unwrap_or(now);
    let last = status.last_schedule_time.as_ref().map(to_chrono);
    let mut notes = Vec::new();
    if let Some(at) = due_run(&schedule, created, last, now) {
        match skip_reason(&ctx, &bs, &namespace).await? {
            Some(why) => {
                notes.push(Note::normal(
                    reason::RUN_SKIPPED,
                    "Schedule",
                    format!("the run at {} was skipped: {why}", at.to_rfc3339()),
                ));
                status.last_skipped = Some(SkippedRun {
                    time: to_time(at),
                    reason: why,
                })
            }
            None => {
                let name = backup_name(&bs.name_any(), at);
                if create_backup(&ctx, &bs, &namespace, &name).await? {
                    notes.push(Note::normal(
                        reason::BACKUP_CREATED,
                        "Schedule",
                        format!("Backup {name} for the run at {}", at.to_rfc3339()),
                    ));
                }
                status.last_backup = Some(name);
            }
        }
        status.last_schedule_time = Some(to_time(at));
    }
    let next = match status.last_schedule_time.as_ref() {
        Some(last) => schedule.next_after(to_chrono(last)),
        None => schedule.first_run(created),
    };
    status.next_schedule_time = Some(to_time(next));
    for name in retain(&ctx, &bs, &namespace, schedule.retain).await? {
        notes.push(Note::normal(
            reason::PRUNED,
            "Schedule",
            format!(
                "deleted Backup {name}: beyond the policy's retain of {}",
                schedule.retain
            ),
        ));
    }
    patch_status_if_changed(&api, &bs.name_any(), bs.status.as_ref(), &status)
        .await
        .map_err(Error::kube("writing BackupSchedule status"))?;
    ctx.publish(bs.as_ref(), notes).await;
    let wait = (next - Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(1);
    // Also look at retention while backups of this schedule finish.
    Ok(Action::requeue(wait.min(Duration::from_secs(300))))
}

async fn skip_reason(
    ctx: &Context,
    bs: &BackupSchedule,
    namespace: &str,
) -> Result<Option<String>, Error> {
    if bs.spec.suspend {
        return Ok(Some("Suspended".into()));
    }
    let clusters: Api<Cluster> = Api::namespaced(ctx.garden.clone(), namespace);
    let cluster = clusters
        .get_opt(&bs.spec.template.cluster)
        .await
        .map_err(Error::kube("reading the Cluster"))?;
    Ok(match cluster.and_then(|c| c.status).and_then(|s| s.phase) {
        Some(ClusterPhase::Hibernated) => Some("ClusterHibernated".into()),
        _ => None,
    })
}

/// Whether it created the Backup (false: an earlier attempt did).
async fn create_backup(
    ctx: &Context,
    bs: &BackupSchedule,
    namespace: &str,
    name: &str,
) -> Result<bool, Error> {
    let backups: Api<Backup> = Api::namespaced(ctx.garden.clone(), namespace);
    let backup = Backup {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(
                [
                    (SCHEDULE_LABEL.to_string(), bs.name_any()),
                    (MANAGED_BY_LABEL.to_string(), MANAGED_BY_VALUE.to_string()),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec: BackupSpec {
            template: bs.spec.template.clone(),
        },
        status: None,
    };
    match backups.create(&PostParams::default(), &backup).await {
        Ok(_) => Ok(true),
        // Made by an earlier attempt whose status write was lost.
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
        Err(e) => Err(Error::kube("creating a scheduled Backup")(e)),
    }
}

/// Deletes what retention says; returns the names it deleted.
async fn retain(
    ctx: &Context,
    bs: &BackupSchedule,
    namespace: &str,
    keep: usize,
) -> Result<Vec<String>, Error> {
    let backups: Api<Backup> = Api::namespaced(ctx.garden.clone(), namespace);
    let mine = backups
        .list(&ListParams::default().labels(&format!("{SCHEDULE_LABEL}={}", bs.name_any())))
        .await
        .map_err(Error::kube("listing the schedule's Backups"))?;
    let candidates: Vec<Candidate> = mine
        .items
        .iter()
        .filter(|b| b.metadata.deletion_timestamp.is_none())
        .map(|b| Candidate {
            name: b.name_any(),
            created: b
                .metadata
                .creation_timestamp
                .as_ref()
                .map(to_chrono)
                .unwrap_or_else(Utc::now),
            phase: b.status.as_ref().and_then(|s| s.run.phase),
        })
        .collect();
    let mut deleted = Vec::new();
    for name in to_delete(&candidates, keep) {
        match backups.delete(&name, &DeleteParams::default()).await {
            Ok(_) => deleted.push(name),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(Error::kube("deleting a Backup beyond retention")(e)),
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use herbarium_api::garden::SchedulePolicySpec;

    fn every_hour() -> Schedule {
        let spec: SchedulePolicySpec =
            serde_json::from_value(serde_json::json!({"interval": {"every": "1h", "retain": 3}}))
                .unwrap();
        Schedule::from_policy(&spec).unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn due_runs_collapse_missed_ones() {
        let s = every_hour();
        let created = t("2026-01-01T00:00:00Z");
        // First run at creation.
        assert_eq!(due_run(&s, created, None, created), Some(created));
        // Not due yet.
        assert_eq!(
            due_run(&s, created, Some(created), t("2026-01-01T00:59:00Z")),
            None
        );
        assert_eq!(
            due_run(&s, created, Some(created), t("2026-01-01T01:00:00Z")),
            Some(t("2026-01-01T01:00:00Z"))
        );
        // Down for five hours: one run, the latest.
        assert_eq!(
            due_run(&s, created, Some(created), t("2026-01-01T05:30:00Z")),
            Some(t("2026-01-01T05:00:00Z"))
        );
    }

    #[test]
    fn backup_names_are_stable_and_bounded() {
        assert_eq!(
            backup_name("nightly", t("2026-03-29T01:30:00Z")),
            "nightly-20260329013000"
        );
        assert_eq!(
            backup_name(&"a".repeat(253), t("2026-03-29T01:30:00Z")).len(),
            253
        );
    }
}

//! Force delete and the reclaim of orphans: the record goes at once; the data goes through the
//! agent of the backup's cluster once that cluster is back, and no sync imports it meanwhile.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use herbarium_api::agent::{BackupJob, SyncJob};
use herbarium_api::common::{DeletionPolicy, Origin};
use herbarium_api::constants::{
    AGENT_NAMESPACE, BACKUP_JOB_FINALIZER, BACKUP_UID_LABEL, FORCE_DELETE_ANNOTATION,
    LOCATION_LABEL,
};
use herbarium_api::garden::{Backup, BackupLocation, Cluster, ClusterPhase};
use herbarium_controller::events::reason;
use herbarium_controller::reconcile::names::job_name;
use herbarium_test_support::wait_for;
use k8s_openapi::api::events::v1::Event;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use super::{
    WAIT, cluster_client, finish_backup_job, garden, harness, project, two_ready_clusters,
    validate, wait_phase,
};

/// Plays the agent of local cluster `index` for the BackupJobs of `location`: takes every job
/// (its finalizer) and, when one is deleted, "deletes the data" (records the job) and lets it go.
fn play_agent(index: usize, location: String) -> Arc<Mutex<Vec<BackupJob>>> {
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let seen = deleted.clone();
    tokio::spawn(async move {
        let api: Api<BackupJob> = Api::namespaced(cluster_client(index).await, AGENT_NAMESPACE);
        loop {
            let jobs = api.list(&ListParams::default()).await.map(|l| l.items);
            for job in jobs.unwrap_or_default() {
                if job.spec.location != location {
                    continue;
                }
                let mut finalizers = job.finalizers().to_vec();
                let held = finalizers.iter().any(|f| f == BACKUP_JOB_FINALIZER);
                match (job.metadata.deletion_timestamp.is_some(), held) {
                    // New: take it.
                    (false, false) => finalizers.push(BACKUP_JOB_FINALIZER.to_string()),
                    // Deleted: the data goes (recorded), then the job.
                    (true, true) => {
                        seen.lock().unwrap().push(job.clone());
                        finalizers.retain(|f| f != BACKUP_JOB_FINALIZER);
                    }
                    _ => continue,
                }
                let patch = json!({"metadata": {"finalizers": finalizers,
                    "resourceVersion": job.resource_version()}});
                // A conflict is retried on the next round.
                let _ = api
                    .patch(
                        &job.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    deleted
}

/// Creates Backup `name` of cluster `cluster` and plays its successful run; returns its UID and
/// storage path.
async fn backed_up(
    garden: &Client,
    ns: &str,
    cluster: &str,
    location: &str,
    name: &str,
) -> (String, String) {
    let backups: Api<Backup> = Api::namespaced(garden.clone(), ns);
    let backup: Backup = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "Backup", "metadata": {"name": name},
        "spec": {"cluster": cluster, "location": location}
    }))
    .unwrap();
    let uid = backups
        .create(&PostParams::default(), &backup)
        .await
        .unwrap()
        .uid()
        .unwrap();
    let jobs: Api<BackupJob> = Api::namespaced(cluster_client(0).await, AGENT_NAMESPACE);
    let job = wait_for("the BackupJob, taken by the agent", WAIT, || async {
        let job = jobs.get_opt(&job_name(name, &uid)).await.ok()??;
        job.finalizers()
            .iter()
            .any(|f| f == BACKUP_JOB_FINALIZER)
            .then_some(job)
    })
    .await
    .unwrap();
    let path = finish_backup_job(&jobs, &job).await;
    wait_for("the Backup to be Succeeded", WAIT, || async {
        let s = backups.get(name).await.ok()?.status?;
        (s.run.storage_path.as_deref() == Some(path.as_str())).then_some(())
    })
    .await
    .unwrap();
    (uid, path)
}

async fn force_delete(backups: &Api<Backup>, name: &str) {
    let force = json!({"metadata": {"annotations": {FORCE_DELETE_ANNOTATION: "true"}}});
    backups
        .patch(name, &PatchParams::default(), &Patch::Merge(&force))
        .await
        .unwrap();
    backups
        .delete(name, &DeleteParams::default())
        .await
        .unwrap();
}

/// Makes the controller look at the Cluster now instead of at its next recheck.
async fn touch(clusters: &Api<Cluster>, name: &str, value: &str) {
    let patch = json!({"metadata": {"annotations": {"test.herbarium.io/touch": value}}});
    clusters
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// What the agent's sync in cluster `index` would do for backups found in storage: a Synced
/// BackupJob (deletion policy Retain) per backup, then the SyncJob Succeeded.
async fn play_sync(index: usize, location: &str, found: &[(&str, &str, &str)]) {
    let client = cluster_client(index).await;
    let syncs: Api<SyncJob> = Api::namespaced(client.clone(), AGENT_NAMESPACE);
    let sync_name = format!("{location}-sync");
    wait_for("the SyncJob", WAIT, || async {
        syncs.get_opt(&sync_name).await.ok().flatten()
    })
    .await
    .unwrap();
    let jobs: Api<BackupJob> = Api::namespaced(client, AGENT_NAMESPACE);
    for (name, uid, path) in found {
        let cluster_uid = path.split('/').nth(3).unwrap();
        let view: BackupJob = serde_json::from_value(json!({
            "apiVersion": "agent.herbarium.io/v1alpha1", "kind": "BackupJob",
            "metadata": {"name": job_name(name, uid), "labels": {BACKUP_UID_LABEL: uid, LOCATION_LABEL: location}},
            "spec": {"backupName": name, "backupUID": uid, "clusterUID": cluster_uid, "location": location,
                     "origin": "Synced", "deletionPolicy": "Retain"}
        }))
        .unwrap();
        let view = jobs.create(&PostParams::default(), &view).await.unwrap();
        let status = json!({"status": {"phase": "Succeeded", "storagePath": path}});
        jobs.patch_status(
            &view.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await
        .unwrap();
    }
    let done =
        json!({"status": {"phase": "Succeeded", "found": found.len(), "imported": found.len()}});
    syncs
        .patch_status(&sync_name, &PatchParams::default(), &Patch::Merge(&done))
        .await
        .unwrap();
}

#[tokio::test]
async fn orphans_are_reclaimed_when_their_cluster_returns_and_never_imported() {
    harness::controller();
    let garden = garden().await;
    let ns = project(&garden).await;
    let suffix = ns.trim_start_matches("garden-t-").to_string();
    let (a, b) = two_ready_clusters(&garden, &ns, ["oa", "ob"]).await;
    let location = format!("oloc-{suffix}");
    let locations: Api<BackupLocation> = Api::namespaced(garden.clone(), &ns);
    let loc: BackupLocation = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "BackupLocation", "metadata": {"name": location},
        "spec": {"azure": {"storageAccount": "devstoreaccount1", "container": "backups", "endpoint": "https://127.0.0.1:1/devstoreaccount1"},
                 "clusters": [a, b]}
    }))
    .unwrap();
    locations
        .create(&PostParams::default(), &loc)
        .await
        .unwrap();
    validate(0, &location).await;
    validate(1, &location).await;
    wait_for("the location to be Valid", WAIT, || async {
        let phase = locations.get(&location).await.ok()?.status?.phase?;
        (format!("{phase:?}") == "Valid").then_some(())
    })
    .await
    .unwrap();
    let deleted_in_a = play_agent(0, location.clone());
    let deleted_in_b = play_agent(1, location.clone());

    // Two backups of cluster A: "kept" keeps its BackupJob while A is away, "gone" loses it.
    let (kept_uid, kept_path) = backed_up(&garden, &ns, &a, &location, "kept").await;
    let (gone_uid, gone_path) = backed_up(&garden, &ns, &a, &location, "gone").await;

    // A becomes unreachable (the controller's route to it is cut).
    harness::unroute(&ns, &a);
    let clusters: Api<Cluster> = Api::namespaced(garden.clone(), &ns);
    touch(&clusters, &a, "unroute").await;
    wait_phase(&garden, &ns, &a, ClusterPhase::Unreachable).await;
    let jobs_a: Api<BackupJob> = Api::namespaced(cluster_client(0).await, AGENT_NAMESPACE);
    jobs_a
        .delete(&job_name("gone", &gone_uid), &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the job of \"gone\" to go", WAIT, || async {
        jobs_a
            .get_opt(&job_name("gone", &gone_uid))
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await
    .unwrap();

    // Force delete: the records go at once; the location lists both, waiting for A.
    let backups: Api<Backup> = Api::namespaced(garden.clone(), &ns);
    force_delete(&backups, "kept").await;
    force_delete(&backups, "gone").await;
    let condition = wait_for(
        "both orphans listed, waiting for cluster A",
        WAIT,
        || async {
            let status = locations.get(&location).await.ok()?.status?;
            let waiting = status.orphaned.len() == 2
                && status.orphaned.iter().all(|o| {
                    o.cluster == a
                        && o.message
                            .as_deref()
                            .is_some_and(|m| m.contains("Unreachable"))
                });
            let c = status
                .conditions
                .into_iter()
                .find(|c| c.type_ == "OrphansReclaimed")?;
            (waiting && c.message.starts_with("2 orphaned backups pending reclaim")).then_some(c)
        },
    )
    .await;
    let condition = match condition {
        Ok(c) => c,
        Err(e) => panic!(
            "{e}: {:#?}",
            locations.get(&location).await.map(|l| l.status)
        ),
    };
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("False", "ReclaimPending")
    );
    let listed = locations
        .get(&location)
        .await
        .unwrap()
        .status
        .unwrap()
        .orphaned;
    assert!(
        listed
            .iter()
            .any(|o| o.uid == kept_uid && o.path == kept_path)
    );
    assert!(
        listed
            .iter()
            .any(|o| o.uid == gone_uid && o.path == gone_path)
    );
    assert!(backups.get_opt("kept").await.unwrap().is_none());
    assert!(
        jobs_a
            .get_opt(&job_name("kept", &kept_uid))
            .await
            .unwrap()
            .is_some(),
        "nothing is deleted in A while it is away"
    );

    // A sync through B finds both backups in storage, and one more: only that one is imported.
    let enable = json!({"spec": {"sync": {"enabled": true}}});
    locations
        .patch(&location, &PatchParams::default(), &Patch::Merge(&enable))
        .await
        .unwrap();
    let other_uid = uuid::Uuid::new_v4().to_string();
    let other_path = format!("herbarium/v1/backups/elsewhere/other-{other_uid}/");
    play_sync(
        1,
        &location,
        &[
            ("kept", &kept_uid, &kept_path),
            ("gone", &gone_uid, &gone_path),
            ("other", &other_uid, &other_path),
        ],
    )
    .await;
    let sync = wait_for("the sync through B to be done", WAIT, || async {
        let sync = locations.get(&location).await.ok()?.status?.sync?;
        (format!("{:?}", sync.phase) == "Succeeded").then_some(sync)
    })
    .await;
    let sync = match sync {
        Ok(s) => s,
        Err(e) => panic!(
            "{e}: {:#?}",
            locations.get(&location).await.map(|l| l.status)
        ),
    };
    assert_eq!(sync.cluster.as_deref(), Some(b.as_str()));
    assert_eq!(
        (sync.found, sync.imported),
        (3, 1),
        "orphans are not imported, the other backup is"
    );
    let selector = format!("{BACKUP_UID_LABEL}={other_uid}");
    let other = backups
        .list(&ListParams::default().labels(&selector))
        .await
        .unwrap();
    assert_eq!(other.items.len(), 1, "the other backup imported");
    assert_eq!(
        other.items[0].spec.template.deletion_policy,
        DeletionPolicy::Retain
    );
    for uid in [&kept_uid, &gone_uid] {
        let selector = format!("{BACKUP_UID_LABEL}={uid}");
        let imported = backups
            .list(&ListParams::default().labels(&selector))
            .await
            .unwrap();
        assert!(imported.items.is_empty(), "{uid} imported");
    }

    // A returns: its agent deletes both (the kept job, and a new Synced one with policy Delete for
    // "gone"), B's views of them go, and so do the entries.
    harness::route(&ns, &a, 0);
    touch(&clusters, &a, "route").await;
    wait_phase(&garden, &ns, &a, ClusterPhase::Ready).await;
    // The list and the condition are two writes: wait for both.
    wait_for("the orphans to be reclaimed", WAIT, || async {
        let status = locations.get(&location).await.ok()?.status?;
        let c = status
            .conditions
            .into_iter()
            .find(|c| c.type_ == "OrphansReclaimed")?;
        (status.orphaned.is_empty() && c.status == "True" && c.reason == "NoOrphans").then_some(())
    })
    .await
    .unwrap();
    let in_a = deleted_in_a.lock().unwrap().clone();
    let kept = in_a
        .iter()
        .find(|j| j.spec.backup_uid == kept_uid)
        .expect("the kept job deleted in A");
    assert_eq!(kept.spec.deletion_policy, DeletionPolicy::Delete);
    let gone: Vec<&BackupJob> = in_a
        .iter()
        .filter(|j| j.spec.backup_uid == gone_uid && j.spec.origin == Origin::Synced)
        .collect();
    assert_eq!(gone.len(), 1, "one job made to delete \"gone\": {gone:?}");
    assert_eq!(gone[0].spec.deletion_policy, DeletionPolicy::Delete);
    assert_eq!(gone[0].spec.backup_name, "gone");
    assert_eq!(
        format!(
            "herbarium/v1/backups/{}/gone-{gone_uid}/",
            gone[0].spec.cluster_uid
        ),
        gone_path,
        "the job addresses the orphan's data"
    );
    let in_b = deleted_in_b.lock().unwrap().clone();
    for uid in [&kept_uid, &gone_uid] {
        assert!(
            in_b.iter().any(|j| &j.spec.backup_uid == uid),
            "B's view of {uid} deleted"
        );
    }
    for (index, uid) in [
        (0, &kept_uid),
        (0, &gone_uid),
        (1, &kept_uid),
        (1, &gone_uid),
    ] {
        let jobs: Api<BackupJob> = Api::namespaced(cluster_client(index).await, AGENT_NAMESPACE);
        let selector = format!("{BACKUP_UID_LABEL}={uid}");
        let left = jobs
            .list(&ListParams::default().labels(&selector))
            .await
            .unwrap();
        assert!(
            left.items.is_empty(),
            "a job for {uid} left in cluster {index}"
        );
    }
    let loc = locations.get(&location).await.unwrap();
    let events: Vec<Event> = Api::<Event>::namespaced(garden.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.uid.clone()) == loc.uid())
        .collect();
    // The same reason about the same object within minutes is one Event with a series count.
    let count = |r: &str| -> i32 {
        events
            .iter()
            .filter(|e| e.reason.as_deref() == Some(r))
            .map(|e| e.series.as_ref().map_or(1, |s| s.count))
            .sum()
    };
    assert_eq!(count(reason::ORPHANED), 2);
    assert_eq!(count(reason::ORPHAN_RECLAIMED), 2);
}

//! The controller's reconcilers against the real local garden and clusters: discovery, the Cluster
//! lifecycle, locations, backups, restores and schedules. The agent is played by the tests (they
//! write the statuses it would write); the end-to-end suite runs the real agent.

#[path = "reconcilers/harness.rs"]
mod harness;

#[path = "reconcilers/events.rs"]
mod events;

#[path = "reconcilers/orphans.rs"]
mod orphans;

use std::time::Duration;

use herbarium_api::agent::{BackupJob, LocationAccess, RestoreJob};
use herbarium_api::constants::{AGENT_NAMESPACE, BACKUP_UID_LABEL};
use herbarium_api::garden::{
    Backup, BackupLocation, Cluster, ClusterPhase, DiscoveryConfig, Restore,
};
use herbarium_api::gardener::Shoot;
use herbarium_test_support::{env, unique_namespace, wait_for};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

async fn garden() -> Client {
    env().garden_client().await.expect("garden client")
}

async fn cluster_client(index: usize) -> Client {
    env().clusters[index]
        .client()
        .await
        .expect("cluster client")
}

/// A project namespace and a DiscoveryConfig adopting only its Shoots.
async fn project(garden: &Client) -> String {
    let ns = unique_namespace(garden, "garden-t").await.unwrap();
    let project = ns.trim_start_matches("garden-").to_string();
    let config: DiscoveryConfig = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "DiscoveryConfig",
        "metadata": {"name": format!("dc-{project}")},
        "spec": {
            "projects": {"names": [project]},
            "azure": {"tenantID": "00000000-0000-4000-8000-000000000001", "subscriptionID": "00000000-0000-4000-8000-000000000002",
                      "resourceGroup": "rg", "location": "westeurope", "roleAssignments": false}
        }
    }))
    .unwrap();
    Api::<DiscoveryConfig>::all(garden.clone())
        .create(&PostParams::default(), &config)
        .await
        .unwrap();
    ns
}

/// An opted-in Shoot with a managed issuer, routed to local cluster `index`.
async fn shoot(garden: &Client, ns: &str, name: &str, index: usize, managed_issuer: bool) -> Shoot {
    harness::route(ns, name, index);
    let mut annotations = json!({"herbarium.io/backup": "enabled"});
    if managed_issuer {
        annotations["authentication.gardener.cloud/issuer"] = json!("managed");
    }
    let shoot: Shoot = serde_json::from_value(json!({
        "apiVersion": "core.gardener.cloud/v1beta1", "kind": "Shoot",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {}
    }))
    .unwrap();
    let api: Api<Shoot> = Api::namespaced(garden.clone(), ns);
    let created = api.create(&PostParams::default(), &shoot).await.unwrap();
    let status = json!({"status": {"advertisedAddresses": [
        {"name": "service-account-issuer", "url": format!("https://issuer.test/projects/{ns}/shoots/{}/issuer", created.uid().unwrap())}
    ]}});
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap()
}

async fn cluster_phase(garden: &Client, ns: &str, name: &str) -> Option<ClusterPhase> {
    let api: Api<Cluster> = Api::namespaced(garden.clone(), ns);
    api.get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|c| c.status)
        .and_then(|s| s.phase)
}

async fn wait_phase(garden: &Client, ns: &str, name: &str, phase: ClusterPhase) {
    let waited = wait_for(
        &format!("Cluster {ns}/{name} to be {phase:?}"),
        WAIT,
        || async { (cluster_phase(garden, ns, name).await == Some(phase)).then_some(()) },
    )
    .await;
    if let Err(e) = waited {
        let api: Api<Cluster> = Api::namespaced(garden.clone(), ns);
        panic!(
            "{e}; its status: {:#?}",
            api.get(name).await.map(|c| c.status)
        );
    }
}

#[tokio::test]
async fn an_annotated_shoot_lives_through_hibernation_opt_out_and_deletion() {
    let registrar = harness::controller();
    let garden = garden().await;
    let ns = project(&garden).await;
    shoot(&garden, &ns, "app", 0, true).await;
    wait_phase(&garden, &ns, "app", ClusterPhase::Ready).await;
    let clusters: Api<Cluster> = Api::namespaced(garden.clone(), &ns);
    let cluster = clusters.get("app").await.unwrap();
    let status = cluster.status.clone().unwrap();
    assert!(status.managed);
    assert_eq!(
        status.cluster_uid,
        Some(cluster.spec.gardener.clone().unwrap().shoot_uid)
    );
    assert_eq!(
        status.identity.as_ref().unwrap().subject,
        herbarium_api::constants::AGENT_SUBJECT
    );
    assert_eq!(
        registrar.identity_of(&ns, "app").len(),
        1,
        "exactly one identity"
    );
    assert!(status.agent.unwrap().ready);

    let shoots: Api<Shoot> = Api::namespaced(garden.clone(), &ns);
    let hibernate = |on: bool| json!({"spec": {"hibernation": {"enabled": on}}});
    shoots
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(&hibernate(true)),
        )
        .await
        .unwrap();
    wait_phase(&garden, &ns, "app", ClusterPhase::Hibernated).await;
    shoots
        .patch(
            "app",
            &PatchParams::default(),
            &Patch::Merge(&hibernate(false)),
        )
        .await
        .unwrap();
    wait_phase(&garden, &ns, "app", ClusterPhase::Ready).await;

    let opt_out = json!({"metadata": {"annotations": {"herbarium.io/backup": null}}});
    shoots
        .patch("app", &PatchParams::default(), &Patch::Merge(&opt_out))
        .await
        .unwrap();
    wait_phase(&garden, &ns, "app", ClusterPhase::Unmanaged).await;
    let kept = clusters.get("app").await.unwrap();
    assert!(!kept.status.unwrap().managed, "kept, not managed");

    let config: Api<DiscoveryConfig> = Api::all(garden.clone());
    let name = format!("dc-{}", ns.trim_start_matches("garden-"));
    wait_for("DiscoveryConfig counts", WAIT, || async {
        let s = config.get(&name).await.ok()?.status?;
        (s.unmanaged == 1 && s.managed == 0 && s.discovered == 0).then_some(())
    })
    .await
    .unwrap();

    shoots
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the Cluster of the deleted Shoot to go", WAIT, || async {
        clusters.get_opt("app").await.ok()?.is_none().then_some(())
    })
    .await
    .unwrap();
    assert!(
        registrar.identity_of(&ns, "app").is_empty(),
        "identity deleted with the Cluster"
    );
    assert_eq!(
        registrar
            .deleted
            .lock()
            .unwrap()
            .iter()
            .filter(|k| k.starts_with(&format!("{ns}/app/")))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_shoot_without_a_managed_issuer_says_which_annotation_is_missing() {
    harness::controller();
    let garden = garden().await;
    let ns = project(&garden).await;
    shoot(&garden, &ns, "plain", 0, false).await;
    wait_phase(&garden, &ns, "plain", ClusterPhase::Failed).await;
    let cluster = Api::<Cluster>::namespaced(garden.clone(), &ns)
        .get("plain")
        .await
        .unwrap();
    let issuer = cluster
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "IssuerReady")
        .unwrap();
    assert_eq!(issuer.status, "False");
    assert!(
        issuer
            .message
            .contains("authentication.gardener.cloud/issuer: managed"),
        "{}",
        issuer.message
    );
}

/// Plays the agent: marks the LocationAccess of `location` in cluster `index` as validated.
/// Waits for the BackupJob of the garden `backup` in local cluster `index`.
async fn job_of(backup: &Backup, index: usize) -> BackupJob {
    let jobs: Api<BackupJob> = Api::namespaced(cluster_client(index).await, AGENT_NAMESPACE);
    let selector = format!("{BACKUP_UID_LABEL}={}", backup.uid().unwrap());
    wait_for("the BackupJob", WAIT, || async {
        jobs.list(&ListParams::default().labels(&selector))
            .await
            .ok()?
            .items
            .into_iter()
            .next()
    })
    .await
    .unwrap()
}

/// Two annotated Shoots of `ns` (served by cluster-1 and cluster-2), named from `names` and the
/// project's suffix, once both Clusters are Ready.
async fn two_ready_clusters(garden: &Client, ns: &str, names: [&str; 2]) -> (String, String) {
    let suffix = ns.trim_start_matches("garden-t-");
    let (a, b) = (
        format!("{}-{suffix}", names[0]),
        format!("{}-{suffix}", names[1]),
    );
    shoot(garden, ns, &a, 0, true).await;
    shoot(garden, ns, &b, 1, true).await;
    wait_phase(garden, ns, &a, ClusterPhase::Ready).await;
    wait_phase(garden, ns, &b, ClusterPhase::Ready).await;
    (a, b)
}

/// Plays the agent finishing `job`: Succeeded, written to its backup directory (returned).
async fn finish_backup_job(jobs: &Api<BackupJob>, job: &BackupJob) -> String {
    let path = format!(
        "herbarium/v1/backups/{}/{}-{}/",
        job.spec.cluster_uid, job.spec.backup_name, job.spec.backup_uid
    );
    let done = json!({"status": {"phase": "Succeeded", "storagePath": path, "sizeBytes": 10,
        "startTime": "2026-11-21T00:00:00Z", "completionTime": "2026-11-21T00:01:00Z"}});
    jobs.patch_status(
        &job.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&done),
    )
    .await
    .unwrap();
    path
}

async fn validate(index: usize, location: &str) {
    let api: Api<LocationAccess> = Api::namespaced(cluster_client(index).await, AGENT_NAMESPACE);
    let access = wait_for("the LocationAccess", WAIT, || async {
        api.get_opt(location).await.ok().flatten()
    })
    .await
    .unwrap();
    let status = json!({"status": {"state": "Valid", "reason": "Valid", "observedGeneration": access.metadata.generation,
        "lastValidated": "2026-11-21T00:00:00Z"}});
    api.patch_status(location, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .unwrap();
}

#[tokio::test]
async fn backups_and_restores_travel_to_the_agent_and_back() {
    harness::controller();
    let garden = garden().await;
    let ns = project(&garden).await;
    let suffix = ns.trim_start_matches("garden-t-").to_string();
    let (a, b) = two_ready_clusters(&garden, &ns, ["a", "b"]).await;

    let location = format!("loc-{suffix}");
    let loc: BackupLocation = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "BackupLocation", "metadata": {"name": location},
        "spec": {"azure": {"storageAccount": "devstoreaccount1", "container": "backups", "endpoint": "https://127.0.0.1:1/devstoreaccount1"},
                 "clusters": [a]}
    }))
    .unwrap();
    let locations: Api<BackupLocation> = Api::namespaced(garden.clone(), &ns);
    locations
        .create(&PostParams::default(), &loc)
        .await
        .unwrap();
    validate(0, &location).await;
    wait_for("the location to be Valid", WAIT, || async {
        let phase = locations.get(&location).await.ok()?.status?.phase?;
        (format!("{phase:?}") == "Valid").then_some(())
    })
    .await
    .unwrap();

    // Backup → BackupJob in cluster A; the agent's status comes back.
    let backups: Api<Backup> = Api::namespaced(garden.clone(), &ns);
    let backup: Backup = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "Backup", "metadata": {"name": "b1"},
        "spec": {"cluster": a, "location": location, "namespaces": ["shop"]}
    }))
    .unwrap();
    let backup = backups
        .create(&PostParams::default(), &backup)
        .await
        .unwrap();
    let jobs: Api<BackupJob> = Api::namespaced(cluster_client(0).await, AGENT_NAMESPACE);
    let job = job_of(&backup, 0).await;
    assert_eq!(
        job.spec.selection.as_ref().unwrap().namespaces,
        vec!["shop"]
    );
    assert_eq!(job.spec.location, location);
    let path = finish_backup_job(&jobs, &job).await;
    wait_for("the Backup to mirror Succeeded", WAIT, || async {
        let s = backups.get("b1").await.ok()?.status?;
        (format!("{:?}", s.run.phase?) == "Succeeded"
            && s.run.storage_path.as_deref() == Some(path.as_str()))
        .then_some(())
    })
    .await
    .unwrap();

    // A restore into B is refused: B has no access to the location.
    let restores: Api<Restore> = Api::namespaced(garden.clone(), &ns);
    let to_b: Restore = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "Restore", "metadata": {"name": "to-b"},
        "spec": {"backup": "b1", "targetCluster": b}
    }))
    .unwrap();
    restores
        .create(&PostParams::default(), &to_b)
        .await
        .unwrap();
    let refused = wait_for("the restore into B to be refused", WAIT, || async {
        let c = restores
            .get("to-b")
            .await
            .ok()?
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Scheduled")?;
        (c.status == "False").then_some(c.message)
    })
    .await
    .unwrap();
    assert!(refused.contains("no validated access"), "{refused}");

    // A restore into A runs there.
    let to_a: Restore = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "Restore", "metadata": {"name": "to-a"},
        "spec": {"backup": "b1", "namespaceMapping": {"shop": "shop-copy"}}
    }))
    .unwrap();
    let to_a = restores
        .create(&PostParams::default(), &to_a)
        .await
        .unwrap();
    let rjobs: Api<RestoreJob> = Api::namespaced(cluster_client(0).await, AGENT_NAMESPACE);
    let rjob_name = herbarium_controller::reconcile::names::job_name("to-a", &to_a.uid().unwrap());
    let rjob = wait_for("the RestoreJob", WAIT, || async {
        rjobs.get_opt(&rjob_name).await.ok().flatten()
    })
    .await
    .unwrap();
    assert_eq!(rjob.spec.backup.storage_path, path);
    assert_eq!(
        rjob.spec
            .filter
            .namespace_mapping
            .get("shop")
            .map(String::as_str),
        Some("shop-copy")
    );
    let restored = json!({"status": {"phase": "Succeeded", "counts": {"total": 3, "restored": 3}}});
    rjobs
        .patch_status(
            &rjob_name,
            &PatchParams::default(),
            &Patch::Merge(&restored),
        )
        .await
        .unwrap();
    wait_for("the Restore to mirror Succeeded", WAIT, || async {
        let s = restores.get("to-a").await.ok()?.status?;
        (s.run.counts?.restored == 3).then_some(())
    })
    .await
    .unwrap();

    // Deleting the Backup deletes its job (the agent would delete the data first).
    backups
        .delete("b1", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the Backup and its job to go", WAIT, || async {
        let gone = backups.get_opt("b1").await.ok()?.is_none()
            && jobs.get_opt(&job.name_any()).await.ok()?.is_none();
        gone.then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_schedule_makes_backups_and_skips_while_suspended() {
    harness::controller();
    let garden = garden().await;
    let ns = project(&garden).await;
    let policies: Api<herbarium_api::garden::SchedulePolicy> = Api::namespaced(garden.clone(), &ns);
    policies
        .create(&PostParams::default(), &serde_json::from_value(json!({
            "apiVersion": "herbarium.io/v1alpha1", "kind": "SchedulePolicy", "metadata": {"name": "hourly"},
            "spec": {"interval": {"every": "1h", "retain": 2}}
        })).unwrap())
        .await
        .unwrap();
    let schedules: Api<herbarium_api::garden::BackupSchedule> =
        Api::namespaced(garden.clone(), &ns);
    for (name, suspend) in [("on", false), ("off", true)] {
        schedules
            .create(&PostParams::default(), &serde_json::from_value(json!({
                "apiVersion": "herbarium.io/v1alpha1", "kind": "BackupSchedule", "metadata": {"name": name},
                "spec": {"policy": "hourly", "suspend": suspend, "template": {"cluster": "none", "location": "none"}}
            })).unwrap())
            .await
            .unwrap();
    }
    let backups: Api<Backup> = Api::namespaced(garden.clone(), &ns);
    let made = wait_for("the first scheduled Backup", WAIT, || async {
        let s = schedules.get("on").await.ok()?.status?;
        s.last_backup
    })
    .await
    .unwrap();
    assert!(made.starts_with("on-"), "{made}");
    assert!(backups.get_opt(&made).await.unwrap().is_some());
    let skipped = wait_for("the suspended schedule to skip", WAIT, || async {
        schedules.get("off").await.ok()?.status?.last_skipped
    })
    .await
    .unwrap();
    assert_eq!(skipped.reason, "Suspended");
    let all = backups.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        all.items.len(),
        1,
        "one run, from the schedule that is not suspended"
    );
}

//! Events on the garden objects: published on transitions, never at rest.

use std::collections::BTreeMap;

use herbarium_api::agent::BackupJob;
use herbarium_api::constants::AGENT_NAMESPACE;
use herbarium_api::garden::{Backup, BackupLocation, Cluster, ClusterPhase};
use herbarium_controller::events::reason;
use herbarium_test_support::wait_for;
use k8s_openapi::api::events::v1::Event;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;

use super::{
    WAIT, cluster_client, finish_backup_job, garden, harness, job_of, project, shoot, validate,
    wait_phase,
};

/// The Events about `object` in its namespace: `(reason, type)` → how many Event objects, and
/// each Event's name with its series count (a repeat within minutes becomes a series).
async fn events_of<K: Resource>(garden: &Client, object: &K) -> Vec<Event> {
    let ns = object.meta().namespace.clone().unwrap_or_default();
    let uid = object.meta().uid.clone();
    Api::<Event>::namespaced(garden.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.uid.clone()) == uid)
        .collect()
}

fn reasons(events: &[Event]) -> Vec<String> {
    let mut r: Vec<String> = events.iter().filter_map(|e| e.reason.clone()).collect();
    r.sort();
    r
}

/// Waits until `object` has an Event with each of `expected` reasons.
async fn wait_events<K: Resource>(garden: &Client, object: &K, expected: &[&str]) -> Vec<Event> {
    let what = format!(
        "events {expected:?} about {}",
        object.meta().name.clone().unwrap_or_default()
    );
    wait_for(&what, WAIT, || async {
        let events = events_of(garden, object).await;
        let have = reasons(&events);
        expected
            .iter()
            .all(|r| have.iter().any(|h| h == r))
            .then_some(events)
    })
    .await
    .unwrap()
}

/// Every Event in `ns` by name with its series count (what a new or repeated event changes).
async fn snapshot(garden: &Client, ns: &str) -> BTreeMap<String, i32> {
    Api::<Event>::namespaced(garden.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| (e.name_any(), e.series.map(|s| s.count).unwrap_or(1)))
        .collect()
}

/// Changes an annotation of `name`, which makes the controller reconcile it; returns the
/// resourceVersion of that change.
async fn touch<K>(api: &Api<K>, name: &str, value: &str) -> String
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let patch = json!({"metadata": {"annotations": {"test.herbarium.io/touch": value}}});
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap()
        .meta()
        .resource_version
        .clone()
        .unwrap()
}

#[tokio::test]
async fn events_tell_what_happened_and_nothing_at_rest() {
    harness::controller();
    let garden = garden().await;
    let ns = project(&garden).await;
    let suffix = ns.trim_start_matches("garden-t-").to_string();
    let a = format!("ev-{suffix}");
    shoot(&garden, &ns, &a, 0, true).await;
    wait_phase(&garden, &ns, &a, ClusterPhase::Ready).await;
    let clusters: Api<Cluster> = Api::namespaced(garden.clone(), &ns);
    let cluster = clusters.get(&a).await.unwrap();
    let events = wait_events(&garden, &cluster, &[reason::READY]).await;
    // Registered in one reconcile: one event saying all of it; in several: one per step.
    let have = reasons(&events);
    assert!(
        have == [reason::READY]
            || have
                == [
                    reason::AGENT_INSTALLED,
                    reason::IDENTITY_READY,
                    reason::READY
                ],
        "one event per transition, nothing else: {have:?}"
    );
    for e in &events {
        assert_eq!(
            e.reporting_controller.as_deref(),
            Some("herbarium-controller")
        );
        assert_eq!(e.type_.as_deref(), Some("Normal"));
        let regarding = e.regarding.as_ref().unwrap();
        assert_eq!(regarding.kind.as_deref(), Some("Cluster"));
        assert_eq!(regarding.name.as_deref(), Some(a.as_str()));
    }
    let client_id = cluster.status.unwrap().identity.unwrap().client_id;
    assert!(
        events
            .iter()
            .any(|e| e.note.as_deref().unwrap_or("").contains(&client_id)),
        "no event names the identity {client_id}: {events:?}"
    );

    // A location turning Valid, a Backup started and completed.
    let location = format!("loc-{suffix}");
    let locations: Api<BackupLocation> = Api::namespaced(garden.clone(), &ns);
    let loc: BackupLocation = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "BackupLocation", "metadata": {"name": location},
        "spec": {"azure": {"storageAccount": "devstoreaccount1", "container": "backups", "endpoint": "https://127.0.0.1:1/devstoreaccount1"},
                 "clusters": [a]}
    }))
    .unwrap();
    let loc = locations
        .create(&PostParams::default(), &loc)
        .await
        .unwrap();
    validate(0, &location).await;
    wait_events(&garden, &loc, &[reason::VALID]).await;
    let backups: Api<Backup> = Api::namespaced(garden.clone(), &ns);
    let backup: Backup = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "Backup", "metadata": {"name": "ev1"},
        "spec": {"cluster": a, "location": location}
    }))
    .unwrap();
    let backup = backups
        .create(&PostParams::default(), &backup)
        .await
        .unwrap();
    let jobs: Api<BackupJob> = Api::namespaced(cluster_client(0).await, AGENT_NAMESPACE);
    let job = job_of(&backup, 0).await;
    let started = wait_events(&garden, &backup, &[reason::BACKUP_STARTED]).await;
    assert!(
        started[0]
            .note
            .as_deref()
            .unwrap_or("")
            .contains(&job.name_any()),
        "{:?}",
        started[0].note
    );
    let path = finish_backup_job(&jobs, &job).await;
    let events = wait_events(&garden, &backup, &[reason::BACKUP_SUCCEEDED]).await;
    assert_eq!(
        reasons(&events),
        [reason::BACKUP_STARTED, reason::BACKUP_SUCCEEDED]
    );
    let succeeded = events
        .iter()
        .find(|e| e.reason.as_deref() == Some(reason::BACKUP_SUCCEEDED))
        .unwrap();
    assert!(
        succeeded.note.as_deref().unwrap_or("").contains(&path),
        "{:?}",
        succeeded.note
    );

    // At rest: reconciling the Ready Cluster (and the location and the backup) again publishes
    // nothing and writes nothing. Every touch of the Cluster is a reconcile (the harness sees it
    // ask for a client); each next touch carries the resourceVersion of the previous one as a
    // precondition, so a status write by the reconcile in between makes it fail with 409.
    let before = snapshot(&garden, &ns).await;
    let mut version = clusters.get(&a).await.unwrap().resource_version();
    for round in ["1", "2", "3"] {
        let connects = harness::connects(&ns, &a);
        let patch = json!({"metadata": {
            "annotations": {"test.herbarium.io/touch": round},
            "resourceVersion": version,
        }});
        let touched = clusters
            .patch(&a, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap_or_else(|e| panic!("touch {round}: the Cluster changed at rest: {e}"));
        version = touched.resource_version();
        wait_for("a reconcile of the touched Cluster", WAIT, || async {
            (harness::connects(&ns, &a) > connects).then_some(())
        })
        .await
        .unwrap();
    }
    // The location's and the backup's reconcilers ask for cluster a's client too.
    let connects = harness::connects(&ns, &a);
    touch(&locations, &location, "1").await;
    touch(&backups, "ev1", "1").await;
    wait_for(
        "reconciles of the touched location and backup",
        WAIT,
        || async { (harness::connects(&ns, &a) >= connects + 2).then_some(()) },
    )
    .await
    .unwrap();
    assert_eq!(
        snapshot(&garden, &ns).await,
        before,
        "no event at rest (events are writes)"
    );
}

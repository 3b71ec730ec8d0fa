//! Every kind survives deserialize → serialize without losing or renaming a field: each fixture
//! sets every field of its kind, and the typed round trip must reproduce it exactly.

use herbarium_api::{agent, garden, gardener};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn documents(file: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let value: Value = serde::Deserialize::deserialize(doc)
                .unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
            value
        })
        .collect()
}

/// Parses each document of `file` as `K` and checks that serializing gives the document back.
fn assert_roundtrip<K: DeserializeOwned + Serialize>(file: &str) {
    let docs = documents(file);
    assert!(!docs.is_empty(), "{file} holds no document");
    for original in docs {
        let typed: K = serde_json::from_value(original.clone())
            .unwrap_or_else(|e| panic!("{file}: does not parse as the kind: {e}"));
        let back = serde_json::to_value(&typed).unwrap();
        assert_eq!(
            back,
            original,
            "{file}: round trip changed the object\n--- got:\n{}\n--- want:\n{}",
            serde_yaml::to_string(&back).unwrap(),
            serde_yaml::to_string(&original).unwrap()
        );
    }
}

#[test]
fn discovery_config() {
    assert_roundtrip::<garden::DiscoveryConfig>("kinds/discoveryconfig.yaml");
}

#[test]
fn cluster_from_gardener() {
    assert_roundtrip::<garden::Cluster>("kinds/cluster-gardener.yaml");
}

#[test]
fn cluster_from_kubeconfig() {
    assert_roundtrip::<garden::Cluster>("kinds/cluster-kubeconfig.yaml");
}

#[test]
fn backup_location() {
    assert_roundtrip::<garden::BackupLocation>("kinds/backuplocation.yaml");
}

#[test]
fn backup() {
    assert_roundtrip::<garden::Backup>("kinds/backup.yaml");
}

#[test]
fn restore() {
    assert_roundtrip::<garden::Restore>("kinds/restore.yaml");
}

#[test]
fn schedule_policy_of_every_kind() {
    assert_roundtrip::<garden::SchedulePolicy>("kinds/schedulepolicy.yaml");
}

#[test]
fn backup_schedule() {
    assert_roundtrip::<garden::BackupSchedule>("kinds/backupschedule.yaml");
}

#[test]
fn rule() {
    assert_roundtrip::<garden::Rule>("kinds/rule.yaml");
}

#[test]
fn location_access() {
    assert_roundtrip::<agent::LocationAccess>("kinds/locationaccess.yaml");
}

#[test]
fn backup_job_run_and_synced() {
    assert_roundtrip::<agent::BackupJob>("kinds/backupjob.yaml");
}

#[test]
fn restore_job() {
    assert_roundtrip::<agent::RestoreJob>("kinds/restorejob.yaml");
}

#[test]
fn sync_job() {
    assert_roundtrip::<agent::SyncJob>("kinds/syncjob.yaml");
}

#[test]
fn full_shoot_keeps_every_field() {
    assert_roundtrip::<gardener::Shoot>("shoot.yaml");
}

#[test]
fn shoot_accessors_read_the_fixture() {
    let shoot: gardener::Shoot = serde_json::from_value(documents("shoot.yaml").remove(0)).unwrap();
    assert_eq!(
        shoot.issuer_url(),
        Some(
            "https://discovery.ingress.garden.example.com/projects/dev/shoots/5f1c2a52-8a43-4a1e-9a43-0d2f4e6f7a10/issuer"
        )
    );
    assert!(shoot.requests_managed_issuer());
    assert!(!shoot.is_hibernated());
    let op = shoot
        .status
        .as_ref()
        .unwrap()
        .last_operation
        .as_ref()
        .unwrap();
    assert_eq!(op.state.as_deref(), Some("Succeeded"));
}

#[test]
fn shoot_modified_and_written_back_keeps_unknown_fields() {
    let original = documents("shoot.yaml").remove(0);
    let mut shoot: gardener::Shoot = serde_json::from_value(original.clone()).unwrap();
    shoot.spec.hibernation.as_mut().unwrap().enabled = Some(true);
    let back = serde_json::to_value(&shoot).unwrap();
    assert_eq!(back["spec"]["hibernation"]["enabled"], true);
    assert_eq!(
        back["spec"]["hibernation"]["schedules"],
        original["spec"]["hibernation"]["schedules"]
    );
    assert_eq!(back["spec"]["provider"], original["spec"]["provider"]);
    assert_eq!(
        back["status"]["constraints"],
        original["status"]["constraints"]
    );
    assert!(shoot.is_hibernated());
}

#[test]
fn defaults_fill_a_minimal_backup() {
    let backup: garden::Backup = serde_json::from_value(serde_json::json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "Backup",
        "metadata": {"name": "b", "namespace": "p"},
        "spec": {"cluster": "c", "location": "l"}
    }))
    .unwrap();
    let t = &backup.spec.template;
    assert_eq!(t.selection.namespaces, vec!["*"]);
    assert_eq!(
        t.selection.cluster_resources,
        herbarium_api::common::ClusterResources::Auto
    );
    assert_eq!(
        t.deletion_policy,
        herbarium_api::common::DeletionPolicy::Delete
    );
}

#[test]
fn durations_keep_their_spelling_and_parse() {
    use herbarium_api::common::Duration;
    let d: Duration = serde_json::from_value(serde_json::json!("1h30m")).unwrap();
    assert_eq!(serde_json::to_value(&d).unwrap(), "1h30m");
    assert_eq!(d.parse().unwrap(), std::time::Duration::from_secs(5400));
    assert!(
        Duration::from("-5m")
            .parse()
            .unwrap_err()
            .contains("negative")
    );
    assert!(
        Duration::from("soon")
            .parse()
            .unwrap_err()
            .contains("invalid duration")
    );
}

/// Code that builds a selection with `Default` gets what an empty object means (namespaces `*`),
/// which the schema accepts (it refuses an empty list); the sync import builds Backups that way.
#[test]
fn the_default_selection_is_the_empty_object() {
    use herbarium_api::common::ResourceSelection;
    let empty: ResourceSelection = serde_json::from_value(serde_json::json!({})).unwrap();
    assert_eq!(ResourceSelection::default(), empty);
    assert_eq!(empty.namespaces, ["*"]);
}

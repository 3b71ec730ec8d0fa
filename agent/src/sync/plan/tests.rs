use super::*;
use kube::ResourceExt;

const U1: &str = "3c2b1a09-0000-4000-8000-000000000001";
const U2: &str = "3c2b1a09-0000-4000-8000-000000000002";

fn meta(uid: &str, cluster: &str) -> Metadata {
    Metadata {
        items: 42,
        archive_bytes: 1000,
        phase: "PartiallySucceeded".into(),
        agent_version: "0.1.0".into(),
        ..Metadata::sample(uid, cluster)
    }
}

fn found(uid: &str, metadata: Option<Result<Metadata, String>>) -> Found {
    Found {
        dir: BackupDir {
            cluster_uid: "c1".into(),
            name: "nightly".into(),
            uid: uid.into(),
        },
        path: format!("herbarium/v1/backups/c1/nightly-{uid}/"),
        metadata,
    }
}

#[test]
fn names_are_deterministic_and_bounded() {
    assert_eq!(job_name("nightly", U1), "nightly-3c2b1a09");
    let long = job_name(&format!("{}-x", "a".repeat(243)), U1);
    assert!(long.len() <= 253);
    assert!(!long.contains("--"), "{long}");
    assert_eq!(job_name(&"b".repeat(253), U1).len(), 253);
}

#[test]
fn imports_unknown_committed_backups_only() {
    let known: BTreeSet<String> = [U2.to_string()].into();
    let p = plan(
        vec![
            found(U1, Some(Ok(meta(U1, "c1")))),
            found(U2, Some(Ok(meta(U2, "c1")))),
            found("3c2b1a09-0000-4000-8000-000000000003", None),
            found(
                "3c2b1a09-0000-4000-8000-000000000004",
                Some(Err("not valid: eof".into())),
            ),
        ],
        &known,
        &BTreeMap::new(),
        "loc-a",
    );
    assert_eq!((p.found, p.invalid), (3, 1));
    assert_eq!(p.create.len(), 1);
    let job = &p.create[0];
    assert_eq!(job.name, "nightly-3c2b1a09");
    assert_eq!(job.labels[BACKUP_UID_LABEL], U1);
    assert_eq!(job.spec.origin, Origin::Synced);
    assert_eq!(job.spec.location, "loc-a");
    assert_eq!(job.spec.deletion_policy, DeletionPolicy::Retain);
    assert_eq!(job.status.run.phase, Some(BackupPhase::PartiallySucceeded));
    assert_eq!(job.status.run.size_bytes, Some(1000));
    assert_eq!(
        job.status.run.storage_path.as_deref(),
        Some(format!("herbarium/v1/backups/c1/nightly-{U1}/").as_str())
    );
    assert!(job.status.run.completion_time.is_some());
    let m = invalid_message(&p).unwrap();
    assert!(
        m.contains("not valid: eof") && m.starts_with("1 unreadable"),
        "{m}"
    );
}

#[test]
fn invalid_reasons_are_bounded() {
    let many: Vec<Found> = (0..20)
        .map(|i| {
            let uid = format!("3c2b1a09-0000-4000-8000-0000000000{i:02}");
            found(&uid, Some(Err("x".repeat(1000))))
        })
        .collect();
    let mut wrong_cluster = found(U1, Some(Ok(meta(U1, "other"))));
    wrong_cluster.dir.cluster_uid = "c1".into();
    let mut all = many;
    all.push(wrong_cluster);
    let p = plan(all, &BTreeSet::new(), &BTreeMap::new(), "l");
    assert_eq!((p.found, p.invalid, p.create.len()), (21, 21, 0));
    assert_eq!(p.reasons.len(), MAX_INVALID_REASONS);
    assert!(p.reasons.iter().all(|r| r.len() <= MAX_REASON_CHARS + 3));
    assert!(invalid_message(&p).unwrap().ends_with("and 16 more"));
}

#[test]
fn label_values_are_valid() {
    assert_eq!(label_value("nightly.db-1"), "nightly.db-1");
    assert_eq!(label_value(&"a".repeat(100)).len(), 63);
    assert_eq!(label_value("-x_"), "x");
}

#[test]
fn synced_records_left_without_status_are_repaired() {
    let p = plan(
        vec![found(U1, Some(Ok(meta(U1, "c1"))))],
        &BTreeSet::new(),
        &BTreeMap::new(),
        "loc",
    );
    let mut job = BackupJob::new(&p.create[0].name, p.create[0].spec.clone());
    assert!(needs_repair(&job), "created, status never written");
    let known: BTreeSet<String> = [U1.to_string(), U2.to_string()].into();
    let unfinished: BTreeMap<String, String> = [(U1.to_string(), job.name_any())].into();
    let p = plan(
        vec![
            found(U1, Some(Ok(meta(U1, "c1")))),
            found(U2, Some(Ok(meta(U2, "c1")))),
        ],
        &known,
        &unfinished,
        "loc",
    );
    assert!(p.create.is_empty());
    assert_eq!(p.repair.len(), 1, "only the unfinished record");
    let (name, status) = &p.repair[0];
    assert_eq!(name, "nightly-3c2b1a09");
    assert_eq!(status.run.phase, Some(BackupPhase::PartiallySucceeded));
    assert_eq!(status.run.size_bytes, Some(1000));

    job.status = Some(status.clone());
    assert!(!needs_repair(&job), "a final phase needs nothing");
    job.status.as_mut().unwrap().run.phase = Some(BackupPhase::InProgress);
    assert!(needs_repair(&job));
    job.spec.origin = Origin::Schedule;
    job.status = None;
    assert!(
        !needs_repair(&job),
        "only synced records: a local job runs itself"
    );
}

#[test]
fn directory_names_kubernetes_refuses_are_invalid() {
    for name in ["nightly", "a.b-c", "0", &"a".repeat(253)] {
        assert!(is_object_name(name), "{name}");
    }
    for name in [
        "",
        "-a",
        ".a",
        "a.",
        "a-",
        "a..b",
        "a.-b",
        "A",
        "a_b",
        &"a".repeat(254),
    ] {
        assert!(!is_object_name(name), "{name}");
    }
    let with_name = |name: &str, uid: &str| {
        let mut f = found(uid, Some(Ok(meta(uid, "c1"))));
        f.dir.name = name.into();
        f
    };
    let p = plan(
        vec![with_name("-nightly", U1), with_name(".hidden", U2)],
        &BTreeSet::new(),
        &BTreeMap::new(),
        "loc",
    );
    assert_eq!((p.found, p.invalid, p.create.len()), (2, 2, 0));
    assert!(
        p.reasons[0].contains("\"-nightly-3c2b1a09\" is not a valid Kubernetes object name"),
        "{:?}",
        p.reasons
    );
}

//! RestoreJob against the local API servers (MemoryStore: the point here is Kubernetes).
//! Run with `source <dir>/env.sh` of `hack/local-up.sh`, or let test support start one.

mod common;

use std::sync::Arc;

use common::restore::*;
use herbarium_agent::store::MemoryStore;
use herbarium_api::agent::RestoreJob;
use herbarium_api::common::RestorePhase;
use herbarium_test_support::{env, wait_for};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{DynamicObject, ListParams, PostParams};
use kube::core::ApiResource;
use kube::{Api, Client};
use serde_json::json;

/// A backup of namespace `ns` with a mix of kinds, including a custom resource and its CRD.
fn objects(ns: &str, crd_group: &str) -> Vec<Obj> {
    let crd_name = format!("widgets.{crd_group}");
    vec![
        obj(
            "v1",
            "namespaces",
            "Namespace",
            false,
            json!({"metadata": {"name": ns, "labels": {"team": "shop"}}}),
        ),
        obj(
            "v1",
            "configmaps",
            "ConfigMap",
            true,
            json!({"metadata": {"name": "settings", "namespace": ns,
            "uid": "old", "resourceVersion": "1"}, "data": {"color": "green"}}),
        ),
        obj(
            "v1",
            "secrets",
            "Secret",
            true,
            json!({"metadata": {"name": "creds", "namespace": ns},
            "type": "Opaque", "data": {"password": "c2VjcmV0"}}),
        ),
        obj(
            "v1",
            "secrets",
            "Secret",
            true,
            json!({"metadata": {"name": "app-token-abc", "namespace": ns},
            "type": "kubernetes.io/service-account-token", "data": {}}),
        ),
        obj(
            "v1",
            "serviceaccounts",
            "ServiceAccount",
            true,
            json!({"metadata": {"name": "app", "namespace": ns}}),
        ),
        obj(
            "rbac.authorization.k8s.io/v1",
            "rolebindings",
            "RoleBinding",
            true,
            json!({
            "metadata": {"name": "app", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": ns}]}),
        ),
        obj(
            "v1",
            "services",
            "Service",
            true,
            json!({"metadata": {"name": "web", "namespace": ns},
            "spec": {"clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10"], "selector": {"app": "web"},
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}}),
        ),
        obj(
            "apps/v1",
            "deployments",
            "Deployment",
            true,
            json!({"metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"serviceAccountName": "app",
            "containers": [{"name": "web", "image": "nginx:1.27"}]}}}, "status": {"replicas": 2}}),
        ),
        obj(
            "apiextensions.k8s.io/v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
            json!({
            "metadata": {"name": crd_name},
            "spec": {"group": crd_group, "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                    "type": "object", "properties": {"spec": {"type": "object",
                        "properties": {"size": {"type": "integer"}}}}}}}]}}),
        ),
        Obj {
            group: leak(crd_group),
            version: "v1",
            resource: "widgets",
            kind: "Widget",
            namespaced: true,
            body: json!({"apiVersion": format!("{crd_group}/v1"), "kind": "Widget",
                "metadata": {"name": "w1", "namespace": ns}, "spec": {"size": 3}}),
        },
    ]
}

/// The restored objects of `ns` equal the backed-up ones, field by field (after cleaning).
async fn assert_restored(client: &Client, ns: &str, source_ns: &str, crd_group: &str) {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .get("settings")
        .await
        .unwrap();
    assert_eq!(cm.data.unwrap()["color"], "green");
    assert_ne!(cm.metadata.uid.as_deref(), Some("old"));
    let secret = Api::<Secret>::namespaced(client.clone(), ns)
        .get("creds")
        .await
        .unwrap();
    assert_eq!(secret.data.unwrap()["password"].0, b"secret");
    assert!(
        Api::<Secret>::namespaced(client.clone(), ns)
            .get_opt("app-token-abc")
            .await
            .unwrap()
            .is_none(),
        "token secrets are not restored"
    );
    let dynamic = |group: &str, kind: &str, plural: &str| {
        let ar = ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: if group.is_empty() {
                "v1".into()
            } else {
                format!("{group}/v1")
            },
            kind: kind.into(),
            plural: plural.into(),
        };
        Api::<DynamicObject>::namespaced_with(client.clone(), ns, &ar)
    };
    let rb = dynamic("rbac.authorization.k8s.io", "RoleBinding", "rolebindings")
        .get("app")
        .await
        .unwrap();
    assert_eq!(
        rb.data["subjects"][0]["namespace"], ns,
        "subject namespace mapped"
    );
    let svc = dynamic("", "Service", "services").get("web").await.unwrap();
    assert_ne!(
        svc.data["spec"]["clusterIP"], "10.0.0.10",
        "clusterIP is the target's to assign"
    );
    assert_eq!(svc.data["spec"]["ports"][0]["targetPort"], 8080);
    let deploy = dynamic("apps", "Deployment", "deployments")
        .get("web")
        .await
        .unwrap();
    assert_eq!(deploy.data["spec"]["replicas"], 2);
    assert_eq!(
        deploy.data["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    let widget = dynamic(crd_group, "Widget", "widgets")
        .get("w1")
        .await
        .unwrap();
    assert_eq!(widget.data["spec"]["size"], 3);
    let namespace = Api::<Namespace>::all(client.clone()).get(ns).await.unwrap();
    if ns != source_ns {
        assert_eq!(namespace.metadata.labels.unwrap()["team"], "shop");
    }
}

#[tokio::test]
async fn restores_into_another_namespace_and_into_the_second_cluster() {
    let env = env();
    let c1 = env.clusters[0].client().await.unwrap();
    let c2 = env.clusters[1].client().await.unwrap();
    let source_ns = format!("shop-{}", std::process::id());
    let crd_group = format!("t{}.example.com", std::process::id());
    let store = Arc::new(MemoryStore::new());
    let dir = write_backup(&store, "nightly", UID, &objects(&source_ns, &crd_group)).await;

    // Into a new namespace of the first cluster.
    let agent1 = agent_namespace(&c1).await;
    let ctl1 = start_controller(&c1, &agent1, store.clone()).await;
    let target_ns = format!("{source_ns}-copy");
    let job = restore_job(
        &c1,
        &agent1,
        "to-copy",
        &dir,
        json!({"namespaceMapping": {source_ns.clone(): target_ns.clone()}}),
    )
    .await;
    let status = run(&job);
    assert_eq!(status.phase, Some(RestorePhase::Succeeded), "{status:?}");
    let counts = status.counts.clone().unwrap();
    assert_eq!((counts.restored, counts.failed), (9, 0), "{counts:?}");
    assert_restored(&c1, &target_ns, &source_ns, &crd_group).await;

    // The same namespace, into the second cluster (which has never seen the CRD).
    let agent2 = agent_namespace(&c2).await;
    let ctl2 = start_controller(&c2, &agent2, store.clone()).await;
    let job = restore_job(&c2, &agent2, "to-c2", &dir, json!({})).await;
    assert_eq!(
        run(&job).phase,
        Some(RestorePhase::Succeeded),
        "{:?}",
        run(&job)
    );
    assert_restored(&c2, &source_ns, &source_ns, &crd_group).await;
    ctl1.abort();
    ctl2.abort();
}

#[tokio::test]
async fn existing_objects_are_retained_or_replaced() {
    let c1 = env().clusters[0].client().await.unwrap();
    let ns = format!("keep-{}", std::process::id());
    let store = Arc::new(MemoryStore::new());
    let dir = write_backup(
        &store,
        "nightly",
        UID,
        &[
            namespace_obj(&ns),
            obj(
                "v1",
                "configmaps",
                "ConfigMap",
                true,
                json!({"metadata": {"name": "a", "namespace": ns}, "data": {"v": "backup"}}),
            ),
            obj(
                "v1",
                "configmaps",
                "ConfigMap",
                true,
                json!({"metadata": {"name": "b", "namespace": ns}, "data": {"v": "backup"}}),
            ),
        ],
    )
    .await;
    let agent = agent_namespace(&c1).await;
    let ctl = start_controller(&c1, &agent, store).await;
    let first = restore_job(&c1, &agent, "first", &dir, json!({})).await;
    assert_eq!(run(&first).counts.clone().unwrap().restored, 3);

    let cms = Api::<ConfigMap>::namespaced(c1.clone(), &ns);
    let changed: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "a"}, "data": {"v": "live"}})).unwrap();
    let mut live = cms.get("a").await.unwrap();
    live.data = changed.data;
    cms.replace("a", &PostParams::default(), &live)
        .await
        .unwrap();

    let retain = restore_job(
        &c1,
        &agent,
        "retain",
        &dir,
        json!({"existingResourcePolicy": "Retain"}),
    )
    .await;
    let counts = run(&retain).counts.clone().unwrap();
    assert_eq!(
        (counts.restored, counts.skipped, counts.failed),
        (0, 3, 0),
        "{counts:?}"
    );
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["v"], "live");

    let replace = restore_job(
        &c1,
        &agent,
        "replace",
        &dir,
        json!({"existingResourcePolicy": "Replace"}),
    )
    .await;
    let counts = run(&replace).counts.clone().unwrap();
    assert_eq!(
        (counts.restored, counts.skipped, counts.failed),
        (3, 0, 0),
        "{counts:?}"
    );
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["v"], "backup");
    ctl.abort();
}

#[tokio::test]
async fn a_corrupt_archive_or_another_clusters_backup_fails_and_changes_nothing() {
    let c1 = env().clusters[0].client().await.unwrap();
    let ns = format!("corrupt-{}", std::process::id());
    let store = Arc::new(MemoryStore::new());
    let objects: Vec<Obj> = std::iter::once(namespace_obj(&ns))
        .chain((0..200).map(|i| obj("v1", "configmaps", "ConfigMap", true,
            json!({"metadata": {"name": format!("cm-{i}"), "namespace": ns}, "data": {"i": i.to_string()}}))))
        .collect();
    let dir = write_backup(&store, "nightly", UID, &objects).await;
    let agent = agent_namespace(&c1).await;
    let ctl = start_controller(&c1, &agent, store.clone()).await;

    // A sound archive, but the job asks for another cluster's backup.
    let job = restore_job(
        &c1,
        &agent,
        "other-cluster",
        &dir,
        json!({"backup": {"name": "nightly", "uid": UID, "clusterUID": "another-cluster",
            "storagePath": dir}}),
    )
    .await;
    assert_eq!(run(&job).phase, Some(RestorePhase::Failed));
    let message = &run(&job).errors.last().unwrap().message;
    assert!(
        message.contains("the restore asks for the backup of cluster \"another-cluster\""),
        "{message}"
    );
    assert!(
        Api::<Namespace>::all(c1.clone())
            .get_opt(&ns)
            .await
            .unwrap()
            .is_none(),
        "namespace created"
    );

    let archive = format!("{dir}resources.tar.zst");
    let mut bytes = store.blob(&archive).unwrap().to_vec();
    let last = bytes.len() - 10;
    bytes[last] ^= 0x55; // corrupt the end: the first objects would read fine
    store.set_blob(&archive, bytes);

    let job = restore_job(&c1, &agent, "corrupt", &dir, json!({})).await;
    let status = run(&job);
    assert_eq!(status.phase, Some(RestorePhase::Failed));
    let message = &status.errors.last().unwrap().message;
    assert!(message.contains("archive refused"), "{message}");
    assert!(
        Api::<Namespace>::all(c1.clone())
            .get_opt(&ns)
            .await
            .unwrap()
            .is_none(),
        "namespace created"
    );
    assert!(
        Api::<ConfigMap>::all(c1.clone())
            .list(&ListParams::default().fields(&format!("metadata.namespace={ns}")))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Truncated: shorter than the index says.
    let bytes = store.blob(&archive).unwrap();
    store.set_blob(&archive, bytes.slice(..bytes.len() / 2));
    let job = restore_job(&c1, &agent, "truncated", &dir, json!({})).await;
    assert_eq!(run(&job).phase, Some(RestorePhase::Failed));
    assert!(
        run(&job)
            .errors
            .last()
            .unwrap()
            .message
            .contains("truncated"),
        "{:?}",
        run(&job).errors
    );
    assert!(
        Api::<Namespace>::all(c1.clone())
            .get_opt(&ns)
            .await
            .unwrap()
            .is_none()
    );
    ctl.abort();
}

/// A CRD whose `spec.size` cannot change (CEL transition rule): an update is refused as invalid.
fn immutable_crd(group: &str) -> Obj {
    obj(
        "apiextensions.k8s.io/v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        json!({
        "metadata": {"name": format!("locks.{group}")},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"plural": "locks", "singular": "lock", "kind": "Lock", "listKind": "LockList"},
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object", "properties": {"spec": {"type": "object",
                    "properties": {"size": {"type": "integer"}},
                    "x-kubernetes-validations": [{"rule": "self.size == oldSelf.size", "message": "size is immutable"}]}}}}}]}}),
    )
}

#[tokio::test]
async fn replace_recreates_what_cannot_be_updated_and_interrupted_jobs_run_again() {
    let c1 = env().clusters[0].client().await.unwrap();
    let ns = format!("lock-{}", std::process::id());
    let group = format!("l{}.example.com", std::process::id());
    let store = Arc::new(MemoryStore::new());
    let lock = |size: i64| Obj {
        group: leak(&group),
        version: "v1",
        resource: "locks",
        kind: "Lock",
        namespaced: true,
        body: json!({"apiVersion": format!("{group}/v1"), "kind": "Lock",
            "metadata": {"name": "l1", "namespace": ns}, "spec": {"size": size}}),
    };
    let dir = write_backup(
        &store,
        "nightly",
        UID,
        &[immutable_crd(&group), namespace_obj(&ns), lock(3)],
    )
    .await;
    let agent = agent_namespace(&c1).await;

    // A job the agent left InProgress (it stopped mid-way) is run when the agent starts.
    let jobs = Api::<RestoreJob>::namespaced(c1.clone(), &agent);
    let job: RestoreJob = serde_json::from_value(json!({"apiVersion": "agent.herbarium.io/v1alpha1",
        "kind": "RestoreJob", "metadata": {"name": "interrupted", "namespace": agent},
        "spec": {"backup": {"name": "nightly", "uid": UID, "clusterUID": CLUSTER_UID, "storagePath": dir},
            "location": "loc"}})).unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    let status = json!({"apiVersion": "agent.herbarium.io/v1alpha1", "kind": "RestoreJob",
        "status": {"phase": "InProgress", "stage": "Namespaces"}});
    jobs.patch_status(
        "interrupted",
        &kube::api::PatchParams::apply("test").force(),
        &kube::api::Patch::Apply(&status),
    )
    .await
    .unwrap();
    let ctl = start_controller(&c1, &agent, store.clone()).await;
    let done = wait_for("the interrupted job to finish", WAIT * 3, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("interrupted").await.ok()?;
            (j.status.as_ref()?.run.phase? != RestorePhase::InProgress).then_some(j)
        }
    })
    .await
    .unwrap();
    assert_eq!(
        run(&done).phase,
        Some(RestorePhase::Succeeded),
        "{:?}",
        run(&done)
    );
    assert_eq!(run(&done).counts.clone().unwrap().restored, 3);

    // The live object drifts; Replace cannot update `size` and re-creates the object instead.
    let ar = ApiResource {
        group: group.clone(),
        version: "v1".into(),
        api_version: format!("{group}/v1"),
        kind: "Lock".into(),
        plural: "locks".into(),
    };
    let locks = Api::<DynamicObject>::namespaced_with(c1.clone(), &ns, &ar);
    locks.delete("l1", &Default::default()).await.unwrap();
    let mut drifted: DynamicObject = serde_json::from_value(lock(5).body).unwrap();
    drifted.metadata.namespace = Some(ns.clone());
    let old_uid = locks
        .create(&PostParams::default(), &drifted)
        .await
        .unwrap()
        .metadata
        .uid;
    let replaced = restore_job(
        &c1,
        &agent,
        "replace",
        &dir,
        json!({"existingResourcePolicy": "Replace"}),
    )
    .await;
    let counts = run(&replaced).counts.clone().unwrap();
    assert_eq!(
        (counts.restored, counts.failed),
        (3, 0),
        "{:?}",
        run(&replaced)
    );
    let now = locks.get("l1").await.unwrap();
    assert_eq!(now.data["spec"]["size"], 3);
    assert_ne!(now.metadata.uid, old_uid, "re-created, not updated");
    ctl.abort();
}

#[tokio::test]
async fn namespaces_missing_from_the_backup_are_created() {
    let c1 = env().clusters[0].client().await.unwrap();
    let src = format!("bare-{}", std::process::id());
    let store = Arc::new(MemoryStore::new());
    let dir = write_backup(
        &store,
        "nightly",
        UID,
        &[obj(
            "v1",
            "configmaps",
            "ConfigMap",
            true,
            json!({"metadata": {"name": "a", "namespace": src}, "data": {"v": "1"}}),
        )],
    )
    .await;
    let agent = agent_namespace(&c1).await;
    let ctl = start_controller(&c1, &agent, store).await;
    let target = format!("{src}-mapped");
    let job = restore_job(
        &c1,
        &agent,
        "bare",
        &dir,
        json!({"namespaceMapping": {src: target.clone()}}),
    )
    .await;
    assert_eq!(
        run(&job).phase,
        Some(RestorePhase::Succeeded),
        "{:?}",
        run(&job)
    );
    let cm = Api::<ConfigMap>::namespaced(c1.clone(), &target)
        .get("a")
        .await
        .unwrap();
    assert_eq!(cm.data.unwrap()["v"], "1");
    ctl.abort();
}

#[tokio::test]
async fn a_job_waits_for_its_location_to_arrive() {
    let c1 = env().clusters[0].client().await.unwrap();
    let ns = format!("late-{}", std::process::id());
    let store = Arc::new(MemoryStore::new());
    let dir = write_backup(&store, "nightly", UID, &[namespace_obj(&ns)]).await;
    let agent = agent_namespace(&c1).await;
    let ctl = tokio::spawn(herbarium_agent::restore::job::run(context(
        &c1, &agent, store,
    )));
    let jobs = Api::<RestoreJob>::namespaced(c1.clone(), &agent);
    let job: RestoreJob = serde_json::from_value(json!({"apiVersion": "agent.herbarium.io/v1alpha1",
        "kind": "RestoreJob", "metadata": {"name": "early", "namespace": agent},
        "spec": {"backup": {"name": "nightly", "uid": UID, "clusterUID": CLUSTER_UID, "storagePath": dir},
            "location": "loc"}}))
    .unwrap();
    jobs.create(&PostParams::default(), &job).await.unwrap();
    // The controller has seen the job without its location (no phase yet) ...
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    assert!(jobs.get("early").await.unwrap().status.is_none());
    // ... and runs it once the location arrives.
    location_access(&c1, &agent, "loc").await;
    let done = wait_for("the job to finish", WAIT, || {
        let jobs = jobs.clone();
        async move {
            let j = jobs.get("early").await.ok()?;
            (j.status.as_ref()?.run.phase? == RestorePhase::Succeeded).then_some(j)
        }
    })
    .await
    .unwrap();
    assert_eq!(run(&done).counts.clone().unwrap().restored, 1);
    ctl.abort();
}

/// Opens no store: what a location whose credentials do not work gives.
struct Unopenable;

impl herbarium_agent::context::StoreFactory for Unopenable {
    type Store = Arc<MemoryStore>;
    fn open(
        &self,
        _: &herbarium_api::agent::LocationAccessSpec,
    ) -> Result<Self::Store, herbarium_agent::store::StoreError> {
        Err(herbarium_agent::store::StoreError::Authentication(
            "no token".into(),
        ))
    }
}

#[tokio::test]
async fn a_restore_that_cannot_open_its_location_fails_and_is_counted() {
    let c1 = env().clusters[0].client().await.unwrap();
    let agent = agent_namespace(&c1).await;
    location_access(&c1, &agent, "loc").await;
    let ctx = Arc::new(herbarium_agent::context::Context::new(
        c1.clone(),
        &agent,
        Unopenable,
        herbarium_agent::metrics::Metrics::default(),
    ));
    let ctl = tokio::spawn(herbarium_agent::restore::job::run(ctx.clone()));
    let job = restore_job(
        &c1,
        &agent,
        "unopenable",
        "herbarium/v1/backups/x/",
        json!({}),
    )
    .await;
    assert_eq!(run(&job).phase, Some(RestorePhase::Failed));
    let message = &run(&job).errors.last().unwrap().message;
    assert!(message.contains("opening the location failed"), "{message}");
    assert_eq!(ctx.metrics.restores_with("Failed"), 1);
    ctl.abort();
}

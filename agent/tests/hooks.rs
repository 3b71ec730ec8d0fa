//! Pre/post hooks of a backup against cluster-1's API server (pods marked Running by the test,
//! there is no kubelet) with a recording pods/exec: which pods, which order, what a failure does.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use futures::future::BoxFuture;
use herbarium_agent::backup::hooks::{Exec, Target};
use herbarium_agent::backup::reconcile::reconcile;
use herbarium_agent::context::StoreFactory;
use herbarium_agent::store::{AzureStores, BlobStore};
use herbarium_api::agent::{BackupJob, BackupJobSpec, LocationAccess};
use herbarium_api::common::{BackupPhase, Origin, ResourceSelection, RuleAction};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

/// What `stop` does: stops the agent (its Context), as SIGTERM would.
type StopAgent = Box<dyn Fn() + Send + Sync>;
/// What `stage S` does: waits for the job's reported stage to be S, else fails.
type AwaitStage = Box<dyn Fn(String) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// Records (pod, command); a command whose first word is `fail` exits non-zero, one whose first
/// word is `stop` stops the agent, `stage S` succeeds once the job reports stage S.
#[derive(Default)]
struct Recorder(
    Mutex<Vec<(String, String)>>,
    Mutex<Option<StopAgent>>,
    Mutex<Option<AwaitStage>>,
);

impl Exec for Recorder {
    fn exec(&self, t: &Target, command: &[String]) -> BoxFuture<'static, Result<(), String>> {
        self.0
            .lock()
            .unwrap()
            .push((t.pod.clone(), command.join(" ")));
        if command.first().map(String::as_str) == Some("stop")
            && let Some(stop) = self.1.lock().unwrap().as_ref()
        {
            stop();
        }
        if let (Some("stage"), Some(want)) = (command.first().map(String::as_str), command.get(1))
            && let Some(wait) = self.2.lock().unwrap().as_ref()
        {
            return wait(want.clone());
        }
        let fail = command.first().map(String::as_str) == Some("fail");
        Box::pin(async move {
            if fail {
                Err("exit code 1".into())
            } else {
                Ok(())
            }
        })
    }
}

fn action(command: &[&str]) -> RuleAction {
    RuleAction {
        pod_selector: LabelSelector {
            match_labels: Some([("app".to_string(), "db".to_string())].into()),
            ..Default::default()
        },
        command: command.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn run(
    pre: Vec<RuleAction>,
    post: Vec<RuleAction>,
) -> (BackupJob, Vec<(String, String)>, bool) {
    let client = cluster_client().await;
    let c = container().await;
    let settings = agent_with_role(&c).await;
    let agent_ns = herbarium_test_support::unique_namespace(&client, "agent-hk")
        .await
        .unwrap();
    let src = herbarium_test_support::unique_namespace(&client, "agent-hksrc")
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &src);
    for (name, app) in [("db-0", "db"), ("web-0", "web")] {
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": app}},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]}}))
            .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let status = json!({"status": {"phase": "Running"}});
        pods.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .unwrap();
    }
    let location = LocationAccess::new("loc", location_spec(&c, &var("HERBARIUM_BLOB_ENDPOINT")));
    Api::<LocationAccess>::namespaced(client.clone(), &agent_ns)
        .create(&PostParams::default(), &location)
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let (mut ctx, _) = context_with(
        client.clone(),
        &agent_ns,
        settings.clone(),
        Some(recorder.clone()),
    );
    Arc::get_mut(&mut ctx).unwrap().settings.shutdown_grace = std::time::Duration::ZERO;
    let stopping = ctx.clone();
    *recorder.1.lock().unwrap() = Some(Box::new(move || stopping.stop()));
    let jobs: Api<BackupJob> = Api::namespaced(client.clone(), &agent_ns);
    let watched = jobs.clone();
    *recorder.2.lock().unwrap() = Some(Box::new(move |want: String| {
        let jobs = watched.clone();
        Box::pin(async move {
            let mut seen = None;
            for _ in 0..100 {
                let job = jobs.get("hooked").await.map_err(|e| e.to_string())?;
                seen = job.status.and_then(|s| s.run.stage);
                if seen.as_deref() == Some(want.as_str()) {
                    return Ok(());
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(format!("the stage stayed {seen:?}, not {want}"))
        })
    }));
    let spec = BackupJobSpec {
        backup_name: "hooked".into(),
        backup_uid: uuid::Uuid::new_v4().to_string(),
        cluster_uid: "cluster-1-uid".into(),
        location: "loc".into(),
        origin: Origin::Manual,
        selection: Some(ResourceSelection {
            namespaces: vec![src.clone()],
            ..Default::default()
        }),
        pre_hooks: pre,
        post_hooks: post,
        volume_snapshots: None,
        deletion_policy: Default::default(),
        garden: None,
    };
    jobs.create(&PostParams::default(), &BackupJob::new("hooked", spec))
        .await
        .unwrap();
    for _ in 0..2 {
        reconcile(Arc::new(jobs.get("hooked").await.unwrap()), ctx.clone())
            .await
            .unwrap();
    }
    let job = jobs.get("hooked").await.unwrap();
    let dir = herbarium_agent::format::backup_dir(
        Some("team-a"),
        "cluster-1-uid",
        "hooked",
        &job.spec.backup_uid,
    );
    let store = AzureStores::new(settings).open(&location.spec).unwrap();
    let committed = store
        .size(&format!("{dir}metadata.json"))
        .await
        .unwrap()
        .is_some();
    let calls = recorder.0.lock().unwrap().clone();
    (job, calls, committed)
}

#[tokio::test]
async fn pre_and_post_hooks_run_in_the_selected_pods_around_the_backup() {
    let (job, calls, committed) = run(vec![action(&["freeze"])], vec![action(&["thaw"])]).await;
    assert_eq!(job.status.unwrap().run.phase, Some(BackupPhase::Succeeded));
    assert!(committed);
    assert_eq!(
        calls,
        [
            ("db-0".to_string(), "freeze".to_string()),
            ("db-0".to_string(), "thaw".to_string())
        ]
    );
}

#[tokio::test]
async fn a_failed_pre_hook_fails_the_backup_but_post_hooks_still_run() {
    let (job, calls, committed) =
        run(vec![action(&["fail", "now"])], vec![action(&["thaw"])]).await;
    let status = job.status.unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Failed));
    assert!(
        status
            .errors
            .last()
            .unwrap()
            .message
            .contains("pre-hook failed"),
        "{:?}",
        status.errors
    );
    assert!(!committed, "nothing committed");
    assert_eq!(
        calls.last().unwrap(),
        &("db-0".to_string(), "thaw".to_string())
    );
}

#[tokio::test]
async fn a_failed_post_hook_makes_the_backup_partially_succeeded() {
    let (job, _, committed) = run(vec![], vec![action(&["fail"])]).await;
    let status = job.status.unwrap().run;
    assert_eq!(
        status.phase,
        Some(BackupPhase::PartiallySucceeded),
        "{status:?}"
    );
    assert!(committed);
    assert!(
        status
            .errors
            .iter()
            .any(|e| e.message.contains("post-hook"))
    );
}

#[tokio::test]
async fn a_stop_during_the_backup_thaws_and_commits_nothing() {
    // The pre-hook stops the agent; with no grace left the run gives up before writing.
    let (job, calls, committed) = run(vec![action(&["stop"])], vec![action(&["thaw"])]).await;
    let status = job.status.unwrap().run;
    assert_eq!(status.phase, Some(BackupPhase::Failed));
    let message = &status.errors.last().unwrap().message;
    assert!(
        message.contains("stopped") && message.contains("not committed"),
        "{message}"
    );
    assert!(!committed, "nothing committed");
    assert_eq!(
        calls,
        [
            ("db-0".to_string(), "stop".to_string()),
            ("db-0".to_string(), "thaw".to_string())
        ]
    );
}

#[tokio::test]
async fn the_stage_says_when_hooks_run() {
    let (job, calls, committed) = run(
        vec![action(&["stage", "PreHooks"])],
        vec![action(&["stage", "PostHooks"])],
    )
    .await;
    let status = job.status.unwrap().run;
    assert_eq!(
        (status.phase, status.stage.as_deref()),
        (Some(BackupPhase::Succeeded), Some("Completed")),
        "{:?}",
        status.errors
    );
    assert!(committed);
    assert_eq!(calls.len(), 2);
}

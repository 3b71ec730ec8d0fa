//! Pre/post hooks: the resolved Rule actions of a BackupJob, run with pods/exec in the running
//! pods of the backed-up namespaces that match each action's selector.
//!
//! Failure semantics (why): a failed pre-hook fails the backup, because the application may not
//! be quiesced and an inconsistent backup is worse than none — but the post-hooks still run, to
//! undo whatever the pre-hooks did. A failed post-hook makes the backup PartiallySucceeded: the
//! data is good, the application may need attention. An action that matches no pod does nothing.
//! A background action is started and not awaited; its exec stream is closed after the backup
//! (the command itself may outlive that: it should end on its own or on stdin EOF).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use herbarium_api::common::RuleAction;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{AttachParams, ListParams};
use kube::{Api, Client};
use tokio::task::JoinHandle;

use super::select::{matches, selector_string};

/// Runs a command in a container; `Ok` when it exited 0. A trait so that behaviour is tested
/// without a kubelet (the local clusters have none).
pub trait Exec: Send + Sync + 'static {
    fn exec(&self, target: &Target, command: &[String]) -> BoxFuture<'static, Result<(), String>>;
}

/// pods/exec through the API server (WebSocket).
pub struct KubeExec(pub Client);

impl Exec for KubeExec {
    fn exec(&self, t: &Target, command: &[String]) -> BoxFuture<'static, Result<(), String>> {
        let api: Api<Pod> = Api::namespaced(self.0.clone(), &t.namespace);
        let (pod, container, command) = (t.pod.clone(), t.container.clone(), command.to_vec());
        Box::pin(async move {
            // kube needs one stream open; stderr also explains a failure.
            let params = AttachParams::default()
                .container(container)
                .stdin(false)
                .stdout(false)
                .stderr(true);
            let mut process = api
                .exec(&pod, command, &params)
                .await
                .map_err(|e| format!("exec: {e}"))?;
            let stderr = process.stderr();
            let status = process.take_status();
            // Read stderr while waiting, or a chatty command blocks on a full buffer.
            let (tail, status) = tokio::join!(last_bytes(stderr, 1024), async {
                match status {
                    Some(s) => s.await,
                    None => None,
                }
            });
            let _ = process.join().await;
            let tail = String::from_utf8_lossy(&tail).trim().to_string();
            match status {
                Some(s) if s.status.as_deref() == Some("Success") => Ok(()),
                Some(s) => {
                    let message = s.message.unwrap_or_else(|| "the command failed".into());
                    Err(if tail.is_empty() {
                        message
                    } else {
                        format!("{message}; stderr: {tail}")
                    })
                }
                None => Err("the exec stream ended without an exit status".into()),
            }
        })
    }
}

/// The last `keep` bytes of a stream.
async fn last_bytes(stream: Option<impl tokio::io::AsyncRead + Unpin>, keep: usize) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut tail = Vec::new();
    let Some(mut stream) = stream else {
        return tail;
    };
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > keep {
            tail.drain(..tail.len() - keep);
        }
    }
    tail
}

/// Where one action runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

/// The running pods of `namespaces` (already filtered by the action's selector on the server)
/// that the action runs in: all, or the first by namespace/name with `runInSinglePod`; the
/// container named, else each pod's first. Pure.
pub fn targets(action: &RuleAction, pods: &[Pod], namespaces: &BTreeSet<String>) -> Vec<Target> {
    let mut out: Vec<Target> = pods
        .iter()
        .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
        .filter(|p| {
            matches(
                &action.pod_selector,
                p.metadata.labels.as_ref().unwrap_or(&Default::default()),
            )
            .unwrap_or(false)
        })
        .filter_map(|p| {
            let namespace = p.metadata.namespace.clone()?;
            if !namespaces.contains(&namespace) {
                return None;
            }
            let first = p.spec.as_ref()?.containers.first()?.name.clone();
            Some(Target {
                namespace,
                pod: p.metadata.name.clone()?,
                container: action.container.clone().unwrap_or(first),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.namespace, &a.pod).cmp(&(&b.namespace, &b.pod)));
    if action.run_in_single_pod {
        out.truncate(1);
    }
    out
}

/// What running a list of actions did.
#[derive(Default)]
pub struct Report {
    /// (item, message) of every failed action run.
    pub errors: Vec<(String, String)>,
    /// Background commands, stopped by [`Report::stop_background`].
    pub background: Vec<JoinHandle<()>>,
}

impl Report {
    pub fn stop_background(&mut self) {
        for h in self.background.drain(..) {
            h.abort();
        }
    }
}

/// Lists the pods of each action (its selector on the server) and runs the actions in order.
pub async fn run_actions(
    client: &Client,
    exec: &Arc<dyn Exec>,
    actions: &[RuleAction],
    namespaces: &BTreeSet<String>,
) -> Report {
    let mut report = Report::default();
    for (i, action) in actions.iter().enumerate() {
        let mut pods = Vec::new();
        for ns in namespaces {
            let selector = match selector_string(&action.pod_selector) {
                Ok(s) => s,
                Err(e) => {
                    report.errors.push((format!("hook {i}"), e));
                    break;
                }
            };
            let params = ListParams::default().labels(&selector);
            match Api::<Pod>::namespaced(client.clone(), ns)
                .list(&params)
                .await
            {
                Ok(list) => pods.extend(list.items),
                Err(e) => report
                    .errors
                    .push((format!("hook {i}"), format!("listing pods in {ns}: {e}"))),
            }
        }
        run_action(
            exec,
            i,
            action,
            &targets(action, &pods, namespaces),
            &mut report,
        )
        .await;
    }
    report
}

/// Runs one action on its targets, foreground ones one after the other with the timeout.
pub async fn run_action(
    exec: &Arc<dyn Exec>,
    index: usize,
    action: &RuleAction,
    targets: &[Target],
    report: &mut Report,
) {
    let timeout = match action.timeout.as_ref().map(|t| t.parse()) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            report.errors.push((format!("hook {index}"), e));
            return;
        }
        None => Duration::from_secs(60),
    };
    for t in targets {
        let item = format!("/v1/pods/{}/{}", t.namespace, t.pod);
        let run = exec.exec(t, &action.command);
        if action.background {
            report.background.push(tokio::spawn(async move {
                let _ = run.await;
            }));
            continue;
        }
        let outcome = match tokio::time::timeout(timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(format!("did not finish within {}s", timeout.as_secs())),
        };
        if let Err(e) = outcome {
            report.errors.push((
                item,
                format!(
                    "hook {index} ({:?}) in container {}: {e}",
                    action.command, t.container
                ),
            ));
        }
    }
}

/// The hooks of one backup.
pub struct Hooks<'a> {
    pub pre: &'a [RuleAction],
    pub post: &'a [RuleAction],
    pub exec: Arc<dyn Exec>,
}

/// Runs the pre-hooks once and the post-hooks exactly once, whatever happens in between.
pub(super) struct HookRun<'a> {
    client: &'a Client,
    hooks: Option<&'a Hooks<'a>>,
    namespaces: BTreeSet<String>,
    background: Vec<JoinHandle<()>>,
    post_done: bool,
}

impl<'a> HookRun<'a> {
    pub(super) fn new(
        client: &'a Client,
        hooks: Option<&'a Hooks<'a>>,
        namespaces: BTreeSet<String>,
    ) -> Self {
        Self {
            client,
            hooks,
            namespaces,
            background: Vec::new(),
            post_done: false,
        }
    }

    /// Errors are logged in the journal; `Err` (the first one) means the backup must not go on.
    pub(super) async fn pre(
        &mut self,
        journal: &mut super::journal::Journal,
    ) -> Result<(), String> {
        let Some(h) = self.hooks.filter(|h| !h.pre.is_empty()) else {
            return Ok(());
        };
        let mut report = run_actions(self.client, &h.exec, h.pre, &self.namespaces).await;
        self.background.append(&mut report.background);
        let first = report
            .errors
            .first()
            .map(|(item, m)| format!("pre-hook failed in {item}: {m}"));
        for (item, message) in report.errors {
            journal.error(item, message);
        }
        first.map_or(Ok(()), Err)
    }

    /// Failures become item errors (the backup is PartiallySucceeded).
    pub(super) async fn post(&mut self, journal: &mut super::journal::Journal) {
        if std::mem::replace(&mut self.post_done, true) {
            return;
        }
        if let Some(h) = self.hooks.filter(|h| !h.post.is_empty()) {
            let mut report = run_actions(self.client, &h.exec, h.post, &self.namespaces).await;
            self.background.append(&mut report.background);
            for (item, message) in report.errors {
                journal.error(item, format!("post-hook: {message}"));
            }
        }
        for h in self.background.drain(..) {
            h.abort();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use kube::api::ObjectMeta;
    use std::sync::Mutex;

    /// Records every exec; fails in pods named `bad*`, never finishes in pods named `slow*`.
    #[derive(Default)]
    pub(crate) struct FakeExec(pub Mutex<Vec<(Target, Vec<String>)>>);

    impl Exec for FakeExec {
        fn exec(&self, t: &Target, command: &[String]) -> BoxFuture<'static, Result<(), String>> {
            self.0.lock().unwrap().push((t.clone(), command.to_vec()));
            let pod = t.pod.clone();
            Box::pin(async move {
                if pod.starts_with("slow") {
                    futures::future::pending::<()>().await;
                }
                if pod.starts_with("bad") {
                    Err("exit code 1".into())
                } else {
                    Ok(())
                }
            })
        }
    }

    fn pod(ns: &str, name: &str, app: &str, phase: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                labels: Some([("app".to_string(), app.to_string())].into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![
                    Container {
                        name: "main".into(),
                        ..Default::default()
                    },
                    Container {
                        name: "side".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            }),
        }
    }

    fn action(app: &str) -> RuleAction {
        RuleAction {
            pod_selector: LabelSelector {
                match_labels: Some([("app".to_string(), app.to_string())].into()),
                ..Default::default()
            },
            command: vec!["fsfreeze".into(), "-f".into()],
            ..Default::default()
        }
    }

    #[test]
    fn targets_are_running_matching_pods_of_the_backed_up_namespaces() {
        let pods = [
            pod("a", "db-2", "db", "Running"),
            pod("a", "db-1", "db", "Running"),
            pod("a", "db-0", "db", "Pending"),
            pod("a", "web", "web", "Running"),
            pod("other", "db-9", "db", "Running"),
        ];
        let ns: BTreeSet<String> = ["a".to_string()].into();
        let t = targets(&action("db"), &pods, &ns);
        let names: Vec<_> = t
            .iter()
            .map(|t| (t.pod.as_str(), t.container.as_str()))
            .collect();
        assert_eq!(names, [("db-1", "main"), ("db-2", "main")]);
        let single = RuleAction {
            run_in_single_pod: true,
            container: Some("side".into()),
            ..action("db")
        };
        let t = targets(&single, &pods, &ns);
        assert_eq!(
            t,
            [Target {
                namespace: "a".into(),
                pod: "db-1".into(),
                container: "side".into()
            }]
        );
    }

    #[tokio::test]
    async fn failures_and_timeouts_are_reported_and_background_is_not_awaited() {
        let fake = Arc::new(FakeExec::default());
        let exec: Arc<dyn Exec> = fake.clone();
        let t = |pod: &str| Target {
            namespace: "a".into(),
            pod: pod.into(),
            container: "main".into(),
        };
        let mut report = Report::default();
        let quick = RuleAction {
            timeout: Some("50ms".into()),
            ..action("db")
        };
        run_action(
            &exec,
            0,
            &quick,
            &[t("ok"), t("bad"), t("slow")],
            &mut report,
        )
        .await;
        let errors: Vec<_> = report
            .errors
            .iter()
            .map(|(item, m)| {
                (
                    item.as_str(),
                    m.contains("exit code 1"),
                    m.contains("within"),
                )
            })
            .collect();
        assert_eq!(
            errors,
            [
                ("/v1/pods/a/bad", true, false),
                ("/v1/pods/a/slow", false, true)
            ]
        );
        assert_eq!(fake.0.lock().unwrap().len(), 3, "every target ran");
        let background = RuleAction {
            background: true,
            ..action("db")
        };
        run_action(&exec, 1, &background, &[t("slow-bg")], &mut report).await;
        assert_eq!(report.background.len(), 1);
        report.stop_background();
        assert!(report.background.is_empty());
    }
}

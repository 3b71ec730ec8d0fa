//! The real binary as a host process, as the controller's tests will run it: KUBECONFIG, the
//! AZURE_* workload identity variables with a minted token file, HERBARIUM_CA_FILE. It validates
//! a LocationAccess, runs a BackupJob, renews its Lease, and stops on SIGTERM.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use herbarium_api::agent::{BackupJob, BackupJobSpec, LocationAccess};
use herbarium_api::common::{BackupPhase, Origin, ResourceSelection};
use herbarium_api::constants::{AGENT_NAME, AGENT_VERSION_ANNOTATION};
use herbarium_api::garden::ValidationReason;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn host_process_validates_backs_up_and_heartbeats() {
    let client = cluster_client().await;
    let c = container().await;
    let (client_id, principal) = identity(Some("cluster-1")).await;
    grant(&container_scope(&c), &principal).await;
    let ns = herbarium_test_support::unique_namespace(&client, "agent-host")
        .await
        .unwrap();
    let src = herbarium_test_support::unique_namespace(&client, "agent-hsrc")
        .await
        .unwrap();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("one".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<ConfigMap>::namespaced(client.clone(), &src)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();

    let env = herbarium_test_support::env();
    let token = token_file("cluster-1");
    let mut agent = Agent(
        Command::new(env!("CARGO_BIN_EXE_herbarium-agent"))
            .args(["--listen-address", "127.0.0.1:0", "--namespace", &ns])
            .env("KUBECONFIG", &env.cluster("cluster-1").kubeconfig)
            .env("AZURE_CLIENT_ID", &client_id)
            .env("AZURE_TENANT_ID", var("AZURE_TENANT_ID"))
            .env("AZURE_FEDERATED_TOKEN_FILE", &token)
            .env("AZURE_AUTHORITY_HOST", var("AZURE_AUTHORITY_HOST"))
            .env("HERBARIUM_CA_FILE", var("HERBARIUM_CA_FILE"))
            .env("POD_NAME", "agent-under-test")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting herbarium-agent"),
    );

    let las: Api<LocationAccess> = Api::namespaced(client.clone(), &ns);
    las.create(
        &PostParams::default(),
        &LocationAccess::new("loc", location_spec(&c, &var("HERBARIUM_BLOB_ENDPOINT"))),
    )
    .await
    .unwrap();
    let jobs: Api<BackupJob> = Api::namespaced(client.clone(), &ns);
    let spec = BackupJobSpec {
        backup_name: "host".into(),
        backup_uid: uuid::Uuid::new_v4().to_string(),
        cluster_uid: "cluster-1-uid".into(),
        location: "loc".into(),
        origin: Origin::Manual,
        selection: Some(ResourceSelection {
            namespaces: vec![src.clone()],
            ..Default::default()
        }),
        pre_hooks: vec![],
        post_hooks: vec![],
        volume_snapshots: None,
        deletion_policy: Default::default(),
        garden: None,
    };
    jobs.create(&PostParams::default(), &BackupJob::new("host", spec))
        .await
        .unwrap();

    let wait = Duration::from_secs(60);
    let reason = herbarium_test_support::wait_for("LocationAccess validated", wait, || {
        let las = las.clone();
        async move { las.get("loc").await.ok()?.status?.reason }
    })
    .await
    .unwrap();
    assert_eq!(reason, ValidationReason::Valid);
    let phase = herbarium_test_support::wait_for("BackupJob finished", wait, || {
        let jobs = jobs.clone();
        async move {
            let phase = jobs.get("host").await.ok()?.status?.run.phase?;
            matches!(
                phase,
                BackupPhase::Succeeded | BackupPhase::PartiallySucceeded | BackupPhase::Failed
            )
            .then_some(phase)
        }
    })
    .await
    .unwrap();
    assert_eq!(phase, BackupPhase::Succeeded);
    let done = jobs.get("host").await.unwrap().status.unwrap().run;
    assert_eq!(
        done.progress.unwrap().items_done,
        2,
        "the ConfigMap and its Namespace"
    );

    let lease = Api::<Lease>::namespaced(client.clone(), &ns)
        .get(AGENT_NAME)
        .await
        .unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity.as_deref(),
        Some("agent-under-test")
    );
    assert_eq!(
        lease.metadata.annotations.unwrap()[AGENT_VERSION_ANNOTATION],
        env!("CARGO_PKG_VERSION")
    );

    let pid = agent.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status =
        herbarium_test_support::wait_for("the agent to exit", Duration::from_secs(30), || {
            let status = agent.0.try_wait().ok().flatten();
            async move { status }
        })
        .await
        .unwrap();
    assert!(status.success(), "{status}");
}

//! What a stage of a restore needs in the cluster before its objects are applied: the target
//! namespaces, the snapshot objects restored claims name, CRDs Established. Failures are reported
//! as errors, not counted as items.

use std::time::Duration;

use herbarium_api::common::{ExistingResourcePolicy, ItemError};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, PostParams};
use kube::core::ApiResource;
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};

use super::apply::{Target, apply};
use super::tally::{Outcome, Tally};
use super::transform::Plan;
use super::volumes::{VolumeRecord, snapshot_objects};

/// Creates the target namespaces that do not exist yet (after the Namespace objects of the backup
/// were restored, so those keep their labels and annotations). Not counted as items.
pub(super) async fn ensure_namespaces(client: &Client, names: &[String], tally: &mut Tally) {
    let api: Api<Namespace> = Api::all(client.clone());
    for name in names {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => tally.error(ItemError {
                item: format!("core/v1/namespaces/_cluster/{name}"),
                message: format!("creating the target namespace failed: {e}"),
            }),
        }
    }
}

/// Pre-provisions the snapshots the restored PVCs name; errors are reported, not counted as
/// items (the PVC that needs one fails to bind and says so in its events).
pub(super) async fn snapshots(
    client: &Client,
    plan: &Plan,
    records: &[VolumeRecord],
    tally: &mut Tally,
) {
    let resource = |kind: &str, plural: &str, namespaced| Target {
        resource: ApiResource {
            group: "snapshot.storage.k8s.io".into(),
            version: "v1".into(),
            api_version: "snapshot.storage.k8s.io/v1".into(),
            kind: kind.into(),
            plural: plural.into(),
        },
        namespaced,
    };
    let content_target = resource("VolumeSnapshotContent", "volumesnapshotcontents", false);
    let snapshot_target = resource("VolumeSnapshot", "volumesnapshots", true);
    for r in records {
        let Some(name) = plan
            .from_snapshots
            .get(&(r.namespace.clone(), r.pvc.clone()))
        else {
            continue;
        };
        let (content, snapshot) = snapshot_objects(r, plan.map_namespace(&r.namespace), name);
        for (t, object) in [(&content_target, content), (&snapshot_target, snapshot)] {
            let policy = ExistingResourcePolicy::Retain;
            if let Outcome::Failed(e) = apply(client, t, object, policy).await {
                tally.error(e);
            }
        }
    }
}

pub(super) async fn wait_established(
    client: &Client,
    names: &[String],
    timeout: Duration,
    tally: &mut Tally,
) {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in names {
        let wait = await_condition(api.clone(), name, conditions::is_crd_established());
        if tokio::time::timeout(timeout, wait).await.is_err() {
            tally.error(ItemError {
                item: format!("apiextensions.k8s.io/v1/customresourcedefinitions/_cluster/{name}"),
                message: format!("not Established after {timeout:?}; its objects may fail"),
            });
        }
    }
}

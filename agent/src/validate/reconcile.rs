//! The LocationAccess controller: validate when [`super::decide`] says so, write status with
//! server-side apply, requeue for the next periodic validation. No status write when nothing
//! was validated.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use herbarium_api::agent::{LocationAccess, LocationAccessStatus};
use herbarium_api::constants::AGENT_MANAGER;
use herbarium_api::garden::{ValidationReason, ValidationState};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use serde_json::json;

use super::{Decision, decide, outcome, probe};
use crate::context::{Context, StoreFactory};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("writing the status of LocationAccess {name}: {source} (retried)")]
    Status { name: String, source: kube::Error },
}

/// Validates one LocationAccess if needed.
pub async fn reconcile<F: StoreFactory>(
    la: Arc<LocationAccess>,
    ctx: Arc<Context<F>>,
) -> Result<Action, Error> {
    let every = ctx.settings.revalidate_every;
    let decision = decide(
        la.metadata.generation,
        la.spec.validate_request.as_deref(),
        la.status.as_ref(),
        Timestamp::now(),
        every,
    );
    if let Decision::WaitFor(d) = decision {
        return Ok(Action::requeue(d));
    }
    let name = la.name_any();
    let spec = &la.spec;
    let result = match ctx.stores.open(spec) {
        Ok(store) => {
            let nonce = format!(
                "{}-{}",
                la.metadata.generation.unwrap_or(0),
                Timestamp::now().as_microsecond()
            );
            probe(&store, spec.prefix.as_deref(), &spec.cluster_uid, &nonce).await
        }
        Err(e) => Err(e),
    };
    let (reason, message) = outcome(&result);
    ctx.metrics.validated(&format!("{reason:?}"));
    tracing::info!(location = %name, ?reason, message = message.as_deref().unwrap_or(""), "validated");
    let status = LocationAccessStatus {
        state: if reason == ValidationReason::Valid {
            ValidationState::Valid
        } else {
            ValidationState::Failed
        },
        reason: Some(reason),
        message,
        last_validated: Some(Time(Timestamp::now())),
        last_validate_request: spec.validate_request.clone(),
        observed_generation: la.metadata.generation,
        conditions: Vec::new(),
    };
    let api: Api<LocationAccess> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let patch = json!({
        "apiVersion": "agent.herbarium.io/v1alpha1",
        "kind": "LocationAccess",
        "status": status,
    });
    api.patch_status(
        &name,
        &PatchParams::apply(AGENT_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::Status {
        name: name.clone(),
        source,
    })?;
    let next = if reason == ValidationReason::Valid {
        every
    } else {
        every.min(super::RETRY_FAILED_AFTER)
    };
    Ok(Action::requeue(next))
}

fn error_policy<F: StoreFactory>(
    _: Arc<LocationAccess>,
    error: &Error,
    _: Arc<Context<F>>,
) -> Action {
    tracing::warn!(%error, "location validation");
    Action::requeue(Duration::from_secs(15))
}

/// Runs the LocationAccess controller until [`Context::stop`].
pub async fn run<F: StoreFactory>(ctx: Arc<Context<F>>) {
    let api: Api<LocationAccess> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    Controller::new(api, watcher::Config::default())
        .graceful_shutdown_on(ctx.stopped())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

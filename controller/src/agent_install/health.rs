//! The agent's health as Cluster conditions, from its Deployment and its heartbeat Lease. Pure.
//!
//! `AgentDeployed` comes from the Deployment only: it exists with this version's label. It does
//! not wait for replicas — whether the agent runs is what the heartbeat says (and clusters
//! without a scheduler, like the local test clusters, never report ready replicas).
//! `AgentReady` comes from the Lease `herbarium-agent` the agent renews: fresh enough, held by a
//! pod, version in the annotation `herbarium.io/agent-version`.

use std::time::Duration;

use herbarium_api::constants::{AGENT_VERSION_ANNOTATION, AGENT_VERSION_LABEL};
use herbarium_api::garden::AgentStatus;
use herbarium_api::garden::cluster_conditions::{AGENT_DEPLOYED, AGENT_READY, REACHABLE};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use super::manifests::label_value;
use crate::access::AccessError;

/// A condition before it gets times and a generation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionState {
    pub type_: &'static str,
    pub status: bool,
    pub reason: String,
    pub message: String,
}

impl ConditionState {
    fn new(type_: &'static str, status: bool, reason: &str, message: String) -> Self {
        Self {
            type_,
            status,
            reason: reason.to_string(),
            message,
        }
    }

    /// As a `metav1.Condition`; `lastTransitionTime` is kept from `previous` while the status
    /// does not change, so an unchanged condition re-applies as a no-op.
    pub fn to_condition(
        &self,
        previous: &[Condition],
        generation: Option<i64>,
        now: Time,
    ) -> Condition {
        let status = if self.status { "True" } else { "False" };
        let since = previous
            .iter()
            .find(|c| c.type_ == self.type_ && c.status == status)
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(now);
        Condition {
            type_: self.type_.to_string(),
            status: status.to_string(),
            reason: self.reason.clone(),
            message: self.message.clone(),
            observed_generation: generation,
            last_transition_time: since,
        }
    }
}

/// `AgentDeployed`, `AgentReady` and the `status.agent` of a Cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct AgentHealth {
    pub deployed: ConditionState,
    pub ready: ConditionState,
    pub status: AgentStatus,
}

fn deployed(deployment: Option<&Deployment>, version: &str) -> ConditionState {
    let c = |ok, reason, msg| ConditionState::new(AGENT_DEPLOYED, ok, reason, msg);
    let Some(d) = deployment else {
        return c(
            false,
            "NotFound",
            "the agent Deployment does not exist".into(),
        );
    };
    if d.metadata.deletion_timestamp.is_some() {
        return c(
            false,
            "Deleting",
            "the agent Deployment is being deleted".into(),
        );
    }
    let found = d
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(AGENT_VERSION_LABEL));
    if found.map(String::as_str) != Some(label_value(version).as_str()) {
        return c(
            false,
            "OtherVersion",
            format!("the agent Deployment is of version {found:?}, not {version:?}"),
        );
    }
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let available = d
        .status
        .as_ref()
        .and_then(|s| s.available_replicas)
        .unwrap_or(0);
    c(
        true,
        "Applied",
        format!("version {version} applied; {available}/{wanted} replicas available"),
    )
}

fn ready(
    lease: Option<&Lease>,
    version: &str,
    now: Timestamp,
    stale_after: Duration,
) -> (ConditionState, AgentStatus) {
    let c = |ok, reason, msg| ConditionState::new(AGENT_READY, ok, reason, msg);
    let Some(lease) = lease else {
        return (
            c(
                false,
                "NoHeartbeat",
                "the agent has not renewed its Lease yet".into(),
            ),
            AgentStatus::default(),
        );
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let renewed = spec.renew_time.map(|t| t.0);
    let agent_version = lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(AGENT_VERSION_ANNOTATION))
        .cloned();
    let holder = spec.holder_identity.unwrap_or_default();
    let mut status = AgentStatus {
        version: agent_version.clone(),
        ready: false,
        last_heartbeat: renewed.map(Time),
    };
    let Some(renewed) = renewed else {
        return (
            c(
                false,
                "NoHeartbeat",
                "the agent Lease has no renewTime".into(),
            ),
            status,
        );
    };
    let age = now.duration_since(renewed).as_secs();
    let age = Duration::from_secs(age.max(0) as u64);
    if age > stale_after {
        let msg = format!(
            "last heartbeat {}s ago (holder {holder:?}); stale after {}s",
            age.as_secs(),
            stale_after.as_secs()
        );
        return (c(false, "HeartbeatStale", msg), status);
    }
    status.ready = true;
    match agent_version.as_deref() {
        Some(v) if v == version => (
            c(
                true,
                "Heartbeat",
                format!("agent {v} in pod {holder} renewed {}s ago", age.as_secs()),
            ),
            status,
        ),
        other => {
            let msg = format!(
                "agent in pod {holder} runs version {other:?}, expected {version:?}; renewed {}s ago",
                age.as_secs()
            );
            (c(true, "HeartbeatFromOtherVersion", msg), status)
        }
    }
}

/// Health of the agent of `version` from what [`super::observe`] read. A heartbeat older than
/// `stale_after` (or none) means not ready.
pub fn agent_health(
    deployment: Option<&Deployment>,
    lease: Option<&Lease>,
    version: &str,
    now: Timestamp,
    stale_after: Duration,
) -> AgentHealth {
    let (ready, status) = ready(lease, version, now, stale_after);
    AgentHealth {
        deployed: deployed(deployment, version),
        ready,
        status,
    }
}

/// `Reachable` from the result of getting or using a client for the cluster.
pub fn reachable(result: Result<(), &AccessError>) -> ConditionState {
    match result {
        Ok(()) => ConditionState::new(
            REACHABLE,
            true,
            "Reachable",
            "the cluster's API server answers".into(),
        ),
        Err(e) => {
            let reason = match e {
                AccessError::Unreachable { .. } => "Unreachable",
                AccessError::Unauthorized { .. } => "Unauthorized",
                AccessError::Forbidden { .. } => "Forbidden",
                AccessError::MalformedKubeconfig { .. } => "MalformedKubeconfig",
                AccessError::SecretMissing { .. } | AccessError::KeyMissing { .. } => {
                    "KubeconfigMissing"
                }
                AccessError::ShootNotFound { .. } => "ShootNotFound",
                AccessError::NoSource(_) => "NoSource",
                AccessError::Api { .. } => "APIError",
            };
            ConditionState::new(REACHABLE, false, reason, e.to_string())
        }
    }
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;

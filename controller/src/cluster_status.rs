//! A Cluster's phase and conditions from what the reconciler observed, step by step (pure).
//!
//! Registration runs in order — issuer, identity, connection, agent install, agent heartbeat —
//! and stops at the first step that fails; later steps are then simply unknown (`None`).
//! The heartbeat's time is copied into status only when readiness flips, so a healthy landscape
//! at rest causes no status writes (the Lease in the cluster is the live heartbeat).

use chrono::{DateTime, Utc};
use herbarium_api::constants::GARDENER_ISSUER_ANNOTATION;
use herbarium_api::garden::cluster_conditions::{
    AGENT_DEPLOYED, AGENT_READY, IDENTITY_READY, ISSUER_READY, REACHABLE,
};
use herbarium_api::garden::{AgentStatus, ClusterPhase, ClusterStatus, IdentityStatus};

use crate::reconcile::conditions::set;

/// How old the agent's Lease may be before the agent counts as gone (it renews every few
/// seconds).
pub const HEARTBEAT_STALE_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// The agent's heartbeat Lease as read from the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Heartbeat {
    pub holder: String,
    pub version: Option<String>,
    pub renewed: DateTime<Utc>,
}

/// What one reconcile found. `Err` carries the message for the condition.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// Adopted by a DiscoveryConfig (Gardener) — kubeconfig Clusters are always managed.
    pub managed: bool,
    pub hibernated: bool,
    /// `lastOperation` of the Shoot when it failed.
    pub shoot_error: Option<String>,
    pub issuer: Option<Result<String, String>>,
    pub identity: Option<Result<IdentityStatus, String>>,
    pub reachable: Option<Result<(), String>>,
    /// The installed agent version.
    pub agent_deployed: Option<Result<String, String>>,
    /// `Ok(None)`: no Lease yet.
    pub heartbeat: Option<Result<Option<Heartbeat>, String>>,
    /// The step that failed will not succeed by retrying: someone has to change something (a
    /// malformed kubeconfig, a refused permission). Such a Cluster is Failed and looked at
    /// rarely; otherwise the failure is transient (Unreachable, or still Registering).
    pub permanent: bool,
}

/// The message of a Shoot without a managed issuer.
pub fn no_managed_issuer() -> String {
    format!(
        "the Shoot has no managed service-account issuer; annotate it with \
         {GARDENER_ISSUER_ANNOTATION}: managed (Gardener then publishes the issuer that Azure \
         must trust)"
    )
}

/// The next status. `previous` keeps transition times and the last recorded heartbeat.
pub fn next_status(
    previous: &ClusterStatus,
    observed: &Observed,
    now: DateTime<Utc>,
    generation: Option<i64>,
) -> ClusterStatus {
    let mut status = previous.clone();
    status.managed = observed.managed;
    status.observed_generation = generation;
    let c = &mut status.conditions;
    if !observed.managed {
        status.phase = Some(ClusterPhase::Unmanaged);
        status.message = Some("no DiscoveryConfig adopts the Shoot (opted out or no longer selected); the Cluster and its backups are kept".into());
        return status;
    }
    if observed.hibernated {
        status.phase = Some(ClusterPhase::Hibernated);
        status.message = Some("the Shoot is hibernated; backups wait until it wakes up".into());
        return status;
    }
    let transient = !observed.permanent;
    let step = |c: &mut Vec<_>,
                type_: &str,
                result: Option<Result<(), String>>,
                ok_reason: &str,
                fail_reason: &str|
     -> bool {
        match result {
            Some(Ok(())) => {
                set(c, type_, true, ok_reason, "", generation);
                true
            }
            Some(Err(message)) => {
                set(
                    c,
                    type_,
                    false,
                    fail_reason,
                    sticky(c, type_, fail_reason, message, transient),
                    generation,
                );
                false
            }
            None => false,
        }
    };
    let issuer_ok = step(
        c,
        ISSUER_READY,
        observed.issuer.clone().map(|r| r.map(|_| ())),
        "Published",
        "NoIssuer",
    );
    let identity_ok = issuer_ok
        && step(
            c,
            IDENTITY_READY,
            observed.identity.clone().map(|r| r.map(|_| ())),
            "Created",
            "AzureError",
        );
    if let Some(Ok(identity)) = &observed.identity {
        status.identity = Some(identity.clone());
    }
    let reachable_ok = identity_ok
        && step(
            c,
            REACHABLE,
            observed.reachable.clone(),
            "Connected",
            "Unreachable",
        );
    let deployed_ok = reachable_ok
        && step(
            c,
            AGENT_DEPLOYED,
            observed.agent_deployed.clone().map(|r| r.map(|_| ())),
            "Applied",
            "ApplyFailed",
        );
    let heartbeat = match (&observed.heartbeat, deployed_ok) {
        (Some(Ok(Some(h))), true) => Some(h.clone()),
        _ => None,
    };
    let fresh = heartbeat
        .as_ref()
        .is_some_and(|h| now - h.renewed <= HEARTBEAT_STALE_AFTER);
    let was_ready = previous.agent.as_ref().is_some_and(|a| a.ready);
    if deployed_ok {
        let message = match (&heartbeat, fresh) {
            (_, true) => String::new(),
            (Some(h), false) => format!("the agent's last heartbeat was at {} ({} renews it every few seconds)", h.renewed.to_rfc3339(), h.holder),
            (None, _) => match &observed.heartbeat {
                Some(Err(e)) => format!("reading the agent's heartbeat Lease: {e}"),
                _ => "waiting for the agent's first heartbeat (Lease herbarium-system/herbarium-agent)".into(),
            },
        };
        set(
            c,
            AGENT_READY,
            fresh,
            if fresh { "Heartbeat" } else { "NoHeartbeat" },
            message,
            generation,
        );
        if fresh != was_ready || status.agent.is_none() {
            status.agent = Some(AgentStatus {
                version: heartbeat
                    .as_ref()
                    .and_then(|h| h.version.clone())
                    .or_else(|| observed.agent_deployed.clone().and_then(Result::ok)),
                ready: fresh,
                last_heartbeat: heartbeat.as_ref().map(|h| crate::time::to_time(h.renewed)),
            });
        }
    }
    let failed_permanently = observed.permanent;
    status.phase = Some(if fresh {
        ClusterPhase::Ready
    } else if failed_permanently {
        ClusterPhase::Failed
    } else if matches!(observed.reachable, Some(Err(_))) || (deployed_ok && was_ready) {
        ClusterPhase::Unreachable
    } else {
        ClusterPhase::Registering
    });
    status.message = first_problem(&status, observed);
    status
}

/// The message for a failed step: while a transient failure lasts (same reason), the first
/// message stays. Transport errors word the same failure differently from one attempt to the next
/// ("connection reset" / "tls handshake eof"); rewriting the status for each would make a
/// cluster that stays away cost a write per attempt.
fn sticky(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
    reason: &str,
    message: String,
    transient: bool,
) -> String {
    match conditions.iter().find(|c| c.type_ == type_) {
        Some(c) if transient && c.status == "False" && c.reason == reason => c.message.clone(),
        _ => message,
    }
}

/// How long until the Cluster is looked at again: Ready, Unmanaged and Hibernated ones at the
/// recheck (30 s; the last two cost no I/O, and a Shoot change seen before the Shoot cache has it
/// is caught up with there), permanent failures every 5 minutes (a change to the Cluster or its
/// Shoot brings it back at once), transient failures after 10 s doubling with each consecutive
/// failure (`failures`, counting this one) up to 5 minutes, and a registration that only waits
/// (for the agent's first heartbeat) after 10 s.
pub fn requeue(status: &ClusterStatus, observed: &Observed, failures: u32) -> std::time::Duration {
    use std::time::Duration;
    const PARKED: Duration = Duration::from_secs(300);
    match status.phase {
        Some(ClusterPhase::Ready | ClusterPhase::Unmanaged | ClusterPhase::Hibernated) => {
            crate::reconcile::cluster::RECHECK
        }
        Some(ClusterPhase::Failed) => PARKED,
        _ if failed_step(observed) => {
            let doubled = 10u64.saturating_mul(1 << failures.saturating_sub(1).min(5));
            Duration::from_secs(doubled).min(PARKED)
        }
        _ => Duration::from_secs(10),
    }
}

/// Whether one of the registration steps failed (as opposed to still waiting).
pub fn failed_step(observed: &Observed) -> bool {
    matches!(observed.issuer, Some(Err(_)))
        || matches!(observed.identity, Some(Err(_)))
        || matches!(observed.reachable, Some(Err(_)))
        || matches!(observed.agent_deployed, Some(Err(_)))
        || matches!(observed.heartbeat, Some(Err(_)))
}

fn first_problem(status: &ClusterStatus, observed: &Observed) -> Option<String> {
    if let Some(e) = &observed.shoot_error {
        return Some(format!("Gardener reports: {e}"));
    }
    status
        .conditions
        .iter()
        .find(|c| c.status == "False" && !c.message.is_empty())
        .map(|c| format!("{}: {}", c.type_, c.message))
}

#[cfg(test)]
#[path = "cluster_status_tests.rs"]
mod tests;

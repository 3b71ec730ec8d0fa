//! Cluster events.

use herbarium_api::garden::cluster_conditions::{
    AGENT_DEPLOYED, IDENTITY_READY, ISSUER_READY, REACHABLE,
};
use herbarium_api::garden::{ClusterPhase, ClusterStatus};

use super::{Note, bounded, condition, reason, turned};

/// Cluster: registration steps the controller performs (issuer check, identity, agent install)
/// succeeding or failing, and phase changes to Ready, Unreachable, Hibernated or Unmanaged.
/// Connection and heartbeat problems are reported through the phase: Unreachable when they may
/// pass, ConnectionFailed when the connection cannot work as configured (phase Failed).
pub fn cluster(previous: &ClusterStatus, next: &ClusterStatus) -> Vec<Note> {
    const ACTION: &str = "Register";
    let (p, n) = (&previous.conditions, &next.conditions);
    let mut notes = Vec::new();
    // In the order the steps run.
    if let Some(c) = turned(p, n, ISSUER_READY, "False") {
        notes.push(Note::warning(
            reason::ISSUER_CHECK_FAILED,
            ACTION,
            bounded(&c.message),
        ));
    }
    if let Some(c) = turned(p, n, IDENTITY_READY, "False") {
        notes.push(Note::warning(
            reason::IDENTITY_FAILED,
            ACTION,
            bounded(&c.message),
        ));
    }
    let new_identity = previous.identity.as_ref().map(|i| &i.client_id)
        != next.identity.as_ref().map(|i| &i.client_id);
    let identity_ok = condition(n, IDENTITY_READY).is_some_and(|c| c.status == "True");
    if let (true, Some(identity)) = (
        identity_ok && (turned(p, n, IDENTITY_READY, "True").is_some() || new_identity),
        &next.identity,
    ) {
        notes.push(Note::normal(
            reason::IDENTITY_READY,
            ACTION,
            bounded(&format!(
                "Azure identity {} (client ID {}) trusts issuer {} for {}",
                identity.resource_id.rsplit('/').next().unwrap_or_default(),
                identity.client_id,
                identity.issuer,
                identity.subject
            )),
        ));
    }
    if let Some(c) = turned(p, n, AGENT_DEPLOYED, "False") {
        notes.push(Note::warning(
            reason::AGENT_INSTALL_FAILED,
            ACTION,
            bounded(&c.message),
        ));
    }
    if turned(p, n, AGENT_DEPLOYED, "True").is_some() {
        let version = match next.agent.as_ref().and_then(|a| a.version.as_deref()) {
            Some(v) => format!("herbarium-agent {v}"),
            None => "herbarium-agent".to_string(),
        };
        notes.push(Note::normal(
            reason::AGENT_INSTALLED,
            ACTION,
            format!("{version} applied in namespace herbarium-system"),
        ));
    }
    if previous.phase != next.phase {
        let message = next.message.clone().unwrap_or_default();
        let note = match next.phase {
            Some(ClusterPhase::Ready) => Some(Note::normal(
                reason::READY,
                ACTION,
                "the agent sends heartbeats; backups and restores can run",
            )),
            Some(ClusterPhase::Unreachable) => Some(Note::warning(
                reason::UNREACHABLE,
                ACTION,
                bounded(&message),
            )),
            Some(ClusterPhase::Hibernated) => {
                Some(Note::normal(reason::HIBERNATED, ACTION, bounded(&message)))
            }
            Some(ClusterPhase::Unmanaged) => {
                Some(Note::normal(reason::UNMANAGED, ACTION, bounded(&message)))
            }
            // A connection that cannot work until someone changes something (a malformed
            // kubeconfig, refused credentials); the other permanent failures have their step's
            // event above.
            Some(ClusterPhase::Failed) => turned(p, n, REACHABLE, "False")
                .map(|c| Note::warning(reason::CONNECTION_FAILED, ACTION, bounded(&c.message))),
            _ => None,
        };
        notes.extend(note);
    }
    notes
}

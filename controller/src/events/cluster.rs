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
    // A Cluster that becomes Ready in this very reconcile gets one event saying all of it (2,000
    // new Shoots should not mean 6,000 events); the step events are for registrations that stop
    // or go on in several reconciles.
    let ready_now = previous.phase != next.phase && next.phase == Some(ClusterPhase::Ready);
    let new_identity = previous.identity.as_ref().map(|i| &i.client_id)
        != next.identity.as_ref().map(|i| &i.client_id);
    let identity_ok = condition(n, IDENTITY_READY).is_some_and(|c| c.status == "True");
    let identity_new =
        identity_ok && (turned(p, n, IDENTITY_READY, "True").is_some() || new_identity);
    let identity_note = next.identity.as_ref().map(|identity| {
        format!(
            "Azure identity {} (client ID {}) trusts issuer {} for {}",
            identity.resource_id.rsplit('/').next().unwrap_or_default(),
            identity.client_id,
            identity.issuer,
            identity.subject
        )
    });
    if let (true, false, Some(note)) = (identity_new, ready_now, &identity_note) {
        notes.push(Note::normal(reason::IDENTITY_READY, ACTION, bounded(note)));
    }
    if let Some(c) = turned(p, n, AGENT_DEPLOYED, "False") {
        notes.push(Note::warning(
            reason::AGENT_INSTALL_FAILED,
            ACTION,
            bounded(&c.message),
        ));
    }
    let version = match next.agent.as_ref().and_then(|a| a.version.as_deref()) {
        Some(v) => format!("herbarium-agent {v}"),
        None => "herbarium-agent".to_string(),
    };
    let agent_new = turned(p, n, AGENT_DEPLOYED, "True").is_some();
    if agent_new && !ready_now {
        notes.push(Note::normal(
            reason::AGENT_INSTALLED,
            ACTION,
            format!("{version} applied in namespace herbarium-system"),
        ));
    }
    if previous.phase != next.phase {
        let message = next.message.clone().unwrap_or_default();
        let note = match next.phase {
            Some(ClusterPhase::Ready) => {
                let mut done = Vec::new();
                if let (true, Some(note)) = (identity_new, &identity_note) {
                    done.push(note.clone());
                }
                if agent_new {
                    done.push(format!("{version} applied in namespace herbarium-system"));
                }
                done.push("the agent sends heartbeats; backups and restores can run".into());
                Some(Note::normal(
                    reason::READY,
                    ACTION,
                    bounded(&done.join("; ")),
                ))
            }
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

//! What this process already did for each cluster, so that a landscape at rest costs neither ARM
//! calls nor API writes: a Cluster reconciled every 30 seconds re-ensures its identity only when
//! its inputs changed (or an hour passed), and re-installs its agent only when the install's
//! inputs changed (or an hour passed: then the install reads and finds nothing to write), or its
//! heartbeat went stale (then forced, at most every few minutes). Kept in memory: after a
//! restart every cluster is ensured once again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use herbarium_api::garden::IdentityStatus;

#[derive(Default)]
pub struct Memo {
    inner: Mutex<HashMap<String, Entry>>,
}

#[derive(Default)]
struct Entry {
    identity: Option<(u64, IdentityStatus, Instant)>,
    /// Inputs, version and time of the last agent install.
    agent: Option<(u64, String, Instant)>,
    /// The agent has beaten since the last install.
    beating: bool,
    /// The heartbeat went stale: the next install is forced.
    repair: bool,
    /// Consecutive reconciles with a failed registration step (for the retry backoff).
    failures: u32,
}

impl Memo {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The identity ensured for `key` less than `max_age` ago.
    pub fn identity(&self, uid: &str, key: u64, max_age: Duration) -> Option<IdentityStatus> {
        self.with(|m| {
            let (k, identity, at) = m.get(uid)?.identity.as_ref()?;
            (*k == key && at.elapsed() < max_age).then(|| identity.clone())
        })
    }

    pub fn remember_identity(&self, uid: &str, key: u64, identity: IdentityStatus) {
        self.with(|m| {
            m.entry(uid.to_string()).or_default().identity = Some((key, identity, Instant::now()))
        });
    }

    /// The agent version installed for `key` less than `max_age` ago.
    pub fn agent(&self, uid: &str, key: u64, max_age: Duration) -> Option<String> {
        self.with(|m| {
            let (k, version, at) = m.get(uid)?.agent.as_ref()?;
            (*k == key && at.elapsed() < max_age).then(|| version.clone())
        })
    }

    pub fn remember_agent(&self, uid: &str, key: u64, version: String) {
        self.with(|m| {
            let e = m.entry(uid.to_string()).or_default();
            e.agent = Some((key, version, Instant::now()));
            e.beating = false;
            e.repair = false;
        });
    }

    /// Whether the next install should be forced (the heartbeat went stale since the last one).
    pub fn agent_needs_repair(&self, uid: &str) -> bool {
        self.with(|m| m.get(uid).is_some_and(|e| e.repair))
    }

    /// The agent beats: a later stale heartbeat is a new failure, repaired at once.
    pub fn agent_beating(&self, uid: &str) {
        self.with(|m| {
            if let Some(e) = m.get_mut(uid) {
                e.beating = true;
            }
        });
    }

    /// The heartbeat is missing or stale: its objects may be gone or changed, so install again,
    /// forced — unless that was done less than `pause` ago (an agent that cannot start is not
    /// re-installed on every reconcile). A first install waits `pause` for the agent to start.
    pub fn agent_stale(&self, uid: &str, pause: Duration) {
        self.with(|m| {
            if let Some(e) = m.get_mut(uid)
                && let Some((_, _, at)) = &e.agent
                && (e.beating || at.elapsed() >= pause)
            {
                e.agent = None;
                e.repair = true;
            }
        });
    }

    /// Ensure the identity again next time (the last ensure failed).
    pub fn forget_identity(&self, uid: &str) {
        self.with(|m| {
            if let Some(e) = m.get_mut(uid) {
                e.identity = None;
            }
        });
    }

    /// Counts a reconcile: consecutive failures so far including this one, 0 after a success.
    pub fn count_failure(&self, uid: &str, failed: bool) -> u32 {
        self.with(|m| {
            let entry = m.entry(uid.to_string()).or_default();
            entry.failures = if failed {
                entry.failures.saturating_add(1)
            } else {
                0
            };
            entry.failures
        })
    }

    pub fn forget(&self, uid: &str) {
        self.with(|m| m.remove(uid));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_key_and_age() {
        let memo = Memo::default();
        let id = IdentityStatus {
            client_id: "c".into(),
            ..Default::default()
        };
        memo.remember_identity("u", 1, id.clone());
        assert_eq!(memo.identity("u", 1, Duration::from_secs(60)), Some(id));
        assert_eq!(
            memo.identity("u", 2, Duration::from_secs(60)),
            None,
            "inputs changed"
        );
        assert_eq!(memo.identity("u", 1, Duration::ZERO), None, "too old");
        let hour = Duration::from_secs(3600);
        memo.remember_agent("u", 7, "0.1.0".into());
        assert_eq!(memo.agent("u", 7, hour).as_deref(), Some("0.1.0"));
        assert_eq!(memo.agent("u", 8, hour), None);
        assert_eq!(memo.agent("u", 7, Duration::ZERO), None, "recheck due");
        memo.forget("u");
        assert_eq!(memo.agent("u", 7, hour), None);
        assert_eq!(memo.count_failure("u", true), 1);
        assert_eq!(memo.count_failure("u", true), 2);
        assert_eq!(memo.count_failure("u", false), 0);
        assert_eq!(memo.count_failure("u", true), 1);
    }

    #[test]
    fn a_stale_heartbeat_forces_an_install_with_a_pause() {
        let memo = Memo::default();
        let (hour, pause) = (Duration::from_secs(3600), Duration::from_secs(120));
        memo.remember_agent("u", 7, "0.1.0".into());
        // Just installed, no heartbeat yet: the agent gets time to start.
        memo.agent_stale("u", pause);
        assert!(memo.agent("u", 7, hour).is_some() && !memo.agent_needs_repair("u"));
        // It beat, then stopped: repaired at once, forced.
        memo.agent_beating("u");
        memo.agent_stale("u", pause);
        assert!(memo.agent("u", 7, hour).is_none() && memo.agent_needs_repair("u"));
        memo.remember_agent("u", 7, "0.1.0".into());
        assert!(!memo.agent_needs_repair("u"));
        // Still stale right after the repair: no second install until the pause is over.
        memo.agent_stale("u", pause);
        assert!(memo.agent("u", 7, hour).is_some());
        memo.agent_stale("u", Duration::ZERO);
        assert!(memo.agent("u", 7, hour).is_none() && memo.agent_needs_repair("u"));
    }
}

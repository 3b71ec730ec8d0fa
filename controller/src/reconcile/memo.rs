//! What this process already did for each cluster, so that a landscape at rest costs neither ARM
//! calls nor API writes: a Cluster reconciled every 30 seconds re-ensures its identity only when
//! its inputs changed (or an hour passed), and re-installs its agent only when the install's
//! inputs changed. Kept in memory: after a restart every cluster is ensured once again.

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
    agent: Option<(u64, String)>,
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

    /// The agent version installed for `key`.
    pub fn agent(&self, uid: &str, key: u64) -> Option<String> {
        self.with(|m| {
            let (k, version) = m.get(uid)?.agent.as_ref()?;
            (*k == key).then(|| version.clone())
        })
    }

    pub fn remember_agent(&self, uid: &str, key: u64, version: String) {
        self.with(|m| m.entry(uid.to_string()).or_default().agent = Some((key, version)));
    }

    /// Install again next time (the agent stopped beating: its objects may be gone).
    pub fn forget_agent(&self, uid: &str) {
        self.with(|m| {
            if let Some(e) = m.get_mut(uid) {
                e.agent = None;
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
        memo.remember_agent("u", 7, "0.1.0".into());
        assert_eq!(memo.agent("u", 7).as_deref(), Some("0.1.0"));
        assert_eq!(memo.agent("u", 8), None);
        memo.forget("u");
        assert_eq!(memo.agent("u", 7), None);
        assert_eq!(memo.count_failure("u", true), 1);
        assert_eq!(memo.count_failure("u", true), 2);
        assert_eq!(memo.count_failure("u", false), 0);
        assert_eq!(memo.count_failure("u", true), 1);
    }
}

//! Injectable faults per stand-in: latency, throttling (429 + Retry-After) and server errors for a
//! percentage of calls. Selection is deterministic (every n-th call by a counter), so a test that
//! asks for 50 % sees exactly every other call fail.

use std::{
    collections::BTreeMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    Entra,
    Arm,
    Blob,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::Entra, Service::Arm, Service::Blob];
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultSpec {
    /// Delay before answering, for `latencyPercent` of calls (blob: use to provoke client timeouts).
    pub latency_ms: u64,
    pub latency_percent: u32,
    /// Answer 429 (blob: 503 ServerBusy, as storage throttles) with Retry-After.
    pub throttle_percent: u32,
    pub retry_after_seconds: u64,
    /// Answer `errorStatus` (default 500; blob 503) for this share of calls.
    pub error_percent: u32,
    pub error_status: Option<u16>,
    /// ARM only: how long a write holds its identity (writes overlapping it get 409).
    pub write_duration_ms: u64,
}

/// What to do with one call after any injected latency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    Throttle { retry_after: u64 },
    Error { status: u16 },
}

#[derive(Default)]
struct Counters {
    latency: AtomicU64,
    throttle: AtomicU64,
    error: AtomicU64,
}

#[derive(Default)]
pub struct Faults {
    specs: Mutex<BTreeMap<Service, FaultSpec>>,
    counters: [Counters; 3],
}

/// True for `percent` % of the calls counted by `counter`, spread evenly.
fn hit(counter: &AtomicU64, percent: u32) -> bool {
    let percent = u64::from(percent.min(100));
    if percent == 0 {
        return false;
    }
    let n = counter.fetch_add(1, Ordering::Relaxed);
    (n + 1) * percent / 100 != n * percent / 100
}

impl Faults {
    pub fn get(&self, service: Service) -> FaultSpec {
        self.lock().get(&service).cloned().unwrap_or_default()
    }

    pub fn all(&self) -> BTreeMap<Service, FaultSpec> {
        Service::ALL.iter().map(|s| (*s, self.get(*s))).collect()
    }

    pub fn set(&self, service: Service, spec: FaultSpec) {
        self.lock().insert(service, spec);
        let c = &self.counters[service as usize];
        c.latency.store(0, Ordering::Relaxed);
        c.throttle.store(0, Ordering::Relaxed);
        c.error.store(0, Ordering::Relaxed);
    }

    pub fn clear(&self) {
        for s in Service::ALL {
            self.set(s, FaultSpec::default());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Service, FaultSpec>> {
        self.specs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Apply latency, then decide whether the call is throttled or fails.
    pub async fn apply(&self, service: Service) -> Fault {
        let spec = self.get(service);
        let c = &self.counters[service as usize];
        if spec.latency_ms > 0 && hit(&c.latency, spec.latency_percent) {
            tokio::time::sleep(Duration::from_millis(spec.latency_ms)).await;
        }
        if hit(&c.throttle, spec.throttle_percent) {
            return Fault::Throttle {
                retry_after: spec.retry_after_seconds,
            };
        }
        if hit(&c.error, spec.error_percent) {
            let default = if service == Service::Blob { 503 } else { 500 };
            return Fault::Error {
                status: spec.error_status.unwrap_or(default),
            };
        }
        Fault::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_exact() {
        let c = AtomicU64::new(0);
        assert_eq!((0..100).filter(|_| hit(&c, 25)).count(), 25);
        let c = AtomicU64::new(0);
        assert!((0..10).all(|_| hit(&c, 100)));
        let c = AtomicU64::new(0);
        assert!((0..10).all(|_| !hit(&c, 0)));
    }
}

//! The agent's liveness for the controller: a Lease `herbarium-agent` in herbarium-system,
//! renewed every few seconds, holder = pod name, version in an annotation. The controller's
//! AgentReady/Reachable conditions read `renewTime`.

use std::time::Duration;

use herbarium_api::constants::{AGENT_MANAGER, AGENT_NAME, AGENT_VERSION_ANNOTATION};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

/// How often the Lease is renewed; it counts as expired after `LEASE_SECONDS`.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);
pub const LEASE_SECONDS: i32 = 30;

/// The holder: POD_NAME, else the host name.
pub fn holder() -> String {
    std::env::var("POD_NAME")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "herbarium-agent".into())
}

/// The Lease as the agent applies it.
pub fn lease(holder: &str, version: &str, now: Timestamp) -> serde_json::Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": AGENT_NAME, "annotations": {AGENT_VERSION_ANNOTATION: version}},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": MicroTime(now),
        }
    })
}

/// Renews the Lease until `stop` turns true. Failures are logged and retried at the next tick:
/// a missed renewal is what the controller is meant to notice.
pub async fn run(
    client: Client,
    namespace: String,
    version: &'static str,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &namespace);
    let holder = holder();
    let params = PatchParams::apply(AGENT_MANAGER).force();
    loop {
        let body = lease(&holder, version, Timestamp::now());
        if let Err(e) = api.patch(AGENT_NAME, &params, &Patch::Apply(&body)).await {
            tracing::warn!(error = %e, "renewing the heartbeat Lease {namespace}/{AGENT_NAME}");
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(RENEW_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_names_holder_version_and_renewal() {
        // MicroTime carries microseconds.
        let now = Timestamp::from_microsecond(Timestamp::now().as_microsecond()).unwrap();
        let l = lease("agent-0", "1.2.3", now);
        let parsed: Lease = serde_json::from_value(l).unwrap();
        assert_eq!(
            parsed.metadata.annotations.unwrap()[AGENT_VERSION_ANNOTATION],
            "1.2.3"
        );
        let spec = parsed.spec.unwrap();
        assert_eq!(spec.holder_identity.as_deref(), Some("agent-0"));
        assert_eq!(spec.renew_time.unwrap().0, now);
    }
}

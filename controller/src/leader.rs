//! Leader election on a Lease in the garden: only the holder runs reconcilers. The holder renews
//! every `renew` and gives up (the process exits, to be restarted as a follower) when it cannot
//! renew before the lease would expire, so two replicas never reconcile at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

/// Lease timing: `duration` is how long a silent holder keeps the lease.
#[derive(Clone, Debug)]
pub struct LeaseTiming {
    pub duration: Duration,
    pub renew: Duration,
    pub retry: Duration,
}

impl Default for LeaseTiming {
    fn default() -> Self {
        Self {
            duration: Duration::from_secs(30),
            renew: Duration::from_secs(10),
            retry: Duration::from_secs(5),
        }
    }
}

/// Whether `holder` may take or keep the lease at `now` (pure).
pub fn may_hold(spec: Option<&LeaseSpec>, holder: &str, now: Timestamp) -> bool {
    let Some(spec) = spec else { return true };
    if spec
        .holder_identity
        .as_deref()
        .is_none_or(|h| h == holder || h.is_empty())
    {
        return true;
    }
    let (Some(renewed), Some(secs)) = (spec.renew_time.as_ref(), spec.lease_duration_seconds)
    else {
        return true;
    };
    now.as_second() > renewed.0.as_second() + i64::from(secs)
}

pub struct Elector {
    api: Api<Lease>,
    name: String,
    holder: String,
    timing: LeaseTiming,
}

impl Elector {
    pub fn new(
        client: Client,
        namespace: &str,
        name: &str,
        holder: &str,
        timing: LeaseTiming,
    ) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            holder: holder.into(),
            timing,
        }
    }

    /// Waits until this process holds the lease.
    pub async fn acquire(&self) {
        loop {
            match self.try_hold().await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "leader election: cannot read or write the Lease; retrying")
                }
            }
            tokio::time::sleep(self.timing.retry).await;
        }
    }

    /// Renews until a renewal fails for longer than the lease lasts; then returns (leadership lost).
    pub async fn keep(&self) {
        let mut last_ok = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(self.timing.renew).await;
            match self.try_hold().await {
                Ok(true) => last_ok = tokio::time::Instant::now(),
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "leader election: renewing the Lease failed");
                    if last_ok.elapsed() >= self.timing.duration {
                        return;
                    }
                }
            }
        }
    }

    async fn try_hold(&self) -> Result<bool, kube::Error> {
        let now = Timestamp::now();
        let current = self.api.get_opt(&self.name).await?;
        if !may_hold(
            current.as_ref().and_then(|l| l.spec.as_ref()),
            &self.holder,
            now,
        ) {
            return Ok(false);
        }
        let previous = current
            .as_ref()
            .and_then(|l| l.spec.clone())
            .unwrap_or_default();
        let same_holder = previous.holder_identity.as_deref() == Some(self.holder.as_str());
        let spec = LeaseSpec {
            holder_identity: Some(self.holder.clone()),
            lease_duration_seconds: Some(self.timing.duration.as_secs() as i32),
            acquire_time: if same_holder {
                previous.acquire_time
            } else {
                Some(MicroTime(now))
            },
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(
                previous.lease_transitions.unwrap_or(0)
                    + i32::from(!same_holder && current.is_some()),
            ),
            ..Default::default()
        };
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                resource_version: current
                    .as_ref()
                    .and_then(|l| l.metadata.resource_version.clone()),
                ..Default::default()
            },
            spec: Some(spec),
        };
        let result = match current {
            None => self.api.create(&PostParams::default(), &lease).await,
            Some(_) => {
                self.api
                    .replace(&self.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(_) => Ok(true),
            // Someone else wrote first: not ours this round.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            lease_duration_seconds: Some(30),
            ..Default::default()
        }
    }

    #[test]
    fn only_a_free_own_or_expired_lease_can_be_held() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert!(may_hold(None, "a", now));
        assert!(may_hold(Some(&spec("a", 990)), "a", now));
        assert!(!may_hold(Some(&spec("b", 990)), "a", now));
        assert!(
            !may_hold(Some(&spec("b", 970)), "a", now),
            "exactly at expiry it is still b's"
        );
        assert!(may_hold(Some(&spec("b", 969)), "a", now));
    }
}

//! Location validation: when to validate (a pure decision) and the probe itself (write, read
//! back, list, delete one blob), generic over [`BlobStore`] so both are tested without a service.

mod reconcile;

pub use reconcile::{reconcile, run};

use std::time::Duration;

use bytes::Bytes;
use herbarium_api::agent::LocationAccessStatus;
use herbarium_api::garden::{ValidationReason, ValidationState};
use k8s_openapi::jiff::Timestamp;

use crate::format::validation_blob;
use crate::store::{BlobStore, StoreError};

/// What to do with a LocationAccess now.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    Validate,
    /// Nothing changed and the last result is fresh; look again after this long.
    WaitFor(Duration),
}

/// How soon a failed validation is tried again (at most `every`): a role just granted takes
/// minutes to reach the storage service, a network fault passes, a container gets created; none
/// of them should leave the location Failed for the whole revalidation period.
pub const RETRY_FAILED_AFTER: Duration = Duration::from_secs(60);

/// Validate when the spec generation or the validate request differs from what the status
/// served, when it was never validated, or when the last validation is older than `every`
/// ([`RETRY_FAILED_AFTER`] if it failed).
pub fn decide(
    generation: Option<i64>,
    validate_request: Option<&str>,
    status: Option<&LocationAccessStatus>,
    now: Timestamp,
    every: Duration,
) -> Decision {
    let Some(status) = status else {
        return Decision::Validate;
    };
    if status.observed_generation != generation
        || status.last_validate_request.as_deref() != validate_request
    {
        return Decision::Validate;
    }
    let Some(last) = status.last_validated.as_ref() else {
        return Decision::Validate;
    };
    let every = if status.state == ValidationState::Failed {
        every.min(RETRY_FAILED_AFTER)
    } else {
        every
    };
    let age = Duration::try_from(now.duration_since(last.0)).unwrap_or(Duration::ZERO);
    if age >= every {
        Decision::Validate
    } else {
        Decision::WaitFor(every - age)
    }
}

/// Writes, reads back, lists and deletes the probe blob of this cluster.
pub async fn probe<S: BlobStore>(
    store: &S,
    prefix: Option<&str>,
    cluster_uid: &str,
    nonce: &str,
) -> Result<(), StoreError> {
    let path = validation_blob(prefix, cluster_uid);
    let body = format!("herbarium location probe {nonce}\n");
    store.put(&path, Bytes::from(body.clone())).await?;
    let read = store.get(&path, 4096).await?;
    if read != body.as_bytes() {
        return Err(StoreError::Service {
            status: 200,
            message: format!("{path}: read back different bytes than written"),
        });
    }
    let listing = store.list(&path, false).await?;
    if !listing.blobs.iter().any(|b| b.name == path) {
        return Err(StoreError::Service {
            status: 200,
            message: format!("{path}: written but not listed"),
        });
    }
    store.delete(&path).await?;
    Ok(())
}

/// The status reason and message of a probe's result.
pub fn outcome(result: &Result<(), StoreError>) -> (ValidationReason, Option<String>) {
    match result {
        Ok(()) => (ValidationReason::Valid, None),
        Err(e) => (e.reason(), Some(bounded(e.to_string()))),
    }
}

/// Status messages stay readable: the service's text is kept up to this many bytes.
const MAX_MESSAGE: usize = 1024;

fn bounded(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn status(generation: i64, request: Option<&str>, at: Timestamp) -> LocationAccessStatus {
        LocationAccessStatus {
            observed_generation: Some(generation),
            last_validate_request: request.map(str::to_string),
            last_validated: Some(Time(at)),
            ..Default::default()
        }
    }

    #[test]
    fn validates_on_change_and_when_stale_only() {
        let now = Timestamp::now();
        let every = Duration::from_secs(600);
        let fresh = status(
            2,
            Some("t1"),
            now - k8s_openapi::jiff::SignedDuration::from_secs(60),
        );
        assert_eq!(decide(Some(2), None, None, now, every), Decision::Validate);
        assert_eq!(
            decide(Some(2), Some("t1"), Some(&fresh), now, every),
            Decision::WaitFor(Duration::from_secs(540))
        );
        assert_eq!(
            decide(Some(3), Some("t1"), Some(&fresh), now, every),
            Decision::Validate
        );
        assert_eq!(
            decide(Some(2), Some("t2"), Some(&fresh), now, every),
            Decision::Validate
        );
        assert_eq!(
            decide(Some(2), None, Some(&fresh), now, every),
            Decision::Validate
        );
        let stale = status(
            2,
            Some("t1"),
            now - k8s_openapi::jiff::SignedDuration::from_secs(601),
        );
        assert_eq!(
            decide(Some(2), Some("t1"), Some(&stale), now, every),
            Decision::Validate
        );
        let never = LocationAccessStatus {
            last_validated: None,
            ..fresh
        };
        assert_eq!(
            decide(Some(2), Some("t1"), Some(&never), now, every),
            Decision::Validate
        );
    }

    #[test]
    fn a_failed_validation_is_tried_again_within_a_minute() {
        let now = Timestamp::now();
        let every = Duration::from_secs(600);
        let at = |secs| now - k8s_openapi::jiff::SignedDuration::from_secs(secs);
        let failed = |secs| LocationAccessStatus {
            state: ValidationState::Failed,
            ..status(2, None, at(secs))
        };
        assert_eq!(
            decide(Some(2), None, Some(&failed(20)), now, every),
            Decision::WaitFor(Duration::from_secs(40))
        );
        assert_eq!(
            decide(Some(2), None, Some(&failed(60)), now, every),
            Decision::Validate
        );
        // A shorter period than the retry wins.
        assert_eq!(
            decide(
                Some(2),
                None,
                Some(&failed(20)),
                now,
                Duration::from_secs(30)
            ),
            Decision::WaitFor(Duration::from_secs(10))
        );
        let valid = LocationAccessStatus {
            state: ValidationState::Valid,
            ..status(2, None, at(60))
        };
        assert_eq!(
            decide(Some(2), None, Some(&valid), now, every),
            Decision::WaitFor(Duration::from_secs(540))
        );
    }

    #[tokio::test]
    async fn probe_leaves_nothing_behind_and_reports_the_reason() {
        let store = MemoryStore::new();
        let result = probe(&store, Some("p"), "c1", "n1").await;
        assert_eq!(outcome(&result), (ValidationReason::Valid, None));
        assert!(store.names().is_empty(), "{:?}", store.names());
        store.fail_with(StoreError::Authorization("no role".into()));
        let result = probe(&store, Some("p"), "c1", "n2").await;
        let (reason, message) = outcome(&result);
        assert_eq!(reason, ValidationReason::AuthorizationFailed);
        assert!(message.unwrap().contains("no role"));
        store.fail_with(StoreError::Network("é".repeat(2000)));
        let (_, message) = outcome(&probe(&store, Some("p"), "c1", "n3").await);
        let message = message.unwrap();
        assert!(message.len() <= MAX_MESSAGE + '…'.len_utf8() && message.ends_with('…'));
    }
}

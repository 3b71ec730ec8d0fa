//! The ARM identity provider under injected faults. Faults are process-wide settings of the
//! stand-ins, so these run in their own test binary, one after another in a single test.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use herbarium_controller::identity::IdentityProvider;
use herbarium_controller::identity::arm::{ArmIdentities, ArmOutcome, RetryPolicy};
use herbarium_test_support::azure;
use serde_json::json;

type Counts = Arc<Mutex<BTreeMap<&'static str, u32>>>;

/// A provider that counts the outcome of every ARM request.
fn counted(retry: RetryPolicy) -> (ArmIdentities, Counts) {
    let counts: Counts = Arc::default();
    let c = counts.clone();
    let arm = provider(retry).with_observer(Arc::new(move |o: ArmOutcome| {
        *c.lock().unwrap().entry(o.as_str()).or_default() += 1;
    }));
    (arm, counts)
}

fn count(counts: &Counts, outcome: &str) -> u32 {
    counts.lock().unwrap().get(outcome).copied().unwrap_or(0)
}

#[tokio::test]
async fn converges_under_faults_and_serialises_writes_to_one_identity() {
    let a = azure();
    a.clear_faults().await; // in case an earlier failed run left some behind
    let retry = RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(2),
    };
    let (arm, counts) = counted(retry);
    let issuer = a.mint("cluster-2", &["--print-issuer"]);

    // 20 % of ARM calls throttled (429 + Retry-After) and 20 % failing with 500/503.
    a.set_faults(
        "arm",
        json!({"throttlePercent": 20, "retryAfterSeconds": 1, "errorPercent": 20, "errorStatus": 503}),
    )
    .await;
    let cluster = unique_cluster("faults");
    let scope = container_scope("faults-c1");
    let mut infos = Vec::new();
    for round in 0..3 {
        let d = desired(
            &cluster,
            &format!("{issuer}-{}", round % 2),
            std::slice::from_ref(&scope),
        );
        infos.push(arm.ensure(&d).await.expect("ensure under faults"));
    }
    a.clear_faults().await;
    let h = held(&cluster, &infos[0].principal_id).await;
    assert_eq!(h.identities.len(), 1, "exactly one identity: {h:?}");
    assert_eq!(
        h.identities[0].1,
        vec![format!("{issuer}-0")],
        "one credential"
    );
    assert_eq!(h.assignment_scopes, vec![scope.clone()]);
    assert!(infos.iter().all(|i| i.client_id == infos[0].client_id));
    assert!(
        count(&counts, "throttled") > 0 && count(&counts, "server_error") > 0,
        "the faults were hit and retried: {counts:?}"
    );

    // Each ARM write holds the identity for 400 ms: concurrent ensures of one cluster would get
    // 409 from ARM if the provider did not serialise them. No retries here, so a single 409
    // would fail an ensure.
    let once = RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    };
    let (serial, serial_counts) = counted(once);
    let serial = Arc::new(serial);
    a.set_faults("arm", json!({"writeDurationMs": 400})).await;
    let busy = unique_cluster("busy");
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let (arm, busy, issuer) = (serial.clone(), busy.clone(), issuer.clone());
            tokio::spawn(async move {
                let d = desired(&busy, &format!("{issuer}-{}", i % 2), &[]);
                arm.ensure(&d).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    a.clear_faults().await;
    for r in &results {
        assert!(
            r.is_ok(),
            "concurrent ensure failed: {:?}",
            r.as_ref().err()
        );
    }
    assert_eq!(count(&serial_counts, "conflict"), 0, "{serial_counts:?}");
    let h = held(&busy, "").await;
    assert_eq!(h.identities.len(), 1, "{h:?}");
    assert_eq!(h.identities[0].1.len(), 1, "one credential left: {h:?}");

    // Cleanup under faults too.
    a.set_faults("arm", json!({"errorPercent": 20})).await;
    arm.delete(&target(), &cluster)
        .await
        .expect("delete under faults");
    arm.delete(&target(), &busy)
        .await
        .expect("delete under faults");
    a.clear_faults().await;
    assert!(
        held(&cluster, &infos[0].principal_id)
            .await
            .identities
            .is_empty()
    );
    assert!(held(&busy, "").await.identities.is_empty());
}

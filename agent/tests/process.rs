//! The binary serves its operations endpoint, runs its controllers against a local cluster and
//! stops cleanly on SIGTERM.

#[test]
fn serves_health_and_metrics_and_stops_on_sigterm() {
    let env = herbarium_test_support::env();
    let kubeconfig = env
        .cluster("cluster-1")
        .kubeconfig
        .to_str()
        .unwrap()
        .to_string();
    let metrics = herbarium_runtime::probe::assert_serves_and_stops_with(
        env!("CARGO_BIN_EXE_herbarium-agent"),
        &[
            ("KUBECONFIG", &kubeconfig),
            ("HERBARIUM_NAMESPACE", "herbarium-system"),
        ],
    );
    assert!(metrics.contains("component=\"agent\""), "{metrics}");
    assert!(
        metrics.contains("herbarium_agent_backup_duration_seconds"),
        "{metrics}"
    );
}

//! The binary serves its operations endpoint and stops cleanly on SIGTERM. It runs against the
//! local garden as a follower: its leader Lease lives in a namespace that does not exist, so it
//! never becomes leader and never reconciles (other tests' controller owns the garden).

#[test]
fn serves_health_and_metrics_and_stops_on_sigterm() {
    let env = herbarium_test_support::env();
    let kubeconfig = env.garden.kubeconfig.to_str().unwrap().to_string();
    // The credential reads its token file when built; the token itself is never used here.
    let token =
        std::env::temp_dir().join(format!("herbarium-process-token-{}", std::process::id()));
    std::fs::write(&token, "not-a-token").unwrap();
    let token = token.to_str().unwrap().to_string();
    let metrics = herbarium_runtime::probe::assert_serves_and_stops_with(
        env!("CARGO_BIN_EXE_herbarium-controller"),
        &[
            ("KUBECONFIG", &kubeconfig),
            ("HERBARIUM_NAMESPACE", "herbarium-no-such-namespace"),
            ("AZURE_CLIENT_ID", "00000000-0000-4000-8000-00000000000c"),
            ("AZURE_TENANT_ID", "00000000-0000-4000-8000-00000000000d"),
            ("AZURE_FEDERATED_TOKEN_FILE", &token),
        ],
    );
    assert!(metrics.contains("component=\"controller\""), "{metrics}");
}

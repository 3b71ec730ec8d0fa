//! The binary serves its operations endpoint and stops cleanly on SIGTERM.

#[test]
fn serves_health_and_metrics_and_stops_on_sigterm() {
    let metrics =
        herbarium_runtime::probe::assert_serves_and_stops(env!("CARGO_BIN_EXE_herbarium-agent"));
    assert!(metrics.contains("component=\"agent\""), "{metrics}");
}

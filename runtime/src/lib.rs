//! What every Herbarium process shares: logging ([`telemetry`]), the operations HTTP server with
//! `/metrics`, `/healthz` and `/readyz` ([`ops`]), and shutdown on SIGTERM ([`shutdown`]).
//! [`probe`] is a minimal HTTP client for tests of those endpoints.

pub mod ops;
pub mod probe;
pub mod process;
pub mod shutdown;
pub mod telemetry;

//! herbarium-controller: the garden side of Herbarium. Wires flags, logging and the operations
//! endpoint; discovery and the reconcilers are not built yet.

use clap::Parser;
use herbarium_runtime::process::{CommonArgs, serve_until_signal};
use prometheus_client::registry::Registry;

/// Runs in the garden cluster. Planned: discovers Gardener Shoots, gives each its own Azure
/// identity, installs herbarium-agent into it and sends it instructions.
///
/// This build does nothing of that yet: it starts, serves /metrics, /healthz and /readyz, and
/// stops cleanly on SIGTERM.
#[derive(Parser, Debug)]
#[command(name = "herbarium-controller", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let registry = Registry::with_prefix("herbarium_controller");
    match serve_until_signal(
        "controller",
        env!("CARGO_PKG_VERSION"),
        &args.common,
        registry,
    )
    .await
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herbarium-controller: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

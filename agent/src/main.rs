//! herbarium-agent: the cluster side of Herbarium. Wires flags, logging and the operations
//! endpoint; backup, restore, delete, sync and validation are not built yet.

use clap::Parser;
use herbarium_runtime::process::{CommonArgs, serve_until_signal};
use prometheus_client::registry::Registry;

/// Runs in every registered cluster. Planned: backs up, restores, deletes and syncs backups and
/// validates backup locations against Azure Blob with workload identity.
///
/// This build does nothing of that yet: it starts, serves /metrics, /healthz and /readyz, and
/// stops cleanly on SIGTERM.
#[derive(Parser, Debug)]
#[command(name = "herbarium-agent", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let registry = Registry::with_prefix("herbarium_agent");
    match serve_until_signal("agent", env!("CARGO_PKG_VERSION"), &args.common, registry).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herbarium-agent: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! kubectl-herbarium: the kubectl plugin over the control-plane API. Only its frame exists yet.

use clap::Parser;

/// kubectl plugin for Herbarium (`kubectl herbarium ...`).
///
/// Planned: create and inspect backups and restores, trigger location validation and sync, force
/// delete. This build has no subcommands yet; it prints its version.
#[derive(Parser, Debug)]
#[command(name = "kubectl-herbarium", version)]
struct Args {}

fn main() {
    let _ = Args::parse();
    println!(
        "kubectl-herbarium {}: no subcommands yet",
        env!("CARGO_PKG_VERSION")
    );
}

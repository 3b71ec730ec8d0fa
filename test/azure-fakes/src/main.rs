//! herbarium-azure-fakes: stand-ins for the Azure services Herbarium talks to, for tests on a
//! machine without Azure. See docs/testing.md, "Azure stand-ins".

mod admin;
mod app;
mod arm;
mod blob;
mod config;
mod entra;
mod faults;
mod issuer;
mod model;
mod roles;
mod seed;
mod store;
mod tls;
mod tokens;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "herbarium-azure-fakes",
    about = "Azure stand-ins for Herbarium's tests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the token endpoint, ARM, the blob authorization proxy, the OIDC issuers and admin.
    Serve(config::ServeArgs),
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => app::serve(args).await,
    };
    if let Err(err) = result {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}

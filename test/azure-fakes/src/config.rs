//! Command-line configuration of `serve`.

use std::path::PathBuf;

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// Environment directory written by hack/azure-up.sh (ca/, fakes/, issuers/, azure/).
    #[arg(long)]
    pub dir: PathBuf,
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub subscription: String,
    #[arg(long)]
    pub resource_group: String,
    #[arg(long, default_value = "devstoreaccount1")]
    pub storage_account: String,
    #[arg(long, default_value = "westeurope")]
    pub location: String,
    /// Azurite's blob endpoint (HTTPS, certificate signed by the environment's CA).
    #[arg(long)]
    pub azurite_url: String,
    #[arg(long)]
    pub entra_port: u16,
    #[arg(long)]
    pub arm_port: u16,
    #[arg(long)]
    pub blob_port: u16,
    #[arg(long)]
    pub issuer_port: u16,
    #[arg(long)]
    pub admin_port: u16,
    /// Fault configuration (JSON, as served by GET /admin/faults) applied at start.
    #[arg(long)]
    pub faults: Option<PathBuf>,
    /// Keep ARM state in memory only (default: DIR/azure/state.json).
    #[arg(long)]
    pub no_persist: bool,
}

impl ServeArgs {
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca/ca.pem")
    }
    pub fn state_file(&self) -> Option<PathBuf> {
        (!self.no_persist).then(|| self.dir.join("azure/state.json"))
    }
    pub fn issuers_dir(&self) -> PathBuf {
        self.dir.join("issuers")
    }
}

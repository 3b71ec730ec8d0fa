//! Wiring: load keys and state, provision the pre-made identities, serve every stand-in on its
//! own loopback port, and tell hack/azure-up.sh (DIR/azure/provisioned.env) once all listen.

use std::{net::SocketAddr, sync::Arc};

use axum::Router;
use tokio::net::TcpListener;

use crate::{config::ServeArgs, faults::Faults, store::Store, tls, tokens::TokenService};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pub struct App {
    pub args: ServeArgs,
    pub store: Store,
    pub tokens: TokenService,
    pub faults: Faults,
    /// Trusts the environment CA: fetches issuers' JWKS and forwards to Azurite.
    pub http: reqwest::Client,
}

pub type Shared = Arc<App>;

impl App {
    pub fn storage_account_scope(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
            self.args.subscription, self.args.resource_group, self.args.storage_account
        )
    }
}

fn context<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> BoxError {
    let what = what.into();
    move |err| format!("{what}: {err}").into()
}

pub async fn serve(args: ServeArgs) -> Result<(), BoxError> {
    let dir = args.dir.clone();
    let acceptor = tls::acceptor(&dir.join("ca/server.pem"), &dir.join("ca/server.key"))?;
    let tokens = TokenService::load(
        &args.tenant,
        &dir.join("fakes/signing-key.pem"),
        &dir.join("fakes/signing-pub.pem"),
    )?;
    let faults = Faults::default();
    if let Some(path) = &args.faults {
        let text = std::fs::read_to_string(path)
            .map_err(context(format!("reading {}", path.display())))?;
        let specs: std::collections::BTreeMap<crate::faults::Service, crate::faults::FaultSpec> =
            serde_json::from_str(&text).map_err(context(format!("parsing {}", path.display())))?;
        for (service, spec) in specs {
            faults.set(service, spec);
        }
    }
    let app: Shared = Arc::new(App {
        store: Store::open(args.state_file())?,
        http: tls::client(&args.ca_file())?,
        tokens,
        faults,
        args,
    });
    let provisioned = crate::seed::provision(&app)?;

    let a = &app.args;
    let servers = [
        ("entra", a.entra_port, crate::entra::router(app.clone())),
        ("arm", a.arm_port, crate::arm::router(app.clone())),
        ("blob", a.blob_port, crate::blob::router(app.clone())),
        ("issuer", a.issuer_port, crate::issuer::router(app.clone())),
        ("admin", a.admin_port, crate::admin::router(app.clone())),
    ];
    let mut tasks = Vec::new();
    for (name, port, router) in servers {
        tasks.push(listen(name, port, router, acceptor.clone()).await?);
    }

    let env_file = dir.join("azure/provisioned.env");
    let tmp = dir.join("azure/provisioned.env.tmp");
    std::fs::write(&tmp, provisioned).map_err(context(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, &env_file).map_err(context(format!("writing {}", env_file.display())))?;
    tracing::info!("azure stand-ins ready");

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(context("installing the SIGTERM handler"))?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopping"),
        (res, _, _) = futures::future::select_all(tasks) => {
            app.store.flush();
            return Err(format!("a listener stopped: {res:?}").into());
        }
    }
    app.store.flush();
    Ok(())
}

async fn listen(
    name: &'static str,
    port: u16,
    router: Router,
    acceptor: tokio_rustls::TlsAcceptor,
) -> Result<tokio::task::JoinHandle<()>, BoxError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(context(format!("binding the {name} port {addr}")))?;
    let listener =
        tls::TlsListener::new(tcp, acceptor).map_err(context(format!("{name} listener")))?;
    tracing::info!("{name} listening on https://{addr}");
    Ok(tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!("{name} server failed: {err}");
        }
    }))
}

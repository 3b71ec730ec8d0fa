//! Clients of registered clusters. Clients are not kept between reconciles (2,000 idle TLS
//! connections would cost more memory than everything else the controller holds), so each
//! reconcile connects anew; what is kept per cluster is its TLS configuration, whose session
//! store lets those connections resume the previous TLS session instead of a full handshake (no
//! server signature, no client-certificate signature: the cost that dominated both sides).

use hyper_rustls::FixedServerNameResolver;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kube::client::ConfigExt;
use kube::{Client, Config};
use tower::{BoxError, ServiceBuilder};

/// Builds clients of one cluster that share a TLS session store.
#[derive(Clone)]
pub struct ClientFactory {
    config: Config,
    /// Cloned per client; clones share the resumption store.
    tls: rustls::ClientConfig,
}

impl ClientFactory {
    pub fn new(config: Config) -> Result<Self, kube::Error> {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Installed at most once per process; losing a race to another installer is fine.
            let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let mut tls = config.rustls_client_config()?;
        // One server per factory: rustls's default store (256 servers, allocated up front)
        // would cost more than everything else kept per cluster.
        tls.resumption = rustls::client::Resumption::in_memory_sessions(2);
        Ok(Self { config, tls })
    }

    pub fn server(&self) -> String {
        self.config.cluster_url.to_string()
    }

    /// A new client: its own connection pool (closed when the client is dropped), the cluster's
    /// shared TLS sessions, and the configured timeouts and credentials.
    pub fn client(&self) -> Result<Client, kube::Error> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        let mut builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(self.tls.clone())
            .https_only();
        if let Some(name) = &self.config.tls_server_name {
            let name = rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|e| kube::Error::Service(format!("tls-server-name {name}: {e}").into()))?;
            builder = builder.with_server_name_resolver(FixedServerNameResolver::new(name));
        }
        let https = builder.enable_http1().wrap_connector(http);
        let mut connector = hyper_timeout::TimeoutConnector::new(https);
        connector.set_connect_timeout(self.config.connect_timeout);
        connector.set_read_timeout(self.config.read_timeout);
        connector.set_write_timeout(self.config.write_timeout);
        let http_client: hyper_util::client::legacy::Client<_, kube::client::Body> =
            hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector);
        let service = ServiceBuilder::new()
            .layer(self.config.base_uri_layer())
            .option_layer(self.config.auth_layer()?)
            .layer(self.config.extra_headers_layer()?)
            .map_err(BoxError::from)
            .service(http_client);
        Ok(Client::new(service, self.config.default_namespace.clone()))
    }
}

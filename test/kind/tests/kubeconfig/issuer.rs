//! An OIDC issuer stand-in of the test's own, on the environment's loopback certificate (signed
//! by the CA the controller trusts): `https://127.0.0.1:<port>/<name>` serves a discovery document
//! naming itself for the names it was given, 404 for any other. It counts the requests per name,
//! which tells the test each time the controller reconciled a Cluster using it (the issuer check
//! is the first step of every kubeconfig Cluster's reconcile).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use herbarium_test_support::env;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Issuers {
    pub base: String,
    hits: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl Issuers {
    /// The issuer URL of `name`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    /// Discovery requests for `name` so far.
    pub fn hits(&self, name: &str) -> usize {
        self.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

/// Starts the stand-in; `published` are the names that serve a document.
pub async fn start(published: &[&str]) -> Issuers {
    let dir = env().dir.join("ca");
    let certs = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("https://{}", listener.local_addr().unwrap());
    let hits: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
    let published: BTreeSet<String> = published.iter().map(|s| s.to_string()).collect();
    let (counts, root) = (hits.clone(), base.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (acceptor, counts, root) = (acceptor.clone(), counts.clone(), root.clone());
            let published = published.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let name = path
                    .trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .to_string();
                *counts.lock().unwrap().entry(name.clone()).or_default() += 1;
                let wanted = format!("/{name}/.well-known/openid-configuration");
                let (status, body) = if path == wanted && published.contains(&name) {
                    let issuer = format!("{root}/{name}");
                    let doc =
                        serde_json::json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
                    ("200 OK", doc.to_string())
                } else {
                    ("404 Not Found", "404 page not found".to_string())
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Issuers { base, hits }
}

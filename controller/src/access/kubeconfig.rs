//! Kubeconfig bytes → `kube::Client`, with the policy a multi-tenant controller needs: only inline
//! credentials. A kubeconfig from a user's Secret must not make the controller run a program
//! (`exec`, `auth-provider`) or read its own files (`tokenFile`, `client-certificate`, ... — the
//! controller's own service-account token is a file).

use std::time::Duration;

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::{AccessError, ClientFactory};

fn malformed(source_name: &str, message: impl Into<String>) -> AccessError {
    AccessError::MalformedKubeconfig {
        source_name: source_name.to_string(),
        message: message.into(),
    }
}

/// Refuses what a kubeconfig from outside must not do; see the module comment.
fn check_policy(kc: &Kubeconfig, source_name: &str) -> Result<(), AccessError> {
    for c in &kc.clusters {
        let Some(cluster) = &c.cluster else { continue };
        if cluster.certificate_authority.is_some() {
            return Err(malformed(
                source_name,
                format!(
                    "cluster {:?}: certificate-authority (a file) is not allowed; use certificate-authority-data",
                    c.name
                ),
            ));
        }
        if cluster.insecure_skip_tls_verify == Some(true) {
            return Err(malformed(
                source_name,
                format!(
                    "cluster {:?}: insecure-skip-tls-verify is not allowed",
                    c.name
                ),
            ));
        }
    }
    for a in &kc.auth_infos {
        let Some(user) = &a.auth_info else { continue };
        let refused = [
            (user.exec.is_some(), "exec"),
            (user.auth_provider.is_some(), "auth-provider"),
            (user.token_file.is_some(), "tokenFile"),
            (
                user.client_certificate.is_some(),
                "client-certificate (a file)",
            ),
            (user.client_key.is_some(), "client-key (a file)"),
        ];
        if let Some((_, what)) = refused.iter().find(|(bad, _)| *bad) {
            return Err(malformed(
                source_name,
                format!(
                    "user {:?}: {what} is not allowed; use inline token or client certificate data",
                    a.name
                ),
            ));
        }
    }
    Ok(())
}

/// The client factory of kubeconfig bytes (its current context), with timeouts so an unreachable
/// server fails a reconcile instead of blocking it, and a first client of it.
pub async fn factory_from_kubeconfig(
    bytes: &[u8],
    source_name: &str,
) -> Result<(ClientFactory, Client), AccessError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| malformed(source_name, format!("not UTF-8: {e}")))?;
    let kc = Kubeconfig::from_yaml(text).map_err(|e| malformed(source_name, e.to_string()))?;
    check_policy(&kc, source_name)?;
    let mut config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| malformed(source_name, e.to_string()))?;
    if config.cluster_url.scheme_str() != Some("https") {
        return Err(malformed(
            source_name,
            format!("server {} is not https", config.cluster_url),
        ));
    }
    config.connect_timeout = Some(Duration::from_secs(10));
    config.read_timeout = Some(Duration::from_secs(60));
    config.write_timeout = Some(Duration::from_secs(60));
    let factory = ClientFactory::new(config).map_err(|e| malformed(source_name, e.to_string()))?;
    // The first client now: credentials that cannot make one fail here, not at first use.
    let client = client_of(&factory, source_name)?;
    Ok((factory, client))
}

/// A new client of `factory`; an error means the kubeconfig named `source_name` is unusable.
pub(super) fn client_of(factory: &ClientFactory, source_name: &str) -> Result<Client, AccessError> {
    factory
        .client()
        .map_err(|e| malformed(source_name, e.to_string()))
}

/// Classifies an error of a call to the cluster at `server`.
pub(crate) fn classify(server: &str, refreshable: bool, e: kube::Error) -> AccessError {
    match e {
        kube::Error::Api(s) if s.code == 401 => AccessError::Unauthorized {
            server: server.to_string(),
            message: s.message,
            refreshable,
        },
        kube::Error::Api(s) if s.code == 403 => AccessError::Forbidden {
            server: server.to_string(),
            message: s.message,
        },
        kube::Error::Api(s) => AccessError::Api {
            what: format!("cluster API server {server}"),
            code: s.code,
            message: s.message,
        },
        other => AccessError::Unreachable {
            server: server.to_string(),
            message: error_chain(&other),
        },
    }
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

/// Whether the cluster answers an authenticated, authorised request (list one Namespace): the
/// `Reachable` condition. `refreshable` says whether a 401 goes away by getting new credentials.
pub async fn probe(client: &Client, server: &str, refreshable: bool) -> Result<(), AccessError> {
    Api::<Namespace>::all(client.clone())
        .list_metadata(&ListParams::default().limit(1).match_any())
        .await
        .map(|_| ())
        .map_err(|e| classify(server, refreshable, e))
}

#[cfg(test)]
#[path = "kubeconfig_tests.rs"]
mod tests;

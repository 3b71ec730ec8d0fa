//! Cluster access and the issuer check against the local garden, clusters and OIDC issuers.

use herbarium_api::garden::{Cluster, ClusterSpec, GardenerSource, KubeconfigSource, SecretKeyRef};
use herbarium_controller::access::{
    AccessConfig, AccessError, ClusterAccess, HttpIssuerCheck, IssuerCheck, IssuerError, KubeAccess,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DynamicObject, ObjectMeta, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::json;

use herbarium_test_support::{azure, env, unique_namespace};

fn cluster(ns: &str, name: &str, spec: ClusterSpec) -> Cluster {
    let mut c = Cluster::new(name, spec);
    c.metadata.namespace = Some(ns.to_string());
    c
}

fn shoot_cluster(ns: &str, shoot: &str) -> Cluster {
    cluster(
        ns,
        shoot,
        ClusterSpec {
            gardener: Some(GardenerSource {
                shoot_name: shoot.into(),
                shoot_uid: "uid".into(),
                discovery_config: "dc".into(),
            }),
            kubeconfig: None,
        },
    )
}

fn secret_cluster(ns: &str, secret: &str) -> Cluster {
    cluster(
        ns,
        secret,
        ClusterSpec {
            gardener: None,
            kubeconfig: Some(KubeconfigSource {
                secret_ref: SecretKeyRef {
                    name: secret.into(),
                    key: "kubeconfig".into(),
                },
                issuer_url: "https://issuer.example".into(),
            }),
        },
    )
}

/// Creates a namespace in `target` so a client can be shown to reach exactly that cluster.
async fn marker(index: usize) -> String {
    let c = env().clusters[index].client().await.unwrap();
    unique_namespace(&c, "marker").await.unwrap()
}

async fn reaches(client: kube::Client, marker: &str) {
    Api::<Namespace>::all(client)
        .get(marker)
        .await
        .unwrap_or_else(|e| panic!("the client does not reach the cluster holding {marker}: {e}"));
}

async fn put_secret(garden: &kube::Client, ns: &str, name: &str, key: &str, value: &[u8]) {
    let s = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([(key.to_string(), ByteString(value.to_vec()))].into()),
        ..Default::default()
    };
    Api::<Secret>::namespaced(garden.clone(), ns)
        .create(&PostParams::default(), &s)
        .await
        .unwrap();
}

#[tokio::test]
async fn shoots_are_reached_through_adminkubeconfig_and_cached() {
    let garden = env().garden_client().await.unwrap();
    let project = unique_namespace(&garden, "garden-acc").await.unwrap();
    let gvk = GroupVersionKind::gvk("core.gardener.cloud", "v1beta1", "Shoot");
    let shoots: Api<DynamicObject> =
        Api::namespaced_with(garden.clone(), &project, &ApiResource::from_gvk(&gvk));
    let shoot: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "core.gardener.cloud/v1beta1", "kind": "Shoot",
        "metadata": {"name": "app", "annotations": {"test.herbarium.io/cluster": env().clusters[0].name}},
        "spec": {}
    }))
    .unwrap();
    shoots.create(&PostParams::default(), &shoot).await.unwrap();
    let mark = marker(0).await;

    let access = KubeAccess::new(garden.clone(), AccessConfig::default());
    // A refresh margin larger than the lifetime: every call fetches a new kubeconfig.
    let eager = KubeAccess::new(
        garden.clone(),
        AccessConfig {
            refresh_before: std::time::Duration::from_secs(3600),
            ..AccessConfig::default()
        },
    );
    let c = shoot_cluster(&project, "app");
    reaches(
        access.client(&c).await.expect("client for the shoot"),
        &mark,
    )
    .await;
    reaches(eager.client(&c).await.expect("client for the shoot"), &mark).await;

    shoots.delete("app", &Default::default()).await.unwrap();
    // Still valid: served from memory. Due for refresh: fetched again, and the Shoot is gone.
    reaches(access.client(&c).await.expect("cached client"), &mark).await;
    let err = eager.client(&c).await.err().expect("an error");
    assert!(matches!(err, AccessError::ShootNotFound { .. }), "{err}");
    assert!(!err.retryable());
    access.forget(&c);
    let err = access.client(&c).await.err().expect("an error");
    assert!(matches!(err, AccessError::ShootNotFound { .. }), "{err}");
}

#[tokio::test]
async fn kubeconfig_secrets_work_and_their_failures_are_classified() {
    let garden = env().garden_client().await.unwrap();
    let ns = unique_namespace(&garden, "garden-kc").await.unwrap();
    let mark = marker(1).await;
    let good = std::fs::read(&env().clusters[1].kubeconfig).unwrap();
    put_secret(&garden, &ns, "good", "kubeconfig", &good).await;
    let access = KubeAccess::new(garden.clone(), AccessConfig::default());
    reaches(
        access.client(&secret_cluster(&ns, "good")).await.unwrap(),
        &mark,
    )
    .await;

    let err = access
        .client(&secret_cluster(&ns, "absent"))
        .await
        .err()
        .expect("an error");
    assert!(matches!(err, AccessError::SecretMissing { .. }), "{err}");

    put_secret(&garden, &ns, "wrong-key", "config", &good).await;
    let err = access
        .client(&secret_cluster(&ns, "wrong-key"))
        .await
        .err()
        .expect("an error");
    assert!(matches!(err, AccessError::KeyMissing { .. }), "{err}");

    put_secret(&garden, &ns, "garbage", "kubeconfig", b"\x00not: [yaml").await;
    let err = access
        .client(&secret_cluster(&ns, "garbage"))
        .await
        .err()
        .expect("an error");
    assert!(
        matches!(err, AccessError::MalformedKubeconfig { .. }),
        "{err}"
    );
    assert!(!err.retryable());

    // The real kubeconfig pointed at a port nobody listens on.
    let text = String::from_utf8(good).unwrap();
    let server_line = text
        .lines()
        .find(|l| l.trim().starts_with("server:"))
        .unwrap();
    let dead = text.replace(server_line, "    server: https://127.0.0.1:1");
    put_secret(&garden, &ns, "dead", "kubeconfig", dead.as_bytes()).await;
    let err = access
        .client(&secret_cluster(&ns, "dead"))
        .await
        .err()
        .expect("an error");
    assert!(matches!(err, AccessError::Unreachable { .. }), "{err}");
    assert!(err.retryable());
}

#[tokio::test]
async fn issuers_must_serve_their_discovery_document() {
    let a = azure();
    let ca = a.var("HERBARIUM_CA_FILE");
    let http = herbarium_controller::tls::http_client(Some(std::path::Path::new(ca))).unwrap();
    let check = HttpIssuerCheck::new(http);
    let issuer = a.mint("cluster-1", &["--print-issuer"]);
    check
        .check(&issuer)
        .await
        .expect("the cluster's issuer is served");

    let err = check.check(&format!("{issuer}-gone")).await.unwrap_err();
    assert!(
        matches!(err, IssuerError::Status { status: 404, .. }),
        "{err}"
    );
    assert!(!err.retryable());
    let err = check.check("https://127.0.0.1:1/issuer").await.unwrap_err();
    assert!(
        matches!(err, IssuerError::Unreachable { .. }) && err.retryable(),
        "{err}"
    );
    let err = check.check("http://127.0.0.1/issuer").await.unwrap_err();
    assert!(matches!(err, IssuerError::NotHttps(_)), "{err}");

    // Without the environment CA the issuer's certificate is not trusted: no silent skip.
    let plain = HttpIssuerCheck::new(herbarium_controller::tls::http_client(None).unwrap());
    let err = plain.check(&issuer).await.unwrap_err();
    assert!(matches!(err, IssuerError::Unreachable { .. }), "{err}");
}

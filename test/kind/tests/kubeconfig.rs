//! Kubeconfig Clusters end to end, with the real controller binary (its real cluster access and
//! issuer check) and the real agent: a Secret with cluster-2's kubeconfig and that cluster's
//! issuer make a Ready Cluster with its own identity in the ARM stand-in; a malformed
//! kubeconfig, an unreachable API server and an issuer that serves no discovery document each
//! end in a clear condition, while the controller keeps running and writes nothing more.

#[path = "kubeconfig/issuer.rs"]
mod issuer;

use herbarium_api::garden::Cluster;
use herbarium_test_support::{azure, env, unique_namespace, wait_for};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

use herbarium_e2e::procs::controller;
use herbarium_e2e::{WAIT, identities_of, start_agent, wait_phase};

async fn secret(garden: &Client, ns: &str, name: &str, kubeconfig: &str) {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": name}, "stringData": {"kubeconfig": kubeconfig}
    }))
    .unwrap();
    Api::<Secret>::namespaced(garden.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
}

async fn cluster(clusters: &Api<Cluster>, name: &str, secret: &str, issuer: &str) {
    let cluster: Cluster = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "Cluster", "metadata": {"name": name},
        "spec": {"kubeconfig": {"secretRef": {"name": secret}, "issuerURL": issuer}}
    }))
    .unwrap();
    clusters
        .create(&PostParams::default(), &cluster)
        .await
        .unwrap();
}

/// Waits until condition `type_` of Cluster `name` is False with a message containing every one
/// of `words`; returns the Cluster.
async fn wait_false(clusters: &Api<Cluster>, name: &str, type_: &str, words: &[&str]) -> Cluster {
    let what = format!("{name}: {type_}=False naming {words:?}");
    let found = wait_for(&what, WAIT, || async {
        let c = clusters.get(name).await.ok()?;
        let cond = c
            .status
            .as_ref()?
            .conditions
            .iter()
            .find(|x| x.type_ == type_)?;
        (cond.status == "False" && words.iter().all(|w| cond.message.contains(w))).then_some(c)
    })
    .await;
    match found {
        Ok(c) => c,
        Err(e) => panic!(
            "{e}; status: {:?}",
            clusters.get(name).await.map(|c| c.status)
        ),
    }
}

/// A TCP server that accepts connections and closes them at once: an API server that does not
/// answer.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    url
}

/// Kubeconfig Clusters left by earlier runs against the same environment would install their
/// agents into cluster-2 too (with other client IDs): they go first.
async fn forget_earlier_runs(garden: &Client, ns: &str) {
    let all: Api<Cluster> = Api::all(garden.clone());
    let earlier = |c: &Cluster| {
        let n = c.namespace().unwrap_or_default();
        n.starts_with("garden-kc") && n != ns
    };
    for c in all
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|c| earlier(c))
    {
        let api: Api<Cluster> = Api::namespaced(garden.clone(), &c.namespace().unwrap());
        let _ = api.delete(&c.name_any(), &DeleteParams::default()).await;
    }
    wait_for("the Clusters of earlier runs to go", WAIT, || async {
        let left = all.list(&Default::default()).await.ok()?.items;
        (!left.iter().any(earlier)).then_some(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn kubeconfig_clusters_register_or_say_why_not() {
    let garden = env().garden_client().await.unwrap();
    let ns = unique_namespace(&garden, "garden-kc").await.unwrap();
    let clusters: Api<Cluster> = Api::namespaced(garden.clone(), &ns);
    let good_kubeconfig = std::fs::read_to_string(&env().clusters[1].kubeconfig).unwrap();
    let issuer = azure().mint(&env().clusters[1].name, &["--print-issuer"]);

    let mut ctl = controller();
    forget_earlier_runs(&garden, &ns).await;

    // The broken ones use the test's own issuer stand-in, whose request counts show each
    // reconcile; "nowhere" publishes no discovery document.
    let own = issuer::start(&["broken", "away"]).await;

    // cluster-2 through its kubeconfig and its issuer.
    secret(&garden, &ns, "kc-good", &good_kubeconfig).await;
    cluster(&clusters, "good", "kc-good", &issuer).await;
    // Not YAML at all.
    secret(
        &garden,
        &ns,
        "kc-bad",
        "clusters: [this is not a kubeconfig",
    )
    .await;
    cluster(&clusters, "broken", "kc-bad", &own.url("broken")).await;
    // A valid kubeconfig whose server does not answer.
    let silent = silent_server().await;
    let server_line = good_kubeconfig
        .lines()
        .find(|l| l.trim_start().starts_with("server:"))
        .unwrap()
        .to_string();
    let away_kubeconfig = good_kubeconfig.replace(&server_line, &format!("    server: {silent}"));
    secret(&garden, &ns, "kc-away", &away_kubeconfig).await;
    cluster(&clusters, "away", "kc-away", &own.url("away")).await;
    // An issuer that serves no discovery document.
    let nowhere = own.url("nowhere");
    cluster(&clusters, "no-issuer", "kc-good", &nowhere).await;

    let agent = start_agent(&clusters, "good", 1).await;
    wait_phase(&clusters, "good", "Ready").await;
    let good = clusters.get("good").await.unwrap();
    let identity = good.status.unwrap().identity.unwrap();
    assert_eq!(identity.issuer, issuer);
    let in_arm = identities_of(&ns, "good").await;
    assert_eq!(in_arm.len(), 1, "exactly one identity: {in_arm:?}");
    assert_eq!(in_arm[0]["client_id"], identity.client_id.as_str());
    let credentials: Vec<&serde_json::Value> = in_arm[0]["federated_credentials"]
        .as_object()
        .unwrap()
        .values()
        .collect();
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(credentials[0]["issuer"], issuer.as_str());
    assert_eq!(
        credentials[0]["subject"],
        "system:serviceaccount:herbarium-system:herbarium-agent"
    );

    let broken = wait_false(
        &clusters,
        "broken",
        "Reachable",
        &[&format!("Secret {ns}/kc-bad key kubeconfig"), "malformed"],
    )
    .await;
    assert_eq!(
        phase_of(&broken),
        "Failed",
        "a malformed kubeconfig waits for a fix"
    );
    let away = wait_false(&clusters, "away", "Reachable", &[&silent, "unreachable"]).await;
    assert_eq!(phase_of(&away), "Unreachable");
    let no_issuer = wait_false(&clusters, "no-issuer", "IssuerReady", &[&nowhere]).await;
    assert_eq!(phase_of(&no_issuer), "Failed");
    assert!(
        identities_of(&ns, "no-issuer").await.is_empty(),
        "no identity without an issuer Azure can trust"
    );

    // Settled: each touch of a broken Cluster makes the controller reconcile it (the issuer
    // stand-in counts the check), and the next touch carries the previous one's
    // resourceVersion, so a status write in between would fail it with 409.
    for name in ["broken", "away", "no-issuer"] {
        let issuer_name = if name == "no-issuer" { "nowhere" } else { name };
        let mut version = clusters.get(name).await.unwrap().resource_version();
        for round in ["1", "2", "3"] {
            let before = own.hits(issuer_name);
            let patch = json!({"metadata": {
                "annotations": {"test.herbarium.io/touch": round}, "resourceVersion": version}});
            let touched = clusters
                .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .unwrap_or_else(|e| panic!("touch {round}: the status of {name} changed: {e}"));
            version = touched.resource_version();
            wait_for(
                &format!("the controller to reconcile {name} again"),
                WAIT,
                || async { (own.hits(issuer_name) > before).then_some(()) },
            )
            .await
            .unwrap();
        }
    }
    assert!(
        ctl.running(),
        "the controller keeps running:\n{}",
        ctl.log_tail()
    );

    // Deleting the Clusters deletes their identities.
    for name in ["good", "broken", "away", "no-issuer"] {
        clusters
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    wait_for("the Clusters to be deleted", WAIT, || async {
        let left = clusters.list(&Default::default()).await.ok()?.items.len();
        (left == 0).then_some(())
    })
    .await
    .unwrap();
    for name in ["good", "broken", "away"] {
        assert!(
            identities_of(&ns, name).await.is_empty(),
            "identity of {name} left"
        );
    }
    drop(agent);
}

fn phase_of(cluster: &Cluster) -> String {
    cluster
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .map(|p| format!("{p:?}"))
        .unwrap_or_default()
}

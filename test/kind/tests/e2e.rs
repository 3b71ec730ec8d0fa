//! End to end on the local garden + 2 clusters + the Azure stand-ins, with the real binaries:
//! the controller as a host process with its own workload identity, and one agent per cluster
//! started the way its pod would run (the cluster's kubeconfig, a token file for the agent's
//! service account, the AZURE_* variables the controller put into the Deployment) — the local
//! clusters run no pods.
//!
//! Annotate two Shoots → Clusters Ready with one identity each (under 20% ARM faults, and across
//! a controller restart) → location Valid → a Backup in cluster 1 → a Restore into cluster 2 →
//! objects compared → Backup deleted → opt-out keeps the Cluster → Shoot deletion leaves no
//! identity behind.

use herbarium_api::garden::{Backup, BackupLocation, Cluster, Restore};
use herbarium_api::gardener::Shoot;
use herbarium_test_support::{azure, env, unique_namespace, wait_for};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use herbarium_e2e::procs::{Proc, controller};
use herbarium_e2e::{WAIT, forget_earlier_runs, identities_of, shoot, start_agent, wait_phase};

#[tokio::test]
async fn shoots_are_backed_up_and_restored_across_clusters() {
    let garden = env().garden_client().await.unwrap();
    let a = azure();
    forget_earlier_runs(&garden).await;
    let ns = unique_namespace(&garden, "garden-e2e").await.unwrap();
    let project = ns.trim_start_matches("garden-").to_string();
    let container = format!("e2e-{}", std::process::id());
    a.create_container(&container).await;

    // The location exists before the clusters: their identities get the role on first ensure.
    let locations: Api<BackupLocation> = Api::namespaced(garden.clone(), &ns);
    let location: BackupLocation = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "BackupLocation", "metadata": {"name": "azure"},
        "spec": {"azure": {"storageAccount": a.var("HERBARIUM_STORAGE_ACCOUNT"), "container": container,
                           "endpoint": a.var("HERBARIUM_BLOB_ENDPOINT")},
                 "clusters": ["app-1", "app-2"]}
    }))
    .unwrap();
    locations
        .create(&PostParams::default(), &location)
        .await
        .unwrap();
    let config = json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "DiscoveryConfig", "metadata": {"name": format!("e2e-{project}")},
        "spec": {"projects": {"names": [project]},
                 "azure": {"tenantID": a.var("AZURE_TENANT_ID"), "subscriptionID": a.var("HERBARIUM_SUBSCRIPTION_ID"),
                           "resourceGroup": a.var("HERBARIUM_RESOURCE_GROUP"), "location": "westeurope"},
                 "agent": {"image": "herbarium-agent:e2e"}}
    });
    Api::<herbarium_api::garden::DiscoveryConfig>::all(garden.clone())
        .create(
            &PostParams::default(),
            &serde_json::from_value(config).unwrap(),
        )
        .await
        .unwrap();

    // Registration under 20% ARM faults, with a controller restart in the middle.
    a.set_faults("arm", json!({"throttlePercent": 10, "retryAfterSeconds": 1, "errorPercent": 10, "errorStatus": 503})).await;
    let first = controller();
    shoot(&garden, &ns, "app-1", "cluster-1").await;
    shoot(&garden, &ns, "app-2", "cluster-2").await;
    let clusters: Api<Cluster> = Api::namespaced(garden.clone(), &ns);
    wait_for("app-1 to get an identity", WAIT, || async {
        clusters
            .get("app-1")
            .await
            .ok()?
            .status?
            .identity
            .map(|_| ())
    })
    .await
    .unwrap();
    drop(first);
    let _controller = controller();
    let agents = [
        start_agent(&clusters, "app-1", 0).await,
        start_agent(&clusters, "app-2", 1).await,
    ];
    wait_phase(&clusters, "app-1", "Ready").await;
    wait_phase(&clusters, "app-2", "Ready").await;
    a.clear_faults().await;
    for name in ["app-1", "app-2"] {
        assert_eq!(
            identities_of(&ns, name).await.len(),
            1,
            "exactly one identity for {name}"
        );
    }

    wait_for("the location to be Valid", WAIT, || async {
        let s = locations.get("azure").await.ok()?.status?;
        (format!("{:?}", s.phase?) == "Valid").then_some(())
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}: {:?}",
            agents.iter().map(Proc::log_tail).collect::<Vec<_>>()
        )
    });

    // Something to back up in cluster 1.
    let c1 = env().clusters[0].client().await.unwrap();
    let shop = unique_namespace(&c1, "shop").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(c1.clone(), &shop);
    for i in 0..20 {
        let cm: ConfigMap = serde_json::from_value(
            json!({"metadata": {"name": format!("cm-{i}"), "labels": {"app": "shop"}},
            "data": {"i": i.to_string()}}),
        )
        .unwrap();
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "db"}, "stringData": {"password": "s3cr3t"}}),
    )
    .unwrap();
    Api::<Secret>::namespaced(c1.clone(), &shop)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();

    let backups: Api<Backup> = Api::namespaced(garden.clone(), &ns);
    let backup: Backup = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "Backup", "metadata": {"name": "shop"},
        "spec": {"cluster": "app-1", "location": "azure", "namespaces": [shop]}
    }))
    .unwrap();
    backups
        .create(&PostParams::default(), &backup)
        .await
        .unwrap();
    let done = wait_for("the backup to finish", WAIT, || async {
        let s = backups.get("shop").await.ok()?.status?;
        let phase = format!("{:?}", s.run.phase?);
        (phase != "Pending" && phase != "InProgress").then_some((phase, s.run))
    })
    .await
    .unwrap();
    assert_eq!(
        done.0,
        "Succeeded",
        "{:?}\n{}",
        done.1,
        agents[0].log_tail()
    );
    assert!(done.1.progress.unwrap().items_done >= 21);

    // Restore into cluster 2 under another name.
    let restores: Api<Restore> = Api::namespaced(garden.clone(), &ns);
    let restore: Restore = serde_json::from_value(json!({
        "apiVersion": "herbarium.io/v1alpha1", "kind": "Restore", "metadata": {"name": "shop-to-2"},
        "spec": {"backup": "shop", "targetCluster": "app-2", "namespaceMapping": {shop.clone(): format!("{shop}-copy")}}
    }))
    .unwrap();
    restores
        .create(&PostParams::default(), &restore)
        .await
        .unwrap();
    let restored = wait_for("the restore to finish", WAIT, || async {
        let s = restores.get("shop-to-2").await.ok()?.status?;
        let phase = format!("{:?}", s.run.phase?);
        (phase != "Pending" && phase != "InProgress").then_some((phase, s.run))
    })
    .await
    .unwrap();
    assert_eq!(
        restored.0,
        "Succeeded",
        "{:?}\n{}",
        restored.1,
        agents[1].log_tail()
    );
    let c2 = env().clusters[1].client().await.unwrap();
    let copies: Api<ConfigMap> = Api::namespaced(c2.clone(), &format!("{shop}-copy"));
    for i in 0..20 {
        let original = cms.get(&format!("cm-{i}")).await.unwrap();
        let copy = copies.get(&format!("cm-{i}")).await.unwrap();
        assert_eq!(copy.data, original.data, "cm-{i}");
        assert_eq!(copy.labels(), original.labels(), "cm-{i}");
    }
    let copied_secret = Api::<Secret>::namespaced(c2.clone(), &format!("{shop}-copy"))
        .get("db")
        .await
        .unwrap();
    assert_eq!(copied_secret.data.unwrap()["password"].0, b"s3cr3t");

    // Deleting the Backup deletes its data through the agent.
    backups
        .delete("shop", &DeleteParams::default())
        .await
        .unwrap();
    wait_for("the Backup to be deleted", WAIT, || async {
        backups.get_opt("shop").await.ok()?.is_none().then_some(())
    })
    .await
    .unwrap();

    // Opt-out keeps the Cluster; deleting a Shoot deletes its Cluster and its identity.
    let shoots: Api<Shoot> = Api::namespaced(garden.clone(), &ns);
    let opt_out = json!({"metadata": {"annotations": {"herbarium.io/backup": null}}});
    shoots
        .patch("app-2", &PatchParams::default(), &Patch::Merge(&opt_out))
        .await
        .unwrap();
    wait_phase(&clusters, "app-2", "Unmanaged").await;
    for name in ["app-1", "app-2"] {
        shoots.delete(name, &DeleteParams::default()).await.unwrap();
    }
    wait_for("both Clusters to be deleted", WAIT, || async {
        let left = clusters.list(&Default::default()).await.ok()?.items.len();
        (left == 0).then_some(())
    })
    .await
    .unwrap();
    for name in ["app-1", "app-2"] {
        assert!(
            identities_of(&ns, name).await.is_empty(),
            "no identity left for {name}"
        );
    }
    drop(agents);
}

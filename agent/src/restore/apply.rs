//! Creating one restored object in the cluster, with the existing-resource policy: Retain leaves
//! an existing object alone (skipped), Replace updates it in place, or deletes and creates it when
//! the update is refused (immutable fields) — except the kinds whose deletion loses data
//! ([`never_recreated`]), which then fail. Transient API errors are retried a few times.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use herbarium_api::common::{ExistingResourcePolicy, ItemError};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::core::{ApiResource, Status};
use serde_json::Value;

use super::tally::Outcome;
use crate::backup::kube_io::transient;

/// Attempts of one call on transient errors (429, 5xx, transport).
const ATTEMPTS: u32 = 4;

/// What to create and where.
#[derive(Clone, Debug)]
pub struct Target {
    pub resource: ApiResource,
    pub namespaced: bool,
}

/// `group/version/resource/namespace/name` for status.
pub fn item_name(t: &Target, object: &Value) -> String {
    let s = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let group = if t.resource.group.is_empty() {
        "core"
    } else {
        &t.resource.group
    };
    let ns = if t.namespaced {
        s("/metadata/namespace")
    } else {
        "_cluster"
    };
    format!(
        "{group}/{}/{}/{ns}/{}",
        t.resource.version,
        t.resource.plural,
        s("/metadata/name")
    )
}

fn code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(r) => format!("{} ({}): {}", r.reason, r.code, r.message),
        other => other.to_string(),
    }
}

/// Runs `call` up to [`ATTEMPTS`] times while it fails transiently.
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(e) if transient(&e) && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            other => return other,
        }
    }
}

/// Creates `object` (already cleaned and mapped), applying `policy` when it exists.
pub async fn apply(
    client: &Client,
    target: &Target,
    object: Value,
    policy: ExistingResourcePolicy,
) -> Outcome {
    let item = item_name(target, &object);
    let fail = |what: &str, e: &kube::Error| {
        Outcome::Failed(ItemError {
            item: item.clone(),
            message: format!(
                "{what} failed: {}{}",
                describe(e),
                if transient(e) {
                    " (transient; a rerun may succeed)"
                } else {
                    ""
                }
            ),
        })
    };
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(str::to_string);
    let api: Api<DynamicObject> = match (&namespace, target.namespaced) {
        (Some(ns), true) => Api::namespaced_with(client.clone(), ns, &target.resource),
        _ => Api::all_with(client.clone(), &target.resource),
    };
    // The common case, a create, sends the JSON as it is and does not parse the answer: no
    // round trip through a typed object (the largest per-object cost of a restore).
    let body = match serde_json::to_vec(&object) {
        Ok(b) => b,
        Err(e) => {
            return Outcome::Failed(ItemError {
                item,
                message: format!("not serialisable: {e}"),
            });
        }
    };
    let pp = PostParams::default();
    let attempts = AtomicU32::new(0);
    let create = || async {
        attempts.fetch_add(1, Ordering::Relaxed);
        let request = kube::core::Request::new(api.resource_url())
            .create(&pp, body.clone())
            .map_err(kube::Error::BuildRequest)?;
        client.request_text(request).await
    };
    match retrying(create).await {
        Ok(_) => return Outcome::Restored,
        Err(e) if code(&e) == Some(409) => {}
        Err(e) => return fail("create", &e),
    }
    if keeps_existing(policy, &target.resource) {
        if attempts.load(Ordering::Relaxed) > 1 {
            // An earlier attempt failed transiently; it may have created the object after all.
            tracing::info!(%item, "restore: exists after a retried create (the first attempt may have made it); counted skipped");
        }
        return Outcome::Skipped;
    }
    let obj: DynamicObject = match serde_json::from_value(object) {
        Ok(o) => o,
        Err(e) => {
            return Outcome::Failed(ItemError {
                item,
                message: format!("not a Kubernetes object: {e}"),
            });
        }
    };
    match replace(&api, obj, never_recreated(&target.resource)).await {
        Ok(()) => Outcome::Restored,
        Err(ReplaceError::Call(what, e)) => fail(what, &e),
        Err(ReplaceError::NotRecreated(why)) => Outcome::Failed(ItemError {
            item,
            message: format!("immutable fields differ; not replaced ({why})"),
        }),
    }
}

/// Whether an object that exists already is left as it is (counted skipped): always with Retain,
/// and a PersistentVolume even with Replace — a PV that exists is bound to whatever claims it
/// (the source namespace's PVC, in a restore into another namespace of the same cluster), and
/// rewriting its claimRef would take the volume from that claim.
pub fn keeps_existing(policy: ExistingResourcePolicy, resource: &ApiResource) -> bool {
    policy == ExistingResourcePolicy::Retain
        || (resource.group.is_empty() && resource.plural == "persistentvolumes")
}

/// Kinds Replace never deletes to re-create when the update is refused, and why: deleting a
/// claim or a volume deletes (or strands, Terminating) the data; deleting a Namespace deletes
/// everything in it.
pub fn never_recreated(resource: &ApiResource) -> Option<&'static str> {
    if !resource.group.is_empty() {
        return None;
    }
    match resource.plural.as_str() {
        "persistentvolumeclaims" => Some("a PVC is never deleted by a restore"),
        "persistentvolumes" => Some("a PV is never deleted by a restore"),
        "namespaces" => Some("a Namespace is never deleted by a restore"),
        _ => None,
    }
}

enum ReplaceError {
    /// A call failed: what it was, and the error.
    Call(&'static str, kube::Error),
    /// The update was refused as invalid and the kind is never re-created.
    NotRecreated(&'static str),
}

/// Replace: update in place with the live resourceVersion (and the live clusterIPs, which a
/// Service cannot change, and the live finalizers, which their controllers own); when the update
/// is refused as invalid, delete and create, unless `keep` says why this kind never is.
async fn replace(
    api: &Api<DynamicObject>,
    mut obj: DynamicObject,
    keep: Option<&'static str>,
) -> Result<(), ReplaceError> {
    let name = obj.metadata.name.clone().unwrap_or_default();
    let pp = PostParams::default();
    for _ in 0..3 {
        let live = retrying(|| api.get(&name))
            .await
            .map_err(|e| ReplaceError::Call("read of the existing object", e))?;
        obj.metadata.resource_version = live.metadata.resource_version.clone();
        if obj.metadata.finalizers.is_none() {
            // Dropping them would, e.g., finish the deletion of a Terminating object.
            obj.metadata.finalizers = live.metadata.finalizers.clone();
        }
        for field in ["clusterIP", "clusterIPs"] {
            if let (Some(spec), Some(v)) = (
                obj.data.get_mut("spec").and_then(Value::as_object_mut),
                live.data.pointer(&format!("/spec/{field}")),
            ) {
                spec.entry(field).or_insert_with(|| v.clone());
            }
        }
        match retrying(|| api.replace(&name, &pp, &obj)).await {
            Ok(_) => return Ok(()),
            Err(e) if code(&e) == Some(409) => continue,
            Err(e) if code(&e) == Some(422) => {
                return match keep {
                    Some(why) => Err(ReplaceError::NotRecreated(why)),
                    None => recreate(api, &name, obj)
                        .await
                        .map_err(|(what, e)| ReplaceError::Call(what, e)),
                };
            }
            Err(e) => return Err(ReplaceError::Call("replace", e)),
        }
    }
    Err(ReplaceError::Call(
        "replace",
        kube::Error::Api(
            Status::failure("the object kept changing while it was replaced", "Conflict")
                .with_code(409)
                .boxed(),
        ),
    ))
}

async fn recreate(
    api: &Api<DynamicObject>,
    name: &str,
    mut obj: DynamicObject,
) -> Result<(), (&'static str, kube::Error)> {
    obj.metadata.resource_version = None;
    let dp = DeleteParams::default();
    match retrying(|| api.delete(name, &dp)).await {
        Ok(_) => {}
        Err(e) if code(&e) == Some(404) => {}
        Err(e) => return Err(("delete before re-create", e)),
    }
    let pp = PostParams::default();
    // The old object may linger while its finalizers run: wait a bounded time for it to go.
    let mut last = None;
    for attempt in 0..20u64 {
        match api.create(&pp, &obj).await {
            Ok(_) => return Ok(()),
            Err(e) if code(&e) == Some(409) || transient(&e) => {
                last = Some(e);
                tokio::time::sleep(Duration::from_millis(100 * (attempt + 1))).await;
            }
            Err(e) => return Err(("re-create", e)),
        }
    }
    Err((
        "re-create (the old object did not go away)",
        last.expect("loop ran"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(group: &str, plural: &str) -> ApiResource {
        ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: String::new(),
            plural: plural.into(),
        }
    }

    #[test]
    fn an_existing_volume_is_kept_even_with_replace() {
        use ExistingResourcePolicy::{Replace, Retain};
        let pv = resource("", "persistentvolumes");
        let cm = resource("", "configmaps");
        assert!(keeps_existing(Replace, &pv) && keeps_existing(Retain, &pv));
        assert!(keeps_existing(Retain, &cm) && !keeps_existing(Replace, &cm));
        assert!(!keeps_existing(
            Replace,
            &resource("example.com", "persistentvolumes")
        ));
    }

    #[test]
    fn claims_volumes_and_namespaces_are_never_recreated() {
        for plural in ["persistentvolumeclaims", "persistentvolumes", "namespaces"] {
            assert!(never_recreated(&resource("", plural)).is_some(), "{plural}");
        }
        assert_eq!(
            never_recreated(&resource("", "persistentvolumeclaims")),
            Some("a PVC is never deleted by a restore")
        );
        for (group, plural) in [
            ("", "configmaps"),
            ("", "services"),
            ("apps", "deployments"),
            ("example.com", "persistentvolumeclaims"),
        ] {
            assert_eq!(
                never_recreated(&resource(group, plural)),
                None,
                "{group}/{plural}"
            );
        }
    }
}

//! Deterministic names of everything the controller creates in Azure. Derived only from the
//! cluster (and the issuer), so a restarted or second controller finds what the first created
//! instead of creating a duplicate; PUT on a known name is idempotent in ARM.

use std::collections::BTreeMap;

use herbarium_api::constants::{MANAGED_BY_VALUE, STORAGE_BLOB_DATA_CONTRIBUTOR};
use uuid::Uuid;

use super::ClusterKey;

/// Namespace of Herbarium's name-based UUIDs (uuid v5 of `https://herbarium.io/identity`).
const NAMESPACE: Uuid = Uuid::from_u128(0x90a9cd93_9daf_5750_97e3_59695340096c);

/// ARM's limit for user-assigned identity names (3–128 of `[A-Za-z0-9_-]`, first alphanumeric).
const MAX_IDENTITY_NAME: usize = 128;

/// Tags on every identity; `TAG_MANAGED_BY` marks it as ours.
pub const TAG_MANAGED_BY: &str = "managed-by";
pub const TAG_CLUSTER_NAMESPACE: &str = "herbarium.io-cluster-namespace";
pub const TAG_CLUSTER_NAME: &str = "herbarium.io-cluster-name";
pub const TAG_CLUSTER_UID: &str = "herbarium.io-cluster-uid";

fn hash_hex(input: &str) -> String {
    Uuid::new_v5(&NAMESPACE, input.as_bytes())
        .simple()
        .to_string()
}

/// Characters ARM refuses in a resource name become `-`.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `herbarium-<namespace>-<name>-<8 hex of the uid's hash>`, the readable middle cut so the
/// whole stays within 128 characters. The hash, not the readable part, makes it unique.
pub fn identity_name(cluster: &ClusterKey) -> String {
    let hash = &hash_hex(&cluster.uid)[..8];
    let mut middle = sanitize(&format!("{}-{}", cluster.namespace, cluster.name));
    let room = MAX_IDENTITY_NAME - "herbarium-".len() - 1 - hash.len();
    middle.truncate(room);
    format!("herbarium-{middle}-{hash}")
}

/// `herbarium-<16 hex of hash(issuer, subject)>`: a new issuer (a re-created Shoot) gives a new
/// name, so the new credential never collides with the stale one it replaces.
pub fn credential_name(issuer: &str, subject: &str) -> String {
    format!(
        "herbarium-{}",
        &hash_hex(&format!("{issuer}\n{subject}"))[..16]
    )
}

/// Role assignment names must be GUIDs; a name-based one (uuid v5 of principal, role, scope) means
/// a second PUT targets the same assignment instead of creating a duplicate.
pub fn role_assignment_name(principal_id: &str, role_definition_id: &str, scope: &str) -> String {
    let role = role_definition_id.rsplit('/').next().unwrap_or_default();
    let key = format!(
        "{}\n{}\n{}",
        principal_id.to_lowercase(),
        role.to_lowercase(),
        scope.trim_end_matches('/').to_lowercase()
    );
    Uuid::new_v5(&NAMESPACE, key.as_bytes()).to_string()
}

/// Full ID of "Storage Blob Data Contributor" in a subscription.
pub fn blob_contributor_role(subscription_id: &str) -> String {
    format!(
        "/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{STORAGE_BLOB_DATA_CONTRIBUTOR}"
    )
}

/// ARM scope of one blob container.
pub fn container_scope(
    subscription_id: &str,
    resource_group: &str,
    account: &str,
    container: &str,
) -> String {
    format!(
        "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/{container}"
    )
}

/// Tags of a cluster's identity: who manages it and which cluster it is for.
pub fn identity_tags(cluster: &ClusterKey) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TAG_MANAGED_BY.to_string(), MANAGED_BY_VALUE.to_string()),
        (TAG_CLUSTER_NAMESPACE.to_string(), cluster.namespace.clone()),
        (TAG_CLUSTER_NAME.to_string(), cluster.name.clone()),
        (TAG_CLUSTER_UID.to_string(), cluster.uid.clone()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, name: &str, uid: &str) -> ClusterKey {
        ClusterKey {
            namespace: ns.into(),
            name: name.into(),
            uid: uid.into(),
        }
    }

    fn arm_valid(name: &str, max: usize) -> bool {
        (3..=max).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    #[test]
    fn identity_names_are_stable_valid_and_unique_per_uid() {
        let a = identity_name(&key("garden-dev", "shoot.one", "uid-1"));
        assert_eq!(a, identity_name(&key("garden-dev", "shoot.one", "uid-1")));
        assert!(a.starts_with("herbarium-garden-dev-shoot-one-"), "{a}");
        assert!(arm_valid(&a, 128), "{a}");
        assert_ne!(a, identity_name(&key("garden-dev", "shoot.one", "uid-2")));
        let long = identity_name(&key(&"n".repeat(63), &"c".repeat(253), "uid-1"));
        assert_eq!(long.len(), 128);
        assert!(arm_valid(&long, 128), "{long}");
        assert_ne!(
            long,
            identity_name(&key(&"n".repeat(63), &"c".repeat(253), "uid-3"))
        );
    }

    #[test]
    fn credential_names_change_with_the_issuer() {
        let s = "system:serviceaccount:herbarium-system:herbarium-agent";
        let a = credential_name("https://issuer/a", s);
        assert!(arm_valid(&a, 120), "{a}");
        assert_eq!(a, credential_name("https://issuer/a", s));
        assert_ne!(a, credential_name("https://issuer/b", s));
        assert_ne!(a, credential_name("https://issuer/a", "other"));
    }

    #[test]
    fn role_assignment_names_are_guids_per_principal_role_and_scope() {
        let role = blob_contributor_role("sub");
        let scope = container_scope("sub", "rg", "acct", "c1");
        let a = role_assignment_name("P1", &role, &scope);
        assert!(Uuid::parse_str(&a).is_ok());
        assert_eq!(
            a,
            role_assignment_name("p1", STORAGE_BLOB_DATA_CONTRIBUTOR, &scope.to_uppercase())
        );
        assert_ne!(
            a,
            role_assignment_name("p2", &role, &scope),
            "other principal"
        );
        let other = container_scope("sub", "rg", "acct", "c2");
        assert_ne!(a, role_assignment_name("p1", &role, &other), "other scope");
    }
}

//! The ARM resources the stand-in keeps: user-assigned identities with their federated identity
//! credentials, and role assignments.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub subscription: String,
    pub resource_group: String,
    pub name: String,
    pub location: String,
    #[serde(default)]
    pub tags: serde_json::Map<String, serde_json::Value>,
    pub client_id: String,
    pub principal_id: String,
    pub tenant_id: String,
    /// Keyed by lower-cased credential name.
    #[serde(default)]
    pub federated_credentials: BTreeMap<String, FederatedCredential>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FederatedCredential {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// The assignment's scope as given in its resource ID (original case).
    pub scope: String,
    pub name: String,
    pub role_definition_id: String,
    pub principal_id: String,
    pub principal_type: String,
    pub created_on: String,
}

impl RoleAssignment {
    pub fn id(&self) -> String {
        format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}",
            self.scope, self.name
        )
    }

    /// The GUID at the end of `roleDefinitionId`.
    pub fn role_guid(&self) -> &str {
        self.role_definition_id
            .rsplit('/')
            .next()
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    /// Keyed by `identity_key`.
    #[serde(default)]
    pub identities: BTreeMap<String, Identity>,
    /// Keyed by the lower-cased assignment ID.
    #[serde(default)]
    pub role_assignments: BTreeMap<String, RoleAssignment>,
    /// Client IDs of the identities `seed` provisions.
    #[serde(default)]
    pub provisioned: BTreeMap<String, String>,
}

/// ARM names are case-insensitive: one key per identity.
pub fn identity_key(subscription: &str, resource_group: &str, name: &str) -> String {
    format!("{subscription}/{resource_group}/{name}").to_lowercase()
}

impl State {
    pub fn identity_by_client_id(&self, client_id: &str) -> Option<&Identity> {
        self.identities
            .values()
            .find(|i| i.client_id.eq_ignore_ascii_case(client_id))
    }

    pub fn principal_exists(&self, principal_id: &str) -> bool {
        self.identities
            .values()
            .any(|i| i.principal_id.eq_ignore_ascii_case(principal_id))
    }

    /// Role GUIDs (lower case) the principal holds at `scope` or any scope above it.
    pub fn roles_covering(&self, principal_id: &str, scope: &str) -> Vec<String> {
        self.role_assignments
            .values()
            .filter(|a| a.principal_id.eq_ignore_ascii_case(principal_id))
            .filter(|a| scope_covers(&a.scope, scope))
            .map(|a| a.role_guid().to_lowercase())
            .collect()
    }
}

/// Whether an assignment at `outer` applies to `inner`: same scope or an ancestor, compared by
/// path segments without regard to case.
pub fn scope_covers(outer: &str, inner: &str) -> bool {
    let outer = outer.trim_end_matches('/').to_lowercase();
    let inner = inner.trim_end_matches('/').to_lowercase();
    inner == outer || inner.starts_with(&format!("{outer}/"))
}

impl Identity {
    /// A new identity: ARM assigns the client (application) and principal (object) IDs.
    pub fn create(
        subscription: &str,
        resource_group: &str,
        name: &str,
        location: &str,
        tenant: &str,
    ) -> Self {
        Self {
            subscription: subscription.to_string(),
            resource_group: resource_group.to_string(),
            name: name.to_string(),
            location: location.to_string(),
            tags: Default::default(),
            client_id: uuid::Uuid::new_v4().to_string(),
            principal_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: tenant.to_string(),
            federated_credentials: BTreeMap::new(),
        }
    }

    pub fn id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{}",
            self.subscription, self.resource_group, self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_covers_by_segment() {
        let acct =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a";
        assert!(scope_covers(
            acct,
            &format!("{acct}/blobServices/default/containers/c")
        ));
        assert!(scope_covers("/subscriptions/S", &acct.to_uppercase()));
        assert!(!scope_covers(&format!("{acct}b"), acct));
        assert!(!scope_covers(
            &format!("{acct}/blobServices/default/containers/c"),
            acct
        ));
    }
}

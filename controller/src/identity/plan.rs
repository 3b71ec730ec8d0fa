//! The decision part of identity management: given what should exist and what ARM reported,
//! which writes to make, in which order. No I/O; the ARM adapter observes, calls [`plan`],
//! executes the actions and observes again until the plan is empty.

use std::collections::BTreeMap;

/// What should exist for one cluster (names already derived, see [`super::names`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredState {
    pub identity_name: String,
    pub tags: BTreeMap<String, String>,
    pub credential_name: String,
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    /// Full role definition ID ("Storage Blob Data Contributor" in the subscription).
    pub role_definition_id: String,
    pub role_scopes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedIdentity {
    pub client_id: String,
    pub principal_id: String,
    pub resource_id: String,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedCredential {
    pub name: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedAssignment {
    /// Full resource ID (`{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`).
    pub id: String,
    pub scope: String,
    pub role_definition_id: String,
    pub principal_id: String,
}

/// What ARM holds for one cluster's identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObservedState {
    pub identity: Option<ObservedIdentity>,
    pub credentials: Vec<ObservedCredential>,
    /// Role assignments found around the desired scopes; [`plan`] only touches those of the
    /// identity's principal and role.
    pub assignments: Vec<ObservedAssignment>,
}

/// One ARM write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    PutIdentity,
    PutCredential,
    DeleteCredential {
        name: String,
    },
    /// Grant the role on `scope` to the (now known) principal.
    PutRoleAssignment {
        scope: String,
    },
    DeleteRoleAssignment {
        id: String,
    },
    DeleteIdentity,
}

fn same_role(a: &str, b: &str) -> bool {
    let last = |s: &str| s.rsplit('/').next().unwrap_or_default().to_lowercase();
    last(a) == last(b)
}

fn same_scope(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// The writes that make `observed` match `desired`, in a safe order:
/// 1. the identity (missing, or tags differ);
/// 2. stale credentials with the desired issuer and subject (ARM refuses a second credential for
///    the same pair), then the desired credential (missing or different), then the other stale
///    credentials — the identity belongs to this cluster alone, so every other credential on it
///    is stale (an old issuer);
/// 3. role assignments, only once the identity exists (their name needs its principal ID):
///    grant the missing scopes, remove this principal's assignments of this role elsewhere.
pub fn plan(desired: &DesiredState, observed: &ObservedState) -> Vec<Action> {
    let mut actions = Vec::new();
    let identity = observed.identity.as_ref();
    if identity.is_none_or(|i| i.tags != desired.tags) {
        actions.push(Action::PutIdentity);
    }
    let stale = observed
        .credentials
        .iter()
        .filter(|c| c.name != desired.credential_name);
    let (clashing, other_stale): (Vec<_>, Vec<_>) =
        stale.partition(|c| c.issuer == desired.issuer && c.subject == desired.subject);
    for c in clashing {
        actions.push(Action::DeleteCredential {
            name: c.name.clone(),
        });
    }
    let current = observed
        .credentials
        .iter()
        .find(|c| c.name == desired.credential_name);
    let up_to_date = current.is_some_and(|c| {
        c.issuer == desired.issuer
            && c.subject == desired.subject
            && c.audiences == [desired.audience.clone()]
    });
    if !up_to_date {
        actions.push(Action::PutCredential);
    }
    for c in other_stale {
        actions.push(Action::DeleteCredential {
            name: c.name.clone(),
        });
    }
    let Some(identity) = identity else {
        return actions;
    };
    let ours: Vec<&ObservedAssignment> = observed
        .assignments
        .iter()
        .filter(|a| a.principal_id.eq_ignore_ascii_case(&identity.principal_id))
        .filter(|a| same_role(&a.role_definition_id, &desired.role_definition_id))
        .collect();
    let mut granted: Vec<&str> = Vec::new();
    for scope in &desired.role_scopes {
        let exists = ours.iter().any(|a| same_scope(&a.scope, scope));
        let queued = granted.iter().any(|g| same_scope(g, scope));
        if !exists && !queued {
            actions.push(Action::PutRoleAssignment {
                scope: scope.clone(),
            });
            granted.push(scope);
        }
    }
    let mut removed: Vec<&str> = Vec::new();
    for a in ours {
        let wanted = desired.role_scopes.iter().any(|s| same_scope(s, &a.scope));
        if !wanted && !removed.contains(&a.id.as_str()) {
            actions.push(Action::DeleteRoleAssignment { id: a.id.clone() });
            removed.push(&a.id);
        }
    }
    actions
}

/// The writes that remove a cluster's identity: its assignments of `role_definition_id` (they
/// outlive the identity in Azure), its credentials, then the identity. Nothing when the identity
/// is already gone (its assignments went first, so none can be left from us).
pub fn plan_delete(observed: &ObservedState, role_definition_id: &str) -> Vec<Action> {
    let Some(identity) = &observed.identity else {
        return Vec::new();
    };
    let mut actions = Vec::new();
    for a in &observed.assignments {
        let ours = a.principal_id.eq_ignore_ascii_case(&identity.principal_id)
            && same_role(&a.role_definition_id, role_definition_id);
        let queued = actions.contains(&Action::DeleteRoleAssignment { id: a.id.clone() });
        if ours && !queued {
            actions.push(Action::DeleteRoleAssignment { id: a.id.clone() });
        }
    }
    for c in &observed.credentials {
        actions.push(Action::DeleteCredential {
            name: c.name.clone(),
        });
    }
    actions.push(Action::DeleteIdentity);
    actions
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;

use std::collections::BTreeMap;

use super::*;

const ROLE: &str = "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe";
const OTHER_ROLE: &str = "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7";
const C1: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/c1";
const C2: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/blobServices/default/containers/c2";

fn tags() -> BTreeMap<String, String> {
    BTreeMap::from([("managed-by".to_string(), "herbarium".to_string())])
}

fn desired(scopes: &[&str]) -> DesiredState {
    DesiredState {
        identity_name: "herbarium-ns-c-12345678".into(),
        tags: tags(),
        credential_name: "herbarium-new".into(),
        issuer: "https://issuer/new".into(),
        subject: "system:serviceaccount:herbarium-system:herbarium-agent".into(),
        audience: "api://AzureADTokenExchange".into(),
        role_definition_id: ROLE.into(),
        role_scopes: scopes.iter().map(|s| s.to_string()).collect(),
    }
}

fn identity() -> Option<ObservedIdentity> {
    Some(ObservedIdentity {
        client_id: "client".into(),
        principal_id: "P".into(),
        resource_id: "/id".into(),
        tags: tags(),
    })
}

fn cred(name: &str, issuer: &str) -> ObservedCredential {
    ObservedCredential {
        name: name.into(),
        issuer: issuer.into(),
        subject: "system:serviceaccount:herbarium-system:herbarium-agent".into(),
        audiences: vec!["api://AzureADTokenExchange".into()],
    }
}

fn assignment(id: &str, scope: &str, role: &str, principal: &str) -> ObservedAssignment {
    ObservedAssignment {
        id: id.into(),
        scope: scope.into(),
        role_definition_id: role.into(),
        principal_id: principal.into(),
    }
}

fn del_cred(name: &str) -> Action {
    Action::DeleteCredential { name: name.into() }
}

#[test]
fn plan_table() {
    let current = cred("herbarium-new", "https://issuer/new");
    let converged = ObservedState {
        identity: identity(),
        credentials: vec![current.clone()],
        assignments: vec![assignment("/a1", C1, ROLE, "p")],
    };
    let cases: Vec<(&str, DesiredState, ObservedState, Vec<Action>)> = vec![
        (
            "nothing exists: identity and credential; assignments wait for the principal",
            desired(&[C1]),
            ObservedState::default(),
            vec![Action::PutIdentity, Action::PutCredential],
        ),
        (
            "converged: no writes (principal compared case-insensitively)",
            desired(&[C1]),
            converged.clone(),
            vec![],
        ),
        (
            "tags drifted: identity re-put, nothing else",
            desired(&[C1]),
            ObservedState {
                identity: identity().map(|mut i| {
                    i.tags.clear();
                    i
                }),
                ..converged.clone()
            },
            vec![Action::PutIdentity],
        ),
        (
            "issuer changed: new credential, then the old one goes",
            desired(&[]),
            ObservedState {
                identity: identity(),
                credentials: vec![cred("herbarium-old", "https://issuer/old")],
                assignments: vec![],
            },
            vec![Action::PutCredential, del_cred("herbarium-old")],
        ),
        (
            "a credential under another name holds the issuer: it goes first",
            desired(&[]),
            ObservedState {
                identity: identity(),
                credentials: vec![
                    cred("x-old", "https://issuer/old"),
                    cred("legacy", "https://issuer/new"),
                ],
                assignments: vec![],
            },
            vec![del_cred("legacy"), Action::PutCredential, del_cred("x-old")],
        ),
        (
            "credential with the right name but wrong audience is re-put",
            desired(&[]),
            ObservedState {
                identity: identity(),
                credentials: vec![ObservedCredential {
                    audiences: vec!["other".into()],
                    ..current.clone()
                }],
                assignments: vec![],
            },
            vec![Action::PutCredential],
        ),
        (
            "new scope granted, dropped scope revoked, others' and other roles untouched",
            desired(&[C2, C2]),
            ObservedState {
                assignments: vec![
                    assignment("/a1", C1, ROLE, "P"),
                    assignment("/x", C1, ROLE, "someone-else"),
                    assignment("/y", C1, OTHER_ROLE, "P"),
                ],
                ..converged.clone()
            },
            vec![
                Action::PutRoleAssignment { scope: C2.into() },
                Action::DeleteRoleAssignment { id: "/a1".into() },
            ],
        ),
        (
            "scope compared case-insensitively and without trailing slash",
            desired(&[&format!("{}/", C1.to_uppercase())]),
            converged.clone(),
            vec![],
        ),
    ];
    for (name, desired, observed, want) in cases {
        assert_eq!(plan(&desired, &observed), want, "{name}");
    }
}

#[test]
fn plan_delete_table() {
    assert_eq!(plan_delete(&ObservedState::default(), ROLE), vec![], "gone");
    let observed = ObservedState {
        identity: identity(),
        credentials: vec![cred("c1", "https://i/1"), cred("c2", "https://i/2")],
        assignments: vec![
            assignment("/a1", C1, ROLE, "P"),
            assignment("/a1", C1, ROLE, "P"),
            assignment("/x", C1, ROLE, "other"),
            assignment("/y", C2, OTHER_ROLE, "P"),
        ],
    };
    assert_eq!(
        plan_delete(&observed, ROLE),
        vec![
            Action::DeleteRoleAssignment { id: "/a1".into() },
            del_cred("c1"),
            del_cred("c2"),
            Action::DeleteIdentity,
        ]
    );
}

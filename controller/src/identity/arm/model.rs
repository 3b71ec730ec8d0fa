//! ARM's JSON bodies, read into the plan's observed types and written from the desired ones.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::identity::plan::{ObservedAssignment, ObservedCredential, ObservedIdentity};
use crate::identity::{DesiredState, IdentityError};

fn text(v: &Value, field: &str) -> String {
    v[field].as_str().unwrap_or_default().to_string()
}

pub(crate) fn identity(body: &Value, what: &str) -> Result<ObservedIdentity, IdentityError> {
    let p = &body["properties"];
    let identity = ObservedIdentity {
        client_id: text(p, "clientId"),
        principal_id: text(p, "principalId"),
        resource_id: text(body, "id"),
        tags: body["tags"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
    };
    if identity.client_id.is_empty() || identity.principal_id.is_empty() {
        return Err(IdentityError::Invalid(format!(
            "ARM returned identity {what} without clientId/principalId: {body}"
        )));
    }
    Ok(identity)
}

pub(crate) fn credentials(items: &[Value]) -> Vec<ObservedCredential> {
    items
        .iter()
        .map(|c| {
            let p = &c["properties"];
            ObservedCredential {
                name: text(c, "name"),
                issuer: text(p, "issuer"),
                subject: text(p, "subject"),
                audiences: p["audiences"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

pub(crate) fn assignments(items: &[Value]) -> Vec<ObservedAssignment> {
    items
        .iter()
        .map(|a| {
            let p = &a["properties"];
            ObservedAssignment {
                id: text(a, "id"),
                scope: text(p, "scope"),
                role_definition_id: text(p, "roleDefinitionId"),
                principal_id: text(p, "principalId"),
            }
        })
        .collect()
}

pub(crate) fn identity_body(location: &str, tags: &BTreeMap<String, String>) -> Value {
    json!({ "location": location, "tags": tags })
}

pub(crate) fn credential_body(d: &DesiredState) -> Value {
    json!({ "properties": {
        "issuer": d.issuer,
        "subject": d.subject,
        "audiences": [d.audience],
    }})
}

pub(crate) fn assignment_body(role_definition_id: &str, principal_id: &str) -> Value {
    json!({ "properties": {
        "roleDefinitionId": role_definition_id,
        "principalId": principal_id,
        // Set so ARM does not look the principal up in Entra ID first (a just-created identity
        // may not have replicated yet).
        "principalType": "ServicePrincipal",
    }})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_arm_bodies() {
        let body = json!({"id": "/x/id", "name": "n", "tags": {"a": "b"},
            "properties": {"clientId": "c", "principalId": "p", "tenantId": "t"}});
        let i = identity(&body, "n").unwrap();
        assert_eq!(
            (
                i.client_id.as_str(),
                i.principal_id.as_str(),
                i.resource_id.as_str()
            ),
            ("c", "p", "/x/id")
        );
        assert_eq!(i.tags.get("a").map(String::as_str), Some("b"));
        assert!(identity(&json!({"properties": {}}), "n").is_err());
        let creds = credentials(&[
            json!({"name": "f", "properties": {"issuer": "https://i", "subject": "s", "audiences": ["a"]}}),
        ]);
        assert_eq!(creds[0].audiences, ["a"]);
        assert_eq!(creds[0].issuer, "https://i");
        let a = assignments(&[
            json!({"id": "/r", "properties": {"scope": "/s", "roleDefinitionId": "/d", "principalId": "p"}}),
        ]);
        assert_eq!(a[0].id, "/r");
        assert!(assignments(&[]).is_empty());
    }
}

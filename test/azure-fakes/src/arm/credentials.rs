//! `.../userAssignedIdentities/{identity}/federatedIdentityCredentials[/{name}]`, with the real
//! service's limits: at most 20 per identity, exactly one audience, issuer + subject unique.

use axum::{
    http::{Method, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::{ArmError, Call, begin_write, identities, json, path::valid_name};
use crate::{model::FederatedCredential, model::identity_key, roles::ArmAction};

pub const MAX_PER_IDENTITY: usize = 20;

fn to_json(identity_id: &str, c: &FederatedCredential) -> Value {
    json!({
        "id": format!("{identity_id}/federatedIdentityCredentials/{}", c.name),
        "name": c.name,
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
        "properties": { "issuer": c.issuer, "subject": c.subject, "audiences": c.audiences },
    })
}

fn parent_not_found(identity_id: &str) -> ArmError {
    ArmError::not_found(
        "ParentResourceNotFound",
        format!(
            "Failed to perform 'write' on resource(s) of type 'userAssignedIdentities/federatedIdentityCredentials', because the parent resource '{identity_id}' could not be found."
        ),
    )
}

pub fn list(call: &Call<'_>, rg: &str, identity: &str) -> Result<Response, ArmError> {
    if call.method != Method::GET {
        return Err(call.not_allowed());
    }
    let identity_id = identities::resource_id(call, rg, identity);
    super::auth::authorize(
        call.app,
        &call.caller,
        ArmAction::CredentialRead,
        &identity_id,
    )?;
    call.check_resource_group(rg)?;
    let key = identity_key(&call.app.args.subscription, rg, identity);
    let value = call.app.store.read(|s| {
        s.identities.get(&key).map(|i| {
            let id = i.id();
            i.federated_credentials
                .values()
                .map(|c| to_json(&id, c))
                .collect::<Vec<_>>()
        })
    });
    let value = value.ok_or_else(|| identities::not_found(rg, identity))?;
    Ok(json(StatusCode::OK, json!({ "value": value })))
}

pub async fn handle(
    call: &Call<'_>,
    rg: &str,
    identity: &str,
    name: &str,
) -> Result<Response, ArmError> {
    let identity_id = identities::resource_id(call, rg, identity);
    let action = match call.method {
        Method::GET => ArmAction::CredentialRead,
        Method::PUT => ArmAction::CredentialWrite,
        Method::DELETE => ArmAction::CredentialDelete,
        _ => return Err(call.not_allowed()),
    };
    super::auth::authorize(
        call.app,
        &call.caller,
        action,
        &format!("{identity_id}/federatedIdentityCredentials/{name}"),
    )?;
    call.check_resource_group(rg)?;
    let key = identity_key(&call.app.args.subscription, rg, identity);
    let fic_key = name.to_lowercase();
    match call.method {
        Method::GET => {
            let found = call.app.store.read(|s| {
                let i = s.identities.get(&key)?;
                i.federated_credentials
                    .get(&fic_key)
                    .map(|c| to_json(&i.id(), c))
            });
            found.map(|v| json(StatusCode::OK, v)).ok_or_else(|| {
                ArmError::not_found(
                    "ResourceNotFound",
                    format!("The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/{identity}/federatedIdentityCredentials/{name}' under resource group '{rg}' was not found."),
                )
            })
        }
        Method::PUT => put(call, &key, &identity_id, name).await,
        _ => {
            let _guard = begin_write(call, &key, &identity_id).await?;
            let existed = call.app.store.write(|s| {
                s.identities
                    .get_mut(&key)
                    .and_then(|i| i.federated_credentials.remove(&fic_key))
                    .is_some()
            });
            Ok(json(
                if existed {
                    StatusCode::OK
                } else {
                    StatusCode::NO_CONTENT
                },
                Value::Null,
            ))
        }
    }
}

fn parse(body: &Value, name: &str) -> Result<FederatedCredential, ArmError> {
    let props = body.get("properties").cloned().unwrap_or(Value::Null);
    let text = |field: &str| {
        props
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    let Some(issuer) = text("issuer") else {
        return Err(ArmError::bad_request(
            "BadRequest",
            "The federated identity credential property 'properties.issuer' is required.",
        ));
    };
    if !issuer.starts_with("https://") {
        return Err(ArmError::bad_request(
            "BadRequest",
            format!("Issuer '{issuer}' is invalid: it must be an https URL."),
        ));
    }
    let Some(subject) = text("subject") else {
        return Err(ArmError::bad_request(
            "BadRequest",
            "The federated identity credential property 'properties.subject' is required.",
        ));
    };
    let audiences: Vec<String> = props
        .get("audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if audiences.len() != 1 || audiences[0].is_empty() {
        return Err(ArmError::bad_request(
            "BadRequest",
            format!(
                "The federated identity credential must have exactly one audience; {} given.",
                audiences.len()
            ),
        ));
    }
    Ok(FederatedCredential {
        name: name.to_string(),
        issuer,
        subject,
        audiences,
    })
}

async fn put(
    call: &Call<'_>,
    key: &str,
    identity_id: &str,
    name: &str,
) -> Result<Response, ArmError> {
    if !valid_name(name, 120) {
        return Err(ArmError::bad_request(
            "InvalidResourceName",
            format!(
                "Resource name '{name}' is invalid. The name can be between 3 and 120 characters long, must start with a letter or number, and may contain only letters, numbers, hyphens and underscores."
            ),
        ));
    }
    let credential = parse(&call.json_body()?, name)?;
    let _guard = begin_write(call, key, identity_id).await?;
    call.app.store.write(|s| {
        let identity = s.identities.get_mut(key).ok_or_else(|| parent_not_found(identity_id))?;
        let fic_key = name.to_lowercase();
        let clash = identity.federated_credentials.iter().find(|(k, c)| {
            **k != fic_key && c.issuer == credential.issuer && c.subject == credential.subject
        });
        if let Some((_, other)) = clash {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!("A federated identity credential with issuer '{}' and subject '{}' already exists on this managed identity ('{}').", credential.issuer, credential.subject, other.name),
            ));
        }
        let exists = identity.federated_credentials.contains_key(&fic_key);
        if !exists && identity.federated_credentials.len() >= MAX_PER_IDENTITY {
            return Err(ArmError::bad_request(
                "BadRequest",
                format!("The managed identity '{identity_id}' already has the maximum of {MAX_PER_IDENTITY} federated identity credentials."),
            ));
        }
        let body = to_json(&identity.id(), &credential);
        identity.federated_credentials.insert(fic_key, credential);
        Ok(json(if exists { StatusCode::OK } else { StatusCode::CREATED }, body))
    })
}

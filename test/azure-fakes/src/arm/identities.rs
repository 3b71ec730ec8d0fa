//! `.../providers/Microsoft.ManagedIdentity/userAssignedIdentities[/{name}]`.

use axum::{
    http::{Method, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::{ArmError, Call, begin_write, json, path::valid_name};
use crate::{
    model::{Identity, identity_key},
    roles::ArmAction,
};

pub fn to_json(i: &Identity) -> Value {
    json!({
        "id": i.id(),
        "name": i.name,
        "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
        "location": i.location,
        "tags": i.tags,
        "properties": {
            "tenantId": i.tenant_id,
            "principalId": i.principal_id,
            "clientId": i.client_id,
        },
    })
}

pub fn not_found(rg: &str, name: &str) -> ArmError {
    ArmError::not_found(
        "ResourceNotFound",
        format!(
            "The Resource 'Microsoft.ManagedIdentity/userAssignedIdentities/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
        ),
    )
}

pub fn resource_id(call: &Call<'_>, rg: &str, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}",
        call.app.args.subscription
    )
}

pub fn list(call: &Call<'_>, rg: &str) -> Result<Response, ArmError> {
    if call.method != Method::GET {
        return Err(call.not_allowed());
    }
    let scope = format!(
        "/subscriptions/{}/resourceGroups/{rg}",
        call.app.args.subscription
    );
    super::auth::authorize(call.app, &call.caller, ArmAction::IdentityRead, &scope)?;
    call.check_resource_group(rg)?;
    let value: Vec<Value> = call.app.store.read(|s| {
        s.identities
            .values()
            .filter(|i| i.resource_group.eq_ignore_ascii_case(rg))
            .map(to_json)
            .collect()
    });
    Ok(json(StatusCode::OK, json!({ "value": value })))
}

pub async fn handle(call: &Call<'_>, rg: &str, name: &str) -> Result<Response, ArmError> {
    let id = resource_id(call, rg, name);
    let key = identity_key(&call.app.args.subscription, rg, name);
    let action = match call.method {
        Method::GET => ArmAction::IdentityRead,
        Method::PUT | Method::PATCH => ArmAction::IdentityWrite,
        Method::DELETE => ArmAction::IdentityDelete,
        _ => return Err(call.not_allowed()),
    };
    super::auth::authorize(call.app, &call.caller, action, &id)?;
    call.check_resource_group(rg)?;
    match call.method {
        Method::GET => call
            .app
            .store
            .read(|s| s.identities.get(&key).map(to_json))
            .map(|v| json(StatusCode::OK, v))
            .ok_or_else(|| not_found(rg, name)),
        Method::PUT => put(call, rg, name, &key, &id).await,
        Method::PATCH => patch(call, rg, name, &key, &id).await,
        _ => {
            let _guard = begin_write(call, &key, &id).await?;
            // Deleting the identity deletes its federated credentials with it.
            let existed = call
                .app
                .store
                .write(|s| s.identities.remove(&key).is_some());
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

fn tags(body: &Value) -> Result<Option<serde_json::Map<String, Value>>, ArmError> {
    match body.get("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The 'tags' property must be an object.",
        )),
    }
}

async fn put(
    call: &Call<'_>,
    rg: &str,
    name: &str,
    key: &str,
    id: &str,
) -> Result<Response, ArmError> {
    if !valid_name(name, 128) {
        return Err(ArmError::bad_request(
            "InvalidResourceName",
            format!(
                "Resource name '{name}' is invalid. The name can be between 3 and 128 characters long, must start with a letter or number, and may contain only letters, numbers, hyphens and underscores."
            ),
        ));
    }
    let body = call.json_body()?;
    let Some(location) = body
        .get("location")
        .and_then(Value::as_str)
        .filter(|l| !l.is_empty())
    else {
        return Err(ArmError::bad_request(
            "LocationRequired",
            "The location property is required for this definition.",
        ));
    };
    let location = location.to_string();
    let tags = tags(&body)?;
    let _guard = begin_write(call, key, id).await?;
    let a = &call.app.args;
    call.app.store.write(|s| match s.identities.get_mut(key) {
        Some(existing) => {
            if !existing.location.eq_ignore_ascii_case(&location) {
                return Err(ArmError::bad_request(
                    "InvalidResourceLocation",
                    format!("The resource '{name}' already exists in location '{}' in resource group '{rg}'. A resource with the same name cannot be created in location '{location}'. Please select a new resource name.", existing.location),
                ));
            }
            existing.tags = tags.unwrap_or_default();
            Ok(json(StatusCode::OK, to_json(existing)))
        }
        None => {
            let mut identity = Identity::create(&a.subscription, rg, name, &location, &a.tenant);
            identity.tags = tags.unwrap_or_default();
            let response = json(StatusCode::CREATED, to_json(&identity));
            s.identities.insert(key.to_string(), identity);
            Ok(response)
        }
    })
}

async fn patch(
    call: &Call<'_>,
    rg: &str,
    name: &str,
    key: &str,
    id: &str,
) -> Result<Response, ArmError> {
    let body = call.json_body()?;
    let tags = tags(&body)?;
    let _guard = begin_write(call, key, id).await?;
    call.app.store.write(|s| {
        let identity = s
            .identities
            .get_mut(key)
            .ok_or_else(|| not_found(rg, name))?;
        if let Some(tags) = tags {
            identity.tags = tags;
        }
        Ok(json(StatusCode::OK, to_json(identity)))
    })
}

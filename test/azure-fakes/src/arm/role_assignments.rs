//! `{scope}/providers/Microsoft.Authorization/roleAssignments[/{guid}]` at the subscription, the
//! resource group, the storage account or one of its blob containers.

use axum::{
    http::{Method, StatusCode},
    response::Response,
};
use serde_json::{Value, json};

use super::{ArmError, Call, json};
use crate::{
    model::{RoleAssignment, scope_covers},
    roles::{self, ArmAction},
};

fn to_json(a: &RoleAssignment) -> Value {
    json!({
        "id": a.id(),
        "name": a.name,
        "type": "Microsoft.Authorization/roleAssignments",
        "properties": {
            "roleDefinitionId": a.role_definition_id,
            "principalId": a.principal_id,
            "principalType": a.principal_type,
            "scope": a.scope,
            "condition": null,
            "conditionVersion": null,
            "createdOn": a.created_on,
            "updatedOn": a.created_on,
            "description": null,
        },
    })
}

/// The scope must be one that exists here: the subscription, the resource group, the storage
/// account, or a container of it (`.../blobServices/default/containers/{name}`).
fn check_scope(call: &Call<'_>, scope: &str) -> Result<(), ArmError> {
    let seg: Vec<&str> = scope.trim_start_matches('/').split('/').collect();
    let is = |i: usize, w: &str| seg.get(i).is_some_and(|s| s.eq_ignore_ascii_case(w));
    if seg.len() <= 2 {
        return Ok(());
    }
    if !is(2, "resourceGroups") || seg.len() < 4 {
        return Err(ArmError::bad_request(
            "InvalidScope",
            format!("The scope '{scope}' is not valid for a role assignment here."),
        ));
    }
    call.check_resource_group(seg[3])?;
    if seg.len() == 4 {
        return Ok(());
    }
    let account_ok = seg.len() >= 8
        && is(4, "providers")
        && is(5, "Microsoft.Storage")
        && is(6, "storageAccounts");
    if !account_ok {
        return Err(ArmError::bad_request(
            "InvalidScope",
            format!("The scope '{scope}' is not valid for a role assignment here."),
        ));
    }
    if !seg[7].eq_ignore_ascii_case(&call.app.args.storage_account) {
        return Err(ArmError::not_found(
            "ResourceNotFound",
            format!(
                "The Resource 'Microsoft.Storage/storageAccounts/{}' under resource group '{}' was not found.",
                seg[7], seg[3]
            ),
        ));
    }
    let container_ok = seg.len() == 8
        || (seg.len() == 12
            && is(8, "blobServices")
            && is(9, "default")
            && is(10, "containers")
            && !seg[11].is_empty());
    if !container_ok {
        return Err(ArmError::bad_request(
            "InvalidScope",
            format!("The scope '{scope}' is not valid for a role assignment here."),
        ));
    }
    Ok(())
}

pub fn list(call: &Call<'_>, scope: &str) -> Result<Response, ArmError> {
    if call.method != Method::GET {
        return Err(call.not_allowed());
    }
    super::auth::authorize(call.app, &call.caller, ArmAction::RoleAssignmentRead, scope)?;
    check_scope(call, scope)?;
    let value: Vec<Value> = call.app.store.read(|s| {
        s.role_assignments
            .values()
            .filter(|a| scope_covers(&a.scope, scope) || scope_covers(scope, &a.scope))
            .map(to_json)
            .collect()
    });
    Ok(json(StatusCode::OK, json!({ "value": value })))
}

pub fn handle(call: &Call<'_>, scope: &str, name: &str) -> Result<Response, ArmError> {
    let action = match call.method {
        Method::GET => ArmAction::RoleAssignmentRead,
        Method::PUT => ArmAction::RoleAssignmentWrite,
        Method::DELETE => ArmAction::RoleAssignmentDelete,
        _ => return Err(call.not_allowed()),
    };
    if uuid::Uuid::parse_str(name).is_err() {
        return Err(ArmError::bad_request(
            "InvalidRoleAssignmentId",
            format!(
                "The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."
            ),
        ));
    }
    super::auth::authorize(call.app, &call.caller, action, scope)?;
    check_scope(call, scope)?;
    let id =
        format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}").to_lowercase();
    match call.method {
        Method::GET => call
            .app
            .store
            .read(|s| s.role_assignments.get(&id).map(to_json))
            .map(|v| json(StatusCode::OK, v))
            .ok_or_else(|| {
                ArmError::not_found(
                    "RoleAssignmentNotFound",
                    format!("The role assignment '{name}' is not found."),
                )
            }),
        Method::PUT => put(call, scope, name, &id),
        _ => {
            let removed = call.app.store.write(|s| s.role_assignments.remove(&id));
            Ok(match removed {
                Some(a) => json(StatusCode::OK, to_json(&a)),
                None => json(StatusCode::NO_CONTENT, Value::Null),
            })
        }
    }
}

fn put(call: &Call<'_>, scope: &str, name: &str, id: &str) -> Result<Response, ArmError> {
    let body = call.json_body()?;
    let props = body.get("properties").cloned().unwrap_or(Value::Null);
    let text = |f: &str| {
        props
            .get(f)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    let Some(role_definition_id) = text("roleDefinitionId") else {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The property 'properties.roleDefinitionId' is required.",
        ));
    };
    let Some(principal_id) = text("principalId") else {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The property 'properties.principalId' is required.",
        ));
    };
    let role = role_definition_id
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let well_formed = role_definition_id
        .to_lowercase()
        .contains("/providers/microsoft.authorization/roledefinitions/");
    if !well_formed || !roles::KNOWN.contains(&role.as_str()) {
        return Err(ArmError::bad_request(
            "RoleDefinitionDoesNotExist",
            format!("The specified role definition with ID '{role}' does not exist."),
        ));
    }
    let tenant = call.app.args.tenant.clone();
    call.app.store.write(|s| {
        if !s.principal_exists(&principal_id) {
            return Err(ArmError::bad_request(
                "PrincipalNotFound",
                format!("Principal {principal_id} does not exist in the directory {tenant}. Check that you have the correct principal ID. If you are creating this principal and then immediately assigning a role, this error might be related to a replication delay. In this case, set the role assignment principalType property to a value, such as ServicePrincipal, User, or Group.  See https://aka.ms/docs-principaltype"),
            ));
        }
        if let Some(existing) = s.role_assignments.get(id) {
            let same = existing.principal_id.eq_ignore_ascii_case(&principal_id) && existing.role_guid().eq_ignore_ascii_case(&role);
            if !same {
                return Err(ArmError::bad_request(
                    "RoleAssignmentUpdateNotPermitted",
                    "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.",
                ));
            }
        }
        let duplicate = s.role_assignments.values().any(|a| {
            a.scope.eq_ignore_ascii_case(scope)
                && a.principal_id.eq_ignore_ascii_case(&principal_id)
                && a.role_guid().eq_ignore_ascii_case(&role)
        });
        if duplicate {
            return Err(ArmError::new(StatusCode::CONFLICT, "RoleAssignmentExists", "The role assignment already exists."));
        }
        let assignment = RoleAssignment {
            scope: scope.to_string(),
            name: name.to_string(),
            role_definition_id,
            principal_id,
            principal_type: text("principalType").unwrap_or_else(|| "ServicePrincipal".to_string()),
            created_on: chrono::Utc::now().to_rfc3339(),
        };
        let body = to_json(&assignment);
        s.role_assignments.insert(id.to_string(), assignment);
        Ok(json(StatusCode::CREATED, body))
    })
}

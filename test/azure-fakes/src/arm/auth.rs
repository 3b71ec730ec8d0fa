//! ARM's checks before any resource is touched: a bearer token this stand-in's token endpoint
//! issued for the management audience, and a role covering the scope that allows the action.

use axum::http::{HeaderMap, StatusCode};

use super::error::ArmError;
use crate::{
    app::Shared,
    roles::{self, ArmAction},
    tokens::{ARM_AUDIENCE, AccessClaims, VerifyError},
};

fn unauthorized(code: &'static str, message: impl Into<String>, description: &str) -> ArmError {
    ArmError::new(StatusCode::UNAUTHORIZED, code, message).with_header(
        "www-authenticate",
        format!(
            "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", error_description=\"{description}\""
        ),
    )
}

pub fn authenticate(app: &Shared, headers: &HeaderMap) -> Result<AccessClaims, ArmError> {
    let Some(value) = headers.get("authorization") else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            "The authentication failed because of missing 'Authorization' header.",
        ));
    };
    let value = value.to_str().unwrap_or_default();
    let Some(token) = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
    else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            "The authentication failed because of invalid 'Authorization' header.",
        ));
    };
    app.tokens.verify(token.trim(), ARM_AUDIENCE).map_err(|err| match err {
        VerifyError::Expired => unauthorized(
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
            "The access token has expired.",
        ),
        VerifyError::Audience => unauthorized(
            "InvalidAuthenticationTokenAudience",
            format!("The access token has been obtained for wrong audience or resource. It should exactly match with one of the allowed audiences '{ARM_AUDIENCE}/','{ARM_AUDIENCE}'."),
            "The access token has been obtained for wrong audience or resource.",
        ),
        VerifyError::Invalid(reason) => unauthorized(
            "InvalidAuthenticationToken",
            format!("The access token is invalid: {reason}."),
            "The access token is invalid.",
        ),
    })
}

/// 403 AuthorizationFailed unless the caller holds a role at `scope` (or above) allowing `action`.
pub fn authorize(
    app: &Shared,
    caller: &AccessClaims,
    action: ArmAction,
    scope: &str,
) -> Result<(), ArmError> {
    let held = app.store.read(|s| s.roles_covering(&caller.oid, scope));
    if held.iter().any(|role| roles::allows(role, action)) {
        return Ok(());
    }
    Err(ArmError::new(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        format!(
            "The client '{}' with object id '{}' does not have authorization to perform action '{}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
            caller.appid,
            caller.oid,
            action.name()
        ),
    ))
}

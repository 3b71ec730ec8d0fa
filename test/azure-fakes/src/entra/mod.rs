//! Entra ID token endpoint stand-in: `POST /{tenant}/oauth2/v2.0/token` with the client-credentials
//! grant and a JWT client assertion (workload identity federation).

mod assertion;
mod errors;

use std::collections::HashMap;

use axum::{
    Form, Json, Router,
    extract::{Path, State, rejection::FormRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde_json::json;

use crate::{
    app::Shared,
    faults::{Fault, Service},
    tokens::{ARM_AUDIENCE, LIFETIME_SECONDS, STORAGE_AUDIENCE},
};
use errors::EntraError;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .with_state(app)
}

async fn token(
    State(app): State<Shared>,
    Path(tenant): Path<String>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    match app.faults.apply(Service::Entra).await {
        Fault::None => {}
        Fault::Throttle { retry_after } => {
            let mut err = EntraError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                90055,
                "There are too many incoming requests. Please try again later.",
            );
            err.retry_after = Some(retry_after);
            return err.into_response();
        }
        Fault::Error { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return EntraError::new(
                status,
                "temporarily_unavailable",
                90033,
                "A transient error has occurred. Please try again.",
            )
            .into_response();
        }
    }
    match issue(&app, &tenant, form).await {
        Ok(response) => response,
        Err(err) => {
            tracing::info!(code = err.code, "token request refused: {}", err.message);
            err.into_response()
        }
    }
}

fn param<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, EntraError> {
    form.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            EntraError::bad_request(
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{name}'."),
            )
        })
}

/// The resource a `.default` scope names, if it is one this stand-in issues tokens for.
fn audience_of(scope: &str, tenant: &str) -> Result<&'static str, EntraError> {
    let Some(resource) = scope.strip_suffix("/.default") else {
        return Err(EntraError::bad_request(
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        ));
    };
    match resource.trim_end_matches('/') {
        STORAGE_AUDIENCE => Ok(STORAGE_AUDIENCE),
        ARM_AUDIENCE => Ok(ARM_AUDIENCE),
        _ => Err(EntraError::bad_request(
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        )),
    }
}

async fn issue(
    app: &Shared,
    tenant: &str,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Result<Response, EntraError> {
    if !tenant.eq_ignore_ascii_case(&app.args.tenant) {
        return Err(EntraError::bad_request(
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    }
    let Form(form) = form.map_err(|err| {
        EntraError::bad_request(
            "invalid_request",
            900144,
            format!("The request body must be form-encoded: {err}."),
        )
    })?;
    let grant_type = param(&form, "grant_type")?;
    if grant_type != "client_credentials" {
        return Err(EntraError::bad_request(
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    let client_id = param(&form, "client_id")?;
    let audience = audience_of(param(&form, "scope")?, tenant)?;
    let (Some(assertion_type), Some(assertion)) = (
        form.get("client_assertion_type"),
        form.get("client_assertion"),
    ) else {
        return Err(EntraError::bad_request(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if assertion_type != ASSERTION_TYPE {
        return Err(EntraError::bad_request(
            "invalid_request",
            50027,
            format!(
                "Invalid client_assertion_type '{assertion_type}'; expected '{ASSERTION_TYPE}'."
            ),
        ));
    }
    let identity = app
        .store
        .read(|s| s.identity_by_client_id(client_id).cloned());
    let Some(identity) = identity else {
        return Err(EntraError::bad_request(
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        ));
    };
    let credentials: Vec<_> = identity.federated_credentials.values().cloned().collect();
    assertion::verify(app, assertion, &credentials).await?;

    let token = app
        .tokens
        .issue(audience, &identity.client_id, &identity.principal_id)
        .map_err(|err| {
            EntraError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                90033,
                err.to_string(),
            )
        })?;
    tracing::info!(client_id, audience, "token issued");
    Ok(Json(json!({
        "token_type": "Bearer",
        "expires_in": LIFETIME_SECONDS - 1,
        "ext_expires_in": LIFETIME_SECONDS - 1,
        "access_token": token,
    }))
    .into_response())
}

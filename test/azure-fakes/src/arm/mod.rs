//! ARM stand-in: Microsoft.ManagedIdentity user-assigned identities and their federated identity
//! credentials, Microsoft.Authorization role assignments, at the real paths and api-versions.

mod auth;
mod credentials;
mod error;
mod identities;
mod path;
mod role_assignments;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::Value;

use crate::{
    app::Shared,
    faults::{Fault, Service},
    tokens::AccessClaims,
};
pub use error::ArmError;
use path::Target;

const IDENTITY_API_VERSIONS: &[&str] = &["2023-01-31", "2024-11-30"];
const ROLE_ASSIGNMENT_API_VERSIONS: &[&str] = &["2022-04-01"];

pub fn router(app: Shared) -> Router {
    Router::new().fallback(handle).with_state(app)
}

/// One ARM call, after authentication and the api-version check.
pub struct Call<'a> {
    pub app: &'a Shared,
    pub caller: AccessClaims,
    pub method: Method,
    pub body: Bytes,
}

impl Call<'_> {
    pub fn json_body(&self) -> Result<Value, ArmError> {
        serde_json::from_slice(&self.body).map_err(|err| {
            ArmError::bad_request(
                "InvalidRequestContent",
                format!("The request content was invalid and could not be deserialized: '{err}'."),
            )
        })
    }

    pub fn not_allowed(&self) -> ArmError {
        ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!(
                "The requested method '{}' is not allowed for this resource.",
                self.method
            ),
        )
    }

    /// 404 unless the resource group is the environment's one (the only one that exists).
    pub fn check_resource_group(&self, rg: &str) -> Result<(), ArmError> {
        if rg.eq_ignore_ascii_case(&self.app.args.resource_group) {
            return Ok(());
        }
        Err(ArmError::not_found(
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        ))
    }
}

pub fn json(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

async fn handle(
    State(app): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut response = match route(&app, method.clone(), &uri, &headers, body).await {
        Ok(r) => r,
        Err(err) => {
            tracing::info!(%method, %uri, code = err.code, "ARM refused: {}", err.message);
            err.into_response()
        }
    };
    let id = uuid::Uuid::new_v4().to_string();
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-ms-request-id", v.clone());
        response
            .headers_mut()
            .insert("x-ms-correlation-request-id", v);
    }
    response
}

fn api_version(uri: &Uri, target: &Target) -> Result<(), ArmError> {
    let version = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("api-version="));
    let Some(version) = version.filter(|v| !v.is_empty()) else {
        return Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    let (supported, kind) = if target.is_role_assignment() {
        (ROLE_ASSIGNMENT_API_VERSIONS, "roleAssignments")
    } else {
        (IDENTITY_API_VERSIONS, "userAssignedIdentities")
    };
    if supported.contains(&version) {
        return Ok(());
    }
    Err(ArmError::bad_request(
        "InvalidApiVersionParameter",
        format!(
            "The api-version '{version}' is invalid for resource type '{kind}'. The supported versions are '{}'.",
            supported.join(",")
        ),
    ))
}

async fn route(
    app: &Shared,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ArmError> {
    match app.faults.apply(Service::Arm).await {
        Fault::None => {}
        Fault::Throttle { retry_after } => {
            return Err(ArmError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TooManyRequests",
                "The request is being throttled. Retry after the interval in the Retry-After header.",
            )
            .with_header("retry-after", retry_after.to_string()));
        }
        Fault::Error { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return Err(ArmError::new(
                status,
                "InternalServerError",
                "Encountered internal server error (injected fault).",
            ));
        }
    }
    let Some(target) = path::parse(uri.path()) else {
        return Err(ArmError::not_found(
            "InvalidResourceType",
            format!(
                "The resource path '{}' is not served by this stand-in.",
                uri.path()
            ),
        ));
    };
    api_version(uri, &target)?;
    let caller = auth::authenticate(app, headers)?;
    let sub = match &target {
        Target::Identities { sub, .. }
        | Target::Identity { sub, .. }
        | Target::Credentials { sub, .. }
        | Target::Credential { sub, .. } => sub.clone(),
        Target::RoleAssignments { scope } | Target::RoleAssignment { scope, .. } => scope
            .trim_start_matches('/')
            .split('/')
            .nth(1)
            .unwrap_or_default()
            .to_string(),
    };
    if !sub.eq_ignore_ascii_case(&app.args.subscription) {
        return Err(ArmError::not_found(
            "SubscriptionNotFound",
            format!("The subscription '{sub}' could not be found."),
        ));
    }
    let call = Call {
        app,
        caller,
        method,
        body,
    };
    match target {
        Target::Identities { rg, .. } => identities::list(&call, &rg),
        Target::Identity { rg, name, .. } => identities::handle(&call, &rg, &name).await,
        Target::Credentials { rg, identity, .. } => credentials::list(&call, &rg, &identity),
        Target::Credential {
            rg, identity, name, ..
        } => credentials::handle(&call, &rg, &identity, &name).await,
        Target::RoleAssignments { scope } => role_assignments::list(&call, &scope),
        Target::RoleAssignment { scope, name } => role_assignments::handle(&call, &scope, &name),
    }
}

/// Hold the identity for a write (409 if another write holds it) for the configured duration.
pub async fn begin_write(
    call: &Call<'_>,
    key: &str,
    identity_id: &str,
) -> Result<crate::store::WriteGuard, ArmError> {
    let Some(guard) = call.app.store.begin_write(key) else {
        return Err(ArmError::new(
            StatusCode::CONFLICT,
            "ConcurrentFederatedIdentityCredentialsWritesForSingleManagedIdentity",
            format!(
                "Too many Federated Identity Credentials are written concurrently for the managed identity '{identity_id}'. Concurrent Federated Identity Credentials writes under the same managed identity are not supported."
            ),
        ));
    };
    let ms = call.app.faults.get(Service::Arm).write_duration_ms;
    if ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    Ok(guard)
}

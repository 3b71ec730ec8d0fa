//! Authorization in front of Azurite, as Azure Storage does it with Entra ID tokens: the bearer
//! must be a storage token this stand-in issued, and its `oid` must hold a blob data role at the
//! account or the container. Allowed requests are forwarded to Azurite (HTTPS, environment CA)
//! with both bodies streamed.

mod errors;

use axum::{
    Router,
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, Method, Response, StatusCode, header, request::Parts},
};
use futures::TryStreamExt;

use crate::{
    app::Shared,
    faults::{Fault, Service},
    roles,
    tokens::{STORAGE_AUDIENCE, VerifyError},
};
use errors::StorageError;

pub fn router(app: Shared) -> Router {
    Router::new().fallback(handle).with_state(app)
}

/// Headers that belong to one connection, not to the message.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

async fn handle(State(app): State<Shared>, request: Request) -> Response<Body> {
    let (parts, body) = request.into_parts();
    match check(&app, &parts).await {
        Ok(()) => forward(&app, parts, body)
            .await
            .unwrap_or_else(StorageError::into_response),
        Err(err) => {
            tracing::info!(method = %parts.method, uri = %parts.uri, code = err.code, "blob request refused: {}", err.message);
            err.into_response()
        }
    }
}

fn unauthenticated(app: &Shared, code: &'static str, detail: Option<String>) -> StorageError {
    let mut err = StorageError::new(
        StatusCode::UNAUTHORIZED,
        code,
        "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
    )
    .header(
        "www-authenticate",
        format!(
            "Bearer authorization_uri=https://login.microsoftonline.com/{}/oauth2/authorize resource_id={STORAGE_AUDIENCE}",
            app.args.tenant
        ),
    );
    err.detail = detail;
    err
}

async fn check(app: &Shared, request: &Parts) -> Result<(), StorageError> {
    match app.faults.apply(Service::Blob).await {
        Fault::None => {}
        Fault::Throttle { retry_after } => {
            return Err(StorageError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServerBusy",
                "The server is currently unable to receive requests. Please retry your request.",
            )
            .header("retry-after", retry_after.to_string()));
        }
        Fault::Error { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let code = if status == StatusCode::SERVICE_UNAVAILABLE {
                "ServerBusy"
            } else {
                "InternalError"
            };
            return Err(StorageError::new(
                status,
                code,
                "The server encountered an internal error (injected fault).",
            ));
        }
    }
    let mut segments = request.uri.path().trim_start_matches('/').splitn(3, '/');
    let account = segments.next().unwrap_or_default();
    let container = segments.next().unwrap_or_default();
    if account != app.args.storage_account {
        return Err(StorageError::new(
            StatusCode::BAD_REQUEST,
            "InvalidUri",
            format!(
                "The requested URI does not represent any resource on the server: account '{account}' is not '{}'.",
                app.args.storage_account
            ),
        ));
    }
    let token = bearer(&request.headers)
        .ok_or_else(|| unauthenticated(app, "NoAuthenticationInformation", None))?;
    let claims = app.tokens.verify(token, STORAGE_AUDIENCE).map_err(|err| {
        let detail = match err {
            VerifyError::Expired => "Lifetime validation failed. The token is expired.".to_string(),
            VerifyError::Audience => {
                "Audience validation failed. Audience did not match.".to_string()
            }
            VerifyError::Invalid(reason) => format!("Token validation failed: {reason}."),
        };
        unauthenticated(app, "InvalidAuthenticationInfo", Some(detail))
    })?;

    let mut scope = app.storage_account_scope();
    if !container.is_empty() {
        scope = format!("{scope}/blobServices/default/containers/{container}");
    }
    let write = !matches!(request.method, Method::GET | Method::HEAD);
    let held = app.store.read(|s| s.roles_covering(&claims.oid, &scope));
    if held.iter().any(|role| roles::allows_blob(role, write)) {
        return Ok(());
    }
    Err(StorageError::new(
        StatusCode::FORBIDDEN,
        "AuthorizationPermissionMismatch",
        "This request is not authorized to perform this operation using this permission.",
    ))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

async fn forward(app: &Shared, parts: Parts, body: Body) -> Result<Response<Body>, StorageError> {
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!(
        "{}{path_and_query}",
        app.args.azurite_url.trim_end_matches('/')
    );
    let mut out = app.http.request(parts.method.clone(), &url);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out = out.header(name, value);
        }
    }
    let has_body = parts.headers.contains_key(header::CONTENT_LENGTH)
        || parts.headers.contains_key(header::TRANSFER_ENCODING);
    if has_body {
        out = out.body(reqwest::Body::wrap_stream(body.into_data_stream()));
    }
    let upstream = out.send().await.map_err(|err| {
        tracing::warn!("forwarding {} {url}: {err}", parts.method);
        StorageError::new(
            StatusCode::BAD_GATEWAY,
            "InternalError",
            format!("The blob service behind the proxy did not answer: {err}"),
        )
    })?;
    let mut response = Response::builder().status(upstream.status());
    for (name, value) in upstream.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    let stream = upstream.bytes_stream().map_err(std::io::Error::other);
    response.body(Body::from_stream(stream)).map_err(|err| {
        StorageError::new(
            StatusCode::BAD_GATEWAY,
            "InternalError",
            format!("Building the proxied response: {err}"),
        )
    })
}

//! Per-cluster OIDC issuers, served like Gardener's discovery server:
//! `/projects/{project}/shoots/{uid}/issuer/.well-known/openid-configuration` and `.../jwks`.
//! The issuers live in DIR/issuers/<cluster>/ (hack/azure-up.sh, hack/rotate-issuer.sh) and are
//! read on every request, so a rotated issuer is served at once and the old URL answers 404.

use std::path::PathBuf;

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::app::Shared;

pub fn router(app: Shared) -> Router {
    Router::new()
        .route(
            "/projects/{project}/shoots/{uid}/issuer/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/projects/{project}/shoots/{uid}/issuer/jwks", get(jwks))
        .with_state(app)
}

/// The cluster directory whose current project and uid are these.
fn find(app: &Shared, project: &str, uid: &str) -> Option<PathBuf> {
    let read = |p: PathBuf| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_string())
    };
    std::fs::read_dir(app.args.issuers_dir())
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|dir| {
            read(dir.join("project")).as_deref() == Some(project)
                && read(dir.join("uid")).as_deref() == Some(uid)
                && dir.join("issuer").exists()
        })
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "issuer not found\n").into_response()
}

async fn discovery(
    State(app): State<Shared>,
    Path((project, uid)): Path<(String, String)>,
) -> Response {
    let Some(dir) = find(&app, &project, &uid) else {
        return not_found();
    };
    let Ok(issuer) = std::fs::read_to_string(dir.join("issuer")) else {
        return not_found();
    };
    let issuer = issuer.trim();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
    .into_response()
}

async fn jwks(State(app): State<Shared>, Path((project, uid)): Path<(String, String)>) -> Response {
    let Some(dir) = find(&app, &project, &uid) else {
        return not_found();
    };
    match std::fs::read(dir.join("jwks.json")) {
        Ok(body) => ([("content-type", "application/jwk-set+json")], body).into_response(),
        Err(_) => not_found(),
    }
}

//! Test-only admin endpoint (no authentication; loopback only):
//! - `GET /admin/healthz`
//! - `GET /admin/faults`, `PUT /admin/faults/{entra|arm|blob}` (a FaultSpec), `DELETE /admin/faults`
//! - `GET /admin/state`: every identity, credential and role assignment

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};

use crate::{
    app::Shared,
    faults::{FaultSpec, Service},
};

pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/admin/healthz", get(|| async { "ok\n" }))
        .route("/admin/faults", get(get_faults).delete(clear_faults))
        .route("/admin/faults/{service}", get(get_fault).put(put_fault))
        .route("/admin/state", get(state))
        .with_state(app)
}

fn service(name: &str) -> Result<Service, (StatusCode, String)> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|_| {
        (
            StatusCode::NOT_FOUND,
            format!("unknown service '{name}' (entra, arm, blob)\n"),
        )
    })
}

async fn get_faults(State(app): State<Shared>) -> Response {
    Json(app.faults.all()).into_response()
}

async fn clear_faults(State(app): State<Shared>) -> Response {
    app.faults.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_fault(State(app): State<Shared>, Path(name): Path<String>) -> Response {
    match service(&name) {
        Ok(s) => Json(app.faults.get(s)).into_response(),
        Err(r) => r.into_response(),
    }
}

async fn put_fault(State(app): State<Shared>, Path(name): Path<String>, body: String) -> Response {
    let s = match service(&name) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    match serde_json::from_str::<FaultSpec>(&body) {
        Ok(spec) => {
            app.faults.set(s, spec.clone());
            Json(spec).into_response()
        }
        Err(err) => (
            StatusCode::BAD_REQUEST,
            format!("invalid fault spec: {err}\n"),
        )
            .into_response(),
    }
}

async fn state(State(app): State<Shared>) -> Response {
    Json(app.store.read(|s| s.clone())).into_response()
}

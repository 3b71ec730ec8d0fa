//! Azure Storage's error responses: `x-ms-error-code` and an XML `<Error>` body.

use axum::{
    body::Body,
    http::{HeaderValue, Response, StatusCode},
};

pub struct StorageError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub detail: Option<String>,
    pub headers: Vec<(&'static str, String)>,
}

impl StorageError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: None,
            headers: vec![],
        }
    }

    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn into_response(self) -> Response<Body> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
        let detail = self
            .detail
            .map(|d| {
                format!(
                    "<AuthenticationErrorDetail>{}</AuthenticationErrorDetail>",
                    escape(&d)
                )
            })
            .unwrap_or_default();
        let body = format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{}\nRequestId:{request_id}\nTime:{time}</Message>{detail}</Error>",
            self.code,
            escape(&self.message)
        );
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        let h = response.headers_mut();
        h.insert("content-type", HeaderValue::from_static("application/xml"));
        h.insert("x-ms-error-code", HeaderValue::from_static(self.code));
        if let Ok(v) = HeaderValue::from_str(&request_id) {
            h.insert("x-ms-request-id", v);
        }
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
        response
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

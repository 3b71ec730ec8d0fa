//! What a run did: the log lines of log.jsonl.zst (one per step, never one per object) and the
//! item errors, of which status keeps the most recent `MAX_STATUS_ERRORS`.

use std::collections::VecDeque;

use herbarium_api::common::ItemError;
use herbarium_api::constants::MAX_STATUS_ERRORS;
use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

/// Item errors kept (the most recent `MAX_STATUS_ERRORS`) and counted, plus the log lines.
#[derive(Default)]
pub(super) struct Journal {
    pub(super) errors: VecDeque<ItemError>,
    pub(super) error_count: u64,
    pub(super) lines: Vec<String>,
}

impl Journal {
    pub(super) fn info(&mut self, fields: Value) {
        self.line("info", fields);
    }
    pub(super) fn error(&mut self, item: String, message: String) {
        self.line("error", json!({"item": item, "message": message}));
        self.error_count += 1;
        if self.errors.len() == MAX_STATUS_ERRORS {
            self.errors.pop_front();
        }
        self.errors.push_back(ItemError { item, message });
    }
    /// Something the user should see in status that does not make the backup partial.
    pub(super) fn warn(&mut self, item: String, message: String) {
        self.line("warning", json!({"item": item, "message": message}));
        if self.errors.len() == MAX_STATUS_ERRORS {
            self.errors.pop_front();
        }
        self.errors.push_back(ItemError {
            item,
            message: format!("warning: {message}"),
        });
    }
    fn line(&mut self, level: &str, mut fields: Value) {
        fields["time"] = json!(Timestamp::now().to_string());
        fields["level"] = json!(level);
        self.lines.push(fields.to_string());
    }
}

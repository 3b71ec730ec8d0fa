//! The lister of a run: every target (resource, namespace) page by page into a channel, one
//! page ahead of the writer. A continue token that expires mid-list (410 Gone: the list took
//! longer than the API server keeps its snapshot, ~5 min with etcd compaction) restarts that
//! target once from the start; the writer skips the objects it already wrote, so the archive
//! keeps each object once and the resource's entries stay contiguous.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use kube::Client;
use serde_json::Value;
use tokio::sync::mpsc;

use super::archive::ResourceId;
use super::kube_io::list_page;
use super::select::Plan;

pub(super) enum Msg {
    Page {
        target: usize,
        items: Vec<Value>,
    },
    /// The target is listed again from the start (its continue token expired).
    Restarted {
        target: usize,
    },
    Failed {
        target: usize,
        error: String,
    },
}

pub(super) type Target = (ResourceId, Option<String>);

pub(super) fn targets(p: &Plan) -> Vec<Target> {
    let mut t = Vec::new();
    for r in &p.namespaced {
        if p.list_all_namespaces {
            if !p.namespaces.is_empty() {
                t.push((r.clone(), None));
            }
        } else {
            t.extend(p.namespaces.iter().map(|ns| (r.clone(), Some(ns.clone()))));
        }
    }
    t.extend(p.cluster.iter().map(|r| (r.clone(), None)));
    t
}

/// What to do after a page failed (the transient errors were already retried by `list_page`).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AfterError {
    /// List the target again from the start.
    Restart,
    /// Give up on the target: an item error with this message.
    Fail(String),
}

/// A 410 Gone on a continued list (the token expired) restarts the target, once; anything else,
/// or a second expiry, is an item error for the target.
pub(super) fn after_error(e: &kube::Error, continued: bool, restarted: bool) -> AfterError {
    let expired = matches!(e, kube::Error::Api(s) if s.code == 410) && continued;
    match (expired, restarted) {
        (true, false) => AfterError::Restart,
        (true, true) => AfterError::Fail(format!(
            "listing: {e}; the list expired twice before it was read to the end, the rest of \
             this resource is not in the backup: re-run the backup"
        )),
        _ => AfterError::Fail(format!("listing: {e}")),
    }
}

/// The objects of the current target already written, as 64-bit hashes of (namespace, name):
/// after a restart the same objects come again and are skipped. Reset when the target changes.
#[derive(Default)]
pub(super) struct Written {
    target: usize,
    seen: HashSet<u64>,
}

impl Written {
    /// Whether this object is new for its target (and note it).
    pub(super) fn first_time(
        &mut self,
        target: usize,
        namespace: Option<&str>,
        name: &str,
    ) -> bool {
        if target != self.target {
            self.target = target;
            self.seen.clear();
        }
        let mut h = DefaultHasher::new();
        (namespace, name).hash(&mut h);
        self.seen.insert(h.finish())
    }
}

/// Lists every target page by page into `tx`; runs ahead of the writer by the channel's size.
pub(super) async fn lister(
    client: Client,
    targets: Vec<Target>,
    selector: Option<String>,
    limit: u32,
    tx: mpsc::Sender<Msg>,
) {
    for (i, (r, ns)) in targets.iter().enumerate() {
        let mut token: Option<String> = None;
        let mut restarted = false;
        loop {
            let continued = token.is_some();
            match list_page(&client, r, ns.as_deref(), selector.as_deref(), limit, token).await {
                Ok(page) => {
                    token = page.metadata.continue_token.filter(|t| !t.is_empty());
                    let msg = Msg::Page {
                        target: i,
                        items: page.items,
                    };
                    if tx.send(msg).await.is_err() {
                        return;
                    }
                    if token.is_none() {
                        break;
                    }
                }
                Err(e) => {
                    token = None;
                    let msg = match after_error(&e, continued, restarted) {
                        AfterError::Restart => {
                            restarted = true;
                            tracing::info!(resource = %r.resource, namespace = ?ns, "continue token expired; listing again from the start");
                            Msg::Restarted { target: i }
                        }
                        AfterError::Fail(error) => Msg::Failed { target: i, error },
                    };
                    let failed = matches!(msg, Msg::Failed { .. });
                    if tx.send(msg).await.is_err() {
                        return;
                    }
                    if failed {
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("m", "Expired")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn an_expired_continue_token_restarts_the_resource_once() {
        assert_eq!(after_error(&api(410), true, false), AfterError::Restart);
        let AfterError::Fail(m) = after_error(&api(410), true, true) else {
            panic!("a second expiry restarts again");
        };
        assert!(m.contains("re-run the backup"), "{m}");
        assert!(matches!(
            after_error(&api(410), false, false),
            AfterError::Fail(_)
        ));
        assert!(matches!(
            after_error(&api(403), true, false),
            AfterError::Fail(_)
        ));
    }

    #[test]
    fn objects_written_before_a_restart_are_skipped_per_target() {
        let mut w = Written::default();
        assert!(w.first_time(0, Some("a"), "x"));
        assert!(w.first_time(0, Some("b"), "x"));
        assert!(!w.first_time(0, Some("a"), "x"), "seen before the restart");
        assert!(w.first_time(1, Some("a"), "x"), "another target");
        assert!(w.first_time(1, None, "a"));
    }
}

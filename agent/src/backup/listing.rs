//! The lister of a run: every target (resource, namespace) page by page into a channel, one
//! page ahead of the writer. A continue token that expires mid-list (410 Gone: the list took
//! longer than the API server keeps its snapshot, ~5 min with etcd compaction) restarts that
//! target once from the start and skips what it had already sent, so the archive keeps each
//! object once and the resource's entries stay contiguous.

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

/// An object's key in the API server's list order: `<namespace>/<name>`, or `<name>` when
/// cluster-scoped — the storage key's tail, which paginated lists (and their continue tokens)
/// follow byte by byte. (Not the (namespace, name) pair: "a-b/y" sorts before "a/x".)
fn list_key(obj: &Value) -> Option<String> {
    let meta = &obj["metadata"];
    let name = meta["name"].as_str()?;
    Some(match meta["namespace"].as_str() {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    })
}

/// After a restart: drops the objects of a page up to and including `sent_through`, the key of
/// the last object sent before the list expired. Returns whether the whole page had been sent
/// (keep skipping); once a page goes past it, the rest of the list is new to the writer.
fn skip_sent(items: &mut Vec<Value>, sent_through: &str) -> bool {
    items.retain(|o| list_key(o).is_some_and(|k| k.as_str() > sent_through));
    items.is_empty()
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
        // The key of the last object sent, and, after a restart, what to skip through.
        let mut sent_through: Option<String> = None;
        let mut skip_through: Option<String> = None;
        loop {
            let continued = token.is_some();
            match list_page(&client, r, ns.as_deref(), selector.as_deref(), limit, token).await {
                Ok(page) => {
                    token = page.metadata.continue_token.filter(|t| !t.is_empty());
                    let mut items = page.items;
                    if let Some(through) = &skip_through
                        && !skip_sent(&mut items, through)
                    {
                        skip_through = None;
                    }
                    if let Some(key) = items.last().and_then(list_key) {
                        sent_through = Some(key);
                    }
                    let msg = Msg::Page { target: i, items };
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
                            skip_through = sent_through.clone();
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
    fn after_a_restart_what_was_sent_is_skipped_in_list_order() {
        let obj = |ns: Option<&str>, name: &str| serde_json::json!({"metadata": {"name": name, "namespace": ns}});
        // The API server's order: "a-b/y" < "a/x" < "b/z" ('-' sorts before '/').
        let page = || {
            vec![
                obj(Some("a-b"), "y"),
                obj(Some("a"), "x"),
                obj(Some("b"), "z"),
            ]
        };
        let mut items = page();
        assert!(
            !skip_sent(&mut items, "a/x"),
            "the page goes past what was sent"
        );
        assert_eq!(items, [obj(Some("b"), "z")]);
        let mut items = page();
        assert!(skip_sent(&mut items, "b/z"), "all sent before");
        let mut cluster = vec![obj(None, "pv-1"), obj(None, "pv-2")];
        assert!(!skip_sent(&mut cluster, "pv-1"));
        assert_eq!(cluster, [obj(None, "pv-2")]);
    }
}

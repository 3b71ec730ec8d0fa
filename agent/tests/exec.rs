//! KubeExec against a mocked API server: the pods/exec request it sends (path, command,
//! container, streams, WebSocket subprotocol) and how it reads the exit status the server sends
//! on the status channel (3) of the Kubernetes channel protocol.

use std::sync::{Arc, Mutex};

use futures::SinkExt;
use herbarium_agent::backup::hooks::{Exec, KubeExec, Target};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// Serves one exec: records the request, answers with `stderr` on channel 2 and `status` on 3.
async fn fake_api(
    stderr: &'static str,
    status: &'static str,
) -> (String, Arc<Mutex<Option<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(None));
    let record = seen.clone();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // The error type is tungstenite's (an HTTP response), not ours to shrink.
        #[allow(clippy::result_large_err)]
        let callback = |req: &Request, mut resp: Response| {
            *record.lock().unwrap() = Some(req.clone());
            resp.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                "v4.channel.k8s.io".parse().unwrap(),
            );
            Ok(resp)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, callback)
            .await
            .unwrap();
        if !stderr.is_empty() {
            ws.send(Message::binary([&[2u8][..], stderr.as_bytes()].concat()))
                .await
                .unwrap();
        }
        ws.send(Message::binary([&[3u8][..], status.as_bytes()].concat()))
            .await
            .unwrap();
        let _ = ws.close(None).await;
    });
    (url, seen)
}

fn client(url: &str) -> kube::Client {
    kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
}

fn target() -> Target {
    Target {
        namespace: "shop".into(),
        pod: "db-0".into(),
        container: "postgres".into(),
    }
}

#[tokio::test]
async fn sends_the_exec_request_and_reads_success() {
    let (url, seen) = fake_api("", r#"{"metadata":{},"status":"Success"}"#).await;
    let command = vec!["fsfreeze".to_string(), "-f".into(), "/data".into()];
    KubeExec(client(&url))
        .exec(&target(), &command)
        .await
        .expect("exit 0");
    let req = seen.lock().unwrap().clone().expect("an exec request");
    assert_eq!(req.uri().path(), "/api/v1/namespaces/shop/pods/db-0/exec");
    let query = req.uri().query().unwrap();
    for want in [
        "command=fsfreeze",
        "command=-f",
        "command=%2Fdata",
        "container=postgres",
        "stderr=true",
    ] {
        assert!(query.contains(want), "{query} lacks {want}");
    }
    assert!(
        !query.contains("stdin=true") && !query.contains("tty=true"),
        "{query}"
    );
    let protocols = req.headers()["sec-websocket-protocol"].to_str().unwrap();
    assert!(protocols.contains("channel.k8s.io"), "{protocols}");
}

#[tokio::test]
async fn a_non_zero_exit_is_an_error_with_the_status_message_and_stderr() {
    let status = r#"{"metadata":{},"status":"Failure","reason":"NonZeroExitCode","message":"command terminated with non-zero exit code: exit status 3"}"#;
    let (url, _) = fake_api("fsfreeze: /data: not a mount point\n", status).await;
    let err = KubeExec(client(&url))
        .exec(&target(), &["fsfreeze".into()])
        .await
        .unwrap_err();
    assert!(
        err.contains("exit status 3") && err.contains("not a mount point"),
        "{err}"
    );
}

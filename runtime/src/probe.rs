//! A minimal blocking HTTP/1.1 GET, for tests of the operations endpoint (no client dependency).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GETs `path` from `addr`; returns the status code and the body.
pub fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {response:?}")))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Starts `binary` with a free operations port and JSON logs, checks `/healthz`, `/readyz` and
/// `/metrics`, sends SIGTERM and checks that it exits 0 within five seconds. Panics with what
/// went wrong. Returns the body of `/metrics`.
pub fn assert_serves_and_stops(binary: &str) -> String {
    assert_serves_and_stops_with(binary, &[])
}

/// [`assert_serves_and_stops`] with extra environment variables for the child (e.g. the
/// KUBECONFIG a binary needs before it serves).
pub fn assert_serves_and_stops_with(binary: &str, env: &[(&str, &str)]) -> String {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    let mut child = Command::new(binary)
        .args(["--listen-address", "127.0.0.1:0", "--log-format", "json"])
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {binary}: {e}"));
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut lines = stderr.lines();
    let addr: SocketAddr = loop {
        let line = match lines.next() {
            Some(Ok(line)) => line,
            other => {
                let _ = child.kill();
                panic!("{binary} ended its log before listening: {other:?}");
            }
        };
        if line.contains("operations endpoint listening") {
            let start = line
                .find("\"address\":\"")
                .expect("address field in the log line")
                + 11;
            let end = start + line[start..].find('"').unwrap();
            break line[start..end].parse().unwrap();
        }
    };
    // Keep draining the log so the child never blocks on a full pipe.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let (status, body) = get(addr, "/healthz").expect("GET /healthz");
    assert_eq!((status, body.as_str()), (200, "ok"));
    assert_eq!(get(addr, "/readyz").expect("GET /readyz").0, 200);
    let (status, metrics) = get(addr, "/metrics").expect("GET /metrics");
    assert_eq!(status, 200);
    assert!(metrics.contains("herbarium_build_info"), "{metrics}");
    assert_eq!(get(addr, "/nothing").expect("GET /nothing").0, 404);

    let sent = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("running kill");
    assert!(killed.success());
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for the child") {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            let log = drain.join().unwrap_or_default();
            panic!("{binary} did not stop within 5 s of SIGTERM; log: {log:#?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let log = drain.join().unwrap();
    assert!(
        status.success(),
        "{binary} exited with {status}; log: {log:#?}"
    );
    assert!(
        log.iter().any(|l| l.contains("SIGTERM")),
        "no stop logged: {log:#?}"
    );
    metrics
}

//! The gateway's upstream connection pools (`mcp_gateway::upstream`) against a real HTTP/1.1
//! server on loopback that counts its connections: reuse, what must not be reused, backends
//! that close connections, idle expiry, and what the backend receives.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use mcp_gateway::config::Backend;
use mcp_gateway::upstream::{UpstreamError, Upstreams};
use tokio::net::TcpListener;
use tokio::sync::Notify;

#[derive(Debug, Clone, Copy)]
enum Mode {
    /// Keeps connections open.
    KeepAlive,
    /// Answers with `Connection: close`.
    CloseEach,
    /// Closes a connection 50 ms after its first answer (an idle timeout on the backend).
    CloseSoonAfterAnswer,
}

struct TestBackend {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

async fn backend(mode: Mode) -> TestBackend {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    let (a, o) = (accepted.clone(), open.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            a.fetch_add(1, Ordering::SeqCst);
            o.fetch_add(1, Ordering::SeqCst);
            let o = o.clone();
            let answered = Arc::new(Notify::new());
            let svc_answered = answered.clone();
            let svc = hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
                let answered = svc_answered.clone();
                async move {
                    let host = req
                        .headers()
                        .get("host")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    let uri = req.uri().to_string();
                    let body = req.into_body().collect().await.unwrap().to_bytes();
                    let text = serde_json::json!({
                        "host": host,
                        "uri": uri,
                        "body": String::from_utf8_lossy(&body),
                    })
                    .to_string();
                    let mut resp = hyper::Response::new(Full::new(Bytes::from(text)));
                    if matches!(mode, Mode::CloseEach) {
                        resp.headers_mut()
                            .insert("connection", "close".parse().unwrap());
                    }
                    answered.notify_one();
                    Ok::<_, Infallible>(resp)
                }
            });
            tokio::spawn(async move {
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), svc);
                match mode {
                    Mode::CloseSoonAfterAnswer => {
                        tokio::select! {
                            _ = conn => {}
                            _ = async {
                                answered.notified().await;
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            } => {}
                        }
                    }
                    _ => {
                        let _ = conn.await;
                    }
                }
                o.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    TestBackend {
        addr,
        accepted,
        open,
    }
}

fn upstreams(addr: SocketAddr, idle: Duration) -> Upstreams {
    let b = Backend {
        name: "b".into(),
        url: format!("http://{addr}/mcp").parse().unwrap(),
        server: "b".into(),
        index: 0,
    };
    Upstreams::with_idle_timeout([&b], Duration::from_secs(2), idle)
}

fn post(uri: &str, body: &'static str) -> http::Request<Full<Bytes>> {
    http::Request::post(uri)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// One exchange, read to the end, connection released.
async fn exchange(u: &Upstreams, body: &'static str) -> serde_json::Value {
    let (resp, lease) = u.send(0, post("/mcp", body)).await.expect("response");
    assert_eq!(resp.status(), 200);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    lease.release();
    serde_json::from_slice(&bytes).unwrap()
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn sequential_requests_reuse_one_connection_with_host_and_path_of_the_backend() {
    let b = backend(Mode::KeepAlive).await;
    let u = upstreams(b.addr, Duration::from_secs(60));
    for i in 0..5 {
        let v = exchange(&u, r#"{"n":1}"#).await;
        assert_eq!(v["host"], b.addr.to_string(), "request {i}");
        assert_eq!(v["uri"], "/mcp");
        assert_eq!(v["body"], r#"{"n":1}"#);
    }
    assert_eq!(b.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(u.idle(0), 1);
}

#[tokio::test]
async fn concurrent_requests_open_connections_and_keep_them() {
    let b = backend(Mode::KeepAlive).await;
    let u = Arc::new(upstreams(b.addr, Duration::from_secs(60)));
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let u = u.clone();
            tokio::spawn(async move {
                let (resp, lease) = u.send(0, post("/mcp", "{}")).await.unwrap();
                // Hold all four at once before reading.
                tokio::time::sleep(Duration::from_millis(50)).await;
                resp.into_body().collect().await.unwrap();
                lease.release();
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap();
    }
    assert_eq!(b.accepted.load(Ordering::SeqCst), 4);
    assert_eq!(u.idle(0), 4);
    // The next four reuse them.
    for _ in 0..4 {
        exchange(&u, "{}").await;
    }
    assert_eq!(b.accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn a_response_not_read_to_the_end_closes_its_connection() {
    let b = backend(Mode::KeepAlive).await;
    let u = upstreams(b.addr, Duration::from_secs(60));
    let (resp, lease) = u.send(0, post("/mcp", "{}")).await.unwrap();
    drop(resp);
    drop(lease);
    eventually("the backend saw the connection close", || {
        b.open.load(Ordering::SeqCst) == 0
    })
    .await;
    assert_eq!(u.idle(0), 0);
    exchange(&u, "{}").await;
    assert_eq!(b.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_backend_that_closes_every_connection_still_answers_every_request() {
    let b = backend(Mode::CloseEach).await;
    let u = upstreams(b.addr, Duration::from_secs(60));
    for _ in 0..3 {
        exchange(&u, "{}").await;
        // Let the connection task see the close.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(b.accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_pooled_connection_the_backend_closed_is_replaced() {
    let b = backend(Mode::CloseSoonAfterAnswer).await;
    let u = upstreams(b.addr, Duration::from_secs(60));
    exchange(&u, "{}").await;
    eventually("the backend closed the idle connection", || {
        b.open.load(Ordering::SeqCst) == 0
    })
    .await;
    // The pooled connection is dead; the request goes out on a new one.
    let v = exchange(&u, r#"{"again":true}"#).await;
    assert_eq!(v["body"], r#"{"again":true}"#);
    assert_eq!(b.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn idle_connections_expire() {
    let b = backend(Mode::KeepAlive).await;
    let u = upstreams(b.addr, Duration::from_millis(100));
    exchange(&u, "{}").await;
    assert_eq!(u.idle(0), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    u.sweep();
    assert_eq!(u.idle(0), 0);
    eventually("the expired connection was closed", || {
        b.open.load(Ordering::SeqCst) == 0
    })
    .await;
    exchange(&u, "{}").await;
    assert_eq!(b.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_not_a_timeout() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let u = upstreams(addr, Duration::from_secs(60));
    let e = u.send(0, post("/mcp", "{}")).await.unwrap_err();
    assert!(matches!(e, UpstreamError::Connect { .. }), "{e:?}");
    assert!(!e.is_timeout());
    assert!(e.to_string().contains(&addr.to_string()), "{e}");
}

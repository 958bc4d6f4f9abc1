//! Connections to the backends: one pool of keep-alive HTTP/1.1 connections per backend and
//! serving thread ([`crate::server`]).
//!
//! Built on hyper's connection API rather than a general-purpose client: the gateway always
//! talks plain HTTP/1.1 to a fixed set of upstreams known at start, so a pool is a list of idle
//! connections per backend, looked up by the backend's index (no hashing of scheme and
//! authority per request), and a connection goes back to its pool when the response body has
//! been read to the end, by the body itself ([`Lease`]), instead of a task spawned per request
//! to watch for that. What the general client did and the gateway relies on is kept: `Host`
//! from the backend URL, connect timeout, no-delay sockets, idle connections closed after
//! [`IDLE_TIMEOUT`], at most [`MAX_IDLE`] kept per backend, and a request that could not be
//! written because its pooled connection had just closed is sent again on another one (never a
//! request that was written: it may have had effects).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, Uri, header, uri::PathAndQuery};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::config::Backend;

/// How long an unused connection stays open.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Most idle connections kept per backend and serving thread.
pub const MAX_IDLE: usize = 256;

type Sender = http1::SendRequest<Full<Bytes>>;

/// Why a request did not get response headers from its backend.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{host} resolves to no address")]
    NoAddress { host: String },
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("connect to {host} timed out after {}s", .timeout.as_secs_f64())]
    ConnectTimeout { host: String, timeout: Duration },
    #[error("HTTP/1.1 handshake with {host}: {source}")]
    Handshake {
        host: String,
        #[source]
        source: hyper::Error,
    },
    #[error("request to {host}: {source}")]
    Request {
        host: String,
        #[source]
        source: hyper::Error,
    },
}

impl UpstreamError {
    /// A timeout is a 504, anything else a 502.
    pub fn is_timeout(&self) -> bool {
        match self {
            UpstreamError::ConnectTimeout { .. } => true,
            UpstreamError::Connect { source, .. } => source.kind() == std::io::ErrorKind::TimedOut,
            UpstreamError::Request { source, .. } => source.is_timeout(),
            _ => false,
        }
    }
}

/// The pools of one serving thread, one per backend (in the config's backend order).
#[derive(Debug)]
pub struct Upstreams {
    pools: Vec<Arc<Pool>>,
    connect_timeout: Duration,
}

impl Upstreams {
    pub fn new<'a>(
        backends: impl IntoIterator<Item = &'a Backend>,
        connect_timeout: Duration,
    ) -> Self {
        Self::with_idle_timeout(backends, connect_timeout, IDLE_TIMEOUT)
    }

    /// Like [`Upstreams::new`], closing idle connections after `idle_timeout`.
    pub fn with_idle_timeout<'a>(
        backends: impl IntoIterator<Item = &'a Backend>,
        connect_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            pools: backends
                .into_iter()
                .map(|b| Arc::new(Pool::new(&b.url, idle_timeout)))
                .collect(),
            connect_timeout,
        }
    }

    /// Sends `req` (origin-form URI, `Host` still to be set) to backend number `index`, on an
    /// idle connection or a new one. The response comes with the connection's lease: hand it
    /// to [`Lease::release`] once the body has been read to the end.
    ///
    /// Not an `async fn`, so that its future holds the request once (an async function's
    /// future keeps an argument twice: as passed and as the local it is moved into).
    #[allow(
        clippy::manual_async_fn,
        reason = "an async fn would hold the request twice"
    )]
    pub fn send(
        &self,
        index: usize,
        mut req: Request<Full<Bytes>>,
    ) -> impl Future<Output = Result<(Response<Incoming>, Lease), UpstreamError>> + Send + '_ {
        async move {
            let pool = self.pools[index].clone();
            req.headers_mut().insert(header::HOST, pool.host.clone());
            // Pooled connections first; one that turns out closed before the request was written
            // hands the request back, and the next is tried.
            while let Some(mut sender) = pool.checkout() {
                match sender.try_send_request(req).await {
                    Ok(resp) => return Ok((resp, Lease::new(sender, pool))),
                    Err(mut e) => match e.take_message() {
                        Some(back) => req = back,
                        None => {
                            return Err(UpstreamError::Request {
                                host: pool.authority.clone(),
                                source: e.into_error(),
                            });
                        }
                    },
                }
            }
            // Boxed: a new connection is the rare path, kept out of the future of every request.
            let mut sender = Box::pin(pool.connect(self.connect_timeout)).await?;
            match sender.send_request(req).await {
                Ok(resp) => Ok((resp, Lease::new(sender, pool))),
                Err(source) => Err(UpstreamError::Request {
                    host: pool.authority.clone(),
                    source,
                }),
            }
        }
    }

    /// Closes connections idle for longer than the idle timeout (and ones the backend closed).
    pub fn sweep(&self) {
        let now = Instant::now();
        for p in &self.pools {
            p.sweep(now);
        }
    }

    /// Idle connections of backend `index` (tests, metrics).
    pub fn idle(&self, index: usize) -> usize {
        self.pools
            .get(index)
            .map_or(0, |p| p.idle.lock().map_or(0, |v| v.len()))
    }
}

/// One backend's idle connections.
#[derive(Debug)]
pub struct Pool {
    /// `host:port` to connect to.
    authority: String,
    host: HeaderValue,
    idle_timeout: Duration,
    idle: Mutex<Vec<(Sender, Instant)>>,
}

impl Pool {
    fn new(url: &Uri, idle_timeout: Duration) -> Self {
        let authority = url.authority().map_or("", |a| a.as_str());
        // Where to connect: the authority, with HTTP's default port when it names none.
        let connect_to = match url.port_u16() {
            Some(_) => authority.to_owned(),
            None => format!("{}:80", url.host().unwrap_or_default()),
        };
        Self {
            host: HeaderValue::from_str(authority)
                .unwrap_or_else(|_| HeaderValue::from_static("localhost")),
            authority: connect_to,
            idle_timeout,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The most recently used idle connection that can take a request now.
    fn checkout(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().ok()?;
        while let Some((mut s, since)) = idle.pop() {
            if s.is_closed() || since.elapsed() > self.idle_timeout {
                continue;
            }
            if s.is_ready() {
                return Some(s);
            }
            // Released a moment ago: its connection task may not have run since the body
            // ended. Ask once without waiting.
            use futures_util::FutureExt;
            if let Some(Ok(())) = s.ready().now_or_never() {
                return Some(s);
            }
        }
        None
    }

    fn checkin(&self, s: Sender) {
        if s.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push((s, Instant::now()));
        }
    }

    fn sweep(&self, now: Instant) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.retain(|(s, since)| {
                !s.is_closed() && now.duration_since(*since) <= self.idle_timeout
            });
        }
    }

    async fn connect(&self, timeout: Duration) -> Result<Sender, UpstreamError> {
        let host = &self.authority;
        let tcp = match tokio::time::timeout(timeout, connect_any(host)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(UpstreamError::ConnectTimeout {
                    host: host.clone(),
                    timeout,
                });
            }
        };
        let _ = tcp.set_nodelay(true);
        let (sender, conn) = http1::Builder::new()
            .handshake(TokioIo::new(tcp))
            .await
            .map_err(|source| UpstreamError::Handshake {
                host: host.clone(),
                source,
            })?;
        let host = host.clone();
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(backend = %host, error = %e, "upstream connection ended");
            }
        });
        Ok(sender)
    }
}

/// Resolves `host:port` and connects to the first address that accepts.
async fn connect_any(host: &str) -> Result<TcpStream, UpstreamError> {
    let addrs = tokio::net::lookup_host(host)
        .await
        .map_err(|source| UpstreamError::Resolve {
            host: host.to_owned(),
            source,
        })?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(source) => last = Some(UpstreamError::Connect { addr, source }),
        }
    }
    Err(last.unwrap_or_else(|| UpstreamError::NoAddress {
        host: host.to_owned(),
    }))
}

/// A connection lent to one exchange. Released after the response body ended, it goes back to
/// its pool; dropped before (the client left, the stream failed), it is closed, since HTTP/1.1
/// cannot reuse a connection whose response was not read to the end.
#[derive(Debug)]
pub struct Lease {
    sender: Option<Sender>,
    pool: Arc<Pool>,
}

impl Lease {
    fn new(sender: Sender, pool: Arc<Pool>) -> Self {
        Self {
            sender: Some(sender),
            pool,
        }
    }

    /// The response body was read to the end: the connection can serve the next request.
    pub fn release(mut self) {
        if let Some(s) = self.sender.take() {
            self.pool.checkin(s);
        }
    }
}

/// The request URI a backend receives: the backend URL's path, and the client's query.
pub fn origin_form(base: &Uri, query: Option<&str>) -> Uri {
    let path = base.path_and_query().map_or("/", PathAndQuery::path);
    let pq = match query {
        None => PathAndQuery::try_from(path),
        Some(q) => PathAndQuery::try_from(format!("{path}?{q}")),
    };
    match pq {
        Ok(pq) => Uri::from(pq),
        Err(_) => Uri::from_static("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_form_keeps_the_backend_path_and_the_client_query() {
        let base: Uri = "http://mcp-eks-ro:8080/mcp".parse().unwrap();
        assert_eq!(origin_form(&base, None), "/mcp");
        assert_eq!(origin_form(&base, Some("a=1&b=2")), "/mcp?a=1&b=2");
        let root: Uri = "http://10.0.0.1:8080".parse().unwrap();
        assert_eq!(origin_form(&root, None), "/");
    }

    #[test]
    fn pool_addresses_default_the_port_and_keep_the_host_header() {
        let p = Pool::new(&"http://mcp-eks-ro/mcp".parse().unwrap(), IDLE_TIMEOUT);
        assert_eq!(p.authority, "mcp-eks-ro:80");
        assert_eq!(p.host, "mcp-eks-ro");
        let p = Pool::new(&"http://127.0.0.1:9000/mcp".parse().unwrap(), IDLE_TIMEOUT);
        assert_eq!(p.authority, "127.0.0.1:9000");
        assert_eq!(p.host, "127.0.0.1:9000");
    }
}

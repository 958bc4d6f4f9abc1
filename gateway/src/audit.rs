//! The audit trail: one JSON line on stdout per MCP request, denials included.
//!
//! Lines are handed to a dedicated writer thread over an unbounded queue, so a request never
//! waits on stdout and a line is never dropped: if stdout fails, the line goes to stderr and
//! the failure is counted.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::metrics::Metrics;

/// `outcome` values.
pub mod outcome {
    pub const OK: &str = "ok";
    pub const TOOL_ERROR: &str = "tool_error";
    pub const DENIED: &str = "denied";
    pub const UNAUTHENTICATED: &str = "unauthenticated";
    pub const UPSTREAM_ERROR: &str = "upstream_error";
}

/// One audit line.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Record {
    /// `mcp_tool_call` or `mcp_request`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts: String,
    pub request_id: String,
    pub user: Option<String>,
    pub role: Option<String>,
    pub key_id: Option<String>,
    pub backend: String,
    /// JSON-RPC method, when the body held one.
    pub method: Option<String>,
    pub tool_name: Option<String>,
    pub tool_args: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsonrpc_id: Option<Value>,
    pub http_method: String,
    pub http_status: u16,
    pub outcome: &'static str,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    pub response_bytes: u64,
    /// The request's OpenTelemetry trace id, when traces are on and the request was sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

pub const KIND_TOOL_CALL: &str = "mcp_tool_call";
pub const KIND_REQUEST: &str = "mcp_request";

/// RFC 3339 UTC timestamp with milliseconds, as in `2026-11-27T20:00:00.123Z`.
pub fn now_ts() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

/// RFC 3339 UTC timestamp to the second, as in `2027-02-25T00:00:00Z`.
pub fn rfc3339_seconds(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Where audit lines go.
#[derive(Debug, Clone)]
pub struct AuditSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
enum Inner {
    Writer {
        tx: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
        thread: Mutex<Option<JoinHandle<()>>>,
        metrics: Metrics,
    },
    Memory {
        lines: Mutex<Vec<Value>>,
        notify: tokio::sync::Notify,
        metrics: Metrics,
    },
}

impl AuditSink {
    /// Lines go to stdout, written by a dedicated thread.
    pub fn stdout(metrics: Metrics) -> Self {
        Self::to_writer(Box::new(std::io::stdout()), metrics)
    }

    pub fn to_writer(mut out: Box<dyn Write + Send>, metrics: Metrics) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let m = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                while let Some(line) = rx.blocking_recv() {
                    let mut ok = out.write_all(&line).is_ok();
                    // Flush once the queue is drained: one syscall for a burst of lines.
                    if rx.is_empty() {
                        ok &= out.flush().is_ok();
                    }
                    if ok {
                        m.audit_lines.inc();
                    } else {
                        m.audit_write_errors.inc();
                        // Never lose the line: stderr is collected by the same log pipeline.
                        let mut err = std::io::stderr().lock();
                        let _ = err.write_all(b"{\"level\":\"ERROR\",\"message\":\"audit write to stdout failed\",\"audit\":");
                        let _ = err.write_all(line.strip_suffix(b"\n").unwrap_or(&line));
                        let _ = err.write_all(b"}\n");
                    }
                }
                let _ = out.flush();
            })
            .expect("spawning the audit writer thread");
        Self {
            inner: Arc::new(Inner::Writer {
                tx: Mutex::new(Some(tx)),
                thread: Mutex::new(Some(thread)),
                metrics,
            }),
        }
    }

    /// Lines are kept in memory (tests).
    pub fn memory(metrics: Metrics) -> Self {
        Self {
            inner: Arc::new(Inner::Memory {
                lines: Mutex::new(Vec::new()),
                notify: tokio::sync::Notify::new(),
                metrics,
            }),
        }
    }

    /// Records one line.
    pub fn write(&self, record: &Record) {
        let mut line = match serde_json::to_vec(record) {
            Ok(l) => l,
            Err(e) => {
                // Cannot happen for this type; still, say so rather than drop it.
                tracing::error!(error = %e, ?record, "audit record did not serialize");
                return;
            }
        };
        match &*self.inner {
            Inner::Writer { tx, metrics, .. } => {
                line.push(b'\n');
                let tx = tx.lock().unwrap_or_else(|p| p.into_inner());
                let unsent = match tx.as_ref() {
                    Some(tx) => tx.send(line).err().map(|e| e.0),
                    None => Some(line),
                };
                if let Some(line) = unsent {
                    metrics.audit_write_errors.inc();
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(&line);
                }
            }
            Inner::Memory {
                lines,
                notify,
                metrics,
            } => {
                let v: Value = serde_json::from_slice(&line).unwrap_or(Value::Null);
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                metrics.audit_lines.inc();
                notify.notify_waiters();
            }
        }
    }

    /// Stops accepting lines and waits until every queued line is written.
    pub fn close(&self) {
        if let Inner::Writer { tx, thread, .. } = &*self.inner {
            tx.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(t) = thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = t.join();
            }
        }
    }

    /// The lines recorded so far (memory sink only).
    pub fn lines(&self) -> Vec<Value> {
        match &*self.inner {
            Inner::Memory { lines, .. } => lines.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            Inner::Writer { .. } => Vec::new(),
        }
    }

    /// Waits until at least `n` lines were recorded (memory sink only), for up to `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: std::time::Duration) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Inner::Memory { lines, notify, .. } = &*self.inner {
                let wait = notify.notified();
                let current = lines.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if current.len() >= n || tokio::time::Instant::now() >= deadline {
                    return current;
                }
                let _ = tokio::time::timeout_at(deadline, wait).await;
            } else {
                return Vec::new();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("closed"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("closed"))
        }
    }

    #[test]
    fn every_line_is_written_before_close_returns() {
        let out = Shared::default();
        let metrics = Metrics::new();
        let sink = AuditSink::to_writer(Box::new(out.clone()), metrics.clone());
        for i in 0..1000 {
            sink.write(&Record {
                kind: KIND_REQUEST,
                request_id: i.to_string(),
                ..Default::default()
            });
        }
        sink.close();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999]["request_id"], "999");
        assert_eq!(lines[0]["type"], "mcp_request");
        assert_eq!(metrics.audit_lines.get(), 1000);
    }

    #[test]
    fn failed_writes_are_counted_not_lost() {
        let metrics = Metrics::new();
        let sink = AuditSink::to_writer(Box::new(Broken), metrics.clone());
        sink.write(&Record::default());
        sink.close();
        assert_eq!(metrics.audit_write_errors.get(), 1);
        // After close, lines still go somewhere (stderr) and are counted.
        sink.write(&Record::default());
        assert_eq!(metrics.audit_write_errors.get(), 2);
    }

    #[test]
    fn timestamp_shape() {
        let ts = now_ts();
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.ends_with('Z'));
        assert_eq!(&ts[10..11], "T");
    }
}

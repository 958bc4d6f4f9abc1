//! The audit trail: one JSON line on stdout per MCP request, denials included.
//!
//! Lines are appended to an unbounded in-memory batch that a dedicated writer thread drains,
//! so a request never waits on stdout and a line is never dropped: if stdout fails, the lines
//! go to stderr and the failure is counted. While lines keep coming the writer takes the batch
//! every [`LINGER`] and writes it with one syscall; after [`PARK_AFTER`] without lines it
//! sleeps until the next one wakes it. Under load a request costs neither a thread wake-up nor
//! a `write(2)` of its own (see docs/benchmarks.md). The writer also completes most records
//! ([`Completion`]): what is left of a request after its answer (its outcome read from the
//! buffered answer, its arguments redacted, its metrics) runs there, not on a serving thread.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::keys::Identity;
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
    pub ts: Timestamp,
    pub request_id: String,
    /// Who sent the request: written as `user`, `role` and `key_id` (null before the key was
    /// checked).
    #[serde(flatten)]
    pub who: Who,
    pub backend: String,
    /// JSON-RPC method, when the body held one.
    pub method: Option<String>,
    pub tool_name: Option<String>,
    pub tool_args: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jsonrpc_id: Option<Value>,
    /// `POST`, `GET`, `DELETE`... (a static string for the standard methods).
    pub http_method: Cow<'static, str>,
    pub http_status: u16,
    pub outcome: &'static str,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Serialized as `ip:port` (by the audit writer, off the request path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<std::net::SocketAddr>,
    pub response_bytes: u64,
    /// The request's OpenTelemetry trace id, when traces are on and the request was sampled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// The identity of a request's key, shared with the key table rather than copied into every
/// record.
#[derive(Debug, Clone, Default)]
pub struct Who(pub Option<Arc<Identity>>);

impl Who {
    pub fn user(&self) -> Option<&str> {
        self.0.as_deref().map(|i| &*i.user)
    }
    pub fn role(&self) -> Option<&str> {
        self.0.as_deref().map(|i| &*i.role)
    }
    pub fn key_id(&self) -> Option<&str> {
        self.0.as_deref().map(|i| &*i.key_id)
    }
}

impl Serialize for Who {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("user", &self.user())?;
        m.serialize_entry("role", &self.role())?;
        m.serialize_entry("key_id", &self.key_id())?;
        m.end()
    }
}

/// An HTTP method's name: borrowed for the standard ones, so a request does not allocate it.
pub fn method_name(m: &http::Method) -> Cow<'static, str> {
    use http::Method;
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::DELETE, "DELETE"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    STANDARD.iter().find(|(k, _)| k == m).map_or_else(
        || Cow::Owned(m.as_str().to_owned()),
        |(_, n)| Cow::Borrowed(*n),
    )
}

pub const KIND_TOOL_CALL: &str = "mcp_tool_call";
pub const KIND_REQUEST: &str = "mcp_request";

/// When a request came: taken on the request's path (a clock read), written as an RFC 3339
/// UTC timestamp with milliseconds, as in `2026-11-27T20:00:00.123Z`, by the audit writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(std::time::SystemTime);

impl Timestamp {
    pub fn now() -> Self {
        Self(std::time::SystemTime::now())
    }

    /// The 24 bytes of its RFC 3339 form. Written digit by digit: this runs for every
    /// request, and `format!` with padding costs several times more.
    fn rfc3339(self) -> [u8; 24] {
        let t = time::OffsetDateTime::from(self.0);
        let mut b = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        let (year, month, day) = t.to_calendar_date();
        let (hour, minute, second, milli) = t.to_hms_milli();
        put(0, 4, year.clamp(0, 9999) as u32);
        put(5, 2, u8::from(month).into());
        put(8, 2, day.into());
        put(11, 2, hour.into());
        put(14, 2, minute.into());
        put(17, 2, second.into());
        put(20, 3, milli.into());
        b
    }
}

impl Default for Timestamp {
    fn default() -> Self {
        Self(std::time::UNIX_EPOCH)
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.rfc3339();
        f.write_str(std::str::from_utf8(&b).map_err(|_| std::fmt::Error)?)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.rfc3339();
        match std::str::from_utf8(&b) {
            Ok(t) => s.serialize_str(t),
            Err(e) => Err(serde::ser::Error::custom(e)),
        }
    }
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

/// How long the writer lets lines gather between two writes: about the most an audit line
/// waits in memory before it is written.
pub const LINGER: Duration = Duration::from_millis(2);
/// A batch buffer larger than this is not kept for reuse (RSS after a burst).
const KEEP_BUFFER_BYTES: usize = 256 * 1024;
/// A drained record vector with room for more than this is not kept for reuse.
const KEEP_RECORDS: usize = 1024;

/// Where audit lines go.
#[derive(Debug, Clone)]
pub struct AuditSink {
    inner: Arc<Inner>,
}

#[derive(Debug)]
enum Inner {
    Writer {
        batch: Arc<Batch>,
        thread: Mutex<Option<JoinHandle<()>>>,
        metrics: Metrics,
    },
    Memory {
        lines: Mutex<Vec<Value>>,
        notify: tokio::sync::Notify,
        metrics: Metrics,
    },
}

/// Records not yet written. They are serialized by the writer thread, not by the request
/// that made them: the response does not wait for the JSON encoding (nor for the record's
/// memory to be freed).
#[derive(Debug, Default)]
struct Queue {
    records: Vec<Entry>,
    /// What the queued records still to complete hold beyond their own size (bytes of
    /// answers and arguments), bounded by [`MAX_LATER_BYTES`].
    later_bytes: usize,
    closed: bool,
    /// The writer sleeps on the condvar (it was idle for [`PARK_AFTER`]): the next line wakes
    /// it. While lines keep coming it polls every [`LINGER`] instead, so under load a request
    /// never pays for waking it.
    parked: bool,
}

/// Idle time after which the writer stops polling and parks.
const PARK_AFTER: Duration = Duration::from_millis(100);

/// A record whose last fields (those that take work to fill in, like the outcome read from a
/// buffered answer) are filled in by the writer thread, just before its line is serialized:
/// see [`AuditSink::write_later`].
pub trait Completion: Send + std::fmt::Debug {
    /// Fills in the record, does what goes with it (counting the request), and returns it.
    fn complete(self: Box<Self>) -> Record;
}

/// A finished record queues as it is.
impl Completion for Record {
    fn complete(self: Box<Self>) -> Record {
        *self
    }
}

/// One queued line.
type Entry = Box<dyn Completion>;

/// The most that records waiting for the writer to complete them may hold (answers buffered
/// for their outcome, tool arguments not yet bounded): beyond it, as while stdout is stuck,
/// requests complete their records themselves and only finished records queue.
const MAX_LATER_BYTES: usize = 1024 * 1024;

#[derive(Debug, Default)]
struct Batch {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl Batch {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues one record; gives it back once the writer is closed.
    fn push(&self, record: Record) -> Option<Record> {
        let mut q = self.lock();
        if q.closed {
            return Some(record);
        }
        q.records.push(Box::new(record));
        let wake = std::mem::take(&mut q.parked);
        drop(q);
        if wake {
            self.ready.notify_one();
        }
        None
    }

    /// Queues a record for the writer to complete; gives it back when the writer is closed,
    /// parked (waking it is left to the caller's own write, after its answer) or holds
    /// [`MAX_LATER_BYTES`] of such work already.
    fn push_later<C: Completion + 'static>(&self, c: Box<C>, held: usize) -> Result<(), Box<C>> {
        let mut q = self.lock();
        if q.closed || q.parked || q.later_bytes.saturating_add(held) > MAX_LATER_BYTES {
            return Err(c);
        }
        q.later_bytes += held;
        q.records.push(c);
        Ok(())
    }

    /// Waits for records (polling every [`LINGER`] while busy, parked once idle), and takes
    /// all there are; `None` once closed and drained. `spare` is an empty vector for the next
    /// batch.
    fn take(&self, spare: Vec<Entry>) -> Option<Vec<Entry>> {
        let mut idle = Duration::ZERO;
        loop {
            let mut q = self.lock();
            if !q.records.is_empty() {
                q.later_bytes = 0;
                return Some(std::mem::replace(&mut q.records, spare));
            }
            if q.closed {
                return None;
            }
            if idle >= PARK_AFTER {
                q.parked = true;
                while q.parked && !q.closed {
                    q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
                }
                idle = Duration::ZERO;
            } else {
                idle += LINGER;
            }
            drop(q);
            // Let a burst gather into one write.
            std::thread::sleep(LINGER);
        }
    }

    fn close(&self) {
        let mut q = self.lock();
        q.closed = true;
        q.parked = false;
        drop(q);
        self.ready.notify_all();
    }
}

/// Serializes one record as a JSON line onto `buf`.
fn append_line(buf: &mut Vec<u8>, record: &Record) {
    match serde_json::to_writer(&mut *buf, record) {
        Ok(()) => buf.push(b'\n'),
        // Cannot happen for this type; still, say so rather than drop it.
        Err(e) => tracing::error!(error = %e, ?record, "audit record did not serialize"),
    }
}

/// Writes a line that could not go to stdout to stderr, wrapped so the log pipeline still
/// recognizes it.
fn to_stderr(line: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err
        .write_all(b"{\"level\":\"ERROR\",\"message\":\"audit write to stdout failed\",\"audit\":");
    let _ = err.write_all(line.strip_suffix(b"\n").unwrap_or(line));
    let _ = err.write_all(b"}\n");
}

impl AuditSink {
    /// Lines go to stdout, written by a dedicated thread.
    pub fn stdout(metrics: Metrics) -> Self {
        Self::to_writer(Box::new(std::io::stdout()), metrics)
    }

    pub fn to_writer(mut out: Box<dyn Write + Send>, metrics: Metrics) -> Self {
        let batch = Arc::new(Batch::default());
        let queue = batch.clone();
        let m = metrics.clone();
        let thread = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || {
                let mut spare = Vec::new();
                let mut buf = Vec::new();
                while let Some(mut records) = queue.take(spare) {
                    let mut lines = 0;
                    for entry in records.drain(..) {
                        // A bug in completing one record must not stop the writer, and with it
                        // every later line: that record is reported, the rest go on.
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            entry.complete()
                        })) {
                            Ok(record) => {
                                append_line(&mut buf, &record);
                                lines += 1;
                            }
                            Err(_) => {
                                m.audit_write_errors.inc();
                                tracing::error!(
                                    "an audit record could not be completed (a bug: see the panic above); its line is lost"
                                );
                            }
                        }
                    }
                    if out.write_all(&buf).is_ok() && out.flush().is_ok() {
                        m.audit_lines.inc_by(lines);
                    } else {
                        // Never lose a line: stderr is collected by the same log pipeline. A
                        // write that failed midway may leave some of these lines on stdout too.
                        m.audit_write_errors.inc_by(lines);
                        for line in buf.split_inclusive(|b| *b == b'\n') {
                            to_stderr(line);
                        }
                    }
                    buf.clear();
                    if buf.capacity() > KEEP_BUFFER_BYTES {
                        buf = Vec::new();
                    }
                    if records.capacity() > KEEP_RECORDS {
                        records = Vec::new();
                    }
                    spare = records;
                }
                let _ = out.flush();
            })
            .expect("spawning the audit writer thread");
        Self {
            inner: Arc::new(Inner::Writer {
                batch,
                thread: Mutex::new(Some(thread)),
                metrics,
            }),
        }
    }

    /// Hands a record whose last fields are still to be filled in to the writer thread, which
    /// completes it just before serializing it; gives it back to be completed by the caller
    /// when the writer cannot take it now (see [`Batch::push_later`]) and with the memory sink.
    /// `held` is what `c` holds beyond its own size, in bytes.
    pub fn write_later<C: Completion + 'static>(
        &self,
        c: Box<C>,
        held: usize,
    ) -> Result<(), Box<C>> {
        match &*self.inner {
            Inner::Writer { batch, .. } => batch.push_later(c, held),
            Inner::Memory { .. } => Err(c),
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
    pub fn write(&self, record: Record) {
        match &*self.inner {
            Inner::Writer { batch, metrics, .. } => {
                if let Some(record) = batch.push(record) {
                    metrics.audit_write_errors.inc();
                    let mut line = Vec::new();
                    append_line(&mut line, &record);
                    to_stderr(&line);
                }
            }
            Inner::Memory {
                lines,
                notify,
                metrics,
            } => {
                let v = serde_json::to_value(&record).unwrap_or(Value::Null);
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                metrics.audit_lines.inc();
                notify.notify_waiters();
            }
        }
    }

    /// Stops accepting lines and waits until every queued line is written.
    pub fn close(&self) {
        if let Inner::Writer { batch, thread, .. } = &*self.inner {
            batch.close();
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
        self.wait_until(|lines| lines.len() >= n, timeout).await
    }

    /// Waits until the recorded lines satisfy `done` (memory sink only), for up to `timeout`;
    /// returns the lines either way.
    pub async fn wait_until(
        &self,
        done: impl Fn(&[Value]) -> bool,
        timeout: std::time::Duration,
    ) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Inner::Memory { lines, notify, .. } = &*self.inner {
                let wait = notify.notified();
                let current = lines.lock().unwrap_or_else(|p| p.into_inner()).clone();
                if done(&current) || tokio::time::Instant::now() >= deadline {
                    return current;
                }
                let _ = tokio::time::timeout_at(deadline, wait).await;
            } else {
                return Vec::new();
            }
        }
    }
}

/// An output that keeps what the writer wrote, shared with the test reading it.
#[cfg(test)]
#[derive(Clone, Default)]
pub(crate) struct Shared(pub(crate) Arc<Mutex<Vec<u8>>>);

#[cfg(test)]
impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_are_not_copied_and_the_identity_is_written_as_three_members() {
        assert!(matches!(
            method_name(&http::Method::POST),
            Cow::Borrowed("POST")
        ));
        assert!(matches!(
            method_name(&http::Method::DELETE),
            Cow::Borrowed("DELETE")
        ));
        let odd = http::Method::from_bytes(b"PROPFIND").unwrap();
        assert!(matches!(method_name(&odd), Cow::Owned(s) if s == "PROPFIND"));
        let r = Record {
            who: Who(Some(Arc::new(
                crate::keys::parse_entry(&format!("{}:reader/alice", "ab".repeat(32))).unwrap(),
            ))),
            http_method: method_name(&http::Method::GET),
            ..Default::default()
        };
        let v: Value = serde_json::to_value(&r).unwrap();
        assert_eq!(v["user"], "alice");
        assert_eq!(v["role"], "reader");
        assert_eq!(v["key_id"], "abababab");
        let anonymous: Value = serde_json::to_value(Record::default()).unwrap();
        for k in ["user", "role", "key_id"] {
            assert_eq!(anonymous[k], Value::Null, "{k}");
        }
        assert_eq!(v["http_method"], "GET");
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
            sink.write(Record {
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

    /// Counts `write` calls.
    #[derive(Clone, Default)]
    struct Counting(Arc<Mutex<(usize, Vec<u8>)>>);
    impl Write for Counting {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let mut g = self.0.lock().unwrap();
            g.0 += 1;
            g.1.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_burst_is_written_in_batches_in_order() {
        let out = Counting::default();
        let metrics = Metrics::new();
        let sink = AuditSink::to_writer(Box::new(out.clone()), metrics.clone());
        for i in 0..2000 {
            sink.write(Record {
                request_id: i.to_string(),
                ..Default::default()
            });
        }
        sink.close();
        let (writes, bytes) = out.0.lock().unwrap().clone();
        let ids: Vec<String> = String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["request_id"].to_string())
            .collect();
        let expected: Vec<String> = (0..2000).map(|i| format!("\"{i}\"")).collect();
        assert_eq!(ids, expected);
        assert!(writes < 2000, "{writes} writes for 2000 lines: not batched");
        assert_eq!(metrics.audit_lines.get(), 2000);
    }

    /// Fills in `request_id` and says on which thread it did.
    #[derive(Debug)]
    struct Later(usize, Arc<Mutex<Vec<String>>>);
    impl Completion for Later {
        fn complete(self: Box<Self>) -> Record {
            let t = std::thread::current().name().unwrap_or("").to_owned();
            self.1.lock().unwrap().push(t);
            Record {
                request_id: self.0.to_string(),
                ..Default::default()
            }
        }
    }

    #[test]
    fn records_handed_on_are_completed_by_the_writer_in_order_within_bounds() {
        let out = Shared::default();
        let metrics = Metrics::new();
        let sink = AuditSink::to_writer(Box::new(out.clone()), metrics.clone());
        let threads = Arc::new(Mutex::new(Vec::new()));
        for i in 0..100 {
            if i % 2 == 0 {
                sink.write_later(Box::new(Later(i, threads.clone())), 100)
                    .unwrap();
            } else {
                sink.write(Record {
                    request_id: i.to_string(),
                    ..Default::default()
                });
            }
        }
        // More than the bound: given back, for the caller to complete.
        let big = sink.write_later(Box::new(Later(100, threads.clone())), MAX_LATER_BYTES + 1);
        assert!(big.is_err());
        // Idle past PARK_AFTER, the writer parks: the next record comes back (its caller
        // completes it and wakes the writer with its own line).
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !matches!(&*sink.inner, Inner::Writer { batch, .. } if batch.lock().parked) {
            assert!(
                std::time::Instant::now() < deadline,
                "the writer never parked"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            sink.write_later(Box::new(Later(101, threads.clone())), 1)
                .is_err()
        );
        sink.write(Record {
            request_id: "102".into(),
            ..Default::default()
        });
        sink.close();
        assert!(
            sink.write_later(Box::new(Later(103, threads.clone())), 1)
                .is_err()
        );
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["request_id"].to_string())
            .collect();
        let mut expected: Vec<String> = (0..100).map(|i| format!("\"{i}\"")).collect();
        expected.push("\"102\"".into());
        assert_eq!(ids, expected);
        assert_eq!(metrics.audit_lines.get(), 101);
        let threads = threads.lock().unwrap();
        assert_eq!(threads.len(), 50);
        assert!(threads.iter().all(|t| t == "audit-writer"), "{threads:?}");
        // The memory sink (tests) completes nothing itself.
        let memory = AuditSink::memory(Metrics::new());
        assert!(
            memory
                .write_later(Box::new(Later(0, Arc::default())), 1)
                .is_err()
        );
    }

    /// A completion with a bug.
    #[derive(Debug)]
    struct Panics;
    impl Completion for Panics {
        fn complete(self: Box<Self>) -> Record {
            panic!("a bug while completing a record")
        }
    }

    #[test]
    fn a_record_that_fails_to_complete_does_not_stop_the_writer() {
        let out = Shared::default();
        let metrics = Metrics::new();
        let sink = AuditSink::to_writer(Box::new(out.clone()), metrics.clone());
        sink.write_later(Box::new(Panics), 0).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        sink.write(Record {
            request_id: "after".into(),
            ..Default::default()
        });
        sink.close();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("\"request_id\":\"after\""), "{text}");
        assert_eq!(metrics.audit_lines.get(), 1);
        assert_eq!(metrics.audit_write_errors.get(), 1);
    }

    #[test]
    fn failed_writes_are_counted_not_lost() {
        let metrics = Metrics::new();
        let sink = AuditSink::to_writer(Box::new(Broken), metrics.clone());
        sink.write(Record::default());
        sink.close();
        assert_eq!(metrics.audit_write_errors.get(), 1);
        // After close, lines still go somewhere (stderr) and are counted.
        sink.write(Record::default());
        assert_eq!(metrics.audit_write_errors.get(), 2);
    }

    #[test]
    fn timestamp_matches_the_formatted_time() {
        let before = time::OffsetDateTime::now_utc();
        let ts = Timestamp::now().to_string();
        let parsed =
            time::OffsetDateTime::parse(&ts, &time::format_description::well_known::Rfc3339)
                .unwrap();
        let after = time::OffsetDateTime::now_utc();
        assert!(
            parsed
                >= before
                    .replace_nanosecond(before.millisecond() as u32 * 1_000_000)
                    .unwrap()
        );
        assert!(parsed <= after, "{ts}");
    }

    #[test]
    fn timestamp_shape() {
        let ts = Timestamp::now().to_string();
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.ends_with('Z'));
        assert_eq!(&ts[10..11], "T");
        // Written by the audit writer as the request's own time, not the writer's.
        let t = Timestamp(std::time::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123));
        assert_eq!(
            serde_json::to_value(t).unwrap(),
            Value::from("2026-11-18T11:06:40.123Z")
        );
        assert_eq!(
            serde_json::to_value(Timestamp::default()).unwrap(),
            Value::from("1970-01-01T00:00:00.000Z")
        );
    }
}

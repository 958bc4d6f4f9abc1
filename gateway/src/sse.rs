//! An incremental Server-Sent Events parser that keeps each event's original bytes.
//!
//! The proxy streams bytes through untouched; where it must look inside (the outcome of a tool
//! call, or a `tools/list` answer it filters for a narrowed role) it feeds a copy, or the stream
//! itself, through this parser event by event.

use bytes::{Bytes, BytesMut};

/// One complete event: its raw bytes (including the blank line that ended it) and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub raw: Bytes,
    /// The `data:` lines joined with `\n`, or `None` when the event had none.
    pub data: Option<String>,
    pub id: Option<String>,
    pub event: Option<String>,
}

/// Splits a byte stream into events.
#[derive(Debug)]
pub struct Parser {
    buf: BytesMut,
    /// Where scanning for the end of the current event resumes.
    scan: usize,
    line_start: usize,
    max_event: usize,
    overflowed: bool,
}

impl Parser {
    /// `max_event` bounds one event's size; a larger event switches the parser off
    /// ([`Parser::overflowed`]) rather than buffering without bound.
    pub fn new(max_event: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            scan: 0,
            line_start: 0,
            max_event,
            overflowed: false,
        }
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    /// Bytes held that do not yet form a complete event.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Takes whatever is buffered (an unterminated last event).
    pub fn take_rest(&mut self) -> Bytes {
        self.scan = 0;
        self.line_start = 0;
        self.buf.split().freeze()
    }

    /// Feeds bytes and returns the events they complete.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        if self.overflowed {
            return out;
        }
        self.buf.extend_from_slice(chunk);
        while let Some(end) = self.find_event_end() {
            let raw = self.buf.split_to(end).freeze();
            self.scan = 0;
            self.line_start = 0;
            out.push(parse_event(raw));
        }
        if self.buf.len() > self.max_event {
            self.overflowed = true;
            self.buf.clear();
            self.scan = 0;
            self.line_start = 0;
        }
        out
    }

    /// Index just past the blank line that ends the first event, if it is complete. Bytes
    /// before `scan` were already examined; `line_start` is where the current line began.
    fn find_event_end(&mut self) -> Option<usize> {
        let b = &self.buf[..];
        let mut i = self.scan;
        while i < b.len() {
            let c = b[i];
            if c == b'\n' || c == b'\r' {
                let eol_end = if c == b'\r' {
                    if i + 1 >= b.len() {
                        if i == self.line_start {
                            // A blank line: the event is complete. A "\n" that may follow is
                            // an empty line of its own, which dispatches nothing.
                            return Some(i + 1);
                        }
                        // Could be "\r\n" with the "\n" still to come: look again later.
                        self.scan = i;
                        return None;
                    }
                    if b[i + 1] == b'\n' { i + 2 } else { i + 1 }
                } else {
                    i + 1
                };
                if i == self.line_start {
                    return Some(eol_end);
                }
                self.line_start = eol_end;
                i = eol_end;
            } else {
                i += 1;
            }
        }
        self.scan = b.len();
        None
    }
}

fn parse_event(raw: Bytes) -> Event {
    let text = String::from_utf8_lossy(&raw);
    let mut data: Option<String> = None;
    let mut id = None;
    let mut event = None;
    for line in text.split(['\n', '\r']) {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            "id" => id = Some(value.to_owned()),
            "event" => event = Some(value.to_owned()),
            _ => {}
        }
    }
    Event {
        raw,
        data,
        id,
        event,
    }
}

/// Serializes an event with new data, keeping its `event` and `id` fields.
pub fn render(event: &Event, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(e) = &event.event {
        out.push_str("event: ");
        out.push_str(e);
        out.push('\n');
    }
    if let Some(id) = &event.id {
        out.push_str("id: ");
        out.push_str(id);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_across_chunks_and_line_endings() {
        let stream = b"event: message\ndata: {\"a\":1}\n\n: comment\n\ndata: x\r\ndata: y\r\n\r\nid: 7\rdata: z\r\r";
        for chunk_size in 1..stream.len() {
            let mut p = Parser::new(1 << 20);
            let mut events = Vec::new();
            for chunk in stream.chunks(chunk_size) {
                events.extend(p.push(chunk));
            }
            let joined: Vec<u8> = events.iter().flat_map(|e| e.raw.to_vec()).collect();
            assert_eq!(joined, stream, "raw bytes are kept exactly");
            // A "\r\n" split across chunks may leave a bare line ending as an empty event.
            events.retain(|e| !e.raw.iter().all(|b| *b == b'\n' || *b == b'\r'));
            assert_eq!(events.len(), 4, "chunk size {chunk_size}");
            assert_eq!(events[0].data.as_deref(), Some("{\"a\":1}"));
            assert_eq!(events[0].event.as_deref(), Some("message"));
            assert_eq!(events[1].data, None);
            assert_eq!(events[2].data.as_deref(), Some("x\ny"));
            assert_eq!(events[3].data.as_deref(), Some("z"));
            assert_eq!(events[3].id.as_deref(), Some("7"));
            assert_eq!(p.pending(), 0);
        }
    }

    #[test]
    fn overflow_switches_off() {
        let mut p = Parser::new(8);
        assert!(p.push(b"data: 0123456789").is_empty());
        assert!(p.overflowed());
        assert!(p.push(b"\n\n").is_empty());
    }

    #[test]
    fn render_roundtrips() {
        let e = Parser::new(1024)
            .push(b"event: message\nid: 3\ndata: old\n\n")
            .remove(0);
        let raw = render(&e, "new\nlines");
        let again = Parser::new(1024).push(&raw).remove(0);
        assert_eq!(again.data.as_deref(), Some("new\nlines"));
        assert_eq!(again.id.as_deref(), Some("3"));
        assert_eq!(again.event.as_deref(), Some("message"));
    }
}

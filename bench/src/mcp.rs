//! A small MCP client for sequential tool calls, the same code for our servers and the peers:
//! streamable HTTP (initialize, `Mcp-Session-Id` when the server uses sessions,
//! `notifications/initialized`, then `tools/call`, JSON or SSE answers), and the legacy
//! HTTP+SSE transport (2024-11-05) for peers that offer nothing else.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::procs::initialize_body;

/// An initialized MCP session.
#[derive(Debug)]
pub enum Session {
    Http {
        http: reqwest::Client,
        url: String,
        bearer: Option<String>,
        session_id: Option<String>,
        protocol: String,
        next_id: u64,
    },
    Sse {
        http: reqwest::Client,
        post_url: String,
        messages: mpsc::UnboundedReceiver<Value>,
        reader: tokio::task::JoinHandle<()>,
        next_id: u64,
    },
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Session::Sse { reader, .. } = self {
            reader.abort();
        }
    }
}

/// The JSON-RPC messages of an answer body: one JSON object, or the `data:` lines of SSE.
pub fn messages(body: &str) -> Vec<Value> {
    let t = body.trim_start();
    if t.starts_with('{') {
        return serde_json::from_str(t).into_iter().collect();
    }
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect()
}

fn result_of(msgs: Vec<Value>, id: u64) -> anyhow::Result<Value> {
    for m in msgs {
        if m.get("id").and_then(Value::as_u64) != Some(id) {
            continue;
        }
        if let Some(e) = m.get("error") {
            bail!("JSON-RPC error: {e}");
        }
        if let Some(r) = m.get("result") {
            if r.get("isError").and_then(Value::as_bool) == Some(true) {
                bail!("tool error: {}", cut(&r.to_string(), 400));
            }
            return Ok(r.clone());
        }
    }
    bail!("no result for request {id}")
}

fn cut(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl Session {
    /// Streamable HTTP: `initialize` and `notifications/initialized`.
    pub async fn connect(
        http: &reqwest::Client,
        url: &str,
        bearer: Option<&str>,
    ) -> anyhow::Result<Session> {
        let mut req = http
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(initialize_body(1));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let r = req
            .send()
            .await
            .with_context(|| format!("initialize {url}"))?;
        let status = r.status();
        let session_id = r
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = r.text().await?;
        if !status.is_success() {
            bail!("initialize {url}: HTTP {status}: {}", cut(&text, 300));
        }
        let init = result_of(messages(&text), 1)?;
        let protocol = init["protocolVersion"]
            .as_str()
            .unwrap_or("2025-06-18")
            .to_owned();
        let mut s = Session::Http {
            http: http.clone(),
            url: url.to_owned(),
            bearer: bearer.map(str::to_owned),
            session_id,
            protocol,
            next_id: 2,
        };
        s.notify_initialized().await?;
        Ok(s)
    }

    fn post(&self, body: String) -> anyhow::Result<reqwest::RequestBuilder> {
        match self {
            Session::Http {
                http,
                url,
                bearer,
                session_id,
                protocol,
                ..
            } => {
                let mut req = http
                    .post(url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .header("mcp-protocol-version", protocol)
                    .body(body);
                if let Some(t) = bearer {
                    req = req.bearer_auth(t);
                }
                if let Some(s) = session_id {
                    req = req.header("mcp-session-id", s);
                }
                Ok(req)
            }
            Session::Sse { http, post_url, .. } => Ok(http
                .post(post_url)
                .header("content-type", "application/json")
                .body(body)),
        }
    }

    async fn notify_initialized(&mut self) -> anyhow::Result<()> {
        let body = json!({"jsonrpc":"2.0","method":"notifications/initialized"}).to_string();
        let r = self.post(body)?.send().await?;
        if !r.status().is_success() {
            bail!("notifications/initialized: HTTP {}", r.status());
        }
        Ok(())
    }

    /// Legacy HTTP+SSE: `GET {base}/sse`, the `endpoint` event, then POSTs whose answers come
    /// back on the stream.
    pub async fn connect_sse(http: &reqwest::Client, sse_url: &str) -> anyhow::Result<Session> {
        let r = http
            .get(sse_url)
            .header("accept", "text/event-stream")
            .send()
            .await
            .with_context(|| format!("GET {sse_url}"))?;
        if !r.status().is_success() {
            bail!("GET {sse_url}: HTTP {}", r.status());
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, String)>();
        let reader = tokio::spawn(async move {
            let mut stream = r.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n").or_else(|| buf.find("\r\n\r\n")) {
                    let event: String = buf.drain(..end).collect();
                    buf = buf.trim_start_matches(['\r', '\n']).to_owned();
                    let mut kind = "message".to_owned();
                    let mut data = String::new();
                    for line in event.lines() {
                        if let Some(k) = line.strip_prefix("event:") {
                            kind = k.trim().to_owned();
                        } else if let Some(d) = line.strip_prefix("data:") {
                            data.push_str(d.trim_start());
                        }
                    }
                    if tx.send((kind, data)).is_err() {
                        return;
                    }
                }
            }
        });
        let endpoint = loop {
            match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                Ok(Some((kind, data))) if kind == "endpoint" => break data,
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => bail!("{sse_url}: no endpoint event"),
            }
        };
        let base = reqwest::Url::parse(sse_url)?;
        let post_url = base.join(&endpoint)?.to_string();
        let (mtx, mrx) = mpsc::unbounded_channel::<Value>();
        let forward = tokio::spawn(async move {
            while let Some((kind, data)) = rx.recv().await {
                if kind == "message"
                    && let Ok(v) = serde_json::from_str::<Value>(&data)
                    && mtx.send(v).is_err()
                {
                    return;
                }
            }
        });
        // The reader task ends with the stream; the forwarder with the reader's channel.
        drop(forward);
        let mut s = Session::Sse {
            http: http.clone(),
            post_url,
            messages: mrx,
            reader,
            next_id: 1,
        };
        s.request(
            "initialize",
            serde_json::from_str::<Value>(&initialize_body(0))?["params"].clone(),
        )
        .await?;
        s.notify_initialized().await?;
        Ok(s)
    }

    /// One JSON-RPC request; returns its result.
    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let id = match self {
            Session::Http { next_id, .. } | Session::Sse { next_id, .. } => {
                *next_id += 1;
                *next_id
            }
        };
        let body = json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}).to_string();
        let r = self.post(body)?.send().await?;
        let status = r.status();
        match self {
            Session::Http { .. } => {
                let text = r.text().await?;
                if !status.is_success() {
                    bail!("{method}: HTTP {status}: {}", cut(&text, 300));
                }
                result_of(messages(&text), id)
            }
            Session::Sse { messages, .. } => {
                if !status.is_success() {
                    bail!("{method}: HTTP {status}");
                }
                loop {
                    let m = tokio::time::timeout(Duration::from_secs(60), messages.recv())
                        .await
                        .map_err(|_| anyhow::anyhow!("{method}: no answer on the SSE stream"))?
                        .ok_or_else(|| anyhow::anyhow!("{method}: the SSE stream ended"))?;
                    if m.get("id").and_then(Value::as_u64) == Some(id) {
                        return result_of(vec![m], id);
                    }
                }
            }
        }
    }

    /// `tools/call`; returns the time from send to the complete answer.
    pub async fn call(&mut self, tool: &str, args: &Value) -> anyhow::Result<Duration> {
        let t = Instant::now();
        self.request("tools/call", json!({"name": tool, "arguments": args}))
            .await
            .with_context(|| format!("tools/call {tool}"))?;
        Ok(t.elapsed())
    }

    /// Tool names the server lists.
    pub async fn tools(&mut self) -> anyhow::Result<Vec<String>> {
        let r = self.request("tools/list", json!({})).await?;
        Ok(r["tools"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }
}

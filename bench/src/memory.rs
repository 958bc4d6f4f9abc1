//! Part 2: the gateway's memory and what its key set and audit cost. Three `mcp-gateway`
//! processes in front of one `mcp-example`: A with 1k keys and its audit read from a pipe (as a
//! log collector would), B with `--many-keys` keys, C with 1k keys and audit to /dev/null.
//! RSS: A idle, then sampled while it serves the fixed rate. Keys: A and B at the fixed rate,
//! interleaved, p50 ratio. Audit: A and C at saturation, interleaved, throughput ratio.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use integration_tests::load::{CallLoad, Pace, run_calls};
use serde_json::json;

use crate::Ctx;
use crate::gateway::{Audit, Gateway, start_backend, start_gateway};
use crate::procs::sample_rss;
use crate::report::{Row, ratios};

const SECTION: &str = "2. gateway memory, keys, audit";

fn load(gw: &Gateway, pace: Pace, duration: Duration) -> CallLoad {
    CallLoad {
        endpoints: vec![gw.endpoint()],
        tool: "example_echo".into(),
        arguments: Arc::new(|i| json!({"message": format!("bench {i}")})),
        protocol_version: "2025-11-25".into(),
        pace,
        duration,
        from_schedule: false,
        cutoff: Some(Duration::from_secs(5)),
    }
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<Vec<Row>> {
    let st = &ctx.settings;
    ctx.say(&format!(
        "part 2: starting mcp-example and three gateways (1k keys; {} keys; 1k keys with audit to /dev/null)",
        st.many_keys
    ));
    let backend = start_backend(ctx, "example-mem").await?;
    let a = start_gateway(ctx, "gw-1k", &backend.url, 1000, Audit::Collected).await?;
    let b = start_gateway(ctx, "gw-many", &backend.url, st.many_keys, Audit::Collected).await?;
    let c = start_gateway(ctx, "gw-devnull", &backend.url, 1000, Audit::DevNull).await?;
    let rate = Pace::Rate {
        per_second: st.rate,
        concurrency: st.concurrency,
    };
    let sat = Pace::Saturate {
        clients: st.clients,
    };

    // Idle RSS, before any traffic (the readiness probe's one initialize aside).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_a = a.proc.rss_mib().unwrap_or(f64::NAN);
    let idle_b = b.proc.rss_mib().unwrap_or(f64::NAN);

    for g in [&a, &b, &c] {
        let r = run_calls(&load(g, Pace::Saturate { clients: 8 }, st.warmup)).await;
        anyhow::ensure!(
            r.ok > 0,
            "warm-up through {:?}: {:?}",
            g.base,
            r.first_error
        );
    }

    let mut idle = Vec::new();
    let mut loaded_max = Vec::new();
    let mut loaded_median = Vec::new();
    let (mut p50_a, mut p50_b, mut p99_a, mut p99_b) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut sat_a, mut sat_c) = (Vec::new(), Vec::new());
    let mut errors = 0u64;
    let audited_before = a.audited.load(Ordering::Relaxed);
    let mut sent_a = 0u64;
    for rep in 0..st.repeats {
        // RSS of A at rest just before its fixed-rate point, then sampled during it.
        idle.push(a.proc.rss_mib().unwrap_or(f64::NAN));
        let keys_order: [&Gateway; 2] = if rep % 2 == 0 { [&a, &b] } else { [&b, &a] };
        for g in keys_order {
            ctx.say(&format!(
                "repeat {}/{}: {} keys at {} req/s",
                rep + 1,
                st.repeats,
                g.keys,
                st.rate
            ));
            let (tx, rx) = tokio::sync::oneshot::channel();
            let sampler = sample_rss(g.proc.pid(), Duration::from_millis(250), rx);
            let r = run_calls(&load(g, rate, st.duration)).await;
            let _ = tx.send(());
            let rss = sampler.await.unwrap_or_default();
            errors += r.errors;
            if std::ptr::eq(g, &a) {
                sent_a += r.sent;
                p50_a.push(r.percentile_us(50.0) as f64);
                p99_a.push(r.percentile_us(99.0) as f64);
                loaded_max.push(rss.iter().copied().fold(f64::NAN, f64::max));
                loaded_median.push(crate::report::median(&rss).unwrap_or(f64::NAN));
            } else {
                p50_b.push(r.percentile_us(50.0) as f64);
                p99_b.push(r.percentile_us(99.0) as f64);
            }
        }
        let audit_order: [&Gateway; 2] = if rep % 2 == 0 { [&a, &c] } else { [&c, &a] };
        for g in audit_order {
            ctx.say(&format!(
                "repeat {}/{}: audit {} saturated by {} clients",
                rep + 1,
                st.repeats,
                if std::ptr::eq(g, &a) {
                    "collected"
                } else {
                    "to /dev/null"
                },
                st.clients
            ));
            let r = run_calls(&load(g, sat, st.duration)).await;
            errors += r.errors;
            if std::ptr::eq(g, &a) {
                sent_a += r.sent;
                sat_a.push(r.throughput());
            } else {
                sat_c.push(r.throughput());
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let audited = a.audited.load(Ordering::Relaxed) - audited_before;
    let idle_vs = vec![idle_a; idle.len()];
    let errs = if errors > 0 {
        format!("{errors} failed requests in this part")
    } else {
        String::new()
    };
    let k = st.many_keys;
    let rows = vec![
        Row::new(SECTION, "gateway RSS at start, idle (1k keys)", "MiB").samples(vec![idle_a]),
        Row::new(SECTION, "gateway RSS idle between points (1k keys)", "MiB")
            .samples(idle.clone())
            .against("at start", &idle_vs, ratios(&idle, &idle_vs)),
        Row::new(SECTION, format!("gateway RSS at {} req/s, max", st.rate), "MiB")
            .samples(loaded_max.clone())
            .against("idle", &idle, ratios(&loaded_max, &idle))
            .goal("<= 20 MiB", |v, _| v.map(|v| v <= 20.0))
            .note("sampled every 250 ms"),
        Row::new(SECTION, format!("gateway RSS at {} req/s, median", st.rate), "MiB")
            .samples(loaded_median.clone())
            .against("idle", &idle, ratios(&loaded_median, &idle)),
        Row::new(SECTION, format!("gateway RSS at start with {k} keys"), "MiB")
            .samples(vec![idle_b])
            .against("1k keys", &[idle_a], ratios(&[idle_b], &[idle_a])),
        Row::new(SECTION, format!("gateway ready after exec with {k} keys"), "ms")
            .samples(vec![b.ready_after.as_secs_f64() * 1000.0])
            .against("1k keys", &[a.ready_after.as_secs_f64() * 1000.0], ratios(&[b.ready_after.as_secs_f64()], &[a.ready_after.as_secs_f64()])),
        Row::new(SECTION, format!("p50 at {} req/s with {k} keys", st.rate), "us")
            .samples(p50_b.clone())
            .against("1k keys", &p50_a, ratios(&p50_b, &p50_a))
            .goal("ratio <= 1.1", |_, r| r.map(|r| r <= 1.1)),
        Row::new(SECTION, format!("p99 at {} req/s with {k} keys", st.rate), "us")
            .samples(p99_b.clone())
            .against("1k keys", &p99_a, ratios(&p99_b, &p99_a)),
        Row::new(SECTION, "saturation throughput, audit collected from a pipe", "req/s")
            .samples(sat_a.clone())
            .against("audit to /dev/null", &sat_c, ratios(&sat_a, &sat_c))
            .goal("ratio >= 0.95", |_, r| r.map(|r| r >= 0.95))
            .note(format!(
                "the gateway cannot switch audit off (by contract): /dev/null is the floor, lines still built and written; audit lines {audited} for {sent_a} requests"
            ))
            .note(errs),
    ];
    drop((a, b, c, backend));
    Ok(rows)
}

//! A TTL cache of Cost Explorer answers. Every Cost Explorer request costs $0.01 and the data
//! changes a few times a day, so an identical request (same operation, same normalized
//! arguments, same page token) within `--cache-ttl` is answered from memory. Failures are not
//! cached. Paging inside one Cost Explorer page (the `SKIP:` part of a cursor) reads the same
//! cached page.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use schemars::JsonSchema;
use serde::Serialize;

/// Whether an answer came from the cache; part of every result.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
pub struct CacheInfo {
    /// True when this answer was served from memory: no Cost Explorer request, no charge.
    pub from_cache: bool,
    /// Age of the answer in seconds (0 when just fetched).
    pub age_seconds: u64,
    /// How long answers are kept (`--cache-ttl`); 0: the cache is off.
    pub ttl_seconds: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LookupLabels {
    operation: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

struct Entry {
    at: Instant,
    value: Arc<dyn Any + Send + Sync>,
}

/// The cache, shared by every request of the process.
#[derive(Clone)]
pub struct Cache {
    ttl: Duration,
    max_entries: usize,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    /// One lock per request being fetched: an identical request arriving meanwhile waits for
    /// that answer instead of paying for its own.
    in_flight: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    lookups: Family<LookupLabels, Counter>,
    requests: Family<OperationLabels, Counter>,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("ttl", &self.ttl)
            .field("max_entries", &self.max_entries)
            .field("entries", &self.len())
            .finish()
    }
}

impl Cache {
    /// A cache keeping answers for `ttl` (zero: off), at most `max_entries` of them.
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries: max_entries.max(1),
            entries: Arc::new(Mutex::new(HashMap::new())),
            in_flight: Arc::default(),
            lookups: Family::default(),
            requests: Family::default(),
        }
    }

    /// Registers `costs_cache_lookups_total{operation,result}` and
    /// `costs_upstream_requests_total{operation}` (billed Cost Explorer requests).
    pub fn register(&self, registry: &mut prometheus_client::registry::Registry) {
        registry.register(
            "costs_cache_lookups",
            "Cost Explorer answer cache lookups by operation and result (hit, miss)",
            self.lookups.clone(),
        );
        registry.register(
            "costs_upstream_requests",
            "Cost Explorer requests sent (each is billed), by operation",
            self.requests.clone(),
        );
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn info(&self, from_cache: bool, age: Duration) -> CacheInfo {
        CacheInfo {
            from_cache,
            age_seconds: age.as_secs(),
            ttl_seconds: self.ttl.as_secs(),
        }
    }

    fn lookup<T: Send + Sync + 'static>(&self, key: &str) -> Option<(Arc<T>, Duration)> {
        let entries = self.lock();
        let e = entries.get(key)?;
        let age = e.at.elapsed();
        if age >= self.ttl {
            return None;
        }
        e.value.clone().downcast::<T>().ok().map(|v| (v, age))
    }

    /// The cached answer of `operation` for `request`, or `fetch()`'s (cached on success).
    /// Identical requests arriving while one is fetched wait for its answer.
    pub async fn get_or_fetch<T, E, F, Fut>(
        &self,
        operation: &'static str,
        request: &impl Serialize,
        fetch: F,
    ) -> Result<(Arc<T>, CacheInfo), E>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let key = format!(
            "{operation} {}",
            serde_json::to_string(request).unwrap_or_default()
        );
        if self.ttl.is_zero() {
            return self.fetch(operation, key, fetch).await;
        }
        if let Some((value, age)) = self.lookup::<T>(&key) {
            return Ok(self.hit(operation, value, age));
        }
        let gate = InFlight::enter(self, &key);
        let _turn = gate.lock().await;
        match self.lookup::<T>(&key) {
            // Fetched by the request this one waited for.
            Some((value, age)) => Ok(self.hit(operation, value, age)),
            None => self.fetch(operation, key.clone(), fetch).await,
        }
    }

    fn hit<T>(&self, operation: &'static str, value: Arc<T>, age: Duration) -> (Arc<T>, CacheInfo) {
        self.count(operation, "hit");
        tracing::debug!(
            operation,
            age_s = age.as_secs(),
            "cost explorer answer from cache"
        );
        (value, self.info(true, age))
    }

    /// Asks Cost Explorer (counted: it is billed) and keeps the answer for the TTL.
    async fn fetch<T, E, F, Fut>(
        &self,
        operation: &'static str,
        key: String,
        fetch: F,
    ) -> Result<(Arc<T>, CacheInfo), E>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        self.count(operation, "miss");
        self.requests
            .get_or_create(&OperationLabels { operation })
            .inc();
        let value = Arc::new(fetch().await?);
        if !self.ttl.is_zero() {
            let mut entries = self.lock();
            let ttl = self.ttl;
            entries.retain(|_, e| e.at.elapsed() < ttl);
            while entries.len() >= self.max_entries {
                let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                entries.remove(&oldest);
            }
            entries.insert(
                key,
                Entry {
                    at: Instant::now(),
                    value: value.clone(),
                },
            );
        }
        Ok((value, self.info(false, Duration::ZERO)))
    }

    fn count(&self, operation: &'static str, result: &'static str) {
        self.lookups
            .get_or_create(&LookupLabels { operation, result })
            .inc();
    }
}

/// This request's place in the queue of identical requests; leaving it (done, failed or
/// cancelled) removes the queue when nobody else is in it.
struct InFlight<'a> {
    cache: &'a Cache,
    key: &'a str,
    gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl<'a> InFlight<'a> {
    fn enter(cache: &'a Cache, key: &'a str) -> Self {
        let gate = cache
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_owned())
            .or_default()
            .clone();
        Self {
            cache,
            key,
            gate: Some(gate),
        }
    }

    async fn lock(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.gate {
            Some(g) => Some(g.lock().await),
            None => None,
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        // References are taken and given back under the map's lock: the last one out sees only
        // the map's and its own.
        let mut map = self
            .cache
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(gate) = self.gate.take() {
            if Arc::strong_count(&gate) <= 2 {
                map.remove(self.key);
            }
            drop(gate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn fetch_counting(c: &Cache, key: &str, calls: &AtomicUsize) -> (Arc<String>, CacheInfo) {
        c.get_or_fetch("Op", &key, || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(format!("answer {key}"))
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn hits_misses_expiry_and_eviction() {
        let calls = AtomicUsize::new(0);
        let c = Cache::new(Duration::from_millis(200), 2);
        let (v, i) = fetch_counting(&c, "a", &calls).await;
        assert_eq!(*v, "answer a");
        assert!(!i.from_cache);
        let (_, i) = fetch_counting(&c, "a", &calls).await;
        assert!(i.from_cache);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        fetch_counting(&c, "b", &calls).await;
        fetch_counting(&c, "c", &calls).await;
        assert_eq!(c.len(), 2, "the oldest entry made room");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (_, i) = fetch_counting(&c, "c", &calls).await;
        assert!(!i.from_cache, "expired");
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identical_requests_in_flight_share_one_fetch() {
        let c = Cache::new(Duration::from_secs(60), 8);
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..5 {
            let c = c.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                c.get_or_fetch("Op", &"same", || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, ()>(7u32)
                })
                .await
                .unwrap()
            }));
        }
        let mut fresh = 0;
        for t in tasks {
            let (v, info) = t.await.unwrap();
            assert_eq!(*v, 7);
            fresh += usize::from(!info.from_cache);
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one fetch for five callers"
        );
        assert_eq!(fresh, 1);
        assert!(
            c.in_flight.lock().unwrap().is_empty(),
            "no lock left behind"
        );

        // A request dropped mid-fetch (the client went away) leaves nothing behind either.
        let slow = {
            let c = c.clone();
            tokio::spawn(async move {
                c.get_or_fetch("Op", &"other", || async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok::<_, ()>(1u32)
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(c.in_flight.lock().unwrap().len(), 1);
        slow.abort();
        let _ = slow.await;
        assert!(c.in_flight.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn failures_are_not_cached_and_zero_ttl_is_off() {
        let c = Cache::new(Duration::from_secs(60), 8);
        let r: Result<(Arc<String>, CacheInfo), &str> =
            c.get_or_fetch("Op", &1, || async { Err("boom") }).await;
        assert!(r.is_err());
        assert!(c.is_empty());
        let off = Cache::new(Duration::ZERO, 8);
        let calls = AtomicUsize::new(0);
        fetch_counting(&off, "a", &calls).await;
        let (_, i) = fetch_counting(&off, "a", &calls).await;
        assert!(!i.from_cache);
        assert_eq!(i.ttl_seconds, 0);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}

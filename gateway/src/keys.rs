//! Agent keys: the keys file External Secrets writes, its parsing, and hot reload.
//!
//! The file is a JSON object whose values are `<sha256-hex-of-raw-key>:<role>/<user>`; member
//! names are free (they are the SSM parameter names). The gateway holds only hashes. A reload
//! that fails (broken, half-written, vanished or empty file) keeps the last good set: a key is
//! revoked by a new file without it, never by a file that could not be read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};
use crate::metrics::Metrics;

/// Who a key belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub role: Arc<str>,
    pub user: Arc<str>,
    /// First 8 hex characters of the key's hash: safe to log, enough to tell keys apart.
    pub key_id: Arc<str>,
    /// When the key stops working (Unix seconds), if it expires.
    pub expires_at: Option<i64>,
    pub(crate) hash: [u8; 32],
    /// This key's `key_requests_total` series, once a request used it.
    pub(crate) requests: KeySeries,
}

/// A counter handle cached in an [`Identity`] (equality ignores it).
#[derive(Debug, Default, Clone)]
pub(crate) struct KeySeries(std::sync::OnceLock<prometheus_client::metrics::counter::Counter>);

impl PartialEq for KeySeries {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for KeySeries {}

impl Identity {
    /// Counts a request made with this key.
    pub(crate) fn count_request(&self, metrics: &Metrics) {
        self.requests
            .0
            .get_or_init(|| {
                metrics
                    .key_requests
                    .get_or_create(&crate::metrics::KeyLabels {
                        key_id: self.key_id.to_string(),
                        role: self.role.to_string(),
                    })
                    .clone()
            })
            .inc();
    }

    /// True once the key's expiry has passed.
    pub fn is_expired(&self, now_unix: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now_unix)
    }
}

/// One loaded generation of keys.
#[derive(Debug, Default)]
pub struct KeySet {
    by_hash: HashMap<[u8; 32], Arc<Identity>>,
    /// SHA-256 of the file content it was parsed from (to skip no-op reloads).
    digest: [u8; 32],
}

impl KeySet {
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Every identity in the set.
    pub fn identities(&self) -> impl Iterator<Item = &Arc<Identity>> {
        self.by_hash.values()
    }

    /// Finds the identity of a raw (decoded) key. The key is hashed first, so the map lookup
    /// only ever sees hashes; the final comparison of the stored and computed hash is constant
    /// time.
    pub fn lookup(&self, raw_key: &[u8]) -> Option<Arc<Identity>> {
        let hash: [u8; 32] = Sha256::digest(raw_key).into();
        let found = self.by_hash.get(&hash)?;
        bool::from(found.hash.ct_eq(&hash)).then(|| found.clone())
    }

    /// Parses the keys file. All or nothing: one bad entry rejects the file, so a half-written
    /// file can never replace a good set with part of itself.
    pub fn parse(text: &str) -> Result<KeySet, String> {
        let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let obj = value
            .as_object()
            .ok_or_else(|| "the keys file must be a JSON object".to_owned())?;
        let mut by_hash = HashMap::with_capacity(obj.len());
        for (name, entry) in obj {
            let entry = entry
                .as_str()
                .ok_or_else(|| format!("`{name}`: value must be a string hash:role/user"))?;
            let id = parse_entry(entry).map_err(|e| format!("`{name}`: {e}"))?;
            if let Some(prev) = by_hash.insert(id.hash, Arc::new(id))
                && by_hash[&prev.hash].as_ref() != prev.as_ref()
            {
                return Err(format!(
                    "`{name}`: key {} is listed twice with different identities",
                    prev.key_id
                ));
            }
        }
        if by_hash.is_empty() {
            return Err("the keys file holds no keys (refusing to lock everyone out; revoke keys one by one)".into());
        }
        Ok(KeySet { by_hash, digest })
    }
}

/// Parses one `<sha256-hex>:<role>/<user>[;exp=<RFC 3339 UTC>]` value.
///
/// The expiry travels with the value, so a key stops working when it expires even while the
/// Secret still holds it. Any other attribute is refused (it could be a restriction this
/// gateway does not know how to enforce), which rejects the file and keeps the last good set.
pub fn parse_entry(entry: &str) -> Result<Identity, String> {
    let (hash_hex, rest) = entry
        .split_once(':')
        .ok_or_else(|| "expected <sha256-hex>:<role>/<user>".to_owned())?;
    let mut hash = [0u8; 32];
    if hash_hex.len() != 64 || hex::decode_to_slice(hash_hex, &mut hash).is_err() {
        return Err("the hash must be 64 hex characters (SHA-256 of the raw key)".into());
    }
    let mut parts = rest.split(';');
    let who = parts.next().unwrap_or_default();
    let (role, user) = who
        .split_once('/')
        .ok_or_else(|| "expected <role>/<user> after the hash".to_owned())?;
    validate_role(role)?;
    validate_user(user)?;
    let mut expires_at = None;
    for attr in parts {
        match attr.split_once('=') {
            Some(("exp", t)) => {
                let t =
                    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                        .map_err(|e| format!("exp `{t}` is not an RFC 3339 time: {e}"))?;
                expires_at = Some(t.unix_timestamp());
            }
            _ => return Err(format!("unknown attribute `{attr}`")),
        }
    }
    Ok(Identity {
        role: role.into(),
        user: user.into(),
        key_id: hex::encode(&hash[..4]).into(),
        expires_at,
        hash,
        requests: KeySeries::default(),
    })
}

/// The value stored for a key: `<sha256-hex>:<role>/<user>[;exp=...]`.
pub fn format_entry(raw_key: &[u8], role: &str, user: &str, expires_at: Option<i64>) -> String {
    let mut entry = format!("{}:{role}/{user}", hash_hex(raw_key));
    if let Some(t) = expires_at.and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()) {
        entry.push_str(";exp=");
        entry.push_str(&crate::audit::rfc3339_seconds(t));
    }
    entry
}

/// Role names: what a config role may be called (no `/`, `:`, `;` or spaces).
pub fn validate_role(role: &str) -> Result<(), String> {
    let ok = !role.is_empty()
        && role.len() <= 128
        && role
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "role `{role}`: use letters, digits, '-', '_' or '.' (at most 128)"
        ))
    }
}

/// User names become SSM parameter names: letters, digits, `-`, `_`, `.`; no path characters.
pub fn validate_user(user: &str) -> Result<(), String> {
    let ok = !user.is_empty()
        && user.len() <= 128
        && user
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !user.contains("..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "user `{user}`: start with a letter or digit, then letters, digits, '-', '_' or '.' (at most 128, no path characters)"
        ))
    }
}

/// The hex SHA-256 of a raw key, as stored in the keys file.
pub fn hash_hex(raw_key: &[u8]) -> String {
    hex::encode(Sha256::digest(raw_key))
}

/// The current key set, swapped atomically on reload.
#[derive(Debug, Clone)]
pub struct KeyStore {
    path: PathBuf,
    current: Arc<ArcSwap<KeySet>>,
    metrics: Metrics,
}

impl KeyStore {
    /// Loads the file once. A missing or broken file at start is logged and counted; the
    /// gateway then serves with no keys (every call is 401, `/readyz` says why) until a good
    /// file appears, rather than crash-looping.
    pub fn open(path: &Path, metrics: Metrics) -> Self {
        let store = Self {
            path: path.to_owned(),
            current: Arc::new(ArcSwap::from_pointee(KeySet::default())),
            metrics,
        };
        if let Err(e) = store.reload() {
            tracing::error!(path = %path.display(), error = %e, "no keys loaded at start");
        }
        store
    }

    pub fn current(&self) -> arc_swap::Guard<Arc<KeySet>> {
        self.current.load()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file. On success the new set replaces the old one atomically and the count
    /// of keys is returned; on failure the old set stays and the error is counted.
    pub fn reload(&self) -> Result<usize> {
        let result = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|text| {
                let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
                if digest == self.current.load().digest && !self.current.load().is_empty() {
                    return Ok(None);
                }
                KeySet::parse(&text).map(Some)
            });
        match result {
            Ok(None) => Ok(self.current.load().len()),
            Ok(Some(set)) => {
                let n = set.len();
                self.metrics.sync_key_series(&self.current.load(), &set);
                self.current.store(Arc::new(set));
                self.metrics.keys_loaded.set(n as i64);
                self.metrics.key_reloads.inc();
                tracing::info!(path = %self.path.display(), keys = n, "keys loaded");
                Ok(n)
            }
            Err(reason) => {
                self.metrics.key_reload_errors.inc();
                tracing::error!(
                    path = %self.path.display(),
                    error = %reason,
                    keys_kept = self.current.load().len(),
                    "keys file rejected, keeping the last good set"
                );
                Err(Error::Keys {
                    path: self.path.clone(),
                    reason,
                })
            }
        }
    }

    /// Watches the file's directory (Kubernetes updates a mounted Secret by swapping a symlink,
    /// which a watch on the file itself would miss) and reloads on any change there, plus a
    /// periodic re-read as a safety net for missed events. Runs until the returned guard drops.
    pub fn watch(&self, poll: Duration) -> Result<WatchGuard> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
        // Without a watch (the directory does not exist yet, inotify limits) the periodic
        // re-read still picks changes up, only later.
        let file_name = self.path.file_name().map(|n| n.to_owned());
        let watcher = match start_watcher(&dir, file_name, tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, poll_s = poll.as_secs_f64(), "cannot watch the keys directory; re-reading it periodically only");
                None
            }
        };
        let store = self.clone();
        let mut watching = watcher.is_some();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(poll);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tokio::select! {
                    got = rx.recv(), if watching => {
                        if got.is_none() { watching = false; continue; }
                        // Let a burst of events (write + rename + chmod) settle.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        while rx.try_recv().is_ok() {}
                    }
                    _ = tick.tick() => {}
                }
                let store = store.clone();
                let _ = tokio::task::spawn_blocking(move || store.reload()).await;
            }
        });
        Ok(WatchGuard {
            _watcher: watcher,
            task,
        })
    }
}

/// Whether a change to `path` in the keys directory can change the keys file: the file
/// itself, or Kubernetes' `..data` symlink and timestamped directories (a Secret volume is
/// updated by swapping those). Other files in the directory (an audit log written next to
/// the keys, an editor's swap file) do not trigger reloads; the periodic re-read catches
/// anything a filter would miss.
fn affects_keys(path: &Path, file_name: Option<&std::ffi::OsStr>) -> bool {
    match path.file_name() {
        None => true,
        Some(n) => Some(n) == file_name || n.as_encoded_bytes().starts_with(b".."),
    }
}

fn start_watcher(
    dir: &Path,
    file_name: Option<std::ffi::OsString>,
    tx: tokio::sync::mpsc::Sender<()>,
) -> Result<notify::RecommendedWatcher> {
    let err = |e| Error::Watch {
        path: dir.to_owned(),
        source: Box::new(e),
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let relevant = match &event {
            // An event without paths (a rescan): reload to be safe.
            Ok(e) => {
                e.paths.is_empty()
                    || e.paths
                        .iter()
                        .any(|p| affects_keys(p, file_name.as_deref()))
            }
            Err(_) => false,
        };
        if relevant {
            // A full channel already means "reload pending".
            let _ = tx.try_send(());
        }
    })
    .map_err(err)?;
    watcher
        .watch(dir, RecursiveMode::NonRecursive)
        .map_err(err)?;
    Ok(watcher)
}

/// Keeps the key watcher alive.
#[derive(Debug)]
pub struct WatchGuard {
    _watcher: Option<notify::RecommendedWatcher>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_that_can_touch_the_keys_file_trigger_a_reload() {
        let name = Some(std::ffi::OsStr::new("keys.json"));
        assert!(affects_keys(Path::new("/etc/keys/keys.json"), name));
        assert!(affects_keys(Path::new("/etc/keys/..data"), name));
        assert!(affects_keys(Path::new("/etc/keys/..data_tmp"), name));
        assert!(affects_keys(
            Path::new("/etc/keys/..2026_12_02_18_00_00.123456"),
            name
        ));
        assert!(!affects_keys(Path::new("/etc/keys/audit.log"), name));
        assert!(!affects_keys(Path::new("/etc/keys/.keys.json.swp"), name));
    }

    fn entry(raw: &[u8], who: &str) -> String {
        format!("{}:{who}", hash_hex(raw))
    }

    #[test]
    fn parses_and_looks_up() {
        let text = serde_json::json!({
            "/mcp-gateway/keys/agent": entry(b"k1", "dev-readonly/incident-agent-01"),
            "/mcp-gateway/keys/ops": entry(b"k2", "devops-full/alice"),
        })
        .to_string();
        let set = KeySet::parse(&text).unwrap();
        assert_eq!(set.len(), 2);
        let id = set.lookup(b"k1").unwrap();
        assert_eq!(&*id.role, "dev-readonly");
        assert_eq!(&*id.user, "incident-agent-01");
        assert_eq!(&*id.key_id, &hash_hex(b"k1")[..8]);
        assert!(set.lookup(b"k3").is_none());
    }

    #[test]
    fn expiry_travels_with_the_value() {
        let e = format_entry(b"k", "r", "u", Some(1_900_000_000));
        assert!(e.ends_with(";exp=2030-03-17T17:46:40Z"), "{e}");
        let id = parse_entry(&e).unwrap();
        assert_eq!(id.expires_at, Some(1_900_000_000));
        assert!(!id.is_expired(1_899_999_999));
        assert!(id.is_expired(1_900_000_000));
        let plain = parse_entry(&format_entry(b"k", "r", "u", None)).unwrap();
        assert_eq!(plain.expires_at, None);
        assert!(parse_entry(&format!("{};scope=all", entry(b"k", "r/u"))).is_err());
        assert!(parse_entry(&format!("{};exp=tomorrow", entry(b"k", "r/u"))).is_err());
        for bad_user in ["../x", "a/b", "a b", ".hidden", "x..y", ""] {
            assert!(validate_user(bad_user).is_err(), "{bad_user}");
        }
        assert!(validate_user("incident-agent-01").is_ok());
    }

    #[test]
    fn rejects_bad_files_whole() {
        let good = entry(b"k1", "r/u");
        for bad in [
            "".to_owned(),
            "{".to_owned(),
            "[]".to_owned(),
            "{}".to_owned(),
            serde_json::json!({"a": good, "b": 5}).to_string(),
            serde_json::json!({"a": good, "b": "abc:r/u"}).to_string(),
            serde_json::json!({"a": good, "b": format!("{}:r", hash_hex(b"x"))}).to_string(),
            serde_json::json!({"a": good, "b": format!("{}:/u", hash_hex(b"x"))}).to_string(),
            serde_json::json!({"a": good, "b": entry(b"k1", "other/u")}).to_string(),
        ] {
            assert!(KeySet::parse(&bad).is_err(), "{bad}");
        }
        // The same key listed twice with the same identity is harmless.
        let same = serde_json::json!({"a": good, "b": good}).to_string();
        assert_eq!(KeySet::parse(&same).unwrap().len(), 1);
    }

    #[test]
    fn reload_keeps_last_good_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let metrics = Metrics::new();
        std::fs::write(
            &path,
            serde_json::json!({"a": entry(b"k1", "r/u")}).to_string(),
        )
        .unwrap();
        let store = KeyStore::open(&path, metrics.clone());
        assert!(store.current().lookup(b"k1").is_some());

        std::fs::write(&path, "{\"a\": \"half").unwrap();
        assert!(store.reload().is_err());
        assert!(store.current().lookup(b"k1").is_some());

        std::fs::remove_file(&path).unwrap();
        assert!(store.reload().is_err());
        assert!(store.current().lookup(b"k1").is_some());

        std::fs::write(
            &path,
            serde_json::json!({"b": entry(b"k2", "r/v")}).to_string(),
        )
        .unwrap();
        assert_eq!(store.reload().unwrap(), 1);
        assert!(store.current().lookup(b"k1").is_none());
        assert!(store.current().lookup(b"k2").is_some());
        assert_eq!(metrics.key_reload_errors.get(), 2);
        // One usage series per loaded key, unused ones at 0; revoked keys' series are gone.
        let text = metrics.render();
        let k2 = &hash_hex(b"k2")[..8];
        assert!(
            text.contains(&format!(
                "mcp_gateway_key_requests_total{{key_id=\"{k2}\",role=\"r\"}} 0"
            )),
            "{text}"
        );
        assert!(!text.contains(&hash_hex(b"k1")[..8]), "{text}");
        assert_eq!(metrics.keys_loaded.get(), 1);
    }

    #[tokio::test]
    async fn a_missing_directory_is_polled_until_keys_appear() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("not-yet");
        let path = sub.join("keys.json");
        let store = KeyStore::open(&path, Metrics::new());
        let _guard = store.watch(Duration::from_millis(50)).unwrap();
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(
            &path,
            serde_json::json!({"a": entry(b"k1", "r/u")}).to_string(),
        )
        .unwrap();
        for _ in 0..100 {
            if !store.current().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(store.current().lookup(b"k1").is_some());
    }

    #[test]
    fn missing_file_at_start_serves_no_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = KeyStore::open(&dir.path().join("absent.json"), Metrics::new());
        assert!(store.current().is_empty());
    }
}

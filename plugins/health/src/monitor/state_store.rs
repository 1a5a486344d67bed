//! Where the monitor keeps its alert state between rounds, restarts and cron runs (`--state`):
//! a file, or a ConfigMap (`configmap/NAMESPACE/NAME`, for the monitor that runs in the cluster).
//!
//! The format, version 1 (JSON; `schema/monitor-state.schema.json` is its contract):
//!
//! ```json
//! {
//!   "format": "kubectl-sealos-health/monitor-state",
//!   "version": 1,
//!   "savedAt": "2026-12-06T02:40:00Z",
//!   "consecutiveFailures": 0,
//!   "alerts": [{
//!     "alert": {"key": "error-rate/overall", "title": "High error rate", "message": "...",
//!               "urgency": "critical", "phase": "firing"},
//!     "since": "2026-12-06T02:35:00Z",
//!     "delivered": {"stdout": {"phase": "firing", "at": "2026-12-06T02:35:00Z"}}
//!   }]
//! }
//! ```
//!
//! `alerts` holds the alerts firing and the resolved ones a sink has still to be told about;
//! `delivered` says what each sink (stdout, slack, syslog) took last and when (wall-clock, UTC).
//! A sink absent from `delivered` has not taken this alert yet.
//!
//! Writes are atomic. A file is written to a temporary file in the same directory (mode 0600),
//! flushed to disk and renamed over the old one; a sidecar `FILE.lock` held for the whole run
//! keeps two monitors off one file. A ConfigMap is created, or replaced with the
//! resourceVersion it was read at, so a concurrent writer's update is never silently lost: the
//! write fails with a conflict and the monitor takes up the other writer's state.
//!
//! A state that cannot be read (not JSON, another format, a newer version, unknown fields,
//! oversized, hostile values) is an error, exit 2, before anything is sent: starting afresh
//! would forget the alerts firing, so their "resolved" would never be sent, and re-fire the rest.
//! Move the file aside (or delete the ConfigMap's key) to start afresh on purpose.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use sealos_shared::alert::Entry;
use sealos_shared::connection::Kube;
use sealos_shared::error::KubeContext;
use sealos_shared::retry::{self, Backoff};
use sealos_shared::{Error, Result};
use serde::{Deserialize, Serialize};

/// What the `format` field says: a file without it is not ours and is never overwritten.
pub const FORMAT: &str = "kubectl-sealos-health/monitor-state";
/// The version this monitor writes and reads.
pub const VERSION: u32 = 1;
/// The ConfigMap key the state lives under (other keys are left alone).
pub const CONFIGMAP_KEY: &str = "monitor-state.json";
/// A state larger than this is refused (a ConfigMap holds at most 1 MiB anyway).
pub const MAX_BYTES: u64 = 1024 * 1024;
/// The label a ConfigMap the monitor creates carries.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "kubectl-sealos-health");

/// The saved state, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SavedState {
    pub format: String,
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saved_at: Option<Timestamp>,
    #[serde(default)]
    pub consecutive_failures: u32,
    #[serde(default)]
    pub alerts: Vec<Entry>,
}

impl SavedState {
    pub fn new(consecutive_failures: u32, alerts: Vec<Entry>) -> SavedState {
        SavedState {
            format: FORMAT.to_string(),
            version: VERSION,
            saved_at: None,
            consecutive_failures,
            alerts,
        }
    }
}

/// Where `--state` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    File(PathBuf),
    ConfigMap { namespace: String, name: String },
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::File(path) => write!(f, "state file {}", path.display()),
            StateLocation::ConfigMap { namespace, name } => {
                write!(f, "state configmap {namespace}/{name}")
            }
        }
    }
}

impl std::str::FromStr for StateLocation {
    type Err = String;

    /// `configmap/NAMESPACE/NAME`, else a file path (`./configmap/x/y` for a file by that name).
    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        if let Some(rest) = text.strip_prefix("configmap/") {
            let Some((namespace, name)) = rest.split_once('/') else {
                return Err(format!(
                    "{text:?} is not configmap/NAMESPACE/NAME (for a file by that name, write ./{text})"
                ));
            };
            if !is_dns_label(namespace) {
                return Err(format!("{namespace:?} is not a valid namespace name"));
            }
            if !is_dns_subdomain(name) {
                return Err(format!("{name:?} is not a valid ConfigMap name"));
            }
            return Ok(StateLocation::ConfigMap {
                namespace: namespace.to_string(),
                name: name.to_string(),
            });
        }
        if text.is_empty() {
            return Err("an empty path".to_string());
        }
        Ok(StateLocation::File(PathBuf::from(text)))
    }
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// Reads a saved state, checking that it is ours and this version. `source` names it in errors.
pub fn decode(bytes: &[u8], source: &StateLocation) -> Result<SavedState> {
    let fail = |why: String| {
        Error::usage(format!(
            "read monitor {source}: {why}; move it aside to start afresh (its firing alerts would be sent again)"
        ))
    };
    if bytes.len() as u64 > MAX_BYTES {
        return Err(fail(format!("larger than {MAX_BYTES} bytes")));
    }
    /// The fields that say what the document is, read before the rest.
    #[derive(Deserialize)]
    struct Header {
        format: Option<serde_json::Value>,
        version: Option<serde_json::Value>,
    }
    let header: Header =
        serde_json::from_slice(bytes).map_err(|e| fail(format!("not a JSON object: {e}")))?;
    if header.format.as_ref().and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(fail(format!(
            "not a monitor state (its \"format\" is not {FORMAT:?}); it is left untouched"
        )));
    }
    match header.version.as_ref().and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err(fail(format!(
                "version {v}, and this monitor reads version {VERSION}"
            )));
        }
        None => return Err(fail("no numeric \"version\"".to_string())),
    }
    serde_json::from_slice(bytes).map_err(|e| fail(e.to_string()))
}

/// An open state store: read once at the start, written after each round that changed it.
pub struct StateStore {
    location: StateLocation,
    backend: Backend,
    /// What was last read or written, to skip writes that change nothing.
    last: Option<String>,
}

// One store per process: the size of the ConfigMap variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Backend {
    File {
        path: PathBuf,
        /// Held (locked) while the store is open.
        _lock: std::fs::File,
    },
    ConfigMap {
        api: Api<ConfigMap>,
        /// The object as last read or written: its resourceVersion is the write's precondition.
        current: Option<ConfigMap>,
    },
}

impl StateStore {
    /// Opens (and for a file, locks) the store, and reads what it holds.
    pub async fn open(
        location: &StateLocation,
        kube: Option<&Kube>,
    ) -> Result<(StateStore, Option<SavedState>)> {
        let (backend, bytes) = match location {
            StateLocation::File(path) => {
                let lock = lock(path)?;
                let bytes = read_file(path)?;
                (
                    Backend::File {
                        path: path.clone(),
                        _lock: lock,
                    },
                    bytes,
                )
            }
            StateLocation::ConfigMap { namespace, name } => {
                let kube = kube.ok_or_else(|| {
                    Error::failed(format!("{location}: no cluster to read the ConfigMap from"))
                })?;
                let api = Api::namespaced(kube.client.clone(), namespace);
                let current = get(&api, namespace, name).await?;
                let bytes = current
                    .as_ref()
                    .and_then(|cm| cm.data.as_ref()?.get(CONFIGMAP_KEY))
                    .map(|text| text.clone().into_bytes());
                (Backend::ConfigMap { api, current }, bytes)
            }
        };
        let saved = bytes.map(|b| decode(&b, location)).transpose()?;
        let store = StateStore {
            location: location.clone(),
            backend,
            last: saved.as_ref().map(content),
        };
        Ok((store, saved))
    }

    /// Writes the state, atomically, unless it is what was last read or written.
    pub async fn save(&mut self, state: &SavedState) -> Result<()> {
        let now = content(state);
        if self.last.as_ref() == Some(&now) {
            return Ok(());
        }
        let document = SavedState {
            saved_at: Some(Timestamp::now()),
            ..state.clone()
        };
        let mut text = serde_json::to_string_pretty(&document)
            .map_err(|e| Error::failed(format!("encode the monitor state: {e}")))?;
        text.push('\n');
        let location = &self.location;
        match &mut self.backend {
            Backend::File { path, .. } => write_file(path, text.as_bytes())
                .map_err(|e| Error::io(format!("write monitor {location}"), e))?,
            Backend::ConfigMap { api, current } => {
                let written = match current.clone() {
                    None => {
                        let (namespace, name) = names(location);
                        let fresh = ConfigMap {
                            metadata: ObjectMeta {
                                name: Some(name.to_string()),
                                namespace: Some(namespace.to_string()),
                                labels: Some(BTreeMap::from([(
                                    MANAGED_BY.0.to_string(),
                                    MANAGED_BY.1.to_string(),
                                )])),
                                ..ObjectMeta::default()
                            },
                            data: Some(BTreeMap::from([(CONFIGMAP_KEY.to_string(), text)])),
                            ..ConfigMap::default()
                        };
                        api.create(&PostParams::default(), &fresh).await
                    }
                    Some(mut existing) => {
                        existing
                            .data
                            .get_or_insert_with(BTreeMap::new)
                            .insert(CONFIGMAP_KEY.to_string(), text);
                        let name = existing.metadata.name.clone().unwrap_or_default();
                        // Carries metadata.resourceVersion: 409 if someone wrote it since.
                        api.replace(&name, &PostParams::default(), &existing).await
                    }
                };
                *current = Some(written.kube_context(|| format!("write monitor {location}"))?);
            }
        }
        self.last = Some(now);
        Ok(())
    }

    /// Reads the store again (after a conflict: another writer's state wins over ours).
    pub async fn reload(&mut self) -> Result<Option<SavedState>> {
        let bytes = match &mut self.backend {
            Backend::File { path, .. } => read_file(path)?,
            Backend::ConfigMap { api, current } => {
                let (namespace, name) = names(&self.location);
                *current = get(api, namespace, name).await?;
                current
                    .as_ref()
                    .and_then(|cm| cm.data.as_ref()?.get(CONFIGMAP_KEY))
                    .map(|text| text.clone().into_bytes())
            }
        };
        let saved = bytes.map(|b| decode(&b, &self.location)).transpose()?;
        self.last = saved.as_ref().map(content);
        Ok(saved)
    }

    pub fn location(&self) -> &StateLocation {
        &self.location
    }
}

/// The part of a state that matters (not when it was saved).
fn content(state: &SavedState) -> String {
    serde_json::to_string(&(state.consecutive_failures, &state.alerts)).unwrap_or_default()
}

fn names(location: &StateLocation) -> (&str, &str) {
    match location {
        StateLocation::ConfigMap { namespace, name } => (namespace, name),
        StateLocation::File(_) => ("", ""),
    }
}

async fn get(api: &Api<ConfigMap>, namespace: &str, name: &str) -> Result<Option<ConfigMap>> {
    retry::read(Backoff::default(), || api.get_opt(name))
        .await
        .kube_context(|| format!("get configmap {name:?} in {namespace:?}"))
}

/// `FILE.lock` next to the state, locked for as long as the returned file is open.
fn lock(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let lock_path = path.with_file_name(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&lock_path)
        .map_err(|e| Error::io(format!("open lock file {}", lock_path.display()), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::failed(format!(
            "another monitor is using the state file {} (it holds {}): two monitors on one state would send every alert twice",
            path.display(),
            lock_path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("lock {}", lock_path.display()), e))
        }
    }
}

/// The file's bytes, `None` if there is no file yet. Bounded: a huge file is not read whole.
fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    let context = || format!("read monitor state file {}", path.display());
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(context(), e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(context(), e))?;
    if !meta.is_file() {
        return Err(Error::usage(format!("{}: not a regular file", context())));
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(context(), e))?;
    Ok(Some(bytes))
}

/// Temporary file in the same directory (created 0600), fsync, rename over, fsync the directory:
/// a crash leaves the old state or the new one, never half of one.
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".monitor-state-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn file() -> StateLocation {
        StateLocation::File("s.json".into())
    }

    #[test]
    fn locations_parse() {
        assert_eq!(
            "configmap/monitoring/sealos-monitor".parse::<StateLocation>(),
            Ok(StateLocation::ConfigMap {
                namespace: "monitoring".into(),
                name: "sealos-monitor".into()
            })
        );
        assert_eq!(
            "./configmap/a/b".parse::<StateLocation>(),
            Ok(StateLocation::File("./configmap/a/b".into()))
        );
        assert_eq!(
            "configmap/Bad/x".parse::<StateLocation>().unwrap_err(),
            "\"Bad\" is not a valid namespace name"
        );
        assert_eq!(
            "configmap/ns/../x".parse::<StateLocation>().unwrap_err(),
            "\"../x\" is not a valid ConfigMap name"
        );
        assert!(
            "configmap/ns"
                .parse::<StateLocation>()
                .unwrap_err()
                .contains("for a file by that name, write ./configmap/ns")
        );
    }

    #[test]
    fn what_is_not_our_state_is_refused_with_why() {
        let err = |text: &str| decode(text.as_bytes(), &file()).unwrap_err().to_string();
        assert!(
            err("{not json").starts_with("read monitor state file s.json: not a JSON object: "),
            "{}",
            err("{not json")
        );
        assert_eq!(
            err(r#"{"apiVersion":"v1","kind":"Config"}"#),
            "read monitor state file s.json: not a monitor state (its \"format\" is not \"kubectl-sealos-health/monitor-state\"); it is left untouched; move it aside to start afresh (its firing alerts would be sent again)"
        );
        assert!(
            err(r#"{"format":"kubectl-sealos-health/monitor-state","version":2}"#)
                .contains(": version 2, and this monitor reads version 1;")
        );
        assert!(
            err(r#"{"format":"kubectl-sealos-health/monitor-state","version":1,"alerts":[{"alert":{}}]}"#)
                .contains("missing field")
        );
        assert!(
            err(r#"{"format":"kubectl-sealos-health/monitor-state","version":1,"extra":1}"#)
                .contains("unknown field `extra`")
        );
        let big = format!(
            r#"{{"format":"{FORMAT}","version":1,"x":"{}"}}"#,
            "a".repeat(MAX_BYTES as usize)
        );
        assert!(err(&big).contains("larger than 1048576 bytes"));
        let ok = decode(
            format!(r#"{{"format":"{FORMAT}","version":1}}"#).as_bytes(),
            &file(),
        )
        .unwrap();
        assert_eq!(ok, SavedState::new(0, vec![]));
    }

    #[test]
    fn files_are_written_whole_with_mode_0600_and_locked() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_file(&path, b"one").unwrap();
        write_file(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"], "no temporary file left behind");

        let held = lock(&path).unwrap();
        let err = lock(&path).unwrap_err().to_string();
        assert!(
            err.starts_with("another monitor is using the state file "),
            "{err}"
        );
        drop(held);
        lock(&path).unwrap();
    }
}

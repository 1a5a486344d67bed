//! deps: serde_json, serde-saphyr, base64 = "0.22", jiff, thiserror (and pki's); dev: k8s-openapi (v1_33), x509-parser, tempfile, serde
//!
//! What the sandbox cluster holds when it starts: the built-in scenarios `empty` (a fresh
//! cluster with Istio and cert-manager CRDs installed) and `sealos` (a Sealos cluster after the
//! ops guide's Istio migration), or objects loaded from YAML/JSON files. Objects are plain JSON
//! values, complete enough for `kubectl apply` and kube-rs typed deserialisation; Deployments
//! carry no pods (the simulation makes them from the pod template, so per-pod knobs live in
//! the template's annotations).

mod apps;
mod cert_manager;
mod certificates;
mod files;
mod istio;
mod monitoring;
mod objects;
mod order;
mod platform;
mod sealos_system;

use serde_json::Value;

pub use files::load_files;
pub use order::apply_order;

/// Why a scenario could not be built or loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("read {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: document {document}: {message}", path.display())]
    Parse {
        path: std::path::PathBuf,
        /// 1-based, counting empty documents too, as an editor shows them.
        document: usize,
        message: String,
    },
    #[error("make certificates: {0}")]
    Pki(#[from] crate::pki::PkiError),
}

/// The names `builtin` knows.
pub const BUILTIN_NAMES: &[&str] = &["empty", "sealos"];

/// A built-in scenario by name, in apply order, with times relative to `now`; `None` for an
/// unknown name.
pub fn builtin(name: &str, now: jiff::Timestamp) -> Option<Result<Vec<Value>, ScenarioError>> {
    match name {
        "empty" => Some(Ok(apply_order(platform::objects(now)))),
        "sealos" => Some(sealos(now).map(apply_order)),
        _ => None,
    }
}

fn sealos(now: jiff::Timestamp) -> Result<Vec<Value>, ScenarioError> {
    let pki = certificates::Pki::new(now)?;
    let mut objects = platform::objects(now);
    objects.extend(istio::objects(now, &pki)?);
    objects.extend(sealos_system::objects(now, &pki)?);
    objects.extend(monitoring::objects(now));
    objects.extend(cert_manager::objects(now, &pki)?);
    objects.extend(apps::objects(now, &pki)?);
    Ok(objects)
}

#[cfg(test)]
mod tests;

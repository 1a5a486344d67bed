//! `diag bundle`: a diagnostic archive like `istioctl bug-report`: Istio, Sealos and cert-manager
//! objects, events, the logs of istiod, the gateway and the controllers, Envoy config dumps of
//! selected pods, a summary and a README. Made to be handed to a vendor: credentials are
//! redacted before anything is written (`redact.rs` says which, the bundle's README repeats it),
//! unless `--no-redact`.

mod archive;
mod collect;
mod readme;
pub mod redact;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kube::Api;
use sealos_shared::connection::Kube;
use sealos_shared::error::KubeContext;
use sealos_shared::flags::format_parser;
use sealos_shared::output::{Format, Out};
use sealos_shared::quantity::Quantity;
use sealos_shared::retry::{self, Backoff};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

pub use archive::{default_name, write_archive};
pub use collect::collect;
pub use redact::{Rules, Tally};

/// The namespaces every bundle covers.
pub const SYSTEM_NAMESPACES: [&str; 3] = ["istio-system", "sealos-system", "cert-manager"];

/// `bundle` flags.
#[derive(Args, Debug, Clone)]
pub struct BundleArgs {
    /// Where to write the archive (default: sealos-diag-<time>.tar.gz here).
    #[arg(long = "to", value_name = "FILE.tar.gz")]
    pub file: Option<PathBuf>,
    /// Output format of the report (json and yaml print the archive's summary.json).
    #[arg(
        short = 'o',
        long,
        default_value = "table",
        value_parser = format_parser("-o is the output format; the bundle file is --to FILE")
    )]
    pub output: Format,
    /// How much of the logs and events to keep.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = sealos_shared::number::positive_duration)]
    pub since: Duration,
    /// Keep Secret values (redacted by default: only keys and sizes are kept); the other
    /// redaction rules still apply.
    #[arg(long)]
    pub include_secrets: bool,
    /// Also redact values whose name contains PATTERN (case-insensitive; repeatable), beside
    /// password, passwd, secret, token, key, credential, auth and dsn.
    #[arg(long = "redact", value_name = "PATTERN")]
    pub redact: Vec<String>,
    /// Redact nothing at all: Secret values, tokens and passwords go into the bundle in clear.
    #[arg(long, conflicts_with_all = ["redact", "include_secrets"])]
    pub no_redact: bool,
    /// The most of each container's log to read ("10Mi"), cut by the server (limitBytes).
    #[arg(long, value_name = "SIZE", default_value = "10Mi")]
    pub log_limit: String,
    /// Largest uncompressed content to collect ("100Mi"); files beyond it are listed as skipped.
    #[arg(long, value_name = "SIZE", default_value = "200Mi")]
    pub max_size: String,
    /// Envoy config dumps to take at most (the gateway's pods first).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_envoy_pods: usize,
    /// How long to wait for one Envoy admin answer.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = sealos_shared::number::positive_duration)]
    pub envoy_timeout: Duration,
}

/// What to collect.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Namespaces whose objects, events and logs are taken.
    pub namespaces: Vec<String>,
    pub since: Duration,
    pub max_bytes: u64,
    /// The most bytes of one container's log.
    pub log_limit: u64,
    pub max_envoy_pods: usize,
    pub envoy_timeout: Duration,
    /// Istio, cert-manager and namespace objects (false: logs and events only).
    pub objects: bool,
    /// Events of every namespace rather than `namespaces`.
    pub all_events: bool,
    /// `(namespace, selector)` of the pods whose logs are taken.
    pub logs: Vec<(String, String)>,
}

/// The redaction applied to a bundle.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Redaction {
    /// False with `--no-redact`.
    pub enabled: bool,
    /// Whether Secret values were replaced.
    pub secrets: bool,
    /// The name patterns, built-in and `--redact`.
    pub patterns: Vec<String>,
    /// Values replaced, by rule.
    pub counts: Tally,
}

/// What the archive's `summary.json` says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub created: String,
    pub context: String,
    pub server: String,
    pub namespaces: Vec<String>,
    pub since_seconds: u64,
    /// Whether Secret values were redacted.
    pub secrets_redacted: bool,
    /// What was redacted, by which rules (the README says the same in words).
    pub redaction: Redaction,
    pub files: Vec<String>,
    /// Files left out because of --max-size.
    pub skipped: Vec<String>,
    pub envoy_dumps: usize,
    pub bytes: u64,
    /// What could not be collected.
    pub notes: Vec<String>,
}

impl BundleArgs {
    /// The redaction rules these flags ask for.
    pub fn rules(&self) -> Result<Rules> {
        if self.no_redact {
            return Rules::off().map_err(Error::usage);
        }
        Rules::new(&self.redact, !self.include_secrets, true).map_err(Error::usage)
    }

    /// The plan for `namespaces` (from `-n`, comma-separated), the system ones always included.
    pub fn plan(&self, namespaces: Option<&str>) -> Result<Plan> {
        let max = size(&self.max_size, "--max-size")?;
        let log_limit = size(&self.log_limit, "--log-limit")?;
        if self.since.is_zero() {
            return Err(Error::usage("--since must be more than 0"));
        }
        let mut all: Vec<String> = SYSTEM_NAMESPACES.iter().map(|s| s.to_string()).collect();
        for ns in namespaces.into_iter().flat_map(|n| n.split(',')) {
            let ns = ns.trim();
            if ns.is_empty() {
                continue;
            }
            if !sealos_shared::traffic_shift::valid_name(ns) {
                return Err(Error::usage(format!("invalid namespace {ns:?}")));
            }
            if !all.iter().any(|n| n == ns) {
                all.push(ns.to_string());
            }
        }
        Ok(Plan {
            namespaces: all,
            since: self.since,
            max_bytes: max,
            log_limit,
            max_envoy_pods: self.max_envoy_pods,
            envoy_timeout: self.envoy_timeout,
            objects: true,
            all_events: false,
            logs: vec![
                ("istio-system".into(), "app=istiod".into()),
                ("istio-system".into(), "istio=ingressgateway".into()),
                ("sealos-system".into(), String::new()),
                ("cert-manager".into(), String::new()),
            ],
        })
    }
}

/// A size flag ("200Mi"), more than 0.
fn size(text: &str, flag: &str) -> Result<u64> {
    let value = Quantity::parse(text)
        .map_err(|e| Error::usage(format!("{flag}: {e}")))?
        .value();
    if value <= 0 {
        return Err(Error::usage(format!("{flag} must be more than 0")));
    }
    Ok(u64::try_from(value).unwrap_or(u64::MAX))
}

/// `-o json|yaml`: where the bundle went and its summary.json.
#[derive(Serialize)]
struct Written<'a> {
    file: String,
    summary: &'a Summary,
}

pub async fn run(args: &BundleArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let plan = args.plan(kube.requested_namespace.as_deref())?;
    let rules = args.rules()?;
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| default_name("sealos-diag"));
    if file.is_dir() {
        return Err(Error::usage(format!(
            "{} is a directory: name the archive file",
            file.display()
        )));
    }
    // An unreachable cluster is exit 2, not an empty archive.
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(kube.client.clone());
    retry::read(Backoff::default(), || api.get_opt("istio-system"))
        .await
        .kube_context(|| "get namespace \"istio-system\"")?;
    let summary = collect(kube, &plan, &rules, &file).await?;
    let redaction = if !rules.enabled {
        // Loud on both streams: stdout may be a log nobody reads.
        eprintln!(
            "warning: --no-redact: NOTHING WAS REDACTED; {} holds Secret values and credentials in clear",
            file.display()
        );
        ", NOTHING REDACTED (--no-redact)".to_string()
    } else {
        format!(
            ", {} {} redacted{} (rules in its README.md)",
            summary.redaction.counts.total(),
            if summary.redaction.counts.total() == 1 {
                "value"
            } else {
                "values"
            },
            if rules.secrets {
                ""
            } else {
                ", Secret values INCLUDED"
            }
        )
    };
    if out.format.is_machine() {
        out.data(&Written {
            file: file.display().to_string(),
            summary: &summary,
        })?;
    } else {
        out.line(&format!(
            "bundle written to {} ({} files, {} before compression, {} skipped{redaction})",
            file.display(),
            summary.files.len() + 2,
            sealos_shared::quantity::bytes(summary.bytes),
            summary.skipped.len(),
        ))?;
    }
    for note in &summary.notes {
        eprintln!("note: {note}");
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args() -> BundleArgs {
        BundleArgs {
            file: None,
            output: Format::Table,
            since: Duration::from_secs(60),
            include_secrets: false,
            redact: Vec::new(),
            no_redact: false,
            log_limit: "1Mi".into(),
            max_size: "1Mi".into(),
            max_envoy_pods: 1,
            envoy_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn plans_take_comma_separated_namespaces_and_refuse_bad_sizes() {
        let args = args();
        let plan = args.plan(Some("ns-bob, ns-carol,istio-system")).unwrap();
        assert_eq!(
            plan.namespaces,
            [
                "istio-system",
                "sealos-system",
                "cert-manager",
                "ns-bob",
                "ns-carol"
            ]
        );
        assert_eq!(plan.max_bytes, 1 << 20);
        assert_eq!(plan.log_limit, 1 << 20);
        for (max_size, log_limit) in [("lots", "1Mi"), ("1Mi", "0"), ("1Mi", "-5Mi")] {
            let bad = BundleArgs {
                max_size: max_size.into(),
                log_limit: log_limit.into(),
                ..args.clone()
            };
            assert!(
                matches!(bad.plan(None), Err(Error::Usage(_))),
                "{max_size} {log_limit}"
            );
        }
        assert!(matches!(args.plan(Some("Bad_NS")), Err(Error::Usage(_))));
    }

    #[test]
    fn rules_follow_the_flags() {
        let rules = args().rules().unwrap();
        assert!(rules.enabled && rules.secrets);
        let extra = BundleArgs {
            redact: vec!["license".into()],
            include_secrets: true,
            ..args()
        };
        let rules = extra.rules().unwrap();
        assert!(rules.enabled && !rules.secrets && rules.sensitive("LICENSE_KEY_ID"));
        let off = BundleArgs {
            no_redact: true,
            ..args()
        };
        assert!(!off.rules().unwrap().enabled);
        let empty = BundleArgs {
            redact: vec![String::new()],
            ..args()
        };
        assert!(matches!(empty.rules(), Err(Error::Usage(_))));
    }
}

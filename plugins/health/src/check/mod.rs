//! `kubectl sealos health` (= `health check`): every check at once, one row per finding, worst first.

mod certificates;
mod collect;
mod control_plane;
mod controllers;
mod gateways;
mod logging;
mod monitoring;
mod network;
mod pods;
mod report;
mod security;
mod traffic;
mod tuning;
mod virtual_services;

use std::time::Duration;

use clap::{Args, ValueEnum};
use sealos_shared::connection::Kube;
use sealos_shared::grouping::GroupFlags;
use sealos_shared::number;
use sealos_shared::output::{Format, Out};
use sealos_shared::traffic::NoDataPolicy;
use sealos_shared::{Error, Exit, Result};

use sealos_shared::prometheus_flags::PrometheusFlags;

pub use report::{AreaSummary, Finding, ObjectRef, Report, Summary, render_table};
pub use sealos_shared::flags::FailOn;

/// The areas a check covers, in the order they are shown.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Area {
    /// istiod and the ingress gateway Deployments and pods.
    ControlPlane,
    /// Gateways: selector matches running pods, TLS credential Secrets exist and are valid.
    Gateways,
    /// VirtualServices: gateways exist, destinations resolve, no host claimed twice.
    VirtualServices,
    /// Sealos controllers: replicas available, traffic env vars agree.
    Controllers,
    /// cert-manager Certificates: Ready and days to expiry.
    Certificates,
    /// mTLS and AuthorizationPolicies as Istio evaluates them: who gets into the Sealos namespace.
    Security,
    /// NetworkPolicies as the API evaluates them: DNS, API server and gateway traffic of the
    /// Sealos controllers.
    Network,
    /// Mesh tuning: which ConfigMaps Istio reads, trace sampling, sidecar memory against use.
    Tuning,
    /// The Fluent Bit pipeline: parsers against the nodes' container runtime, buffer limits.
    Logging,
    /// Prometheus, Grafana and Alertmanager pods.
    Monitoring,
    /// 5xx ratio and P95 latency from Prometheus.
    Traffic,
}

impl Area {
    pub const ALL: [Area; 11] = [
        Area::ControlPlane,
        Area::Gateways,
        Area::VirtualServices,
        Area::Controllers,
        Area::Certificates,
        Area::Security,
        Area::Network,
        Area::Tuning,
        Area::Logging,
        Area::Monitoring,
        Area::Traffic,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Area::ControlPlane => "control-plane",
            Area::Gateways => "gateways",
            Area::VirtualServices => "virtual-services",
            Area::Controllers => "controllers",
            Area::Certificates => "certificates",
            Area::Security => "security",
            Area::Network => "network",
            Area::Tuning => "tuning",
            Area::Logging => "logging",
            Area::Monitoring => "monitoring",
            Area::Traffic => "traffic",
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// Check only these areas (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "AREA,...")]
    pub only: Vec<Area>,
    /// Skip these areas (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "AREA,...")]
    pub skip: Vec<Area>,
    /// The lowest status that makes the exit code 1.
    #[arg(long, value_name = "LEVEL", default_value = "fail", value_parser = FailOn::parser())]
    pub fail_on: FailOn,
    /// Where istiod and the ingress gateway run.
    #[arg(long, value_name = "NS", default_value = "istio-system")]
    pub istio_namespace: String,
    /// Where the Sealos controllers run.
    #[arg(long, value_name = "NS", default_value = "sealos-system")]
    pub sealos_namespace: String,
    /// Where Prometheus, Grafana and Alertmanager run.
    #[arg(long, value_name = "NS", default_value = "monitoring")]
    pub monitoring_namespace: String,
    /// The control plane Deployments in the Istio namespace.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAME,...",
        default_value = "istiod,istio-ingressgateway"
    )]
    pub control_plane: Vec<String>,
    /// A certificate expiring within this many days is a warning.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub warn_days: i64,
    /// A certificate expiring within this many days is a failure.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub crit_days: i64,
    /// A container restarted this many times or more is a warning.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_restarts: i32,
    /// Traffic: a 5xx ratio above this fails.
    #[arg(long, value_name = "RATIO", default_value_t = 0.05)]
    pub error_rate: f64,
    /// Traffic: a P95 above this many milliseconds fails.
    #[arg(long, value_name = "MS", default_value_t = 500.0)]
    pub p95_ms: f64,
    /// Traffic: the window the signals are measured over.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = sealos_shared::number::positive_duration)]
    pub window: Duration,
    /// Traffic: fewer requests than this in the window are "no data", not a ratio.
    #[arg(long, value_name = "N", default_value_t = 1.0)]
    pub min_requests: f64,
    /// Traffic: what no traffic means.
    #[arg(long, value_enum, default_value_t = NoDataPolicy::Ok)]
    pub on_no_data: NoDataPolicy,
    #[command(flatten)]
    pub prometheus: PrometheusFlags,
    #[command(flatten)]
    pub rows: GroupFlags,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

impl CheckArgs {
    /// The areas to check, in display order; rejects contradictions before any request.
    pub fn areas(&self) -> Result<Vec<Area>> {
        if let Some(both) = self.only.iter().find(|a| self.skip.contains(a)) {
            return Err(Error::usage(format!(
                "--only and --skip both name {:?}",
                both.name()
            )));
        }
        let areas: Vec<Area> = Area::ALL
            .into_iter()
            .filter(|a| self.only.is_empty() || self.only.contains(a))
            .filter(|a| !self.skip.contains(a))
            .collect();
        if areas.is_empty() {
            return Err(Error::usage("--only/--skip leave no area to check"));
        }
        Ok(areas)
    }

    pub fn validate(&self) -> Result<Vec<Area>> {
        if self.crit_days > self.warn_days {
            return Err(Error::usage(format!(
                "--crit-days {} is more than --warn-days {}",
                self.crit_days, self.warn_days
            )));
        }
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err(Error::usage(format!(
                "--error-rate {} is not a ratio between 0 and 1 (5% is 0.05)",
                self.error_rate
            )));
        }
        // NaN and inf fail too: a NaN threshold would never alert.
        if number::check(self.p95_ms, f64::MIN_POSITIVE, f64::MAX).is_err()
            || number::check(self.min_requests, 0.0, f64::MAX).is_err()
            || self.window.is_zero()
        {
            return Err(Error::usage(
                "--p95-ms and --window must be positive, --min-requests not negative",
            ));
        }
        self.prometheus.validate()?;
        self.areas()
    }
}

/// Whether the chosen checks read the cluster (validating the flags first): traffic alone with
/// --prometheus-url needs none.
pub fn needs_cluster(args: &CheckArgs) -> Result<bool> {
    let areas = args.validate()?;
    Ok(areas
        .iter()
        .any(|a| *a != Area::Traffic || args.prometheus.needs_cluster()))
}

/// Runs the checks and builds the report (no printing). `kube` is `None` only when
/// [`needs_cluster`] said so.
pub async fn check(args: &CheckArgs, kube: Option<&Kube>) -> Result<Report> {
    let areas = args.validate()?;
    let kube_areas: Vec<Area> = areas
        .iter()
        .copied()
        .filter(|a| *a != Area::Traffic)
        .collect();
    let snapshot_fut = async {
        match kube {
            Some(kube) if !kube_areas.is_empty() => {
                collect::collect(&kube.client, args, &kube_areas).await
            }
            _ => Ok(collect::Snapshot::default()),
        }
    };
    let traffic_fut = async {
        if areas.contains(&Area::Traffic) {
            Some(traffic::check(args, kube).await)
        } else {
            None
        }
    };
    let (snapshot, traffic) = futures::join!(snapshot_fut, traffic_fut);
    let snapshot = snapshot?;
    let now = jiff::Timestamp::now();
    let mut findings = Vec::new();
    for area in &areas {
        let found = match area {
            Area::ControlPlane => control_plane::check(&snapshot, args),
            Area::Gateways => gateways::check(&snapshot, args, now),
            Area::VirtualServices => virtual_services::check(&snapshot),
            Area::Controllers => controllers::check(&snapshot, args),
            Area::Certificates => certificates::check(&snapshot, args, now),
            Area::Security => security::check(&snapshot, args),
            Area::Network => network::check(&snapshot, args),
            Area::Tuning => tuning::check(&snapshot, args),
            Area::Logging => logging::check(&snapshot),
            Area::Monitoring => monitoring::check(&snapshot, args),
            Area::Traffic => match &traffic {
                Some((found, _)) => found.clone(),
                None => Vec::new(),
            },
        };
        findings.extend(found);
    }
    let traffic_report = traffic.and_then(|(_, report)| report);
    Ok(Report::new(&areas, findings, traffic_report))
}

pub async fn run(args: &CheckArgs, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    let report = check(args, kube).await?;
    if out.format.is_machine() {
        out.data(&report)?;
    } else {
        let table = render_table(
            &report,
            &out.theme,
            out.format == Format::Wide,
            args.rows.budget(out.format),
            out.width,
        );
        out.line(&table)?;
    }
    Ok(Exit::problem_if(args.fail_on.reached_by(report.status)))
}

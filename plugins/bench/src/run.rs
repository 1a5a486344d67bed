//! `run`: each URL × each concurrency is one step; measure, judge against the SLO, report.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out};
use sealos_shared::{Error, Exit, Result};
use tokio::sync::watch;

use crate::client::Connector;
use crate::load::{self, StepPlan};
use crate::plan::{
    Endpoint, RequestOptions, endpoint, parse_concurrency, parse_count, parse_header, parse_method,
    parse_pipeline, parse_rate, parse_threads, parse_url,
};
use crate::report::{BenchReport, SCHEMA_VERSION, StepReport};
use crate::slo::Slo;
use crate::stats::SuccessCodes;
use crate::targets::{self, ClusterFlags};

/// Requests per step when neither -n nor -z is given (the guide's `hey -n 1000`).
const DEFAULT_COUNT: u64 = 1000;

#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// URLs to benchmark (http:// or https://). Each URL at each concurrency is one step.
    #[arg(value_name = "URL", value_parser = check_url, required_unless_present = "from_cluster")]
    pub urls: Vec<String>,
    /// Concurrency levels, comma-separated: connections (one worker each) per step.
    #[arg(short = 'c', long, value_name = "N,...", value_delimiter = ',', default_value = "1,10,50,100", value_parser = parse_concurrency, allow_negative_numbers = true)]
    pub concurrency: Vec<u32>,
    /// Requests per step [default: 1000 unless -z is given].
    #[arg(short = 'n', long = "requests", value_name = "N", value_parser = parse_count, allow_negative_numbers = true, conflicts_with = "duration")]
    pub requests: Option<u64>,
    /// How long each step runs instead of a request count: 30s, 1m.
    #[arg(short = 'z', long = "duration", value_name = "DURATION", value_parser = sealos_shared::number::positive_duration, allow_negative_numbers = true)]
    pub duration: Option<Duration>,
    /// Total requests per second across all connections (open loop); latency counts from each
    /// request's scheduled send time, so queueing behind a slow server shows.
    #[arg(long, value_name = "RPS", value_parser = parse_rate, allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Give up on a request (connect, send, whole answer) after this long; counted as a timeout.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = sealos_shared::number::positive_duration, allow_negative_numbers = true)]
    pub timeout: Duration,
    /// HTTP method.
    #[arg(short = 'm', long, value_name = "METHOD", default_value = "GET", value_parser = parse_method)]
    pub method: Method,
    /// Extra request header, repeatable: -H 'Authorization: Bearer x'.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Send this file as the request body.
    #[arg(long, value_name = "FILE")]
    pub body: Option<PathBuf>,
    /// The Host header (and TLS server name) to send, whatever the URL's host.
    #[arg(long, value_name = "HOST", conflicts_with = "from_cluster")]
    pub host: Option<String>,
    /// Accept any TLS certificate.
    #[arg(long)]
    pub insecure: bool,
    /// Speak HTTP/2 (ALPN h2 over TLS, prior knowledge over plain HTTP).
    #[arg(long)]
    pub http2: bool,
    /// HTTP/1.1 pipelining: keep up to N requests in flight on each connection (as wrk's
    /// pipeline.lua does), each counted and timed on its own.
    #[arg(long, value_name = "N", default_value = "1", value_parser = parse_pipeline, allow_negative_numbers = true, conflicts_with = "http2")]
    pub pipeline: u32,
    /// Wait between steps (the seed guide waited 10s).
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = sealos_shared::number::duration_or_zero, allow_negative_numbers = true)]
    pub pause: Duration,
    /// Status codes that count as success: codes and ranges, e.g. 200-299,404.
    #[arg(long, value_name = "CODES", default_value = "200-399", value_parser = SuccessCodes::parse)]
    pub success_codes: SuccessCodes,
    /// Rules every step must meet, else exit 1: 'p95<500ms,success>=99.9%,rps>=1000'.
    #[arg(long, value_name = "RULES", value_parser = Slo::parse)]
    pub slo: Option<Slo>,
    /// Append one row per step to this CSV file (header written once).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Load threads, each with its share of the connections [default: the CPU count].
    #[arg(long, value_name = "N", value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: Option<u32>,
    /// Benchmark every host VirtualServices bind to the ingress gateway (see `targets`).
    #[arg(long)]
    pub from_cluster: bool,
    /// With --from-cluster: send through this URL (the gateway), each host as the Host header.
    #[arg(long, value_name = "URL", value_parser = check_url, requires = "from_cluster")]
    pub gateway_url: Option<String>,
    #[command(flatten)]
    pub cluster: ClusterFlags,
    /// Send the load from N pods of an Indexed Job of the suite's image (in --namespace, else
    /// the context's namespace): -c, -n and --rate are divided among them, and their latency
    /// histograms merged exactly into one report, plus a row per worker.
    #[arg(long, value_name = "N", value_parser = crate::fleet::parse_workers)]
    pub workers: Option<u32>,
    #[command(flatten)]
    pub fleet: crate::fleet::FleetFlags,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

fn check_url(text: &str) -> std::result::Result<String, String> {
    parse_url(text).map(|_| text.to_string())
}

/// A step to run: where, and at which concurrency.
struct Step {
    endpoint: Arc<Endpoint>,
    concurrency: u32,
}

/// Runs the load; `kube` is given with --from-cluster.
pub async fn execute(args: &RunArgs, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    if args.workers.is_some() {
        return crate::fleet::execute(args, kube, out).await;
    }
    let options = request_options(args)?;
    let endpoints = endpoints(args, kube, &options).await?;
    let steps: Vec<Step> = endpoints
        .iter()
        .flat_map(|e| {
            args.concurrency.iter().map(|c| Step {
                endpoint: e.clone(),
                concurrency: *c,
            })
        })
        .collect();
    let threads = threads(args);
    let count = count(args);

    let interrupt = interrupt_watch();
    let mut report = BenchReport {
        kind: "BenchReport",
        schema_version: SCHEMA_VERSION,
        started: now(),
        interrupted: false,
        slo: args.slo.as_ref().map(Slo::rules).unwrap_or_default(),
        passed: true,
        steps: Vec::new(),
    };
    let live = std::io::stderr().is_terminal();
    for (index, step) in steps.iter().enumerate() {
        if index > 0 && !args.pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(args.pause) => {}
                () = interrupted(interrupt.clone()) => {
                    report.interrupted = true;
                    break;
                }
            }
        }
        let e = &step.endpoint;
        let connector = connector(e, args).await?;
        let plan = Arc::new(StepPlan {
            template: e.template.clone(),
            connector,
            concurrency: step.concurrency,
            count,
            duration: args.duration,
            rate: args.rate,
            timeout: args.timeout,
            threads,
            pipeline: args.pipeline as usize,
            success: args.success_codes.clone(),
        });
        let started = now();
        let label = format!("{} c={}", e.service, step.concurrency);
        let spinner = live.then(|| sealos_shared::progress::spinner(&label));
        let show = |done: u64, failed: u64, secs: f64| {
            if let Some(spinner) = &spinner {
                let rps = if secs > 0.0 { done as f64 / secs } else { 0.0 };
                spinner.set_message(format!(
                    "{label}: {done} requests, {failed} failed, {rps:.0}/s"
                ));
            }
        };
        let measured = load::run_step(plan, interrupted(interrupt.clone()), &show)
            .await
            .map_err(Error::failed)?;
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
        let summary = measured.recorder.summary(measured.elapsed.as_secs_f64());
        let step_report = judge(
            args,
            e,
            step.concurrency,
            started,
            summary,
            measured.interrupted,
        );
        report.passed &= step_report.passed;
        report.steps.push(step_report);
        if measured.interrupted {
            report.interrupted = true;
            break;
        }
    }

    render(args, &report, out)
}

/// A measured step judged against the SLO. A step where every request failed is never a
/// success, SLO or not (unlike hey).
pub fn judge(
    args: &RunArgs,
    e: &Endpoint,
    concurrency: u32,
    started: String,
    summary: crate::stats::Summary,
    interrupted: bool,
) -> StepReport {
    let checks = args
        .slo
        .as_ref()
        .map(|slo| slo.check(&summary))
        .unwrap_or_default();
    let all_failed = summary.requests > 0 && summary.successes == 0;
    if all_failed {
        eprintln!(
            "warning: {} c={concurrency}: all {} requests failed",
            e.service, summary.requests
        );
    }
    let passed = checks.iter().all(|c| c.pass) && !all_failed;
    StepReport {
        service: e.service.clone(),
        url: e.url.clone(),
        concurrency,
        mode: if args.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        rate: args.rate,
        started,
        interrupted,
        summary,
        slo: checks,
        passed,
        workers: None,
        histogram: None,
    }
}

/// Appends the CSV rows, prints the report, and says how the run ended.
pub fn render(args: &RunArgs, report: &BenchReport, out: &mut Out) -> Result<Exit> {
    if let Some(path) = &args.csv {
        crate::csv::append(path, &report.steps)?;
    }
    if out.format.is_machine() {
        out.data(report)?;
    } else {
        let table = report.table(out.format == Format::Wide, &out.theme);
        out.table(&table)?;
        for step in &report.steps {
            if let Some(workers) = &step.workers {
                out.line("")?;
                let table = crate::fleet::report::table(step, workers, &out.theme);
                out.table(&table)?;
            }
        }
    }
    Ok(if report.interrupted {
        Exit::Interrupted
    } else {
        Exit::problem_if(!report.passed)
    })
}

/// The request options every URL shares: method, headers, body, HTTP version.
pub fn request_options(args: &RunArgs) -> Result<RequestOptions> {
    let body = match &args.body {
        Some(path) => Bytes::from(
            std::fs::read(path)
                .map_err(|e| Error::usage(format!("read the body file {}: {e}", path.display())))?,
        ),
        None => Bytes::new(),
    };
    Ok(RequestOptions {
        method: args.method.clone(),
        headers: args.headers.clone(),
        body,
        http2: args.http2,
    })
}

/// The URLs given, then (with --from-cluster) the gateway's targets.
pub async fn endpoints(
    args: &RunArgs,
    kube: Option<&Kube>,
    options: &RequestOptions,
) -> Result<Vec<Arc<Endpoint>>> {
    let mut endpoints = Vec::new();
    for url in &args.urls {
        endpoints.push(Arc::new(
            endpoint(url, args.host.as_deref(), options).map_err(Error::usage)?,
        ));
    }
    if let Some(kube) = kube.filter(|_| args.from_cluster) {
        let found = targets::discover(kube, args.gateway_url.as_deref()).await?;
        if found.is_empty() {
            return Err(Error::failed(
                "no VirtualService binds a host to the ingress gateway: nothing to benchmark",
            ));
        }
        for target in found {
            endpoints.push(Arc::new(
                endpoint(&target.url, target.host_header.as_deref(), options)
                    .map_err(Error::usage)?,
            ));
        }
    }
    Ok(endpoints)
}

/// Load threads: --threads, else one per core.
pub fn threads(args: &RunArgs) -> usize {
    match args.threads {
        Some(t) => t as usize,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// Requests per step: -n, else the default unless -z is given.
pub fn count(args: &RunArgs) -> Option<u64> {
    match (args.requests, args.duration) {
        (Some(n), _) => Some(n),
        (None, None) => Some(DEFAULT_COUNT),
        (None, Some(_)) => None,
    }
}

/// The step's connector: the endpoint's resolved addresses (none when resolving failed: every
/// request then fails as a connect error, counted), TLS and HTTP version.
pub async fn connector(e: &Endpoint, args: &RunArgs) -> Result<Connector> {
    let addrs = match tokio::net::lookup_host((e.connect_host.as_str(), e.port)).await {
        Ok(addrs) => addrs.collect(),
        Err(err) => {
            eprintln!("warning: resolve {}: {err}", e.connect_host);
            Vec::new()
        }
    };
    let tls_name = e.https.then_some(e.host_header.as_str());
    Connector::new(addrs, tls_name, args.insecure, args.http2).map_err(Error::usage)
}

/// A flag that turns true on the first Ctrl-C or SIGTERM.
pub fn interrupt_watch() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        sealos_shared::cli::shutdown_signal().await;
        let _ = tx.send(true);
        // Keep the sender: a dropped one would read as "interrupted" to late listeners.
        std::future::pending::<()>().await;
    });
    rx
}

pub async fn interrupted(mut rx: watch::Receiver<bool>) {
    if rx.wait_for(|v| *v).await.is_err() {
        std::future::pending::<()>().await;
    }
}

pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}

//! `diag reachability FROM TO`: may FROM talk to TO? Walks the layers a request meets — the
//! source's egress and the destination's ingress NetworkPolicies, mTLS (PeerAuthentication
//! against the sidecars), the destination's AuthorizationPolicies — with the shared policy
//! evaluator, and names the objects and rules that decide. `--all-from`/`--all-to` judge every
//! workload of the namespace, as a matrix.
//!
//! Exit 0 allowed, 1 refused, 2 cannot judge (or bad input); a matrix exits 2 if any pair
//! cannot be judged, else 1 if any is refused.

mod matrix;
mod resolve;

use clap::Args;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out, Severity, Table};
use sealos_shared::policy::{
    self, Connection, Decision, Endpoint, HttpRequest, Pod, Protocol, Ruling, Verdict, load,
};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

pub use matrix::{Cell, Matrix, cells};
pub use resolve::Target;

#[derive(Args, Debug, Clone)]
pub struct ReachabilityArgs {
    /// Where the request starts: POD, deployment/NAME, service/NAME or ingress-gateway.
    #[arg(value_name = "FROM")]
    pub from: Option<String>,
    /// Where it goes: POD, deployment/NAME, service/NAME or ingress-gateway.
    #[arg(value_name = "TO")]
    pub to: Option<String>,
    /// The destination port (for service/NAME a Service port, translated to its targetPort;
    /// default: the first port declared).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// TCP, UDP or SCTP.
    #[arg(long, value_name = "PROTO", default_value = "TCP")]
    pub protocol: String,
    /// The HTTP method (default GET when the port is HTTP by Istio's port naming, http*/grpc*).
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
    /// The HTTP path (default /).
    #[arg(long = "path", value_name = "PATH")]
    pub http_path: Option<String>,
    /// Every workload of the namespace (-n) as the source.
    #[arg(long)]
    pub all_from: bool,
    /// Every workload of the namespace (-n) as the destination.
    #[arg(long)]
    pub all_to: bool,
    /// Istio's root namespace, where the ingress gateway runs.
    #[arg(long, value_name = "NS", default_value = "istio-system")]
    pub istio_namespace: String,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

/// The validated request, before anything is read.
#[derive(Debug, Clone)]
pub struct Plan {
    pub from: Option<Target>,
    pub to: Option<Target>,
    pub protocol: Protocol,
    pub method: Option<String>,
    pub path: Option<String>,
}

impl ReachabilityArgs {
    pub fn plan(&self) -> Result<Plan> {
        let end = |given: &Option<String>, all: bool, flag: &str, what: &str| match (given, all) {
            (Some(_), true) => Err(Error::usage(format!("give {what} or {flag}, not both"))),
            (None, false) => Err(Error::usage(format!("{what} is missing (or use {flag})"))),
            (Some(s), false) => Target::parse(s).map(Some),
            (None, true) => Ok(None),
        };
        let (from, to) = match (&self.from, &self.to, self.all_from) {
            // `--all-from TO`: the one positional is the destination.
            (Some(only), None, true) => (None, Some(Target::parse(only)?)),
            _ => (
                end(&self.from, self.all_from, "--all-from", "FROM")?,
                end(&self.to, self.all_to, "--all-to", "TO")?,
            ),
        };
        let protocol = Protocol::parse(Some(self.protocol.as_str())).ok_or_else(|| {
            Error::usage(format!(
                "--protocol {:?} is not TCP, UDP or SCTP",
                self.protocol
            ))
        })?;
        if let Some(m) = &self.method
            && (m.is_empty() || !m.chars().all(|c| c.is_ascii_uppercase()))
        {
            return Err(Error::usage(format!(
                "--method {m:?} is not an HTTP method (GET, POST, ...)"
            )));
        }
        if let Some(p) = &self.http_path
            && !p.starts_with('/')
        {
            return Err(Error::usage(format!("--path {p:?} does not start with /")));
        }
        if protocol != Protocol::Tcp && (self.method.is_some() || self.http_path.is_some()) {
            return Err(Error::usage("--method/--path need --protocol TCP"));
        }
        Ok(Plan {
            from,
            to,
            protocol,
            method: self.method.clone(),
            path: self.http_path.clone(),
        })
    }
}

/// One end as named and as resolved.
#[derive(Debug, Clone, Serialize)]
pub struct End {
    /// As the user named it (`deployment/terminal-controller`).
    pub target: String,
    pub namespace: String,
    pub pod: String,
}

/// `diag reachability -o json`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub from: End,
    pub to: End,
    /// The pod port the request reaches (after Service translation).
    pub port: u16,
    pub protocol: Protocol,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpRequest>,
    pub decision: Decision,
    /// `kind/namespace/name rule` of the objects behind the decision.
    pub decided_by: Vec<String>,
    pub steps: Vec<Ruling>,
}

pub const API_VERSION: &str = "diag.sealos.io/v1";

/// The port to judge when none is given: the first declared one that is not the sidecar's.
pub fn default_port(pod: &Pod) -> Option<u16> {
    pod.ports
        .iter()
        .map(|p| p.port)
        .find(|p| !(15000..=15100).contains(p))
}

/// Istio's protocol selection by port name: `http`, `http2`, `grpc`... prefixes speak HTTP.
fn speaks_http(port_name: Option<&str>) -> bool {
    port_name.is_some_and(|n| {
        ["http", "grpc"]
            .iter()
            .any(|p| n == *p || n.starts_with(&format!("{p}-")) || n.starts_with("http2"))
    })
}

pub fn request(plan: &Plan, port_name: Option<&str>) -> Option<HttpRequest> {
    let http = plan.method.is_some()
        || plan.path.is_some()
        || (plan.protocol == Protocol::Tcp && speaks_http(port_name));
    http.then(|| HttpRequest {
        method: plan.method.clone().unwrap_or_else(|| "GET".into()),
        path: plan.path.clone().unwrap_or_else(|| "/".into()),
        host: None,
    })
}

pub fn decided_by(v: &Verdict) -> Vec<String> {
    v.deciders().iter().map(|d| d.display()).collect()
}

pub fn exit_for(decisions: impl IntoIterator<Item = Decision>) -> Exit {
    let all: Vec<Decision> = decisions.into_iter().collect();
    if all.contains(&Decision::Unknown) {
        Exit::Failure
    } else {
        Exit::problem_if(all.contains(&Decision::Refused))
    }
}

pub async fn run(args: &ReachabilityArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    let plan = args.plan()?;
    let client = &kube.client;
    let ns = kube.namespace.as_str();
    let world = load::world(client, &args.istio_namespace).await?;
    if plan.from.is_none() || plan.to.is_none() {
        let workloads = resolve::workloads(client, ns).await?;
        let workloads = &workloads;
        let one = |t: &Option<Target>| {
            let t = t.clone();
            async move {
                match t {
                    Some(t) => resolve::resolve(client, ns, &args.istio_namespace, &t)
                        .await
                        .map(|r| vec![r.pod]),
                    None => Ok(workloads.clone()),
                }
            }
        };
        let (sources, targets) = futures::try_join!(one(&plan.from), one(&plan.to))?;
        let cells = cells(&world, &sources, &targets, &plan, args.port);
        let exit = exit_for(cells.iter().map(|c| c.decision));
        let m = Matrix {
            api_version: API_VERSION,
            kind: "ReachabilityMatrix",
            namespace: ns.to_string(),
            cells,
        };
        render_matrix(&m, out)?;
        return Ok(exit);
    }
    let (Some(from_t), Some(to_t)) = (&plan.from, &plan.to) else {
        return Err(Error::usage("FROM and TO are needed"));
    };
    let (from, to) = futures::try_join!(
        resolve::resolve(client, ns, &args.istio_namespace, from_t),
        resolve::resolve(client, ns, &args.istio_namespace, to_t),
    )?;
    let asked = match args.port {
        Some(p) => p,
        None => match &to.service {
            Some(svc) => svc
                .spec
                .as_ref()
                .and_then(|s| s.ports.as_ref())
                .and_then(|p| p.first())
                .and_then(|p| u16::try_from(p.port).ok())
                .ok_or_else(|| Error::usage("the service declares no port: give --port"))?,
            None => default_port(&to.pod).ok_or_else(|| {
                Error::usage(format!("{} declares no port: give --port", to_t.display()))
            })?,
        },
    };
    let (port, mut port_name) = resolve::target_port(&to, asked)?;
    if to.service.is_none() {
        port_name = resolve::port_name(client, &to.pod, port).await?;
    }
    let conn = Connection {
        from: Endpoint::Pod(from.pod.clone()),
        to: Endpoint::Pod(to.pod.clone()),
        port,
        protocol: plan.protocol,
        http: request(&plan, port_name.as_deref()),
    };
    let verdict = policy::evaluate(&world, &conn);
    let report = Report {
        api_version: API_VERSION,
        kind: "Reachability",
        from: End {
            target: from_t.display(),
            namespace: from.pod.namespace.clone(),
            pod: from.pod.name.clone(),
        },
        to: End {
            target: to_t.display(),
            namespace: to.pod.namespace.clone(),
            pod: to.pod.name.clone(),
        },
        port,
        protocol: plan.protocol,
        http: conn.http.clone(),
        decision: verdict.decision,
        decided_by: decided_by(&verdict),
        steps: verdict.steps.clone(),
    };
    render(&report, out)?;
    Ok(exit_for([verdict.decision]))
}

fn severity(d: Decision) -> Severity {
    match d {
        Decision::Allowed => Severity::Ok,
        Decision::Unknown => Severity::Warn,
        Decision::Refused => Severity::Fail,
    }
}

fn render(r: &Report, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(r);
    }
    let theme = out.theme;
    let request = match &r.http {
        Some(h) => format!(", HTTP {} {}", h.method, h.path),
        None => String::new(),
    };
    out.line(&format!(
        "FROM  {}/{} ({})",
        r.from.namespace, r.from.pod, r.from.target
    ))?;
    out.line(&format!(
        "TO    {}/{} ({}) port {}/{}{request}\n",
        r.to.namespace,
        r.to.pod,
        r.to.target,
        r.port,
        r.protocol.name()
    ))?;
    let mut table = Table::new(["layer", "decision", "reason", "decided by"]);
    for s in &r.steps {
        table.row([
            s.layer.name().to_string(),
            theme.paint(s.decision.name(), severity(s.decision)),
            s.reason.clone(),
            s.deciders
                .iter()
                .map(|d| d.display())
                .collect::<Vec<_>>()
                .join(", "),
        ]);
    }
    out.line(&table.render())?;
    let by = if r.decided_by.is_empty() {
        String::new()
    } else {
        format!(" by {}", r.decided_by.join(", "))
    };
    out.line(&format!(
        "\n{}{by}",
        theme.paint(&r.decision.name().to_uppercase(), severity(r.decision))
    ))
}

fn render_matrix(m: &Matrix, out: &mut Out) -> Result<()> {
    if out.format.is_machine() {
        return out.data(m);
    }
    let theme = out.theme;
    let mut table = Table::new(["from", "to", "port", "decision", "decided by"]);
    let mut cells: Vec<&Cell> = m.cells.iter().collect();
    // Worst first.
    cells.sort_by(|a, b| {
        b.decision
            .cmp(&a.decision)
            .then(a.from.cmp(&b.from))
            .then(a.to.cmp(&b.to))
    });
    for c in cells {
        table.row([
            c.from.clone(),
            c.to.clone(),
            c.port.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            theme.paint(c.decision.name(), severity(c.decision)),
            c.decided_by.join(", "),
        ]);
    }
    out.line(&table.render())
}

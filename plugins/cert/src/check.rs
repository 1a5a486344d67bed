//! `check`: one row per Certificate, judged from its Secret's X.509 data, plus the TLS Secrets
//! that Gateways name in `credentialName` with no Certificate behind them. Worst first.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use sealos_shared::certs::{Assessment, Thresholds, Verdict, assess_secret, survey};
use sealos_shared::connection::Kube;
use sealos_shared::grouping::{self, Count, GroupFlags};
use sealos_shared::list;
use sealos_shared::output::{Format, Out};
use sealos_shared::resources::certmanager::Certificate;
use sealos_shared::resources::condition;
use sealos_shared::resources::istio::Gateway;
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

pub use sealos_shared::flags::FailOn;

use crate::cluster;

#[derive(clap::Args, Debug, Clone)]
pub struct CheckArgs {
    /// Warn when a certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = sealos_shared::certs::Thresholds::default().warn_days)]
    pub warn_days: i64,
    /// Critical when a certificate expires within this many days.
    #[arg(long, value_name = "DAYS", default_value_t = sealos_shared::certs::Thresholds::default().crit_days)]
    pub crit_days: i64,
    /// Only Certificates with these labels (kubectl selector syntax); Gateway Secrets are then skipped.
    #[arg(short = 'l', long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Exit 1 on warnings too (expiring within --warn-days, renewal overdue, issuance failing
    /// while Ready), or only on failures (expired, critical, not ready, broken).
    #[arg(long, value_name = "LEVEL", default_value = "fail", value_parser = FailOn::parser())]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub rows: GroupFlags,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: Format,
}

impl CheckArgs {
    pub fn thresholds(&self) -> Result<Thresholds> {
        if self.crit_days < 0 || self.warn_days < 0 {
            return Err(Error::usage(
                "--warn-days and --crit-days must not be negative",
            ));
        }
        if self.crit_days > self.warn_days {
            return Err(Error::usage(format!(
                "--crit-days ({}) must not exceed --warn-days ({})",
                self.crit_days, self.warn_days
            )));
        }
        Ok(Thresholds {
            warn_days: self.warn_days,
            crit_days: self.crit_days,
        })
    }
}

/// `-o json`: the documented shape (README, "Cert").
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub now: Timestamp,
    pub thresholds: Thresholds,
    pub summary: Summary,
    /// How many certificates of each code (their worst finding; `ok` for none), worst first.
    pub counts: Vec<Count>,
    pub items: Vec<Row>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub ok: usize,
    pub warning: usize,
    pub not_ready: usize,
    pub critical: usize,
    pub broken: usize,
    pub expired: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReadyState {
    pub status: String,
    pub reason: Option<String>,
}

/// One Certificate, or one Gateway TLS Secret that no Certificate manages.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// "Certificate", or "Secret" for a Gateway credential with no Certificate.
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub ready: Option<ReadyState>,
    /// "ClusterIssuer/sealos-ca".
    pub issuer: Option<String>,
    pub secret: String,
    pub dns_names: Vec<String>,
    /// Gateways (`namespace/name`) that serve this Secret.
    pub gateways: Vec<String>,
    pub revision: Option<i64>,
    pub failed_issuance_attempts: Option<i64>,
    pub last_failure_time: Option<String>,
    #[serde(flatten)]
    pub assessment: Assessment,
}

impl CheckReport {
    /// The exit code: 1 for failures, or for warnings too with `--fail-on warn`.
    pub fn exit(&self, fail_on: FailOn) -> Exit {
        Exit::problem_if(
            self.items
                .iter()
                .any(|r| fail_on.reached_by(r.assessment.severity)),
        )
    }
}

pub async fn run(kube: &Kube, args: &CheckArgs, out: &mut Out) -> Result<Exit> {
    let thresholds = args.thresholds()?;
    let report = collect(kube, args.selector.as_deref(), thresholds, Timestamp::now()).await?;
    render(
        &report,
        kube.all_namespaces,
        args.rows.budget(out.format),
        out,
    )?;
    Ok(report.exit(args.fail_on))
}

/// Reads Certificates, their Secrets and the Gateways' credentials, and judges them.
pub async fn collect(
    kube: &Kube,
    selector: Option<&str>,
    thresholds: Thresholds,
    now: Timestamp,
) -> Result<CheckReport> {
    let scope = kube.scope();
    let surveyed = survey::survey(&kube.client, scope, selector, now, thresholds).await?;
    // Gateways name Secrets; a label selector on Certificates says nothing about them.
    let gateways: Vec<Gateway> = if selector.is_some() {
        Vec::new()
    } else {
        match list::list_all(
            &list::api(&kube.client, scope),
            &ListParams::default(),
            "gateways.networking.istio.io",
        )
        .await
        {
            Ok(gateways) => gateways,
            Err(e) if cluster::is_not_found(&e) => Vec::new(),
            Err(e) => return Err(e),
        }
    };
    let managed: BTreeSet<(String, String)> = surveyed
        .iter()
        .map(|s| {
            let c = &s.certificate;
            (
                c.namespace().unwrap_or_default(),
                c.spec.secret_name.clone(),
            )
        })
        .collect();
    // (namespace, secret) -> (gateways, hosts), for every credential a Gateway names.
    let mut credentials: BTreeMap<(String, String), (BTreeSet<String>, BTreeSet<String>)> =
        BTreeMap::new();
    let workloads = workload_namespaces(&kube.client, &gateways).await?;
    for gw in &gateways {
        let gateway = format!("{}/{}", gw.namespace().unwrap_or_default(), gw.name_any());
        // Istio reads the Secret where the gateway's pods run, not where the Gateway is.
        let pod_namespaces = gw.workload_selector().and_then(|s| workloads.get(&s));
        let namespaces =
            gw.credential_namespaces(pod_namespaces.into_iter().flatten().map(String::as_str));
        for server in &gw.spec.servers {
            let Some(name) = server.tls.as_ref().and_then(|t| t.credential_name.clone()) else {
                continue;
            };
            for ns in &namespaces {
                let entry = credentials.entry((ns.clone(), name.clone())).or_default();
                entry.0.insert(gateway.clone());
                entry.1.extend(server.hosts.iter().cloned());
            }
        }
    }
    // With -n, a gateway's Secret may live in a namespace whose Certificates were not surveyed:
    // one managed there is not "a Secret with no Certificate behind it".
    let mut managed = managed;
    if let Some(scope) = scope {
        let foreign: BTreeSet<&str> = credentials
            .keys()
            .map(|(ns, _)| ns.as_str())
            .filter(|ns| *ns != scope)
            .collect();
        for ns in foreign {
            let api: Api<Certificate> = Api::namespaced(kube.client.clone(), ns);
            let certs = match list::list_all(
                &api,
                &ListParams::default(),
                &format!("certificates in {ns:?}"),
            )
            .await
            {
                Ok(certs) => certs,
                Err(e) if cluster::is_not_found(&e) => Vec::new(),
                Err(e) => return Err(e),
            };
            managed.extend(
                certs
                    .into_iter()
                    .map(|c| (ns.to_string(), c.spec.secret_name)),
            );
        }
    }
    let unmanaged = credentials
        .keys()
        .filter(|k| !managed.contains(*k))
        .cloned();
    let secrets = survey::read_secrets(&kube.client, unmanaged).await?;

    let mut items = Vec::with_capacity(surveyed.len() + credentials.len());
    for survey::Surveyed {
        certificate: cert,
        assessment,
    } in surveyed
    {
        let ns = cert.namespace().unwrap_or_default();
        let key = (ns.clone(), cert.spec.secret_name.clone());
        let status = cert.status.clone().unwrap_or_default();
        let ready = condition(&status.conditions, "Ready").map(|c| ReadyState {
            status: c.status.clone(),
            reason: c.reason.clone(),
        });
        let issuer = &cert.spec.issuer_ref;
        items.push(Row {
            kind: "Certificate",
            namespace: ns,
            name: cert.name_any(),
            ready,
            issuer: Some(format!(
                "{}/{}",
                issuer.kind.as_deref().unwrap_or("Issuer"),
                issuer.name
            )),
            secret: cert.spec.secret_name.clone(),
            dns_names: cert.spec.dns_names.clone(),
            gateways: credentials
                .get(&key)
                .map(|(g, _)| g.iter().cloned().collect())
                .unwrap_or_default(),
            revision: status.revision,
            failed_issuance_attempts: status.failed_issuance_attempts,
            last_failure_time: status.last_failure_time.clone(),
            assessment,
        });
    }
    for (key, (gws, hosts)) in &credentials {
        if managed.contains(key) {
            continue;
        }
        let hosts: Vec<String> = hosts.iter().cloned().collect();
        items.push(Row {
            kind: "Secret",
            namespace: key.0.clone(),
            name: key.1.clone(),
            ready: None,
            issuer: None,
            secret: key.1.clone(),
            dns_names: hosts.clone(),
            gateways: gws.iter().cloned().collect(),
            revision: None,
            failed_issuance_attempts: None,
            last_failure_time: None,
            assessment: assess_secret(secrets.get(key), &key.1, &hosts, now, thresholds),
        });
    }
    sort_worst_first(&mut items);
    let mut summary = Summary {
        total: items.len(),
        ..Summary::default()
    };
    for row in &items {
        let slot = match row.assessment.verdict {
            Verdict::Ok => &mut summary.ok,
            Verdict::Warning => &mut summary.warning,
            Verdict::NotReady => &mut summary.not_ready,
            Verdict::Critical => &mut summary.critical,
            Verdict::Broken => &mut summary.broken,
            Verdict::Expired => &mut summary.expired,
        };
        *slot += 1;
    }
    Ok(CheckReport {
        now,
        thresholds,
        summary,
        counts: grouping::counts(&items, group_key),
        items,
    })
}

/// For each workload selector of the Gateways that serve TLS credentials, the namespaces of the
/// pods it matches in the whole cluster (one list per distinct selector).
async fn workload_namespaces(
    client: &kube::Client,
    gateways: &[Gateway],
) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let selectors: BTreeSet<String> = gateways
        .iter()
        .filter(|gw| {
            gw.spec
                .servers
                .iter()
                .any(|s| s.tls.as_ref().is_some_and(|t| t.credential_name.is_some()))
        })
        .filter_map(Gateway::workload_selector)
        .collect();
    let pods: Api<Pod> = Api::all(client.clone());
    let lists = try_join_all(selectors.into_iter().map(|selector| {
        let pods = &pods;
        async move {
            let what = format!("pods with labels {selector:?} in all namespaces");
            let found =
                list::list_all(pods, &ListParams::default().labels(&selector), &what).await?;
            let namespaces = found.iter().filter_map(|p| p.namespace()).collect();
            Ok::<_, Error>((selector, namespaces))
        }
    }))
    .await?;
    Ok(lists.into_iter().collect())
}

/// Worst verdict first, then the soonest expiry, then by name.
pub fn sort_worst_first(rows: &mut [Row]) {
    rows.sort_by(|a, b| {
        b.assessment
            .verdict
            .cmp(&a.assessment.verdict)
            .then_with(|| {
                let days = |r: &Row| r.assessment.days_left.unwrap_or(i64::MAX);
                days(a).cmp(&days(b))
            })
            .then_with(|| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)))
    });
}

/// A row's group: its kind and its worst finding's code (`ok` for none).
fn group_key(row: &Row) -> grouping::Key {
    let code = row
        .assessment
        .findings
        .first()
        .and_then(|f| serde_json::to_value(f.code).ok())
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "ok".into());
    (row.kind.to_string(), code, row.assessment.severity)
}

/// The table, worst first; with a `budget` of lines and more certificates than fit, grouped by
/// code (counts, the worst of each) and without the per-finding lines.
pub fn render(
    report: &CheckReport,
    all_namespaces: bool,
    budget: Option<usize>,
    out: &mut Out,
) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    if report.items.is_empty() {
        return out.line("No certificates found.");
    }
    let wide = out.format == Format::Wide;
    let mut header = vec![];
    if all_namespaces {
        header.push("namespace");
    }
    header.extend([
        "name",
        "ready",
        "issuer",
        "secret",
        "not after",
        "days",
        "renewal",
        "verdict",
    ]);
    if wide {
        header.extend(["dns names", "revision", "findings"]);
    }
    let days_column = header.iter().position(|h| *h == "days").unwrap_or(0);
    let dash = || "-".to_string();
    let theme = out.theme;
    let cells_of = |row: &Row| -> Vec<String> {
        let a = &row.assessment;
        let mut cells = vec![];
        if all_namespaces {
            cells.push(row.namespace.clone());
        }
        cells.extend([
            if row.kind == "Certificate" {
                row.name.clone()
            } else {
                format!("secret/{}", row.name)
            },
            row.ready
                .as_ref()
                .map(|r| match (&r.reason, r.status.as_str()) {
                    (Some(reason), status) if status != "True" => format!("{status} ({reason})"),
                    (_, status) => status.to_string(),
                })
                .unwrap_or_else(dash),
            row.issuer
                .clone()
                .unwrap_or_else(|| format!("gateway {}", row.gateways.join(","))),
            row.secret.clone(),
            a.not_after.map(|t| t.to_string()).unwrap_or_else(dash),
            a.days_left.map(|d| d.to_string()).unwrap_or_else(dash),
            a.renewal_time.map(|t| t.to_string()).unwrap_or_else(dash),
            theme.paint(a.verdict.label(), a.severity),
        ]);
        if wide {
            cells.extend([
                row.dns_names.join(","),
                row.revision.map(|r| r.to_string()).unwrap_or_else(dash),
                a.findings
                    .iter()
                    .map(|f| {
                        serde_json::to_value(f.code)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default()
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ]);
        }
        cells
    };
    let mut grouped =
        grouping::findings_table(&report.items, &header, group_key, cells_of, budget, &theme);
    grouped.table = grouped.table.align_right(days_column);
    grouped.print(out)?;
    if grouped.footer.is_some() {
        return Ok(());
    }
    let findings: Vec<String> = report
        .items
        .iter()
        .flat_map(|row| {
            row.assessment.findings.iter().map(move |f| {
                format!(
                    "{} {}/{}: {}",
                    theme.severity(f.severity),
                    row.namespace,
                    row.name,
                    f.message
                )
            })
        })
        .collect();
    if !findings.is_empty() {
        out.line("")?;
        for line in findings {
            out.line(&line)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use sealos_shared::certs::{Code, Finding};

    fn row(name: &str, verdict: Verdict, days: Option<i64>) -> Row {
        Row {
            kind: "Certificate",
            namespace: "ns".into(),
            name: name.into(),
            ready: None,
            issuer: None,
            secret: name.into(),
            dns_names: vec![],
            gateways: vec![],
            revision: None,
            failed_issuance_attempts: None,
            last_failure_time: None,
            assessment: Assessment {
                verdict,
                severity: verdict.severity(),
                not_after: None,
                not_after_source: None,
                days_left: days,
                renewal_time: None,
                backoff_until: None,
                key: None,
                findings: vec![Finding {
                    code: Code::ExpiringSoon,
                    severity: verdict.severity(),
                    message: "m".into(),
                }],
                chain: vec![],
            },
        }
    }

    fn report(items: Vec<Row>) -> CheckReport {
        CheckReport {
            now: Timestamp::UNIX_EPOCH,
            thresholds: Thresholds::default(),
            summary: Summary::default(),
            counts: Vec::new(),
            items,
        }
    }

    #[test]
    fn rows_sort_worst_first_then_soonest() {
        let mut rows = vec![
            row("ok", Verdict::Ok, Some(80)),
            row("warn-late", Verdict::Warning, Some(25)),
            row("expired", Verdict::Expired, Some(-1)),
            row("warn-soon", Verdict::Warning, Some(10)),
            row("broken", Verdict::Broken, None),
        ];
        sort_worst_first(&mut rows);
        let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["expired", "broken", "warn-soon", "warn-late", "ok"]);
    }

    #[test]
    fn exit_follows_fail_on() {
        let warned = report(vec![row("a", Verdict::Warning, Some(20))]);
        assert_eq!(warned.exit(FailOn::Fail), Exit::Ok);
        assert_eq!(warned.exit(FailOn::Warn), Exit::Problem);
        let broken = report(vec![row("a", Verdict::NotReady, None)]);
        assert_eq!(broken.exit(FailOn::Fail), Exit::Problem);
        assert_eq!(report(vec![]).exit(FailOn::Warn), Exit::Ok);
    }

    #[test]
    fn thresholds_are_validated() {
        let args = |warn, crit| CheckArgs {
            warn_days: warn,
            crit_days: crit,
            selector: None,
            fail_on: FailOn::Fail,
            rows: GroupFlags::default(),
            output: Format::Table,
        };
        assert_eq!(args(30, 7).thresholds().unwrap(), Thresholds::default());
        assert!(args(5, 10).thresholds().is_err());
        assert!(args(-1, -2).thresholds().is_err());
        assert!(args(7, 7).thresholds().is_ok());
    }
}

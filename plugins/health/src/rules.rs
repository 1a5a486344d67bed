//! `kubectl sealos health rules`: the guide's five alert rules as a `monitoring.coreos.com/v1`
//! PrometheusRule, thresholds as flags; `--apply` server-side applies it (`--dry-run` asks the
//! server to validate only).

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use sealos_shared::audit::{AuditLog, ObjectRef, Record};
use sealos_shared::connection::Kube;
use sealos_shared::error::KubeContext;
use sealos_shared::output::{Format, Out};
use sealos_shared::prometheus::quote;
use sealos_shared::{Error, Exit, Result};
use serde_json::{Value, json};

/// The field manager of server-side apply.
pub const FIELD_MANAGER: &str = "kubectl-sealos-health";

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RulesFormat {
    #[default]
    Yaml,
    Json,
}

impl From<RulesFormat> for Format {
    fn from(f: RulesFormat) -> Format {
        match f {
            RulesFormat::Yaml => Format::Yaml,
            RulesFormat::Json => Format::Json,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct RulesArgs {
    /// The PrometheusRule's name.
    #[arg(long, default_value = "sealos-istio-alerts")]
    pub name: String,
    /// Where the PrometheusRule lives (the Prometheus operator's rule namespace).
    #[arg(long, value_name = "NS", default_value = "monitoring")]
    pub rule_namespace: String,
    /// The namespace whose services and controllers the rules watch.
    #[arg(long, value_name = "NS", default_value = "sealos-system")]
    pub sealos_namespace: String,
    /// The namespace of the Istio gateway.
    #[arg(long, value_name = "NS", default_value = "istio-system")]
    pub istio_namespace: String,
    /// SealosIstioHighErrorRate: a 5xx ratio above this.
    #[arg(long, value_name = "RATIO", default_value_t = 0.05)]
    pub error_rate: f64,
    /// SealosIstioHighLatency: a P95 above this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000.0)]
    pub p95_ms: f64,
    /// SealosIstioProxyHighMemory: working set above this share of the limit.
    #[arg(long, value_name = "RATIO", default_value_t = 0.8)]
    pub proxy_memory: f64,
    /// The window of the rate() in the rules.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = sealos_shared::number::positive_duration)]
    pub window: std::time::Duration,
    /// Create or update the PrometheusRule in the cluster (server-side apply).
    #[arg(long)]
    pub apply: bool,
    /// With --apply: let the server validate it, change nothing.
    #[arg(long, requires = "apply")]
    pub dry_run: bool,
    /// Where mutating commands record what they did (default: ~/.local/state/kubectl-sealos/audit.jsonl).
    #[arg(long, value_name = "PATH")]
    pub audit_log: Option<PathBuf>,
    #[arg(short = 'o', long, value_enum, default_value_t)]
    pub output: RulesFormat,
}

impl RulesArgs {
    pub fn validate(&self) -> Result<()> {
        for (flag, value) in [
            ("--error-rate", self.error_rate),
            ("--proxy-memory", self.proxy_memory),
        ] {
            if !(value > 0.0 && value <= 1.0) {
                return Err(Error::usage(format!(
                    "{flag} {value} is not a ratio in (0, 1]"
                )));
            }
        }
        if sealos_shared::number::check(self.p95_ms, f64::MIN_POSITIVE, f64::MAX).is_err()
            || self.window.is_zero()
        {
            return Err(Error::usage("--p95-ms and --window must be positive"));
        }
        for (flag, name) in [
            ("--name", &self.name),
            ("--rule-namespace", &self.rule_namespace),
            ("--sealos-namespace", &self.sealos_namespace),
            ("--istio-namespace", &self.istio_namespace),
        ] {
            let ok = !name.is_empty()
                && name.len() <= 253
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
                && name.starts_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                return Err(Error::usage(format!(
                    "{flag} {name:?} is not a valid Kubernetes name"
                )));
            }
        }
        Ok(())
    }
}

/// A number as PromQL and YAML write it (`0.05`, `1000`).
fn number(v: f64) -> String {
    v.to_string()
}

/// The rule groups (the part `promtool check rules` reads).
pub fn groups(args: &RulesArgs) -> Value {
    let w = sealos_shared::prometheus::promql_duration(args.window);
    let sealos = quote(&args.sealos_namespace);
    let istio = quote(&args.istio_namespace);
    let pct = format!("{}%", number(args.error_rate * 100.0));
    json!([
        {
            "name": "sealos-istio-critical",
            "rules": [
                {
                    "alert": "SealosIstioHighErrorRate",
                    "expr": format!(
                        "(\n  sum(rate(istio_requests_total{{destination_service_namespace={sealos},response_code=~\"5..\"}}[{w}]))\n  /\n  sum(rate(istio_requests_total{{destination_service_namespace={sealos}}}[{w}]))\n) > {}",
                        number(args.error_rate)
                    ),
                    "for": "2m",
                    "labels": {"severity": "critical", "team": "sre"},
                    "annotations": {
                        "summary": "Sealos Istio services: high error rate",
                        "description": format!("The 5xx ratio of Istio services in {} is {{{{ $value | humanizePercentage }}}}, above {pct}.", args.sealos_namespace),
                        "runbook_url": "https://docs.sealos.io/runbooks/istio-high-error-rate"
                    }
                },
                {
                    "alert": "SealosControllerDown",
                    "expr": format!("up{{job=~\".*controller.*\", namespace={sealos}}} == 0"),
                    "for": "1m",
                    "labels": {"severity": "critical", "team": "sre"},
                    "annotations": {
                        "summary": "Sealos controller down",
                        "description": "Controller {{ $labels.job }} has been down for more than 1 minute."
                    }
                },
                {
                    "alert": "SealosIstioGatewayDown",
                    "expr": format!("up{{job=\"istio-proxy\", namespace={istio}}} == 0"),
                    "for": "1m",
                    "labels": {"severity": "critical", "team": "sre"},
                    "annotations": {
                        "summary": "Istio gateway down",
                        "description": "The Istio ingress gateway is not answering scrapes."
                    }
                }
            ]
        },
        {
            "name": "sealos-istio-warning",
            "rules": [
                {
                    "alert": "SealosIstioHighLatency",
                    "expr": format!(
                        "histogram_quantile(0.95,\n  sum(rate(istio_request_duration_milliseconds_bucket{{destination_service_namespace={sealos}}}[{w}]))\n  by (destination_service_name, le)\n) > {}",
                        number(args.p95_ms)
                    ),
                    "for": "5m",
                    "labels": {"severity": "warning", "team": "sre"},
                    "annotations": {
                        "summary": "Sealos Istio services: high latency",
                        "description": format!("Service {{{{ $labels.destination_service_name }}}} P95 latency is {{{{ $value }}}}ms, above {}ms.", number(args.p95_ms))
                    }
                },
                {
                    "alert": "SealosIstioProxyHighMemory",
                    "expr": format!(
                        "container_memory_working_set_bytes{{container=\"istio-proxy\", namespace={sealos}}}\n  /\ncontainer_spec_memory_limit_bytes{{container=\"istio-proxy\", namespace={sealos}}} > {}",
                        number(args.proxy_memory)
                    ),
                    "for": "5m",
                    "labels": {"severity": "warning", "team": "sre"},
                    "annotations": {
                        "summary": "Istio proxy memory high",
                        "description": "Pod {{ $labels.pod }} istio-proxy uses {{ $value | humanizePercentage }} of its memory limit."
                    }
                }
            ]
        }
    ])
}

/// The whole PrometheusRule object.
pub fn prometheus_rule(args: &RulesArgs) -> Value {
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": args.name,
            "namespace": args.rule_namespace,
            "labels": {
                "app.kubernetes.io/managed-by": FIELD_MANAGER,
                "app.kubernetes.io/part-of": "sealos",
                "role": "alert-rules"
            }
        },
        "spec": {"groups": groups(args)}
    })
}

fn api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "PrometheusRule"),
        "prometheusrules",
    )
}

/// Prints the rule, or with --apply (`kube` given) applies it.
pub async fn run(args: &RulesArgs, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    args.validate()?;
    let rule = prometheus_rule(args);
    let Some(kube) = kube.filter(|_| args.apply) else {
        out.data(&rule)?;
        return Ok(Exit::Ok);
    };
    let audit = AuditLog::new(args.audit_log.as_deref())?;
    let api: Api<DynamicObject> =
        Api::namespaced_with(kube.client.clone(), &args.rule_namespace, &api_resource());
    let object: DynamicObject = serde_json::from_value(rule.clone())
        .map_err(|e| Error::failed(format!("build the PrometheusRule: {e}")))?;
    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    params.dry_run = args.dry_run;
    let before = api.get_opt(&args.name).await.kube_context(|| {
        format!(
            "get prometheusrule {:?} in {:?}",
            args.name, args.rule_namespace
        )
    })?;
    let result = api
        .patch(&args.name, &params, &Patch::Apply(&object))
        .await
        .kube_context(|| {
            format!(
                "apply prometheusrule {:?} in {:?}",
                args.name, args.rule_namespace
            )
        });
    let mut record = Record::now(
        "health",
        "rules apply",
        ObjectRef {
            kind: "PrometheusRule".into(),
            namespace: Some(args.rule_namespace.clone()),
            name: args.name.clone(),
        },
    );
    record.context = kube.context.clone();
    record.user = kube.user.clone();
    record.dry_run = args.dry_run;
    record.before = before
        .map(|b| b.data["spec"].clone())
        .unwrap_or(Value::Null);
    record.after = rule["spec"].clone();
    record.outcome = match &result {
        Ok(_) => "ok".into(),
        Err(e) => e.to_string(),
    };
    audit.record(&record)?;
    result?;
    out.line(&format!(
        "prometheusrule.monitoring.coreos.com/{} serverside-applied{}",
        args.name,
        if args.dry_run {
            " (server dry run)"
        } else {
            ""
        }
    ))?;
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        rules: RulesArgs,
    }

    fn args(extra: &[&str]) -> RulesArgs {
        let mut argv = vec!["x"];
        argv.extend_from_slice(extra);
        match Cli::try_parse_from(argv) {
            Ok(cli) => cli.rules,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn thresholds_land_in_the_expressions() {
        let rule = prometheus_rule(&args(&[
            "--error-rate",
            "0.1",
            "--p95-ms",
            "750",
            "--proxy-memory",
            "0.9",
        ]));
        let groups = rule["spec"]["groups"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let alerts: Vec<(String, String)> = groups
            .iter()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                (
                    r["alert"].as_str().unwrap_or("").to_string(),
                    r["expr"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        let names: Vec<&str> = alerts.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            names,
            [
                "SealosIstioHighErrorRate",
                "SealosControllerDown",
                "SealosIstioGatewayDown",
                "SealosIstioHighLatency",
                "SealosIstioProxyHighMemory"
            ]
        );
        assert!(alerts[0].1.ends_with(") > 0.1"), "{}", alerts[0].1);
        assert!(alerts[3].1.ends_with(") > 750"), "{}", alerts[3].1);
        assert!(alerts[4].1.ends_with(" > 0.9"), "{}", alerts[4].1);
        assert_eq!(rule["kind"], "PrometheusRule");
    }

    #[test]
    fn bad_thresholds_are_refused() {
        assert!(args(&["--error-rate", "5"]).validate().is_err());
        assert!(args(&["--p95-ms", "0"]).validate().is_err());
        assert!(args(&["--name", "Bad_Name"]).validate().is_err());
        assert!(args(&[]).validate().is_ok());
    }
}

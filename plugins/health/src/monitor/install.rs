//! `health monitor install|uninstall`: the monitor as a Deployment in the cluster, with its own
//! ServiceAccount and the least RBAC it needs, built with `sealos_shared::install`.
//!
//! The Deployment runs `kubectl-sealos-health monitor --state configmap/NS/NAME` with the
//! install's monitor flags, one replica, `Recreate` (two monitors on one state would race).
//! The Slack webhook comes from a Secret (`--slack-webhook-secret NAME/KEY` → env
//! `SLACK_WEBHOOK_URL` by `secretKeyRef`); the URL itself never goes into the manifest.
//!
//! The state ConfigMap is made by install (empty; server-side apply never touches the key the
//! monitor writes), because RBAC cannot narrow `create` to one name: the monitor gets only
//! `get` and `update` of that one ConfigMap, and `get` of the Prometheus service proxy.

use clap::{Args, ValueEnum};
use sealos_shared::audit::AuditLog;
use sealos_shared::connection::Kube;
use sealos_shared::install::pod::{self, Resources};
use sealos_shared::install::{self, InstallFlags, Manifest, Rule, Workload};
use sealos_shared::output::Out;
use sealos_shared::{Error, Exit, Result};
use serde_json::json;

use super::MonitorArgs;

/// The name of the monitor's objects (ServiceAccount, Role, RoleBinding, Deployment).
pub const NAME: &str = "sealos-health-monitor";
/// Its `app.kubernetes.io/component`.
pub const COMPONENT: &str = "health-monitor";
/// Where it is installed unless `-n` says otherwise (where Prometheus usually is).
pub const DEFAULT_NAMESPACE: &str = "monitoring";
/// Its state ConfigMap, in the same namespace.
pub const STATE_CONFIGMAP: &str = "sealos-health-monitor-state";
/// The environment variable the monitor reads the webhook from.
const WEBHOOK_ENV: &str = "SLACK_WEBHOOK_URL";

/// How `install` prints the manifest.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManifestFormat {
    /// A multi-document YAML stream (`kubectl apply -f -` takes it).
    Yaml,
    /// A `v1` List.
    Json,
}

#[derive(Args, Debug, Clone)]
pub struct InstallArgs {
    /// The Secret (in the monitor's namespace) and key that hold the Slack webhook URL; the
    /// monitor reads it as SLACK_WEBHOOK_URL. The URL itself is never written to the cluster.
    #[arg(long, value_name = "NAME/KEY", value_parser = parse_secret_key)]
    pub slack_webhook_secret: Option<(String, String)>,
    /// The image to run.
    #[arg(long, value_name = "IMAGE", default_value_t = pod::default_image())]
    pub image: String,
    #[command(flatten)]
    pub install: InstallFlags,
    /// Print the manifest as yaml or json (--dry-run prints yaml unless told). Without it, one
    /// line per object applied.
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<ManifestFormat>,
    /// The monitor's own flags, passed to the Deployment.
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

#[derive(Args, Debug, Clone)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub install: InstallFlags,
}

fn parse_secret_key(text: &str) -> std::result::Result<(String, String), String> {
    match text.split_once('/') {
        Some((name, key))
            if install::is_dns_subdomain(name)
                && !key.is_empty()
                && key.len() <= 253
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
        {
            Ok((name.to_string(), key.to_string()))
        }
        _ => Err(format!(
            "{text:?} is not NAME/KEY (a Secret's name and one of its keys)"
        )),
    }
}

/// The namespace `-n` gave, else `monitoring`; checked.
pub fn namespace(requested: Option<&str>) -> Result<String> {
    let ns = requested.unwrap_or(DEFAULT_NAMESPACE);
    if !install::is_dns_label(ns) {
        return Err(Error::usage(format!(
            "{ns:?} is not a valid namespace name"
        )));
    }
    Ok(ns.to_string())
}

pub fn workload(namespace: &str) -> Workload {
    Workload::new(NAME, COMPONENT, namespace)
}

/// What `--prometheus-service` names: its namespace, the proxy path's segment
/// (`[scheme:]name[:port]`) and the Service's name.
struct ProxyTarget {
    namespace: String,
    segment: String,
    service: String,
}

fn proxy_target(monitor: &MonitorArgs) -> Result<Option<ProxyTarget>> {
    if monitor.prometheus.prometheus_url.is_some() {
        return Ok(None);
    }
    let text = &monitor.prometheus.prometheus_service;
    let bad = || {
        Error::usage(format!(
            "--prometheus-service {text:?}: expected NAMESPACE/NAME:PORT, e.g. monitoring/prometheus:9090"
        ))
    };
    let (namespace, segment) = text.split_once('/').ok_or_else(bad)?;
    let parts: Vec<&str> = segment.split(':').collect();
    let service = match parts.as_slice() {
        [name] | [name, _] => *name,
        [scheme, name, _] if matches!(*scheme, "http" | "https") => *name,
        _ => return Err(bad()),
    };
    if !install::is_dns_label(namespace) || !install::is_dns_label(service) {
        return Err(bad());
    }
    Ok(Some(ProxyTarget {
        namespace: namespace.to_string(),
        segment: segment.to_string(),
        service: service.to_string(),
    }))
}

/// The monitor's RBAC: each rule and why. The README's table is generated from this.
pub fn rules(namespace: &str, monitor: &MonitorArgs) -> Result<Vec<Rule>> {
    let mut rules = Vec::new();
    if let Some(target) = proxy_target(monitor)? {
        // The API server names a proxy request by its whole segment (`prometheus:9090`);
        // the bare Service name covers requests without a port.
        let mut names = vec![target.segment.as_str()];
        if target.service != target.segment {
            names.push(target.service.as_str());
        }
        rules.push(
            Rule::new(
                "query Prometheus through the API server's service proxy (--prometheus-service)",
                &[""],
                &["services/proxy"],
                &["get"],
            )
            .in_namespace(&target.namespace)
            .named(&names),
        );
    }
    rules.push(
        Rule::new(
            "read its alert state when it starts (--state)",
            &[""],
            &["configmaps"],
            &["get"],
        )
        .in_namespace(namespace)
        .named(&[STATE_CONFIGMAP]),
    );
    rules.push(
        Rule::new(
            "write its alert state after a round (install creates the ConfigMap: no create)",
            &[""],
            &["configmaps"],
            &["update"],
        )
        .in_namespace(namespace)
        .named(&[STATE_CONFIGMAP]),
    );
    for rule in &rules {
        rule.validate().map_err(Error::failed)?;
    }
    Ok(rules)
}

/// The rules with default flags (`-n monitoring`, Prometheus at monitoring/prometheus:9090):
/// the README's RBAC table. Environment variables are not read, so the table is the same
/// wherever it is generated.
pub fn documented_rules() -> Result<Vec<Rule>> {
    use clap::{CommandFactory, FromArgMatches, Parser};
    #[derive(Parser)]
    struct Defaults {
        #[command(flatten)]
        monitor: MonitorArgs,
    }
    let matches = Defaults::command()
        .mut_args(|arg| arg.env(Option::<&'static str>::None))
        .try_get_matches_from(["defaults"])
        .map_err(|e| Error::failed(format!("the monitor's default flags: {e}")))?;
    let defaults = Defaults::from_arg_matches(&matches)
        .map_err(|e| Error::failed(format!("the monitor's default flags: {e}")))?;
    rules(DEFAULT_NAMESPACE, &defaults.monitor)
}

/// The monitor's command line in the pod: the install's settings, all spelled out, so the
/// Deployment says what it runs whatever the defaults of a later version.
pub fn container_args(namespace: &str, monitor: &MonitorArgs) -> Vec<String> {
    let duration = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let mut args = vec![
        "monitor".to_string(),
        "--state".into(),
        format!("configmap/{namespace}/{STATE_CONFIGMAP}"),
        // A pod has no /dev/log; its output is in `kubectl logs`.
        "--no-syslog".into(),
        "--interval".into(),
        duration(monitor.interval),
        "--window".into(),
        duration(monitor.window),
        "--error-rate".into(),
        monitor.error_rate.to_string(),
        "--p95-ms".into(),
        monitor.p95_ms.to_string(),
        "--min-requests".into(),
        monitor.min_requests.to_string(),
        "--on-no-data".into(),
        monitor
            .on_no_data
            .to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default(),
        "--max-query-failures".into(),
        monitor.max_query_failures.to_string(),
        "--repeat".into(),
        duration(monitor.repeat),
        "--prometheus-timeout".into(),
        duration(monitor.prometheus.prometheus_timeout),
    ];
    match &monitor.prometheus.prometheus_url {
        Some(url) => args.extend(["--prometheus-url".into(), url.clone()]),
        None => args.extend([
            "--prometheus-service".into(),
            monitor.prometheus.prometheus_service.clone(),
        ]),
    }
    for (label, value) in &monitor.matchers {
        args.extend(["--match".into(), format!("{label}={value}")]);
    }
    if monitor.no_per_service {
        args.push("--no-per-service".into());
    }
    args
}

/// Refuses what cannot go into the cluster, before anything is sent.
fn validate(args: &InstallArgs) -> Result<()> {
    args.monitor.validate()?;
    if args.monitor.slack.slack_webhook.is_some() {
        return Err(Error::usage(
            "install never writes the Slack webhook URL into the cluster: put it in a Secret and give --slack-webhook-secret NAME/KEY (and unset SLACK_WEBHOOK_URL for this command)",
        ));
    }
    if args.monitor.once || args.monitor.state.is_some() {
        return Err(Error::usage(
            "--once and --state are chosen by install (the monitor runs for ever, its state in the ConfigMap configmap/NS/sealos-health-monitor-state)",
        ));
    }
    if let Some(url) = &args.monitor.prometheus.prometheus_url
        && url.contains('@')
    {
        return Err(Error::usage(
            "--prometheus-url carries credentials, which install would write into the Deployment: reach Prometheus through --prometheus-service instead",
        ));
    }
    if args.image.trim().is_empty() || args.image.chars().any(char::is_whitespace) {
        return Err(Error::usage(format!(
            "--image {:?} is not an image",
            args.image
        )));
    }
    Ok(())
}

/// Everything install writes, in apply order.
pub fn manifest(namespace: &str, args: &InstallArgs) -> Result<Manifest> {
    validate(args)?;
    let workload = workload(namespace);
    let mut objects = install::rbac::objects(&workload, &rules(namespace, &args.monitor)?);
    objects.push(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": workload.metadata(STATE_CONFIGMAP, Some(namespace)),
    }));
    let env = args
        .slack_webhook_secret
        .iter()
        .map(|(secret, key)| pod::env_from_secret(WEBHOOK_ENV, secret, key))
        .collect();
    let container = pod::container(
        "monitor",
        &args.image,
        "kubectl-sealos-health",
        &container_args(namespace, &args.monitor),
        env,
        &Resources::default(),
    );
    let mut selector = workload.labels();
    selector.retain(|k, _| k != install::MANAGED_BY);
    objects.push(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": workload.metadata(NAME, Some(namespace)),
        "spec": {
            "replicas": 1,
            // Never two monitors at once: they would send each alert twice.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": pod::pod_template(&workload, container, "Always"),
        }
    }));
    Ok(Manifest::new(objects))
}

/// `install`: prints the manifest (--dry-run) or applies it.
pub async fn run_install(
    args: &InstallArgs,
    namespace: &str,
    kube: Option<&Kube>,
    out: &mut Out,
) -> Result<Exit> {
    let manifest = manifest(namespace, args)?;
    let print = |out: &mut Out, format: ManifestFormat| -> Result<()> {
        match format {
            ManifestFormat::Yaml => out.text(&manifest.to_yaml()?),
            ManifestFormat::Json => out.data(&manifest.to_list()),
        }
    };
    let Some(kube) = kube.filter(|_| !args.install.dry_run) else {
        print(out, args.output.unwrap_or(ManifestFormat::Yaml))?;
        return Ok(Exit::Ok);
    };
    let audit = AuditLog::new(args.install.audit_log.as_deref())?;
    let applied = install::apply(kube, &manifest, &audit, "health").await?;
    match args.output {
        Some(format) => print(out, format)?,
        None => {
            for a in &applied {
                out.line(&a.line(false))?;
            }
        }
    }
    Ok(Exit::Ok)
}

/// `uninstall`: deletes what install made in this namespace (or lists it with --dry-run).
pub async fn run_uninstall(
    args: &UninstallArgs,
    namespace: &str,
    kube: &Kube,
    out: &mut Out,
) -> Result<Exit> {
    let audit = AuditLog::new(args.install.audit_log.as_deref())?;
    let deleted = install::uninstall(
        kube,
        &workload(namespace),
        &audit,
        "health",
        args.install.dry_run,
    )
    .await?;
    if deleted.is_empty() {
        eprintln!("no health monitor installed in {namespace:?}");
    }
    for d in &deleted {
        out.line(&d.line(args.install.dry_run))?;
    }
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        install: InstallArgs,
    }

    fn args(extra: &[&str]) -> InstallArgs {
        let mut argv = vec!["x"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv).unwrap().install
    }

    #[test]
    fn the_container_args_parse_back_to_the_same_settings() {
        #[derive(Parser)]
        struct Monitor {
            #[command(flatten)]
            monitor: MonitorArgs,
        }
        let given = args(&[
            "--interval",
            "2s",
            "--error-rate",
            "0.2",
            "--match",
            "a=b",
            "--no-per-service",
            "--prometheus-service",
            "obs/prom:web",
            "--on-no-data",
            "alert",
        ]);
        let argv = container_args("ops", &given.monitor);
        assert_eq!(argv[0], "monitor");
        let parsed = Monitor::try_parse_from(
            std::iter::once("x".to_string()).chain(argv.into_iter().skip(1)),
        )
        .unwrap()
        .monitor;
        assert_eq!(
            format!("{:?}", parsed.spec()),
            format!("{:?}", given.monitor.spec())
        );
        assert_eq!(parsed.interval, given.monitor.interval);
        assert_eq!(parsed.prometheus.prometheus_service, "obs/prom:web");
        assert_eq!(
            parsed.state,
            Some(super::super::StateLocation::ConfigMap {
                namespace: "ops".into(),
                name: STATE_CONFIGMAP.into()
            })
        );
        assert!(parsed.no_syslog);
    }

    #[test]
    fn the_least_rbac_names_the_service_and_the_configmap() {
        let given = rules("monitoring", &args(&[]).monitor).unwrap();
        let policy: Vec<_> = given.iter().map(|r| r.to_policy_rule()).collect();
        assert_eq!(
            serde_json::to_value(&policy).unwrap(),
            json!([
                {"apiGroups": [""], "resources": ["services/proxy"], "verbs": ["get"], "resourceNames": ["prometheus:9090", "prometheus"]},
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": [STATE_CONFIGMAP]},
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["update"], "resourceNames": [STATE_CONFIGMAP]},
            ])
        );
        // Prometheus by URL: no proxy rule at all.
        let direct = rules(
            "monitoring",
            &args(&["--prometheus-url", "http://prom:9090"]).monitor,
        )
        .unwrap();
        assert_eq!(direct.len(), 2);
    }

    #[test]
    fn the_webhook_comes_from_the_secret_never_the_manifest() {
        let m = manifest(
            "monitoring",
            &args(&["--slack-webhook-secret", "slack/url"]),
        )
        .unwrap();
        let deployment = m
            .objects
            .iter()
            .find(|o| o["kind"] == "Deployment")
            .unwrap();
        let spec = &deployment["spec"];
        assert_eq!(spec["strategy"]["type"], "Recreate");
        assert_eq!(spec["replicas"], 1);
        let env = &spec["template"]["spec"]["containers"][0]["env"][0];
        assert_eq!(env["name"], "SLACK_WEBHOOK_URL");
        assert_eq!(
            env["valueFrom"]["secretKeyRef"],
            json!({"name": "slack", "key": "url"})
        );
        let kinds: Vec<&str> = m
            .objects
            .iter()
            .map(|o| o["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "ServiceAccount",
                "Role",
                "RoleBinding",
                "ConfigMap",
                "Deployment"
            ]
        );
        assert!(
            m.objects
                .iter()
                .all(|o| o["metadata"]["labels"][install::MANAGED_BY] == "kubectl-sealos")
        );
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let with_url = InstallArgs {
            monitor: MonitorArgs {
                slack: sealos_shared::alert::SlackFlags {
                    slack_webhook: Some("https://hooks.slack.com/services/T/B/SECRET".into()),
                },
                ..args(&[]).monitor
            },
            ..args(&[])
        };
        let err = manifest("monitoring", &with_url).unwrap_err().to_string();
        assert!(err.contains("--slack-webhook-secret NAME/KEY"), "{err}");
        assert!(!err.contains("SECRET"));
        let err = manifest("monitoring", &args(&["--once"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--once and --state are chosen by install"),
            "{err}"
        );
        assert!(Cli::try_parse_from(["x", "--slack-webhook-secret", "no-key"]).is_err());
        assert!(
            namespace(Some("../etc"))
                .unwrap_err()
                .to_string()
                .contains("not a valid namespace")
        );
        let err = manifest(
            "monitoring",
            &args(&["--prometheus-service", "nonamespace"]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("expected NAMESPACE/NAME:PORT"), "{err}");
    }
}

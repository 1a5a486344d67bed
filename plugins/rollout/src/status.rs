//! `status`: one row per controller, found by the guide's names and by declaring the mode var.

use clap::Args;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Format, Out, Severity, Table};
use sealos_shared::retry::Backoff;
use sealos_shared::traffic_shift::rollout::rollout_state;
use sealos_shared::traffic_shift::{
    Current, DEFAULT_CONTROLLERS, Entry, History, RolloutState, list_deployments, valid_name,
};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

use crate::{OutputFlags, controller_namespace};

/// `status [--components A,B] [--container NAME]`.
#[derive(Args, Debug, Clone)]
pub struct StatusArgs {
    /// Only these controllers (Deployment names or deployment/NAME, comma-separated).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub components: Vec<String>,
    /// Only the Deployments read from kubectl's `-o name|json|yaml` output.
    #[command(flatten)]
    pub filename: sealos_shared::input::FilenameFlags,
    /// The container holding NETWORKING_MODE / ISTIO_PERCENTAGE (default: the one declaring them).
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    #[command(flatten)]
    pub output: OutputFlags,
}

/// The `-o json` shape of `status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub namespace: String,
    pub controllers: Vec<ControllerStatus>,
    /// The guide's controllers that are not in the namespace.
    pub missing: Vec<String>,
}

/// One controller.
#[derive(Debug, Clone, Serialize)]
pub struct ControllerStatus {
    pub name: String,
    /// The container holding the env vars; null when none could be chosen (see warnings).
    pub container: Option<String>,
    /// NETWORKING_MODE as set (null when missing or not a literal value).
    pub mode: Option<String>,
    /// ISTIO_PERCENTAGE as set, a string as in the Deployment (null when missing).
    pub percentage: Option<String>,
    pub ready: i32,
    pub desired: i32,
    /// `rolled-out`, `progressing` or `failed` (kubectl rollout status's judgement).
    pub rollout: String,
    /// The rollout detail: what it waits for, or why it failed.
    pub rollout_detail: Option<String>,
    pub generation: i64,
    pub observed_generation: i64,
    /// The newest history entry.
    pub last_change: Option<Entry>,
    pub warnings: Vec<String>,
}

impl ControllerStatus {
    fn severity(&self) -> Severity {
        if self.rollout == "failed" {
            Severity::Fail
        } else if !self.warnings.is_empty() || self.rollout != "rolled-out" {
            Severity::Warn
        } else {
            Severity::Ok
        }
    }
}

pub async fn run(args: &StatusArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    for name in &args.components {
        if !valid_name(name) {
            return Err(Error::usage(format!(
                "unknown component {name:?}: not a valid Deployment name"
            )));
        }
    }
    let report = collect(kube, args).await?;
    render(out, &report)?;
    Ok(Exit::Ok)
}

/// Lists the namespace's Deployments once and builds the report.
pub async fn collect(kube: &Kube, args: &StatusArgs) -> Result<StatusReport> {
    let namespace = controller_namespace(kube)?;
    let api = Api::namespaced(kube.client.clone(), &namespace);
    let all = list_deployments(&api, Backoff::default()).await?;
    let chosen: Vec<&Deployment> = if args.components.is_empty() {
        sealos_shared::traffic_shift::locate::controllers(&all)
    } else {
        let mut chosen = Vec::new();
        for name in &args.components {
            let found = all
                .iter()
                .find(|d| d.metadata.name.as_deref() == Some(name.as_str()))
                .ok_or_else(|| {
                    Error::usage(format!(
                        "unknown component {name:?}: no deployment {name:?} in {namespace:?}"
                    ))
                })?;
            chosen.push(found);
        }
        chosen
    };
    let missing = if args.components.is_empty() {
        DEFAULT_CONTROLLERS
            .iter()
            .filter(|n| !all.iter().any(|d| d.metadata.name.as_deref() == Some(**n)))
            .map(|n| n.to_string())
            .collect()
    } else {
        Vec::new()
    };
    let controllers = chosen
        .into_iter()
        .map(|d| controller_status(d, args.container.as_deref()))
        .collect();
    Ok(StatusReport {
        namespace,
        controllers,
        missing,
    })
}

fn controller_status(d: &Deployment, container: Option<&str>) -> ControllerStatus {
    let status = d.status.clone().unwrap_or_default();
    let generation = d.metadata.generation.unwrap_or(0);
    let (rollout, rollout_detail) = match rollout_state(d, generation) {
        RolloutState::Complete { .. } => ("rolled-out", None),
        RolloutState::Waiting { message, .. } => ("progressing", Some(message)),
        RolloutState::Failed { reason } => ("failed", Some(reason)),
    };
    let history = History::of(d);
    let mut warnings = Vec::new();
    if history.unreadable {
        warnings.push(format!(
            "the {} annotation is unreadable; the next change starts it afresh",
            sealos_shared::traffic_shift::HISTORY_ANNOTATION
        ));
    }
    let (container, mode, percentage) = match Current::from_deployment(d.clone(), container) {
        Ok(c) => {
            warnings.splice(0..0, c.setting.warnings());
            (Some(c.container), c.setting.mode, c.setting.percentage)
        }
        Err(e) => {
            warnings.insert(0, e.to_string());
            (None, None, None)
        }
    };
    ControllerStatus {
        name: d.metadata.name.clone().unwrap_or_default(),
        container,
        mode,
        percentage,
        ready: status.ready_replicas.unwrap_or(0),
        desired: d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        rollout: rollout.to_string(),
        rollout_detail,
        generation,
        observed_generation: status.observed_generation.unwrap_or(0),
        last_change: history.last().cloned(),
        warnings,
    }
}

/// The table (worst first) or JSON/YAML.
pub fn render(out: &mut Out, report: &StatusReport) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    let wide = out.format == Format::Wide;
    let mut header = vec!["namespace", "name", "mode", "istio%", "ready", "rollout"];
    header.extend(["last change", "reason"]);
    if wide {
        header.extend(["container", "actor"]);
    }
    header.push("warnings");
    let mut table = Table::new(header).align_right(3).align_right(4);
    let mut rows: Vec<&ControllerStatus> = report.controllers.iter().collect();
    rows.sort_by(|a, b| b.severity().cmp(&a.severity()).then(a.name.cmp(&b.name)));
    for c in rows {
        let last = c.last_change.as_ref();
        let mut row = vec![
            report.namespace.clone(),
            c.name.clone(),
            c.mode.clone().unwrap_or_else(|| "-".into()),
            c.percentage.clone().unwrap_or_else(|| "-".into()),
            format!("{}/{}", c.ready, c.desired),
            match c.rollout.as_str() {
                "rolled-out" => out.theme.paint("rolled out", Severity::Ok),
                "failed" => out.theme.paint("failed", Severity::Fail),
                other => out.theme.paint(other, Severity::Warn),
            },
            last.map(|e| e.time.clone()).unwrap_or_else(|| "-".into()),
            last.and_then(|e| e.reason.clone())
                .unwrap_or_else(|| "-".into()),
        ];
        if wide {
            row.push(c.container.clone().unwrap_or_else(|| "-".into()));
            row.push(last.map(|e| e.actor.clone()).unwrap_or_else(|| "-".into()));
        }
        let mut warnings = c.warnings.clone();
        if let (Some(detail), true) = (&c.rollout_detail, c.rollout == "failed") {
            warnings.insert(0, detail.clone());
        }
        row.push(if warnings.is_empty() {
            "-".into()
        } else {
            out.theme.paint(&warnings.join("; "), c.severity())
        });
        table.row(row);
    }
    out.table(&table)?;
    for name in &report.missing {
        eprintln!(
            "note: {name} (one of the guide's controllers) is not in {:?}",
            report.namespace
        );
    }
    Ok(())
}

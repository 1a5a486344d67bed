//! `history COMPONENT`: the settings a controller had, from the annotation on its Deployment.

use clap::Args;
use kube::Api;
use sealos_shared::connection::Kube;
use sealos_shared::output::{Out, Table};
use sealos_shared::retry::Backoff;
use sealos_shared::traffic_shift::{Entry, Setting, read, valid_name};
use sealos_shared::{Error, Exit, Result};
use serde::Serialize;

use crate::{OutputFlags, controller_namespace};

/// `history COMPONENT`.
#[derive(Args, Debug, Clone)]
pub struct HistoryArgs {
    /// The controller (Deployment name, or deployment/NAME).
    #[arg(value_name = "COMPONENT")]
    pub component: String,
    /// The container holding NETWORKING_MODE / ISTIO_PERCENTAGE (default: the one declaring them).
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    #[command(flatten)]
    pub output: OutputFlags,
}

/// The `-o json` shape of `history`.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryReport {
    pub namespace: String,
    pub name: String,
    /// The setting now.
    pub current: Setting,
    /// Oldest first; each with `time`, `actor`, `action`, `reason`, `from`, `to`.
    pub entries: Vec<Entry>,
    /// True when the annotation was there but could not be read.
    pub unreadable: bool,
}

pub async fn run(args: &HistoryArgs, kube: &Kube, out: &mut Out) -> Result<Exit> {
    if !valid_name(&args.component) {
        return Err(Error::usage(format!(
            "unknown component {:?}: not a valid Deployment name",
            args.component
        )));
    }
    let namespace = controller_namespace(kube)?;
    let api = Api::namespaced(kube.client.clone(), &namespace);
    let current = read(
        &api,
        &args.component,
        args.container.as_deref(),
        Backoff::default(),
    )
    .await?;
    let report = HistoryReport {
        namespace,
        name: args.component.clone(),
        current: current.setting.clone(),
        entries: current.history.entries.clone(),
        unreadable: current.history.unreadable,
    };
    render(out, &report)?;
    Ok(Exit::Ok)
}

pub fn render(out: &mut Out, report: &HistoryReport) -> Result<()> {
    if out.format.is_machine() {
        return out.data(report);
    }
    if report.unreadable {
        eprintln!(
            "warning: the history annotation of {:?} is unreadable; the next change starts it afresh",
            report.name
        );
    }
    if report.entries.is_empty() {
        eprintln!(
            "no recorded changes for {:?} in {:?} (now {}); changes made with kubectl sealos are recorded here",
            report.name,
            report.namespace,
            report.current.describe()
        );
        return Ok(());
    }
    let mut table =
        Table::new(["#", "time", "actor", "action", "from", "to", "reason"]).align_right(0);
    for (index, e) in report.entries.iter().enumerate() {
        table.row([
            (index + 1).to_string(),
            e.time.clone(),
            e.actor.clone(),
            e.action.clone(),
            e.from.describe(),
            e.to.describe(),
            e.reason.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    out.table(&table)
}

//! `schedule install` and `schedule uninstall`: the flags, checked before anything is sent, the
//! manifest they make (ServiceAccount, read-only RBAC, CronJob) and the kit's apply/uninstall.

use std::time::Duration;

use clap::Args;
use sealos_shared::archive::catalog;
use sealos_shared::audit::AuditLog;
use sealos_shared::connection::Kube;
use sealos_shared::install::{self, InstallFlags, Manifest, Workload};
use sealos_shared::output::{Format, Out};
use sealos_shared::s3::S3Url;
use sealos_shared::{Error, Exit, Result};

use super::{COMPONENT, cron, cronjob, rbac};
use clap::Parser;

use crate::create::{CreateArgs, Selection};

/// The schedule's name unless one is given.
pub const DEFAULT_NAME: &str = "sealos-backup";
/// A CronJob's name leaves room for the 11 characters its Jobs add (upstream's limit).
const MAX_NAME: usize = 52;

#[derive(Args, Debug, Clone)]
pub struct InstallArgs {
    /// The schedule's name: its CronJob, ServiceAccount and Roles are called this.
    #[arg(default_value = DEFAULT_NAME)]
    pub name: String,
    /// When to back up: five cron fields ("0 3 * * *") or @daily, @hourly, @weekly, @monthly,
    /// @yearly; checked as the API server checks it.
    #[arg(long, value_name = "CRON")]
    pub schedule: String,
    /// The IANA time zone the schedule is read in (default: UTC, the controller's).
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// Where backups go.
    #[arg(long, value_name = "s3://BUCKET/PREFIX")]
    pub s3: String,
    /// The Secret, in the schedule's namespace, whose keys become the backup's environment
    /// (envFrom): AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and where needed
    /// AWS_ENDPOINT_URL, AWS_REGION, AWS_SESSION_TOKEN. Its values are never read by install.
    #[arg(long, value_name = "NAME")]
    pub s3_secret: String,
    /// After each complete backup, delete the complete backups at --s3 beyond the newest N.
    #[arg(long, value_name = "N", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=100000))]
    pub keep: u32,
    #[command(flatten)]
    pub selection: Selection,
    /// How long one run may take before the Job stops it (activeDeadlineSeconds).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = sealos_shared::number::positive_duration)]
    pub active_deadline: Duration,
    /// Retries of a failed run before it counts as failed (the Job's backoffLimit).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=10))]
    pub retries: u32,
    /// Finished Jobs kept (successfulJobsHistoryLimit and failedJobsHistoryLimit), for `list`.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub history: u32,
    /// Create it suspended: no scheduled run until `kubectl patch cronjob NAME -p '{"spec":{"suspend":false}}'`.
    #[arg(long)]
    pub suspend: bool,
    /// The image to run.
    #[arg(long, value_name = "IMAGE", default_value_t = install::pod::default_image())]
    pub image: String,
    #[command(flatten)]
    pub install: InstallFlags,
    /// table: one line per object applied; yaml: the manifest as a multi-document stream
    /// (`kubectl apply -f -` takes it); json: a v1 List.
    #[arg(short = 'o', long, default_value = "table", value_parser = sealos_shared::flags::format_parser("-o/--output is the output format"))]
    pub output: Format,
}

#[derive(Args, Debug, Clone)]
pub struct UninstallArgs {
    /// The schedule to remove.
    #[arg(default_value = DEFAULT_NAME)]
    pub name: String,
    #[command(flatten)]
    pub install: InstallFlags,
    /// Output format of the list of deleted objects.
    #[arg(short = 'o', long, default_value = "table", value_parser = sealos_shared::flags::format_parser("-o/--output is the output format"))]
    pub output: Format,
}

/// A checked install: everything the manifest is made of.
#[derive(Debug, Clone)]
pub struct Plan {
    pub workload: Workload,
    pub schedule: String,
    pub time_zone: Option<String>,
    pub secret: String,
    pub image: String,
    pub active_deadline_seconds: u64,
    pub retries: u32,
    pub history: u32,
    pub suspend: bool,
    /// `kubectl-sealos-backup`'s arguments in the pod.
    pub command: Vec<String>,
    pub rules: Vec<install::Rule>,
}

/// A DNS-1123 label short enough for a CronJob.
fn check_name(name: &str) -> Result<()> {
    if !install::is_dns_label(name) || name.len() > MAX_NAME {
        return Err(Error::usage(format!(
            "{name:?} is not a schedule name: lower-case letters, digits and '-', at most {MAX_NAME} characters"
        )));
    }
    Ok(())
}

impl InstallArgs {
    /// Checks every flag (as `backup create` in the pod will, and as the API server will) and
    /// gives the plan; sends nothing.
    pub fn plan(&self, namespace: &str) -> Result<Plan> {
        check_name(&self.name)?;
        if !install::is_dns_label(namespace) {
            return Err(Error::usage(format!(
                "{namespace:?} is not a valid namespace name"
            )));
        }
        cron::check_schedule(&self.schedule)
            .map_err(|why| Error::usage(format!("--schedule {:?}: {why}", self.schedule)))?;
        if let Some(zone) = &self.time_zone {
            cron::check_time_zone(zone)
                .map_err(|why| Error::usage(format!("--time-zone {zone:?}: {why}")))?;
        }
        if !install::is_dns_subdomain(&self.s3_secret) {
            return Err(Error::usage(format!(
                "--s3-secret {:?} is not a Secret name",
                self.s3_secret
            )));
        }
        for ns in &self.selection.namespaces {
            if !install::is_dns_label(ns) {
                return Err(Error::usage(format!(
                    "--namespaces {ns:?}: not a namespace"
                )));
            }
        }
        if self.image.trim().is_empty() || self.image.chars().any(char::is_whitespace) {
            return Err(Error::usage(format!(
                "--image {:?} is not an image",
                self.image
            )));
        }
        let url: S3Url = self.s3.parse()?;
        let command = self.command(&url);
        // The pod's command line, parsed and planned as the pod will: what it would refuse is
        // refused here, before anything is written.
        let (plan, _) = create_args(&command)?.plan()?;
        Ok(Plan {
            workload: Workload::new(&self.name, COMPONENT, namespace),
            schedule: self.schedule.clone(),
            time_zone: self.time_zone.clone(),
            secret: self.s3_secret.clone(),
            image: self.image.clone(),
            active_deadline_seconds: self.active_deadline.as_secs().max(1),
            retries: self.retries,
            history: self.history,
            suspend: self.suspend,
            command,
            rules: rbac::rules(&plan.sources, &plan.namespaces),
        })
    }

    /// `create --s3 URL --prune-keep N [selection] -o json`: JSON in the logs, for whoever reads
    /// a run's result.
    fn command(&self, url: &S3Url) -> Vec<String> {
        let mut args = vec![
            "create".to_string(),
            "--s3".into(),
            url.to_string(),
            "--prune-keep".into(),
            self.keep.to_string(),
        ];
        args.extend(self.selection.to_args());
        args.extend(["-o".into(), "json".into()]);
        args
    }
}

/// `kubectl-sealos-backup ARGS` read as the binary reads it.
pub fn create_args(command: &[String]) -> Result<CreateArgs> {
    let argv = std::iter::once("kubectl-sealos-backup".to_string()).chain(command.iter().cloned());
    match crate::Args::try_parse_from(argv) {
        Ok(crate::Args {
            command: crate::Command::Create(create),
            ..
        }) => Ok(create),
        Ok(_) => Err(Error::failed(
            "internal: the schedule's command is not create",
        )),
        Err(e) => Err(Error::usage(e.to_string().trim_end())),
    }
}

/// Everything install writes, in apply order: the ServiceAccount and its RBAC, then the CronJob.
pub fn manifest(plan: &Plan) -> Result<Manifest> {
    for rule in &plan.rules {
        rule.validate().map_err(Error::failed)?;
    }
    let mut objects = install::rbac::objects(&plan.workload, &plan.rules);
    objects.push(cronjob::cron_job(plan));
    Ok(Manifest::new(objects))
}

/// The namespace to install in: `-n`, else the context's.
fn namespace(requested: Option<&str>, kube: Option<&Kube>) -> String {
    requested
        .map(str::to_string)
        .or_else(|| kube.map(|k| k.namespace.clone()))
        .unwrap_or_else(|| "default".to_string())
}

/// `install`: applies the manifest, or with `--dry-run` prints it (yaml unless `-o json`).
pub async fn install(
    args: &InstallArgs,
    requested: Option<&str>,
    kube: Option<&Kube>,
    out: &mut Out,
) -> Result<Exit> {
    let plan = args.plan(&namespace(requested, kube))?;
    let manifest = manifest(&plan)?;
    let print = |out: &mut Out| -> Result<()> {
        match out.format {
            Format::Json => out.data(&manifest.to_list()),
            _ => out.text(&manifest.to_yaml()?),
        }
    };
    let Some(kube) = kube.filter(|_| !args.install.dry_run) else {
        print(out)?;
        return Ok(Exit::Ok);
    };
    let audit = AuditLog::new(args.install.audit_log.as_deref())?;
    let applied = install::apply(kube, &manifest, &audit, "backup").await?;
    if out.format.is_machine() {
        print(out)?;
    } else {
        for a in &applied {
            out.line(&a.line(false))?;
        }
        eprintln!(
            "first run now: kubectl create job -n {} --from=cronjob/{} {}-manual",
            plan.workload.namespace, plan.workload.name, plan.workload.name
        );
    }
    Ok(Exit::Ok)
}

/// `uninstall`: deletes what install made for this schedule (its Jobs go with the CronJob).
pub async fn uninstall(
    args: &UninstallArgs,
    requested: Option<&str>,
    kube: &Kube,
    out: &mut Out,
) -> Result<Exit> {
    check_name(&args.name)?;
    let namespace = namespace(requested, Some(kube));
    let workload = Workload::new(&args.name, COMPONENT, &namespace);
    let audit = AuditLog::new(args.install.audit_log.as_deref())?;
    let deleted =
        install::uninstall(kube, &workload, &audit, "backup", args.install.dry_run).await?;
    if out.format.is_machine() {
        let lines: Vec<String> = deleted
            .iter()
            .map(|d| d.line(args.install.dry_run))
            .collect();
        return out
            .data(&serde_json::json!({ "deleted": lines }))
            .map(|()| Exit::Ok);
    }
    if deleted.is_empty() {
        eprintln!(
            "no backup schedule {:?} installed in {namespace:?}",
            args.name
        );
    }
    for d in &deleted {
        out.line(&d.line(args.install.dry_run))?;
    }
    Ok(Exit::Ok)
}

/// The kinds `backup create` reads, for the README: the rules of a default install.
pub fn documented_rules() -> Result<Vec<install::Rule>> {
    let sources = catalog::select(&[], &[], false)?;
    Ok(rbac::rules(&sources, &[]))
}

//! `run --workers N`: the load sent from N pods of an Indexed Job of the suite's image, merged
//! exactly as if one machine had sent it.
//!
//! The same `run` command is both sides. The coordinator (the user's `run --workers N`) creates
//! the Job with each pod running `run ... --workers N --worker-of RUN --start-at T`: the
//! totals, not a share, because a Job has one pod template; each worker takes its own share
//! from its completion index (`JOB_COMPLETION_INDEX`, set by the Job controller) with the same
//! split the coordinator reports ([`share`]).
//!
//! The start: the workers have no API credentials (no token is mounted), so they cannot read an
//! instant published after they are running. The instant is fixed when the Job is created,
//! `--start-within` ahead; the coordinator watches the pods and fails the run (deleting the
//! Job) if any is not running by then, and a worker that starts later than that refuses to
//! send anything. The price is that every run waits for the whole lead time.

use std::time::Duration;

use sealos_shared::connection::Kube;
use sealos_shared::output::Out;
use sealos_shared::{Error, Exit, Result};

use crate::run::RunArgs;

pub mod coordinator;
pub mod job;
pub mod report;
pub mod result;
pub mod share;
pub mod worker;

/// The most workers a run may have: each is a pod the coordinator watches.
pub const MAX_WORKERS: u32 = 1000;

/// The image the workers run unless `--image` says otherwise: this release's (the install kit's
/// tag, `v<version>`, which the release workflow pushes).
pub fn default_image() -> String {
    sealos_shared::install::pod::default_image()
}

/// The flags of `run --workers`.
#[derive(clap::Args, Debug, Clone)]
pub struct FleetFlags {
    /// With --workers: spread the worker pods across nodes (one per node while nodes last).
    #[arg(long, requires = "workers")]
    pub node_spread: bool,
    /// With --workers: report what the other workers measured when one fails, is evicted or
    /// deleted, and exit 0 instead of 1.
    #[arg(long, requires = "workers")]
    pub allow_partial: bool,
    /// With --workers: the workers start together this long after the Job is created; a worker
    /// not running by then fails the run. Allow for scheduling and pulling the image.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = sealos_shared::number::positive_duration, requires = "workers")]
    pub start_within: Duration,
    /// With --workers: the image the workers run [default: ghcr.io/labring/kubectl-sealos:v<version>].
    #[arg(long, value_name = "IMAGE", requires = "workers")]
    pub image: Option<String>,
    /// Run as worker of the run RUN (set by the coordinator in the Job it creates).
    #[arg(long, value_name = "RUN", hide = true, requires_all = ["workers", "start_at"])]
    pub worker_of: Option<String>,
    /// The agreed start instant (RFC 3339), for workers.
    #[arg(long, value_name = "TIME", hide = true, requires = "worker_of", value_parser = parse_instant)]
    pub start_at: Option<jiff::Timestamp>,
}

fn parse_instant(text: &str) -> std::result::Result<jiff::Timestamp, String> {
    text.parse()
        .map_err(|e| format!("{text:?} is not an RFC 3339 instant: {e}"))
}

/// `--workers`: 1 to [`MAX_WORKERS`].
pub fn parse_workers(text: &str) -> std::result::Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) => Err("workers: must be at least 1".into()),
        Ok(n) if n <= MAX_WORKERS => Ok(n),
        _ => Err(format!(
            "{text:?} is not a number of workers from 1 to {MAX_WORKERS}"
        )),
    }
}

/// Rejects what cannot be split among `workers` or carried to them, before anything is sent.
pub fn validate(args: &RunArgs, workers: u32) -> Result<()> {
    if let Some(c) = args.concurrency.iter().find(|c| **c < workers) {
        return Err(Error::usage(format!(
            "-c {c} is fewer connections than --workers {workers}: each worker needs at least one"
        )));
    }
    if let Some(n) = args.requests.filter(|n| *n < u64::from(workers)) {
        return Err(Error::usage(format!(
            "-n {n} is fewer requests than --workers {workers}: each worker needs at least one"
        )));
    }
    if args.body.is_some() {
        return Err(Error::usage(
            "--body cannot be used with --workers: the file is on this machine, not in the pods",
        ));
    }
    Ok(())
}

/// `run --workers`: a worker when `--worker-of` is given, else the coordinator.
pub async fn execute(args: &RunArgs, kube: Option<&Kube>, out: &mut Out) -> Result<Exit> {
    let workers = args.workers.unwrap_or(1);
    validate(args, workers)?;
    match (&args.fleet.worker_of, kube) {
        (Some(run), _) => worker::execute(args, run, workers).await,
        (None, Some(kube)) => coordinator::execute(args, kube, workers, out).await,
        (None, None) => Err(Error::failed("--workers needs a cluster client")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn worker_counts_are_checked() {
        assert_eq!(parse_workers("3").unwrap(), 3);
        assert!(parse_workers("0").unwrap_err().contains("at least 1"));
        assert!(parse_workers("1001").unwrap_err().contains("1 to 1000"));
        assert!(parse_workers("x").is_err());
    }
}

//! A worker pod: take this index's share of the step, wait for the agreed instant, send, and
//! leave the result in the termination message (and on stdout, the logs).

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use sealos_shared::{Error, Exit, Result};

use super::job::MESSAGE_PATH;
use super::result::{Placement, WorkerResult};
use super::share::share;
use crate::load::{self, StepPlan};
use crate::plan::endpoint;
use crate::run::{self, RunArgs};

/// The header naming the worker that sent a request, so a server's log can tell them apart.
pub const WORKER_HEADER: &str = "x-sealos-bench-worker";
/// How late after the agreed instant a worker may still start: beyond it, the load would no
/// longer be concurrent with the others'.
const LATE_LIMIT: Duration = Duration::from_secs(1);

pub async fn execute(args: &RunArgs, run_id: &str, workers: u32) -> Result<Exit> {
    let outcome = send_share(args, run_id, workers).await;
    let message = match &outcome {
        Ok((result, _)) => result.place().map_err(Error::failed)?,
        Err(e) => Placement::Message(format!("error: {e}")),
    };
    let text = match &message {
        Placement::Message(text) => text,
        Placement::Logs { message, .. } => message,
    };
    if let Err(e) = std::fs::write(MESSAGE_PATH, text) {
        eprintln!("warning: write the result to {MESSAGE_PATH}: {e}");
    }
    match outcome {
        Ok((result, exit)) => {
            // The logs carry the whole result too: the coordinator reads them when the
            // termination message could not hold it.
            let line = match message {
                Placement::Logs { line, .. } => line,
                Placement::Message(text) => format!("{}{text}", super::result::LOG_PREFIX),
            };
            println!("{line}");
            eprintln!(
                "worker {}: {} requests in {:.3}s",
                result.index,
                result.successes + result.errors.iter().sum::<u64>(),
                result.elapsed_s
            );
            Ok(exit)
        }
        Err(e) => Err(e),
    }
}

/// The completion index the Job controller gave this pod.
fn index(workers: u32) -> Result<u32> {
    let text = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
        Error::usage("--worker-of runs in a pod of an Indexed Job: JOB_COMPLETION_INDEX is not set")
    })?;
    match text.trim().parse::<u32>() {
        Ok(i) if i < workers => Ok(i),
        _ => Err(Error::usage(format!(
            "JOB_COMPLETION_INDEX {text:?} is not an index below {workers}"
        ))),
    }
}

async fn send_share(args: &RunArgs, run_id: &str, workers: u32) -> Result<(WorkerResult, Exit)> {
    let index = index(workers)?;
    let (url, concurrency) = match (args.urls.as_slice(), args.concurrency.as_slice()) {
        ([url], [c]) => (url, *c),
        _ => {
            return Err(Error::usage(
                "a worker runs one step: one URL and one -c level",
            ));
        }
    };
    let start = args
        .fleet
        .start_at
        .ok_or_else(|| Error::usage("a worker needs --start-at"))?;
    let share = share(concurrency, run::count(args), args.rate, workers, index);
    let mut options = run::request_options(args)?;
    options.headers.push((
        HeaderName::from_static(WORKER_HEADER),
        HeaderValue::from(index),
    ));
    let e = endpoint(url, args.host.as_deref(), &options).map_err(Error::usage)?;
    let connector = run::connector(&e, args).await?;
    let plan = Arc::new(StepPlan {
        template: e.template.clone(),
        connector,
        concurrency: share.concurrency,
        count: share.requests,
        duration: args.duration,
        rate: share.rate,
        timeout: args.timeout,
        threads: run::threads(args),
        pipeline: args.pipeline as usize,
        success: args.success_codes.clone(),
    });
    eprintln!(
        "worker {index}/{workers} of run {run_id}: -c {}{}{} from {start}",
        share.concurrency,
        share
            .requests
            .map(|n| format!(" -n {n}"))
            .unwrap_or_default(),
        share
            .rate
            .map(|r| format!(" --rate {r}"))
            .unwrap_or_default(),
    );

    let now = jiff::Timestamp::now();
    let wait = now.duration_until(start);
    if wait.is_negative() && wait.unsigned_abs() > LATE_LIMIT {
        return Err(Error::failed(format!(
            "worker {index} started {:.1}s after the agreed start {start}: it sends nothing",
            wait.unsigned_abs().as_secs_f64()
        )));
    }
    if !wait.is_negative() {
        tokio::select! {
            () = tokio::time::sleep(wait.unsigned_abs()) => {}
            () = sealos_shared::cli::shutdown_signal() => {
                return Err(Error::Interrupted);
            }
        }
    }
    let measured = load::run_step(plan, sealos_shared::cli::shutdown_signal(), &|_, _, _| {})
        .await
        .map_err(Error::failed)?;
    let result = WorkerResult::new(
        index,
        &measured.recorder,
        measured.elapsed.as_secs_f64(),
        measured.interrupted,
    )
    .map_err(Error::failed)?;
    let exit = if measured.interrupted {
        Exit::Interrupted
    } else {
        Exit::Ok
    };
    Ok((result, exit))
}

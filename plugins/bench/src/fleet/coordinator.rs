//! The coordinator: per step, create the Indexed Job, watch its pods until all run before the
//! agreed instant, collect each worker's result as its container terminates, delete the Job,
//! and merge the histograms exactly into the same report a local run prints.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, LogParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use sealos_shared::connection::Kube;
use sealos_shared::output::Out;
use sealos_shared::{Error, Exit, Result};
use tokio::sync::watch;

use super::job::{self, CONTAINER, GRACE_SECONDS, JobSpec, RUN_LABEL};
use super::report::{WorkerRow, WorkerState};
use super::result::{self, Message, WorkerResult};
use super::share::share;
use crate::plan::Endpoint;
use crate::report::{BenchReport, SCHEMA_VERSION, StepReport};
use crate::run::{self, RunArgs};
use crate::slo::Slo;
use crate::stats::Recorder;

/// The annotation (and label) the Job controller puts the completion index in.
const INDEX_ANNOTATION: &str = "batch.kubernetes.io/job-completion-index";

pub async fn execute(args: &RunArgs, kube: &Kube, workers: u32, out: &mut Out) -> Result<Exit> {
    let options = run::request_options(args)?;
    let endpoints = run::endpoints(args, Some(kube), &options).await?;
    if args
        .headers
        .iter()
        .any(|(name, _)| name != http::header::HOST)
    {
        // Their values are not printed here, but whoever may read pods there can read them.
        eprintln!(
            "warning: -H headers are passed on the workers' command line: anyone who may get \
             pods in namespace {:?} can read them",
            kube.namespace
        );
    }
    let interrupt = run::interrupt_watch();
    let mut report = BenchReport {
        kind: "BenchReport",
        schema_version: SCHEMA_VERSION,
        started: run::now(),
        interrupted: false,
        slo: args.slo.as_ref().map(Slo::rules).unwrap_or_default(),
        passed: true,
        steps: Vec::new(),
    };
    let steps = endpoints
        .iter()
        .flat_map(|e| args.concurrency.iter().map(move |c| (e.clone(), *c)));
    for (number, (endpoint, concurrency)) in steps.enumerate() {
        if number > 0 && !args.pause.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(args.pause) => {}
                () = run::interrupted(interrupt.clone()) => {
                    report.interrupted = true;
                    break;
                }
            }
        }
        let step = fleet_step(args, kube, workers, &endpoint, concurrency, &interrupt).await?;
        report.passed &= step.passed;
        let interrupted = step.interrupted;
        report.steps.push(step);
        if interrupted {
            report.interrupted = true;
            break;
        }
    }
    run::render(args, &report, out)
}

/// What became of one worker.
#[derive(Debug, Default)]
struct Slot {
    pod: Option<String>,
    node: Option<String>,
    running: bool,
    /// Why the pod is not running yet (its container's waiting reason).
    waiting: Option<String>,
    outcome: Option<Outcome>,
}

#[derive(Debug)]
enum Outcome {
    Done(WorkerResult),
    /// Failed, evicted or deleted; with what it measured when it said.
    Failed(String, Option<WorkerResult>),
}

/// A pod's state as far as the coordinator cares.
enum Seen {
    Waiting(String),
    Running,
    /// The worker container ended: its exit code and termination message.
    Terminated(i32, String),
    /// The pod failed without its container saying why (evicted, rejected by the node).
    PodFailed(String),
}

async fn fleet_step(
    args: &RunArgs,
    kube: &Kube,
    workers: u32,
    e: &Arc<Endpoint>,
    concurrency: u32,
    interrupt: &watch::Receiver<bool>,
) -> Result<StepReport> {
    let run_id = format!("{:08x}", fastrand::u32(..));
    let name = job::job_name(&run_id);
    let namespace = kube.namespace.clone();
    let lead = jiff::SignedDuration::try_from(args.fleet.start_within)
        .map_err(|e| Error::usage(format!("--start-within: {e}")))?;
    let start = jiff::Timestamp::now()
        .checked_add(lead)
        .map_err(|e| Error::usage(format!("--start-within: {e}")))?;
    let image = args
        .fleet
        .image
        .clone()
        .unwrap_or_else(super::default_image);
    let spec = JobSpec {
        name: &name,
        namespace: &namespace,
        run: &run_id,
        image: &image,
        workers,
        node_spread: args.fleet.node_spread,
        args: worker_args(args, e, concurrency, workers, &run_id, start),
    };
    let job = job::job(&spec).map_err(Error::failed)?;
    let jobs: Api<Job> = Api::namespaced(kube.client.clone(), &namespace);
    let pods: Api<Pod> = Api::namespaced(kube.client.clone(), &namespace);
    // The step started when the workers did: at the agreed instant.
    let started = start.round(jiff::Unit::Second).unwrap_or(start).to_string();
    jobs.create(&PostParams::default(), &job)
        .await
        .map_err(|source| Error::Kube {
            context: format!("create job {name:?} in {namespace:?}"),
            source,
        })?;
    eprintln!(
        "job {namespace}/{name}: {workers} workers of {} c={concurrency}, starting at {start}",
        e.service
    );
    let collected = collect(&pods, &run_id, workers, start, interrupt).await;
    // Whatever happened, the Job goes, and its pods with it (Background: the API server's
    // garbage collector deletes them; kubectl's default).
    if let Err(error) = jobs.delete(&name, &DeleteParams::background()).await
        && !matches!(&error, kube::Error::Api(s) if s.code == 404)
    {
        eprintln!("warning: delete job {name:?} in {namespace:?}: {error}");
    }
    let (slots, interrupted) = collected?;
    merge(args, e, concurrency, workers, started, slots, interrupted)
}

/// The worker's command line: the totals, its run and the agreed start.
fn worker_args(
    args: &RunArgs,
    e: &Endpoint,
    concurrency: u32,
    workers: u32,
    run_id: &str,
    start: jiff::Timestamp,
) -> Vec<String> {
    let mut v: Vec<String> = vec!["run".into(), e.url.clone()];
    let mut flag = |name: &str, value: String| {
        v.push(name.into());
        v.push(value);
    };
    flag("-c", concurrency.to_string());
    if let Some(n) = run::count(args) {
        flag("-n", n.to_string());
    }
    if let Some(d) = args.duration {
        flag("-z", d.as_secs_f64().to_string());
    }
    if let Some(r) = args.rate {
        flag("--rate", r.to_string());
    }
    flag("--timeout", args.timeout.as_secs_f64().to_string());
    flag("-m", args.method.to_string());
    for (name, value) in args.headers.iter().filter(|(n, _)| n != http::header::HOST) {
        flag(
            "-H",
            format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())),
        );
    }
    flag("--host", host_value(e));
    flag("--success-codes", args.success_codes.text().to_string());
    if let Some(t) = args.threads {
        flag("--threads", t.to_string());
    }
    if args.pipeline > 1 {
        flag("--pipeline", args.pipeline.to_string());
    }
    flag("--workers", workers.to_string());
    flag("--worker-of", run_id.to_string());
    flag("--start-at", start.to_string());
    if args.insecure {
        v.push("--insecure".into());
    }
    if args.http2 {
        v.push("--http2".into());
    }
    v
}

/// The Host the step's requests carry (`--host`, a target's host, else the URL's authority):
/// the worker rebuilds the same request from the URL and this.
fn host_value(e: &Endpoint) -> String {
    e.template
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| e.template.uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| e.host_header.clone())
}

/// Watches the run's pods: all must be running by `start`; then each worker's result is taken
/// as its container terminates. On Ctrl-C the workers are stopped and get their grace period
/// to report.
async fn collect(
    pods: &Api<Pod>,
    run_id: &str,
    workers: u32,
    start: jiff::Timestamp,
    interrupt: &watch::Receiver<bool>,
) -> Result<(Vec<Slot>, bool)> {
    let mut slots: Vec<Slot> = (0..workers).map(|_| Slot::default()).collect();
    let config = watcher::Config::default().labels(&format!("{RUN_LABEL}={run_id}"));
    let mut events = std::pin::pin!(watcher::watcher(pods.clone(), config).default_backoff());
    let until_start = jiff::Timestamp::now().duration_until(start).unsigned_abs();
    let start_deadline = tokio::time::Instant::now() + until_start;
    let mut started = false;
    let mut interrupted = false;
    let mut give_up = tokio::time::Instant::now();
    let mut stop = interrupt.clone();
    loop {
        if slots.iter().all(|s| s.outcome.is_some()) {
            return Ok((slots, interrupted));
        }
        if !started && slots.iter().all(|s| s.running || s.outcome.is_some()) {
            started = true;
            eprintln!("all {workers} workers are running");
        }
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Apply(pod) | Event::InitApply(pod))) => {
                    see(pods, &mut slots, &pod, started).await;
                }
                Some(Ok(Event::Delete(pod))) => {
                    see(pods, &mut slots, &pod, started).await;
                    if let Some(slot) = known_slot(&mut slots, &pod)
                        && slot.outcome.is_none()
                    {
                        slot.outcome = Some(Outcome::Failed(
                            "the pod was deleted before the worker reported".into(),
                            None,
                        ));
                    }
                }
                Some(Ok(Event::Init | Event::InitDone)) => {}
                Some(Err(error)) => eprintln!("warning: watch the workers: {error}"),
                None => return Err(Error::failed("the watch on the worker pods ended")),
            },
            () = tokio::time::sleep_until(start_deadline), if !started && !interrupted => {
                return Err(Error::failed(not_started(&slots, start)));
            }
            _ = stop.wait_for(|v| *v), if !interrupted => {
                interrupted = true;
                eprintln!("interrupted: stopping the workers and collecting what they measured");
                give_up = tokio::time::Instant::now() + Duration::from_secs(GRACE_SECONDS as u64 + 5);
                // Each worker pod is deleted gracefully first: it gets SIGTERM, stops, and
                // reports what it sent. The Job goes after (by the caller): deleting it first
                // would leave the pods to the garbage collector, which may remove them before
                // their results are read.
                for pod in slots.iter().filter(|s| s.outcome.is_none()).filter_map(|s| s.pod.as_deref()) {
                    if let Err(error) = pods.delete(pod, &DeleteParams::default()).await
                        && !matches!(&error, kube::Error::Api(s) if s.code == 404)
                    {
                        eprintln!("warning: delete pod {pod:?}: {error}");
                    }
                }
            }
            () = tokio::time::sleep_until(give_up), if interrupted => {
                for slot in slots.iter_mut().filter(|s| s.outcome.is_none()) {
                    slot.outcome = Some(Outcome::Failed("stopped before it reported".into(), None));
                }
            }
        }
    }
}

/// The completion index of a pod of the run, if it is a valid one.
fn index_of(pod: &Pod, workers: usize) -> Option<usize> {
    let annotations = pod.metadata.annotations.as_ref()?;
    let index: usize = annotations.get(INDEX_ANNOTATION)?.trim().parse().ok()?;
    (index < workers).then_some(index)
}

/// The slot a pod fills: before the start the newest pod of an index counts (a replaced pod
/// may still make it); after it only the pod that was running at the start.
fn slot_of<'a>(slots: &'a mut [Slot], pod: &Pod, started: bool) -> Option<&'a mut Slot> {
    let index = index_of(pod, slots.len())?;
    let name = pod.metadata.name.clone()?;
    let slot = slots.get_mut(index)?;
    match &slot.pod {
        Some(known) if *known == name => {}
        Some(_) if started || slot.outcome.is_some() => return None,
        _ => {
            slot.pod = Some(name);
            slot.running = false;
        }
    }
    Some(slot)
}

/// The slot whose pod this is, without adopting it.
fn known_slot<'a>(slots: &'a mut [Slot], pod: &Pod) -> Option<&'a mut Slot> {
    let index = index_of(pod, slots.len())?;
    let slot = slots.get_mut(index)?;
    (slot.pod.is_some() && slot.pod == pod.metadata.name).then_some(slot)
}

/// Takes what a pod's status says into its slot.
async fn see(pods: &Api<Pod>, slots: &mut [Slot], pod: &Pod, started: bool) {
    let seen = state(pod);
    let Some(slot) = slot_of(slots, pod, started) else {
        return;
    };
    if slot.outcome.is_some() {
        return;
    }
    slot.node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    match seen {
        Seen::Waiting(reason) => slot.waiting = Some(reason),
        Seen::Running => slot.running = true,
        Seen::PodFailed(why) => slot.outcome = Some(Outcome::Failed(why, None)),
        Seen::Terminated(code, message) => {
            let name = slot.pod.clone().unwrap_or_default();
            slot.outcome = Some(outcome(pods, &name, code, &message).await);
        }
    }
}

fn state(pod: &Pod) -> Seen {
    let status = pod.status.as_ref();
    let container = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.name == CONTAINER));
    if let Some(state) = container.and_then(|c| c.state.as_ref()) {
        if let Some(t) = &state.terminated {
            return Seen::Terminated(t.exit_code, t.message.clone().unwrap_or_default());
        }
        if state.running.is_some() {
            return Seen::Running;
        }
        if let Some(w) = &state.waiting {
            let reason = w.reason.clone().unwrap_or_else(|| "Waiting".into());
            return Seen::Waiting(match &w.message {
                Some(m) => format!("{reason}: {m}"),
                None => reason,
            });
        }
    }
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("Pending");
    if phase == "Failed" {
        let reason = status
            .and_then(|s| s.reason.clone())
            .unwrap_or_else(|| "Failed".into());
        let message = status.and_then(|s| s.message.clone()).unwrap_or_default();
        return Seen::PodFailed(
            format!("{reason}: {message}")
                .trim_end_matches(": ")
                .to_string(),
        );
    }
    let why = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.status == "False" && c.reason.is_some())
        })
        .and_then(|c| c.reason.clone())
        .unwrap_or_else(|| phase.to_string());
    Seen::Waiting(why)
}

/// What a terminated worker left: its result (from the message, else the logs) or why not.
async fn outcome(pods: &Api<Pod>, pod: &str, code: i32, message: &str) -> Outcome {
    let result = match result::read_message(message) {
        Message::Result(r) => Ok(*r),
        Message::InLogs => {
            let params = LogParams {
                container: Some(CONTAINER.into()),
                ..LogParams::default()
            };
            match pods.logs(pod, &params).await {
                Ok(logs) => result::from_logs(&logs),
                Err(e) => Err(format!("read its logs: {e}")),
            }
        }
        Message::Text(text) => Err(last_line(&text)),
    };
    match result {
        Ok(r) if code == 0 && !r.interrupted => Outcome::Done(r),
        Ok(r) => Outcome::Failed(
            format!("stopped before its share was done (exit code {code})"),
            Some(r),
        ),
        Err(why) => Outcome::Failed(format!("exit code {code}: {why}"), None),
    }
}

/// The last line of a message, at most 200 characters: what a table cell can show.
fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message");
    let mut line = line.trim().to_string();
    if line.chars().count() > 200 {
        line = line.chars().take(199).collect::<String>() + "…";
    }
    line
}

fn not_started(slots: &[Slot], start: jiff::Timestamp) -> String {
    let late: Vec<String> = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.running && s.outcome.is_none())
        .map(|(i, s)| match &s.pod {
            Some(pod) => format!(
                "worker {i} (pod {pod:?}: {})",
                s.waiting.as_deref().unwrap_or("Pending")
            ),
            None => format!("worker {i} (no pod yet)"),
        })
        .collect();
    format!(
        "{} not running at the agreed start {start}: the Job was deleted; raise --start-within \
         if the pods need longer to schedule and pull the image",
        late.join(", ")
    )
}

/// The workers' results merged into the step's report, with one row per worker.
fn merge(
    args: &RunArgs,
    e: &Endpoint,
    concurrency: u32,
    workers: u32,
    started: String,
    slots: Vec<Slot>,
    interrupted: bool,
) -> Result<StepReport> {
    let mut merged = Recorder::new().map_err(Error::failed)?;
    let mut elapsed: f64 = 0.0;
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for (index, slot) in slots.into_iter().enumerate() {
        let index = index as u32;
        let (state, message, result) = match slot.outcome {
            Some(Outcome::Done(r)) => (WorkerState::Done, None, Some(r)),
            Some(Outcome::Failed(why, r)) if interrupted => {
                (WorkerState::Interrupted, Some(why), r)
            }
            Some(Outcome::Failed(why, r)) => (WorkerState::Failed, Some(why), r),
            None => (WorkerState::Failed, Some("never reported".into()), None),
        };
        // A result is data from a pod: one that does not decode is the worker's failure.
        let (recorder, state, message) = match result.as_ref().map(WorkerResult::recorder) {
            Some(Ok(r)) => (Some(r), state, message),
            Some(Err(why)) => (
                None,
                WorkerState::Failed,
                Some(format!("its result is unreadable: {why}")),
            ),
            None => (None, state, message),
        };
        let worker_elapsed = result.as_ref().map_or(0.0, |r| r.elapsed_s.max(0.0));
        let summary = recorder.as_ref().map(|r| r.summary(worker_elapsed));
        if let Some(r) = &recorder {
            merged.merge(r);
            elapsed = elapsed.max(worker_elapsed);
        }
        let pod = slot.pod.unwrap_or_default();
        if state == WorkerState::Failed {
            failed.push(format!(
                "worker {index} (pod {pod:?}) failed: {}",
                message.as_deref().unwrap_or_default()
            ));
        }
        let summary = summary.unwrap_or_default();
        rows.push(WorkerRow {
            index,
            pod,
            node: slot.node,
            state,
            message,
            concurrency: share(concurrency, None, None, workers, index).concurrency,
            requests: summary.requests,
            failures: summary.failures,
            rps: summary.rps,
            duration_seconds: summary.duration_seconds,
            p50_ms: summary.latency_ms.p50,
            p99_ms: summary.latency_ms.p99,
            histogram: result.map(|r| r.histogram),
        });
    }
    for line in &failed {
        eprintln!("error: {line}");
    }
    let summary = merged.summary(elapsed);
    let mut step = run::judge(args, e, concurrency, started, summary, interrupted);
    if !failed.is_empty() && !args.fleet.allow_partial {
        step.passed = false;
    }
    step.histogram = Some(result::encode(merged.histogram()).map_err(Error::failed)?);
    step.workers = Some(rows);
    Ok(step)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use clap::Parser;

    use super::*;
    use crate::{Args, Command};

    fn run_args(argv: &[&str]) -> RunArgs {
        let args =
            Args::try_parse_from([&["kubectl-sealos-bench", "run"][..], argv].concat()).unwrap();
        match args.command {
            Command::Run(run) => *run,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn a_workers_command_line_parses_back_to_the_same_load() {
        let url = "http://10.0.0.1:8080/api";
        let args = run_args(&[
            url,
            "--workers",
            "3",
            "-c",
            "30",
            "-n",
            "3000",
            "--pipeline",
            "4",
            "--threads",
            "2",
            "--timeout",
            "5s",
            "-m",
            "POST",
        ]);
        let options = run::request_options(&args).unwrap();
        let e = crate::plan::endpoint(url, None, &options).unwrap();
        let start: jiff::Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
        let argv = worker_args(&args, &e, 30, 3, "run-1", start);
        let back = run_args(&argv.iter().map(String::as_str).skip(1).collect::<Vec<_>>());
        assert_eq!(back.urls, [url]);
        assert_eq!(back.pipeline, 4);
        assert_eq!(back.threads, Some(2));
        assert_eq!(back.concurrency, [30]);
        assert_eq!(back.requests, Some(3000));
        assert_eq!(back.timeout, Duration::from_secs(5));
        assert_eq!(back.method, http::Method::POST);
        assert_eq!(back.workers, Some(3));
        assert_eq!(back.fleet.worker_of.as_deref(), Some("run-1"));
        // Without pipelining the flag is left out (and the default holds).
        let plain = run_args(&[url, "--workers", "2"]);
        let argv = worker_args(&plain, &e, 2, 2, "run-2", start);
        assert!(!argv.iter().any(|a| a == "--pipeline"), "{argv:?}");
    }
}

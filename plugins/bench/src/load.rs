//! One step of load: `threads` OS threads, each with its own current-thread runtime and its
//! share of the workers (one connection each), merged histograms at the end.
//!
//! Closed loop: a worker sends its next request as soon as the last answer is read. Open loop
//! (`rate`): request i is due at start + i/rate, whichever worker is free takes it, and its
//! latency counts from when it was due, so a stalled server shows as latency instead of
//! silently lowering the rate (coordinated omission corrected).

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{oneshot, watch};

use crate::client::{Conn, Connector, RequestTemplate, SendError};
use crate::stats::{ErrorKind, Recorder, SuccessCodes};

/// What one step sends, and for how long.
pub struct StepPlan {
    pub template: RequestTemplate,
    pub connector: Connector,
    pub concurrency: u32,
    /// Stop after this many requests (exactly this many are recorded)...
    pub count: Option<u64>,
    /// ...or after this long.
    pub duration: Option<Duration>,
    /// Total requests per second (open loop), or None (closed loop).
    pub rate: Option<f64>,
    pub timeout: Duration,
    pub threads: usize,
    pub success: SuccessCodes,
}

/// What a step measured.
pub struct Measured {
    pub recorder: Recorder,
    pub elapsed: Duration,
    pub interrupted: bool,
}

/// Live counts for the progress line, one cache line per thread.
#[repr(align(64))]
#[derive(Default)]
struct Counters {
    done: AtomicU64,
    failed: AtomicU64,
}

struct Shared {
    start: Instant,
    deadline: Option<Instant>,
    tickets: AtomicU64,
    stop: AtomicBool,
    counters: Vec<Counters>,
}

struct ThreadResult {
    recorder: Recorder,
    last_end: Instant,
}

/// Live progress: requests done and failed so far, and seconds since the start.
pub type Progress<'a> = &'a dyn Fn(u64, u64, f64);

/// Runs one step until its count or duration is reached, or `interrupt` resolves (Ctrl-C):
/// then the requests in flight are abandoned and what was measured is returned.
pub async fn run_step(
    plan: Arc<StepPlan>,
    interrupt: impl Future<Output = ()>,
    progress: Progress<'_>,
) -> Result<Measured, String> {
    let threads = plan.threads.clamp(1, plan.concurrency.max(1) as usize);
    let start = Instant::now();
    let shared = Arc::new(Shared {
        start,
        deadline: plan.duration.map(|d| start + d),
        tickets: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        counters: (0..threads).map(|_| Counters::default()).collect(),
    });
    let (cancel_tx, cancel_rx) = watch::channel(false);
    let mut receivers = Vec::with_capacity(threads);
    for index in 0..threads {
        // Workers spread evenly: thread i takes workers i, i+threads, ...
        let workers = (plan.concurrency as usize + threads - 1 - index) / threads;
        let (tx, rx) = oneshot::channel();
        let (shared, plan, cancel) = (shared.clone(), plan.clone(), cancel_rx.clone());
        std::thread::Builder::new()
            .name(format!("bench-{index}"))
            .spawn(move || {
                let _ = tx.send(thread_main(&shared, &plan, index, workers, cancel));
            })
            .map_err(|e| format!("start a load thread: {e}"))?;
        receivers.push(rx);
    }

    let mut finished = pin!(futures::future::join_all(receivers));
    let mut interrupt = pin!(interrupt);
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let mut interrupted_at = None;
    let results = loop {
        tokio::select! {
            results = &mut finished => break results,
            () = &mut interrupt, if interrupted_at.is_none() => {
                interrupted_at = Some(Instant::now());
                shared.stop.store(true, Ordering::Relaxed);
                let _ = cancel_tx.send(true);
            }
            _ = ticker.tick() => {
                let (done, failed) = shared.counters.iter().fold((0, 0), |(d, f), c| {
                    (d + c.done.load(Ordering::Relaxed), f + c.failed.load(Ordering::Relaxed))
                });
                progress(done, failed, start.elapsed().as_secs_f64());
            }
        }
    };

    let mut recorder = Recorder::new()?;
    let mut last_end = start;
    for result in results {
        let result = result.map_err(|_| "a load thread stopped unexpectedly".to_string())??;
        recorder.merge(&result.recorder);
        last_end = last_end.max(result.last_end);
    }
    let end = interrupted_at.unwrap_or(last_end);
    Ok(Measured {
        recorder,
        elapsed: end.saturating_duration_since(start),
        interrupted: interrupted_at.is_some(),
    })
}

fn thread_main(
    shared: &Shared,
    plan: &StepPlan,
    index: usize,
    workers: usize,
    mut cancel: watch::Receiver<bool>,
) -> Result<ThreadResult, String> {
    // I/O and timers only: no signal or child-process hooks on every park.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("start a load thread's runtime: {e}"))?;
    let recorder = RefCell::new(Recorder::new()?);
    let last_end = Cell::new(shared.start);
    let counters = shared
        .counters
        .get(index)
        .ok_or("a load thread has no counters")?;
    runtime.block_on(async {
        let mut set: FuturesUnordered<_> = (0..workers)
            .map(|_| worker(shared, plan, &recorder, &last_end, counters))
            .collect();
        let all = async { while set.next().await.is_some() {} };
        // A dropped sender (the step was abandoned) cancels as well.
        let cancelled = async {
            let _ = cancel.wait_for(|cancelled| *cancelled).await;
        };
        tokio::select! {
            () = all => {}
            () = cancelled => {}
        }
    });
    Ok(ThreadResult {
        recorder: recorder.into_inner(),
        last_end: last_end.get(),
    })
}

async fn worker(
    shared: &Shared,
    plan: &StepPlan,
    recorder: &RefCell<Recorder>,
    last_end: &Cell<Instant>,
    counters: &Counters,
) {
    let mut conn: Option<Conn> = None;
    // One timer for the worker's life, pushed forward per request: moving a pending tokio
    // timer later is a lock-free update, where a new timeout per request would take the
    // timer wheel's lock twice.
    let mut deadline = pin!(tokio::time::sleep(plan.timeout));
    // Only counted and paced runs need the shared ticket counter.
    let ticketed = plan.count.is_some() || plan.rate.is_some();
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let ticket = if ticketed {
            shared.tickets.fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        if plan.count.is_some_and(|n| ticket >= n) {
            break;
        }
        let due = match plan.rate {
            Some(rate) => {
                let due = shared.start + Duration::from_secs_f64(ticket as f64 / rate);
                if shared.deadline.is_some_and(|d| due >= d) {
                    break;
                }
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
                due
            }
            None => {
                let now = Instant::now();
                if shared.deadline.is_some_and(|d| now >= d) {
                    break;
                }
                now
            }
        };
        deadline
            .as_mut()
            .reset((Instant::now() + plan.timeout).into());
        let outcome = {
            let mut request = pin!(exchange(&mut conn, plan));
            poll_fn(|cx| {
                if let Poll::Ready(outcome) = request.as_mut().poll(cx) {
                    return Poll::Ready(Some(outcome));
                }
                deadline.as_mut().poll(cx).map(|()| None)
            })
            .await
        };
        let end = Instant::now();
        let (status, error, bytes) = match outcome {
            Some(Ok(answer)) => {
                let error = (!plan.success.contains(answer.status)).then_some(ErrorKind::Status);
                (Some(answer.status), error, answer.bytes)
            }
            Some(Err(kind)) => (None, Some(kind), 0),
            None => {
                // The connection is in an unknown state: start afresh.
                conn = None;
                (None, Some(ErrorKind::Timeout), 0)
            }
        };
        let micros =
            u64::try_from(end.saturating_duration_since(due).as_micros()).unwrap_or(u64::MAX);
        recorder.borrow_mut().record(micros, status, error, bytes);
        if end > last_end.get() {
            last_end.set(end);
        }
        counters.done.fetch_add(1, Ordering::Relaxed);
        if error.is_some() {
            counters.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One request on the worker's connection, connecting first if there is none. A request that
/// a reused connection could not send (closed by a keep-alive limit) goes on a new one.
async fn exchange(
    slot: &mut Option<Conn>,
    plan: &StepPlan,
) -> Result<crate::client::Answer, ErrorKind> {
    let mut fresh = false;
    loop {
        let conn = match slot {
            Some(conn) => conn,
            None => {
                fresh = true;
                slot.insert(plan.connector.open().await?)
            }
        };
        match conn.send(&plan.template).await {
            Ok(answer) => {
                if !conn.is_open() {
                    *slot = None;
                }
                return Ok(answer);
            }
            Err(SendError::NotSent) if !fresh => *slot = None,
            Err(SendError::NotSent) => {
                *slot = None;
                return Err(ErrorKind::Reset);
            }
            Err(SendError::Failed(kind)) => {
                *slot = None;
                return Err(kind);
            }
        }
    }
}

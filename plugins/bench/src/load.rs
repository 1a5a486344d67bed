//! One step of load: `threads` OS threads, each with its share of the connections (HTTP/1.1 on
//! the engine's event loop, HTTP/2 on a current-thread tokio runtime), merged histograms at
//! the end.
//!
//! Closed loop: a worker sends its next request as soon as the last answer is read. Open loop
//! (`rate`): request i is due at start + i/rate, whichever worker is free takes it, and its
//! latency counts from when it was due, so a stalled server shows as latency instead of
//! silently lowering the rate (coordinated omission corrected).

mod h2;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::client::{Connector, RequestTemplate};
use crate::stats::{Recorder, SuccessCodes};

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
    /// HTTP/1.1 requests in flight per connection (1: no pipelining).
    pub pipeline: usize,
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
pub struct Counters {
    pub done: AtomicU64,
    pub failed: AtomicU64,
}

/// What the threads of a step share.
pub struct Shared {
    pub start: Instant,
    pub deadline: Option<Instant>,
    /// The next request's number, in counted and paced steps.
    pub tickets: AtomicU64,
    pub stop: AtomicBool,
    pub counters: Vec<Counters>,
}

pub struct ThreadResult {
    pub recorder: Recorder,
    /// When the last request ended.
    pub last_end: Instant,
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
                let result = if plan.connector.http2() {
                    h2::thread_main(&shared, &plan, index, workers, cancel)
                } else {
                    match shared.counters.get(index) {
                        Some(counters) => {
                            crate::engine::run_thread(&shared, &plan, counters, workers)
                        }
                        None => Err("a load thread has no counters".to_string()),
                    }
                };
                let _ = tx.send(result);
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

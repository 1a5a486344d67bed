//! The HTTP/2 load thread: hyper connections on a current-thread tokio runtime, one worker
//! (and connection) each. HTTP/1.1 runs on the engine instead (`crate::engine`).

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::watch;

use super::{Counters, Shared, StepPlan, ThreadResult};
use crate::client::{Conn, SendError};
use crate::stats::{ErrorKind, Recorder};

pub fn thread_main(
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

//! The HTTP/1.1 engine: one event loop per load thread, built for load generation the way wrk
//! is. Each step's request is serialized once and written with one syscall per batch; answers
//! are parsed in place from a reusable buffer; sockets are registered once (edge-triggered), so
//! a request costs a write and a read; timeouts are swept per connection, not timed per
//! request; nothing is allocated per request; when answers trickle in one by one (the server
//! is the slower side), the thread naps so that they gather (`coalesce`). HTTP/2 stays on
//! hyper (`load::h2`).

mod coalesce;
mod conn;
mod request;
mod response;
mod transport;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use crate::load::{Counters, Shared, StepPlan, ThreadResult};
use crate::stats::{ErrorKind, Recorder};
use coalesce::Coalescer;
use conn::{Conn, Outcome};
pub use request::Wire;
pub use transport::Dialer;

/// The longest the loop sleeps: how soon it sees a stop (Ctrl-C) when nothing else happens.
const MAX_WAIT: Duration = Duration::from_millis(100);
/// Readiness events taken per wake.
const EVENTS: usize = 1024;

/// Runs one load thread's `connections` until the step's count, deadline or stop.
pub fn run_thread(
    shared: &Shared,
    plan: &StepPlan,
    counters: &Counters,
    connections: usize,
) -> Result<ThreadResult, String> {
    // A thread's timers may fire up to 50 µs late by default: a nap of a few µs would be
    // ten times longer. Best effort: without it naps are only less precise.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::set_current_timer_slack(std::num::NonZeroU64::new(1_000));
    let poll = Poll::new().map_err(|e| format!("start a load thread's event loop: {e}"))?;
    let wire = Wire::new(&plan.template, plan.pipeline);
    let head_request = plan.template.method == http::Method::HEAD;
    let now = Instant::now();
    let conns = (0..connections)
        .map(|i| Conn::new(Token(i), &wire, head_request, now))
        .collect();
    let thread = Thread {
        shared,
        plan,
        counters,
        dialer: plan.connector.dialer(),
        wire,
        poll,
        conns,
        recorder: Recorder::new()?,
        coalescer: Coalescer::default(),
        outcomes: Vec::with_capacity(plan.pipeline * 2),
        free: Vec::with_capacity(connections),
        is_free: vec![false; connections],
        retry: Vec::with_capacity(connections),
        held: None,
        exhausted: false,
        in_flight: 0,
        done: 0,
        failed: 0,
        last_end: shared.start,
    };
    thread.run()
}

struct Thread<'a> {
    shared: &'a Shared,
    plan: &'a StepPlan,
    counters: &'a Counters,
    dialer: Dialer,
    wire: Wire,
    poll: Poll,
    conns: Vec<Conn>,
    recorder: Recorder,
    coalescer: Coalescer,
    /// Outcomes of the connection being serviced, recorded right after.
    outcomes: Vec<Outcome>,
    /// Open loop: connections that can take a request, and which are listed.
    free: Vec<usize>,
    is_free: Vec<bool>,
    /// Connections whose send failed at once: serviced again on the next turn.
    retry: Vec<usize>,
    /// Open loop: the claimed request's due time, sent when due on a free connection.
    held: Option<Instant>,
    /// No request is left to claim.
    exhausted: bool,
    in_flight: usize,
    done: u64,
    failed: u64,
    last_end: Instant,
}

impl Thread<'_> {
    fn run(mut self) -> Result<ThreadResult, String> {
        for conn in &mut self.conns {
            conn.open(self.poll.registry(), &self.dialer, &mut self.outcomes);
        }
        let now = Instant::now();
        for i in 0..self.conns.len() {
            self.service(i, now);
        }
        let sweep = (self.plan.timeout / 10).clamp(Duration::from_millis(1), MAX_WAIT);
        let mut next_sweep = now + sweep;
        let mut events = Events::with_capacity(EVENTS);
        let mut retry = Vec::with_capacity(self.conns.len());
        let mut ready = Vec::with_capacity(EVENTS);
        loop {
            let answered = self.done;
            let now = Instant::now();
            // At the deadline no new request starts; those in flight end (or time out) and
            // count, as every request due before it does.
            if self.shared.deadline.is_some_and(|d| now >= d) {
                self.exhausted = true;
            }
            let drained = self.exhausted && self.in_flight == 0 && self.held.is_none();
            if self.shared.stop.load(Ordering::Relaxed) || drained {
                break;
            }
            self.dispatch(now);
            let mut wake = (now + MAX_WAIT).min(next_sweep);
            if let Some(deadline) = self.shared.deadline.filter(|d| *d > now) {
                wake = wake.min(deadline);
            }
            if let Some(due) = self.held.filter(|_| !self.free.is_empty()) {
                wake = wake.min(due);
            }
            let wait = if self.retry.is_empty() {
                wake.saturating_duration_since(now)
            } else {
                Duration::ZERO
            };
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("wait for the load's sockets: {e}")),
            }
            // Read everything that arrived, then send: the server is woken once for a burst of
            // requests instead of once per request.
            for event in &events {
                let i = event.token().0;
                if let Some(conn) = self.conns.get_mut(i) {
                    let peer_closed = event.is_read_closed() || event.is_error();
                    conn.on_event(
                        self.poll.registry(),
                        &self.dialer,
                        peer_closed,
                        &mut self.outcomes,
                    );
                    self.record_outcomes();
                    ready.push(i);
                }
            }
            for i in ready.drain(..) {
                self.service(i, Instant::now());
            }
            std::mem::swap(&mut retry, &mut self.retry);
            for i in retry.drain(..) {
                self.service(i, Instant::now());
            }
            let now = Instant::now();
            if now >= next_sweep {
                next_sweep = now + sweep;
                for i in 0..self.conns.len() {
                    let registry = self.poll.registry();
                    if let Some(conn) = self.conns.get_mut(i)
                        && conn.check_timeout(registry, self.plan.timeout, now, &mut self.outcomes)
                    {
                        self.service(i, now);
                    }
                }
            }
            self.counters.done.store(self.done, Ordering::Relaxed);
            self.counters.failed.store(self.failed, Ordering::Relaxed);
            // Closed loop only: with --rate, requests leave when due, not when answers gather.
            // A nap, not a wait on the sockets: answers landing now wake no one.
            let handled = usize::try_from(self.done - answered).unwrap_or(usize::MAX);
            if self.plan.rate.is_none()
                && !self.exhausted
                && let Some(nap) = self.coalescer.nap(handled, self.in_flight)
            {
                std::thread::sleep(nap);
            }
        }
        // Stopped (Ctrl-C): what is still in flight is abandoned, not counted.
        for conn in &mut self.conns {
            conn.abandon(self.poll.registry());
        }
        self.counters.done.store(self.done, Ordering::Relaxed);
        self.counters.failed.store(self.failed, Ordering::Relaxed);
        Ok(ThreadResult {
            recorder: self.recorder,
            last_end: self.last_end,
        })
    }

    /// Records connection `i`'s outcomes, gives it new requests, and sends them.
    fn service(&mut self, i: usize, now: Instant) {
        self.record_outcomes();
        let Some(conn) = self.conns.get_mut(i) else {
            return;
        };
        if self.plan.rate.is_none() {
            let want = conn.capacity();
            let got = claim(self.shared, self.plan, &mut self.exhausted, want);
            for _ in 0..got {
                conn.push(now, now);
            }
            self.in_flight += got;
        } else if conn.capacity() > 0 && !self.is_free[i] {
            self.free.push(i);
            self.is_free[i] = true;
        }
        self.pump(i, now);
    }

    /// Sends what connection `i` has queued; a send that failed at once is retried next turn.
    fn pump(&mut self, i: usize, now: Instant) {
        if let Some(conn) = self.conns.get_mut(i) {
            conn.pump(
                self.poll.registry(),
                &self.dialer,
                &self.wire,
                now,
                &mut self.outcomes,
            );
        }
        if !self.outcomes.is_empty() {
            self.record_outcomes();
            self.retry.push(i);
        }
    }

    /// Open loop: each due request goes to a free connection; latency counts from when it
    /// was due, so a server that falls behind shows as latency (coordinated omission).
    fn dispatch(&mut self, now: Instant) {
        let Some(rate) = self.plan.rate else {
            return;
        };
        while let Some(&i) = self.free.last() {
            let Some(conn) = self.conns.get_mut(i) else {
                break;
            };
            if conn.capacity() == 0 {
                self.free.pop();
                self.is_free[i] = false;
                continue;
            }
            let due = match self.held {
                Some(due) => due,
                None => match next_due(self.shared, self.plan, rate) {
                    Some(due) => *self.held.insert(due),
                    None => {
                        self.exhausted = true;
                        break;
                    }
                },
            };
            if due > now {
                break;
            }
            self.held = None;
            conn.push(due, now);
            self.in_flight += 1;
            self.pump(i, now);
        }
    }

    fn record_outcomes(&mut self) {
        for outcome in self.outcomes.drain(..) {
            let (status, error, bytes) = match outcome.result {
                Ok(answer) => {
                    let ok = self.plan.success.contains(answer.status);
                    (
                        Some(answer.status),
                        (!ok).then_some(ErrorKind::Status),
                        answer.bytes,
                    )
                }
                Err(kind) => (None, Some(kind), 0),
            };
            let micros = u64::try_from(
                outcome
                    .at
                    .saturating_duration_since(outcome.started)
                    .as_micros(),
            )
            .unwrap_or(u64::MAX);
            self.recorder.record(micros, status, error, bytes);
            self.coalescer.record(micros);
            self.last_end = self.last_end.max(outcome.at);
            self.in_flight = self.in_flight.saturating_sub(1);
            self.done += 1;
            if error.is_some() {
                self.failed += 1;
            }
        }
    }
}

/// Closed loop: up to `want` requests to send now (all of them when the step runs for a
/// duration; counted runs share one ticket counter across threads).
fn claim(shared: &Shared, plan: &StepPlan, exhausted: &mut bool, want: usize) -> usize {
    if *exhausted || want == 0 {
        return 0;
    }
    let Some(count) = plan.count else {
        return want;
    };
    let ticket = shared.tickets.fetch_add(want as u64, Ordering::Relaxed);
    let left = count.saturating_sub(ticket);
    let got = usize::try_from(left).map_or(want, |left| left.min(want));
    if got < want {
        *exhausted = true;
    }
    got
}

/// Open loop: the next request's due time (request i is due at start + i/rate), or None when
/// the count or the duration is used up.
fn next_due(shared: &Shared, plan: &StepPlan, rate: f64) -> Option<Instant> {
    let ticket = shared.tickets.fetch_add(1, Ordering::Relaxed);
    if plan.count.is_some_and(|n| ticket >= n) {
        return None;
    }
    let due = shared.start + Duration::from_secs_f64(ticket as f64 / rate);
    if shared.deadline.is_some_and(|d| due >= d) {
        return None;
    }
    Some(due)
}

//! One connection of the engine: its socket, read buffer, answer parser and the requests it has
//! in flight (up to `--pipeline`). It turns socket events into outcomes; the thread's loop
//! decides what to send next.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use super::request::Wire;
use super::response::{Answer, Parser};
use super::transport::{Dialer, Failure, Transport};
use crate::stats::ErrorKind;

/// The read buffer; answer heads may grow it up to [`MAX_HEAD`].
const READ_BUFFER: usize = 16 * 1024;
/// The largest answer head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// A request's end: when its latency counts from, and its answer or why it has none.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub started: Instant,
    /// When the answer was read or the failure seen.
    pub at: Instant,
    pub result: Result<Answer, ErrorKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed,
    Connecting,
    Open,
}

pub struct Conn {
    token: Token,
    transport: Option<Transport>,
    phase: Phase,
    /// Which of the dialer's addresses the current connect tries.
    addr: usize,
    parser: Parser,
    buf: Vec<u8>,
    /// Unparsed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// When each request in flight counts from, oldest first. Those not yet answered when the
    /// connection ends are sent again on the next one.
    inflight: VecDeque<Instant>,
    pipeline: usize,
    /// The length of one request on the wire.
    request_len: usize,
    /// Bytes of the requests in flight not yet written, and where in a request they start.
    queued: usize,
    offset: usize,
    /// Answers read on this connection: a reused connection closed by the server before
    /// answering was closed idle, and its requests go on a new one without an error.
    answered: u64,
    /// The last progress (connect started, a request sent on an idle connection, an answer):
    /// a connection with requests in flight and no progress for `--timeout` has timed out.
    since: Instant,
}

impl Conn {
    pub fn new(token: Token, wire: &Wire, head_request: bool, now: Instant) -> Conn {
        let pipeline = wire.pipeline();
        Conn {
            token,
            transport: None,
            phase: Phase::Closed,
            addr: 0,
            parser: Parser::new(head_request),
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            inflight: VecDeque::with_capacity(pipeline),
            pipeline,
            request_len: wire.request_len(),
            queued: 0,
            offset: 0,
            answered: 0,
            since: now,
        }
    }

    /// Requests this connection can take now.
    pub fn capacity(&self) -> usize {
        self.pipeline - self.inflight.len()
    }

    /// Queues a request whose latency counts from `started`; [`Conn::pump`] sends it.
    pub fn push(&mut self, started: Instant, now: Instant) {
        if self.inflight.is_empty() {
            self.since = now;
        }
        self.inflight.push_back(started);
        self.queued += self.request_len;
    }

    /// Opens the connection ahead of any request, as `-c` promises that many connections.
    pub fn open(&mut self, registry: &Registry, dialer: &Dialer, out: &mut Vec<Outcome>) {
        if self.phase == Phase::Closed {
            self.connect(registry, dialer, Instant::now(), out);
        }
    }

    /// Connects if needed, then writes what is queued as far as the socket takes it.
    pub fn pump(
        &mut self,
        registry: &Registry,
        dialer: &Dialer,
        wire: &Wire,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        if self.inflight.is_empty() {
            return;
        }
        if self.phase == Phase::Closed {
            self.connect(registry, dialer, now, out);
        }
        if self.phase == Phase::Open {
            let written = match self.transport.as_mut() {
                Some(transport) => transport.flush().and_then(|()| self.write(wire)),
                None => Ok(()),
            };
            if let Err(failure) = written {
                self.fail(registry, failure_kind(&failure), now, out);
            }
        }
    }

    /// A readiness event: completes a connect, reads and parses what arrived. Writing waits for
    /// [`Conn::pump`], after every event of the wake-up is read, so that requests go out in a
    /// burst and the server finds them together.
    pub fn on_event(
        &mut self,
        registry: &Registry,
        dialer: &Dialer,
        peer_closed: bool,
        out: &mut Vec<Outcome>,
    ) {
        if self.phase == Phase::Connecting {
            match self.connected() {
                Ok(true) => self.phase = Phase::Open,
                Ok(false) => return,
                Err(_) => {
                    let now = Instant::now();
                    self.close(registry);
                    self.addr += 1;
                    if self.addr < dialer.addrs.len() {
                        self.connect(registry, dialer, now, out);
                    } else {
                        self.addr = 0;
                        self.fail(registry, ErrorKind::Connect, now, out);
                    }
                    return;
                }
            }
        }
        if self.phase == Phase::Open
            && let Err(kind) = self.read(registry, peer_closed, out)
        {
            self.fail(registry, kind, Instant::now(), out);
        }
    }

    /// Fails the oldest request if nothing moved for `timeout`; true if it did.
    pub fn check_timeout(
        &mut self,
        registry: &Registry,
        timeout: Duration,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) -> bool {
        if self.inflight.is_empty() || now.saturating_duration_since(self.since) < timeout {
            return false;
        }
        self.fail(registry, ErrorKind::Timeout, now, out);
        true
    }

    /// Drops the connection and the requests in flight (the step is over).
    pub fn abandon(&mut self, registry: &Registry) {
        self.close(registry);
        self.inflight.clear();
        self.queued = 0;
    }

    fn connect(
        &mut self,
        registry: &Registry,
        dialer: &Dialer,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) {
        self.since = now;
        let Some(addr) = dialer.addrs.get(self.addr).copied() else {
            self.addr = 0;
            self.fail(registry, ErrorKind::Connect, now, out);
            return;
        };
        let registered = Transport::connect(dialer, addr).and_then(|mut transport| {
            registry.register(
                transport.socket(),
                self.token,
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(transport)
        });
        match registered {
            Ok(transport) => {
                self.transport = Some(transport);
                self.phase = Phase::Connecting;
            }
            Err(failure) => {
                let kind = match failure {
                    Failure::Tls => ErrorKind::Tls,
                    Failure::Io(_) => ErrorKind::Connect,
                };
                self.fail(registry, kind, now, out);
            }
        }
    }

    /// Whether the non-blocking connect has finished (Err: it failed).
    fn connected(&mut self) -> io::Result<bool> {
        let Some(transport) = self.transport.as_mut() else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        let socket = transport.socket();
        if let Some(e) = socket.take_error()? {
            return Err(e);
        }
        match socket.peer_addr() {
            Ok(_) => {
                // Requests are small and answered in turn: never wait for Nagle.
                socket.set_nodelay(true)?;
                self.addr = 0;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn write(&mut self, wire: &Wire) -> Result<(), Failure> {
        let Some(transport) = self.transport.as_mut() else {
            return Ok(());
        };
        while self.queued > 0 {
            match transport.write(wire.slice(self.offset, self.queued)) {
                Ok(0) => break,
                Ok(n) => {
                    self.queued -= n;
                    self.offset = (self.offset + n) % wire.request_len();
                }
                Err(Failure::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads what the socket has and completes answers. Err: the connection failed this way.
    /// `peer_closed`: the event said the server closed its side, so reading goes on to the end
    /// of the stream (no other edge would come for it).
    fn read(
        &mut self,
        registry: &Registry,
        peer_closed: bool,
        out: &mut Vec<Outcome>,
    ) -> Result<(), ErrorKind> {
        loop {
            if self.end == self.buf.len() {
                self.make_room()?;
            }
            let Some(transport) = self.transport.as_mut() else {
                return Ok(());
            };
            let drains = transport.short_read_drains() && !peer_closed;
            let space = self.buf.len() - self.end;
            let read = match self.buf.get_mut(self.end..) {
                Some(free) => transport.read(free),
                None => return Err(ErrorKind::Other),
            };
            let n = match read {
                Ok(0) => return self.at_end(registry, false, out),
                Ok(n) => n,
                Err(Failure::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(Failure::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return self.at_end(registry, true, out);
                }
                Err(failure) => return Err(failure_kind(&failure)),
            };
            self.end += n;
            // The clock is read once per read: every answer in it arrived by then.
            if self.parse(registry, Instant::now(), out)? || (drains && n < space) {
                return Ok(());
            }
        }
    }

    /// Completes the answers buffered; true if the connection was closed after one.
    fn parse(
        &mut self,
        registry: &Registry,
        now: Instant,
        out: &mut Vec<Outcome>,
    ) -> Result<bool, ErrorKind> {
        while self.start < self.end {
            let unparsed = self.buf.get(self.start..self.end).unwrap_or_default();
            let (used, answer) = self.parser.parse(unparsed).map_err(|_| ErrorKind::Other)?;
            self.start += used;
            match answer {
                Some(answer) => {
                    // An answer to nothing asked is not HTTP/1.1.
                    let started = self.inflight.pop_front().ok_or(ErrorKind::Other)?;
                    self.answered += 1;
                    self.since = now;
                    out.push(Outcome {
                        started,
                        at: now,
                        result: Ok(answer),
                    });
                    if answer.close {
                        self.reconnect_later(registry);
                        return Ok(true);
                    }
                }
                None if used == 0 => break,
                None => {}
            }
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        Ok(false)
    }

    /// The server ended the stream (`reset`: abruptly). A close-delimited body is complete; a
    /// kept-alive connection closed before any byte of the next answer was closed idle, and its
    /// requests go again; anything else fails the oldest request as reset.
    fn at_end(
        &mut self,
        registry: &Registry,
        reset: bool,
        out: &mut Vec<Outcome>,
    ) -> Result<(), ErrorKind> {
        if !reset
            && let Some(answer) = self.parser.at_eof()
            && let Some(started) = self.inflight.pop_front()
        {
            out.push(Outcome {
                started,
                at: Instant::now(),
                result: Ok(answer),
            });
            self.reconnect_later(registry);
            return Ok(());
        }
        let partial = self.parser.in_body() || self.start < self.end;
        if !partial && self.answered > 0 {
            self.reconnect_later(registry);
            return Ok(());
        }
        Err(ErrorKind::Reset)
    }

    /// Moves unparsed bytes to the front; a head that fills the buffer may grow it.
    fn make_room(&mut self) -> Result<(), ErrorKind> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            return Ok(());
        }
        if self.buf.len() >= MAX_HEAD {
            return Err(ErrorKind::Other);
        }
        self.buf.resize((self.buf.len() * 2).min(MAX_HEAD), 0);
        Ok(())
    }

    /// The oldest request failed this way; the connection is dropped and the others wait
    /// for the next one.
    fn fail(&mut self, registry: &Registry, kind: ErrorKind, now: Instant, out: &mut Vec<Outcome>) {
        if let Some(started) = self.inflight.pop_front() {
            out.push(Outcome {
                started,
                at: now,
                result: Err(kind),
            });
        }
        self.since = now;
        self.reconnect_later(registry);
    }

    /// Closes the socket and queues every request in flight again for the next connection.
    fn reconnect_later(&mut self, registry: &Registry) {
        self.close(registry);
        self.queued = self.inflight.len() * self.request_len;
        self.offset = 0;
    }

    fn close(&mut self, registry: &Registry) {
        if let Some(mut transport) = self.transport.take() {
            let _ = registry.deregister(transport.socket());
        }
        self.phase = Phase::Closed;
        self.parser.reset();
        self.start = 0;
        self.end = 0;
        self.answered = 0;
    }
}

fn failure_kind(failure: &Failure) -> ErrorKind {
    match failure {
        Failure::Tls => ErrorKind::Tls,
        Failure::Io(e) => ErrorKind::of_io(e.kind()),
    }
}

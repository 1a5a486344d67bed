//! The HTTP/1.1 load engine end to end: the real binary against a hand-made server whose answer
//! to each request a script decides (bodies written in small pieces, interim answers, closes at
//! chosen points, pipelined answers written together), and against Debian's nginx serving
//! files. Counts are checked on both sides: what the client reports, what the server saw.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-sealos-bench");

/// One request, as the script sees it.
struct Request {
    method: String,
    /// How many requests the script was asked about before this one, over all connections.
    nth: u64,
    /// The connection's number, in the order the server accepted them (0-based).
    conn: u64,
    /// How many requests the script was asked about before this one on this connection.
    on_conn: u64,
}

/// What the server does for one request.
struct Reply {
    /// The answer exactly as written: interim answers, head and body. Empty: no answer.
    bytes: Vec<u8>,
    /// Write it in pieces of this many bytes, one write each (the socket has TCP_NODELAY, so
    /// each goes out on its own); otherwise it goes out in one write with the answers to the
    /// other requests already read on the connection ("pipelined answers arriving together").
    pieces: Option<usize>,
    /// After writing: shut the connection down, answering nothing more on it.
    close: bool,
    /// After writing: wait for the client's next request and close with it unread, which makes
    /// the kernel answer it with a reset.
    abort: bool,
    /// Before answering: wait until a later request has arrived on the connection, so that a
    /// close is sure to drop a pipelined request.
    hold: bool,
}

impl Reply {
    fn send(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            bytes: bytes.into(),
            pieces: None,
            close: false,
            abort: false,
            hold: false,
        }
    }

    fn in_pieces(self, size: usize) -> Reply {
        Reply {
            pieces: Some(size),
            ..self
        }
    }

    fn then_close(self) -> Reply {
        Reply {
            close: true,
            ..self
        }
    }

    fn then_abort(self) -> Reply {
        Reply {
            abort: true,
            ..self
        }
    }

    fn hold(self) -> Reply {
        Reply { hold: true, ..self }
    }
}

/// A 200 with a Content-Length body.
fn ok(body: &[u8]) -> Vec<u8> {
    let mut answer =
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    answer.extend_from_slice(body);
    answer
}

/// A 200 with a chunked body in chunks of `size` bytes.
fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for chunk in body.chunks(size) {
        answer.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        answer.extend_from_slice(chunk);
        answer.extend_from_slice(b"\r\n");
    }
    answer.extend_from_slice(b"0\r\n\r\n");
    answer
}

/// `n` bytes of a repeating pattern.
fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// What the server saw.
#[derive(Default)]
struct Seen {
    connections: AtomicU64,
    /// Complete requests read.
    received: AtomicU64,
    /// Requests given a non-empty answer.
    answered: AtomicU64,
    /// Requests read but left unanswered when a reply closed their connection.
    dropped: AtomicU64,
    /// The most requests read on one connection and not yet answered, at any moment.
    depth: AtomicU64,
    /// Script calls so far (`Request::nth`).
    asked: AtomicU64,
}

struct Server {
    url: String,
    seen: Arc<Seen>,
}

type Script = dyn Fn(&Request) -> Reply + Send + Sync;

/// A server on 127.0.0.1, a thread per connection, answering each request as `script` says.
fn server(script: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let script: Arc<Script> = Arc::new(script);
    let shared = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let conn = shared.connections.fetch_add(1, Ordering::SeqCst);
            let (seen, script) = (shared.clone(), script.clone());
            std::thread::spawn(move || serve(stream, conn, &*script, &seen));
        }
    });
    Server { url, seen }
}

fn serve(mut stream: TcpStream, conn: u64, script: &Script, seen: &Seen) {
    stream.set_nodelay(true).unwrap();
    // Only a bound for a client that hangs; never reached when the engine is right.
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = Vec::new();
    let mut pending = VecDeque::new();
    let mut on_conn = 0;
    loop {
        if pending.is_empty() && !read_requests(&mut stream, &mut buf, &mut pending, seen) {
            return;
        }
        seen.depth.fetch_max(pending.len() as u64, Ordering::SeqCst);
        let mut out = Vec::new();
        while let Some(method) = pending.pop_front() {
            let request = Request {
                method,
                nth: seen.asked.fetch_add(1, Ordering::SeqCst),
                conn,
                on_conn,
            };
            on_conn += 1;
            let reply = script(&request);
            if reply.hold && pending.is_empty() {
                // The answers before it go now: a client whose pipeline is full sends nothing
                // more until it has them.
                if stream.write_all(&out).is_err() {
                    return;
                }
                out.clear();
                while pending.is_empty() && read_requests(&mut stream, &mut buf, &mut pending, seen)
                {
                }
            }
            seen.depth
                .fetch_max(pending.len() as u64 + 1, Ordering::SeqCst);
            if !reply.bytes.is_empty() {
                seen.answered.fetch_add(1, Ordering::SeqCst);
            }
            match reply.pieces {
                Some(size) => {
                    let _ = stream.write_all(&out);
                    out.clear();
                    for piece in reply.bytes.chunks(size) {
                        if stream.write_all(piece).is_err() {
                            return;
                        }
                    }
                }
                None => out.extend_from_slice(&reply.bytes),
            }
            if reply.abort {
                let _ = stream.write_all(&out);
                let _ = stream.peek(&mut [0u8; 1]);
                return;
            }
            if reply.close {
                let _ = stream.write_all(&out);
                seen.dropped
                    .fetch_add(pending.len() as u64, Ordering::SeqCst);
                // A lingering close, as nginx does: the client's unread requests would
                // otherwise make the kernel send a reset that may destroy the answer.
                let _ = stream.shutdown(Shutdown::Write);
                let mut sink = [0u8; 4096];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
        }
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}

/// Reads once and queues the method of every complete request now buffered. False at the end
/// of the connection.
fn read_requests(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    pending: &mut VecDeque<String>,
    seen: &Seen,
) -> bool {
    let mut chunk = [0u8; 16384];
    match stream.read(&mut chunk) {
        Ok(0) | Err(_) => return false,
        Ok(n) => buf.extend_from_slice(&chunk[..n]),
    }
    while let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.trim().parse().ok())
            .unwrap_or(0);
        if buf.len() < head_end + 4 + length {
            break;
        }
        buf.drain(..head_end + 4 + length);
        pending.push_back(head.split(' ').next().unwrap_or_default().to_string());
        seen.received.fetch_add(1, Ordering::SeqCst);
    }
    true
}

/// Runs the binary with `-o json` and returns its first step, the process having exited 0.
fn bench(args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["run"])
        .args(args)
        .args(["-o", "json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", explain(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    report["steps"][0].clone()
}

fn explain(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Every one of `n` requests succeeded with a 200, `bytes` body bytes in all, no error.
fn assert_all_ok(step: &Value, n: u64, bytes: u64) {
    assert_eq!(step["requests"], n, "{step:#}");
    assert_eq!(step["successes"], n, "{step:#}");
    assert_eq!(step["failures"], 0, "{step:#}");
    assert_eq!(errors(step), errors_of(&[]), "{step:#}");
    assert_eq!(
        step["status_codes"],
        serde_json::json!({ "200": n }),
        "{step:#}"
    );
    assert_eq!(step["bytes"], bytes, "{step:#}");
}

fn errors(step: &Value) -> BTreeMap<String, u64> {
    serde_json::from_value(step["errors"].clone()).unwrap()
}

/// The errors map with these counts and every other kind at 0.
fn errors_of(counts: &[(&str, u64)]) -> BTreeMap<String, u64> {
    let mut all: BTreeMap<String, u64> = ["connect", "timeout", "reset", "tls", "status", "other"]
        .iter()
        .map(|kind| (kind.to_string(), 0))
        .collect();
    for (kind, n) in counts {
        all.insert(kind.to_string(), *n);
    }
    all
}

fn count(seen: &AtomicU64) -> u64 {
    seen.load(Ordering::SeqCst)
}

#[test]
fn content_length_answers_keep_every_connection_alive() {
    // Body sizes 0, 3, ..., 108 in turn: every request's size is known from its number.
    let size = |nth: u64| (nth % 37) as usize * 3;
    let s = server(move |r| Reply::send(ok(&body(size(r.nth)))));
    let step = bench(&[&s.url, "-c", "4", "--threads", "2", "-n", "1000"]);
    assert_all_ok(&step, 1000, (0..1000).map(|i| size(i) as u64).sum());
    assert_eq!(count(&s.seen.connections), 4);
    assert_eq!(count(&s.seen.received), 1000);
    assert_eq!(count(&s.seen.answered), 1000);
}

#[test]
fn interim_answers_before_the_final_one_are_skipped() {
    let s = server(|r| {
        let interim: &[u8] = match r.nth % 3 {
            0 => b"HTTP/1.1 100 Continue\r\n\r\n",
            1 => b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
            _ => b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n",
        };
        let mut answer = interim.to_vec();
        answer.extend_from_slice(&ok(b"final"));
        // Every other one in pieces, so the interim and final heads also arrive apart.
        if r.nth % 2 == 0 {
            Reply::send(answer).in_pieces(4)
        } else {
            Reply::send(answer)
        }
    });
    let step = bench(&[&s.url, "-c", "1", "-n", "30"]);
    assert_all_ok(&step, 30, 30 * 5);
    assert_eq!(count(&s.seen.connections), 1);
    assert_eq!(count(&s.seen.answered), 30);
    // Pipelined: the interim answers of several requests in one read.
    let step = bench(&[&s.url, "-c", "1", "-n", "30", "--pipeline", "4"]);
    assert_all_ok(&step, 30, 30 * 5);
    assert_eq!(count(&s.seen.connections), 2);
    assert_eq!(count(&s.seen.answered), 60);
}

#[test]
fn head_answers_have_no_body_whatever_their_headers_say() {
    let s = server(|r| {
        if r.method != "HEAD" {
            return Reply::send(
                b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n".to_vec(),
            );
        }
        // The length headers a GET would have had; no body follows either.
        Reply::send(match r.nth % 3 {
            0 => &b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"[..],
            1 => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            _ => b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
        })
    });
    // A client waiting for a body would time out: the timeout is left long so that only a
    // wrong wait, not a slow machine, shows up as an error.
    let step = bench(&[
        &s.url,
        "-m",
        "HEAD",
        "-c",
        "2",
        "-n",
        "30",
        "--timeout",
        "10s",
    ]);
    assert_all_ok(&step, 30, 0);
    // No body read means the connections stay usable.
    assert_eq!(count(&s.seen.connections), 2);
    assert_eq!(count(&s.seen.answered), 30);
    // Pipelined: each answer ends at its head, the next one right behind it.
    let pipelined = [
        &s.url,
        "-m",
        "HEAD",
        "-c",
        "2",
        "-n",
        "60",
        "--pipeline",
        "8",
    ];
    let step = bench(&[&pipelined[..], &["--timeout", "10s"]].concat());
    assert_all_ok(&step, 60, 0);
    assert_eq!(count(&s.seen.connections), 4);
    assert_eq!(count(&s.seen.answered), 90);
}

#[test]
fn chunked_bodies_with_extensions_and_trailers_arrive_in_any_pieces() {
    // 16 body bytes in chunks of 5, 10 and 1 (the last one a bare LF), sizes in both cases with
    // leading zeros, extensions with and without whitespace and quotes, and two trailers.
    let answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=value\r\nhello\r\n\
        00A ; quoted=\"a;b\"\r\n0123456789\r\n\
        1\r\n\n\r\n\
        0\r\nX-Checksum: 1\r\nX-Other: two\r\n\r\n";
    // Pieces of 1 byte split the answer everywhere, inside each CRLF included.
    let pieces = [1, 2, 3, 4, 5, 7, 11, 13, 64];
    let s = server(move |r| Reply::send(answer.to_vec()).in_pieces(pieces[r.nth as usize % 9]));
    let step = bench(&[&s.url, "-c", "1", "-n", "27"]);
    assert_all_ok(&step, 27, 27 * 16);
    // Each answer ended exactly at its trailers: the connection served all of them.
    assert_eq!(count(&s.seen.connections), 1);
    assert_eq!(count(&s.seen.answered), 27);
}

#[test]
fn bodies_larger_than_any_read_buffer() {
    let large = Arc::new(body(3 * 1024 * 1024 + 1));
    let chunks = large.clone();
    let s = server(move |r| {
        Reply::send(match r.nth % 3 {
            0 => ok(&large),
            1 => chunked(&chunks, 65536),
            // Chunks of an odd size that straddle any power-of-two buffer.
            _ => chunked(&chunks, 100_003),
        })
    });
    let step = bench(&[&s.url, "-c", "2", "-n", "9"]);
    assert_all_ok(&step, 9, 9 * (3 * 1024 * 1024 + 1));
    assert_eq!(count(&s.seen.connections), 2);
    assert_eq!(count(&s.seen.answered), 9);
}

#[test]
fn close_delimited_bodies_end_at_the_close() {
    let large = body(200_001);
    let s = server(move |r| {
        // Neither Content-Length nor Transfer-Encoding: the body is all until the close.
        let version = if r.nth % 2 == 0 { "1.1" } else { "1.0" };
        let mut answer =
            format!("HTTP/{version} 200 OK\r\nContent-Type: text/plain\r\n\r\n").into_bytes();
        answer.extend_from_slice(&large);
        Reply::send(answer).then_close()
    });
    let step = bench(&[&s.url, "-c", "1", "-n", "10", "--timeout", "10s"]);
    assert_all_ok(&step, 10, 10 * 200_001);
    assert_eq!(count(&s.seen.connections), 10);
    assert_eq!(count(&s.seen.answered), 10);
}

#[test]
fn connection_close_answers_move_to_a_new_connection() {
    let s = server(|r| {
        if r.on_conn < 4 {
            return Reply::send(ok(b"kept"));
        }
        let last = Reply::send(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nlast".to_vec(),
        );
        // Half the connections stay open after saying close: the client must not reuse them
        // (a reused one would serve a sixth request and the connection count would fall short).
        if r.conn % 2 == 0 {
            last.then_close()
        } else {
            last
        }
    });
    let step = bench(&[&s.url, "-c", "1", "-n", "100"]);
    assert_all_ok(&step, 100, 400);
    assert_eq!(count(&s.seen.connections), 20);
    assert_eq!(count(&s.seen.received), 100);
    assert_eq!(count(&s.seen.answered), 100);
}

#[test]
fn a_connection_closed_after_an_answer_is_replaced_without_an_error() {
    // The server closes right after each answer, saying nothing: the client learns of it by
    // the close, before or after it sent its next request there.
    let s = server(|_| Reply::send(ok(b"once")).then_close());
    let step = bench(&[&s.url, "-c", "1", "-n", "20", "--timeout", "10s"]);
    assert_all_ok(&step, 20, 80);
    assert_eq!(count(&s.seen.connections), 20);
    assert_eq!(count(&s.seen.answered), 20);
}

#[test]
fn a_request_a_reused_connection_closes_on_unanswered_is_sent_again() {
    // Each connection answers its first request, then reads the second and closes without a
    // word: the keep-alive race, where the request was already on its way.
    let s = server(|r| {
        if r.on_conn == 0 {
            Reply::send(ok(b"once"))
        } else {
            Reply::send(Vec::new()).then_close()
        }
    });
    let step = bench(&[&s.url, "-c", "1", "-n", "20", "--timeout", "10s"]);
    assert_all_ok(&step, 20, 80);
    assert_eq!(count(&s.seen.connections), 20);
    assert_eq!(count(&s.seen.answered), 20);
    // Requests 2 to 20 each went first to a connection that closed on them.
    assert_eq!(count(&s.seen.received), 39);
}

#[test]
fn a_request_a_reused_connection_resets_unanswered_is_sent_again() {
    // As above, but the second request meets a reset rather than an orderly close.
    let s = server(|_| Reply::send(ok(b"once")).then_abort());
    let step = bench(&[&s.url, "-c", "1", "-n", "20", "--timeout", "10s"]);
    assert_all_ok(&step, 20, 80);
    assert_eq!(count(&s.seen.connections), 20);
    assert_eq!(count(&s.seen.answered), 20);
}

#[test]
fn a_server_closing_mid_body_is_a_reset() {
    let s = server(|r| match r.nth {
        3 => Reply::send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789".to_vec())
            .then_close(),
        6 => Reply::send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel".to_vec())
            .then_close(),
        _ => Reply::send(ok(b"fine")),
    });
    let step = &bench(&[&s.url, "-c", "1", "-n", "10", "--timeout", "10s"]);
    assert_eq!(step["requests"], 10, "{step:#}");
    assert_eq!(step["successes"], 8, "{step:#}");
    assert_eq!(step["failures"], 2, "{step:#}");
    assert_eq!(errors(step), errors_of(&[("reset", 2)]), "{step:#}");
    // The others went on, on new connections.
    assert_eq!(count(&s.seen.connections), 3);
    assert_eq!(count(&s.seen.answered), 10);
}

#[test]
fn a_garbage_answer_is_an_other_error() {
    let s = server(|r| match r.nth {
        // Not HTTP at all, the connection left open.
        4 => Reply::send(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".to_vec()),
        // HTTP with a status that is no number, then a close.
        7 => Reply::send(b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n".to_vec()).then_close(),
        _ => Reply::send(ok(b"fine")),
    });
    let step = &bench(&[&s.url, "-c", "1", "-n", "10", "--timeout", "10s"]);
    assert_eq!(step["requests"], 10, "{step:#}");
    assert_eq!(step["successes"], 8, "{step:#}");
    assert_eq!(errors(step), errors_of(&[("other", 2)]), "{step:#}");
    assert_eq!(step["bytes"], 8 * 4, "{step:#}");
    // A connection that spoke garbage is not used again.
    assert_eq!(count(&s.seen.connections), 3);
    assert_eq!(count(&s.seen.received), 10);
}

#[test]
fn pipelined_answers_arriving_together() {
    // Content-Length and chunked answers in turn, every fifth in pieces of 3 bytes: answer
    // boundaries fall anywhere in what one read returns.
    let size = |nth: u64| (nth % 41) as usize * 7;
    let s = server(move |r| {
        let data = body(size(r.nth));
        let reply = Reply::send(if r.nth % 2 == 0 {
            ok(&data)
        } else {
            chunked(&data, 10)
        });
        if r.nth % 5 == 0 {
            reply.in_pieces(3)
        } else {
            reply
        }
    });
    let step = bench(&[
        &s.url,
        "-c",
        "2",
        "--threads",
        "2",
        "-n",
        "400",
        "--pipeline",
        "8",
    ]);
    assert_all_ok(&step, 400, (0..400).map(|i| size(i) as u64).sum());
    assert_eq!(count(&s.seen.connections), 2);
    assert_eq!(count(&s.seen.received), 400);
    assert_eq!(count(&s.seen.answered), 400);
    let depth = count(&s.seen.depth);
    assert!(
        (2..=8).contains(&depth),
        "{depth} requests in flight at most"
    );
}

#[test]
fn pipelined_requests_after_a_connection_close_answer_are_sent_again() {
    // Every tenth answer on a connection says close, once a later request has arrived behind
    // it (except the very last, which nothing follows): that request must go again elsewhere.
    let s = server(|r| {
        if r.on_conn < 9 {
            return Reply::send(ok(b"kept"));
        }
        let last = Reply::send(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 4\r\n\r\nlast".to_vec(),
        )
        .then_close();
        if r.nth < 399 { last.hold() } else { last }
    });
    let step = bench(&[&s.url, "-c", "1", "-n", "400", "--pipeline", "8"]);
    assert_all_ok(&step, 400, 1600);
    assert_eq!(count(&s.seen.connections), 40);
    assert_eq!(count(&s.seen.answered), 400);
    let dropped = count(&s.seen.dropped);
    assert!(dropped >= 39, "{dropped} requests dropped by a close");
    assert_eq!(count(&s.seen.received), 400 + dropped);
}

/// Debian's nginx on 127.0.0.1 serving `www/`, logging one line per request:
/// `<connection serial> <pipelined: p or .> <status> <method>`.
struct Nginx {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM, not KILL: the master then takes its worker down with it.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// The access log's lines, once it holds at least `n` (nginx logs after answering).
    fn log_lines(&self, n: usize) -> Vec<Vec<String>> {
        let log = self.dir.path().join("access.log");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<Vec<String>> = text
                .lines()
                .map(|l| l.split(' ').map(str::to_string).collect())
                .collect();
            if lines.len() >= n || Instant::now() > deadline {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn nginx_program() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is installed (scripts/test installs Debian's nginx)")
}

/// Starts nginx with `keepalive_requests` and gzip on for text files (answered chunked).
fn nginx(keepalive_requests: u32, files: &[(&str, &[u8])]) -> Nginx {
    start_nginx(keepalive_requests, files, false)
}

/// nginx over TLS, with a self-signed certificate for `bench.test` made by openssl.
fn nginx_tls(files: &[(&str, &[u8])]) -> Nginx {
    start_nginx(10_000, files, true)
}

fn start_nginx(keepalive_requests: u32, files: &[(&str, &[u8])], tls: bool) -> Nginx {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let listen = if tls {
        let made = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=bench.test"])
            .args(["-addext", "subjectAltName=DNS:bench.test"])
            .args([
                "-keyout",
                &format!("{d}/key.pem"),
                "-out",
                &format!("{d}/cert.pem"),
            ])
            .output()
            .unwrap();
        assert!(made.status.success(), "{}", explain(&made));
        format!(" ssl; ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem")
    } else {
        String::new()
    };
    std::fs::create_dir_all(dir.path().join("www")).unwrap();
    std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
    // nginx's workers run as nobody when it is started as root.
    for sub in ["", "www"] {
        std::fs::set_permissions(
            dir.path().join(sub),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    for (name, content) in files {
        std::fs::write(dir.path().join("www").join(name), content).unwrap();
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\ndaemon off;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  types {{ text/plain txt; }}\n  default_type application/octet-stream;\n\
           log_format engine '$connection $pipe $status $request_method';\n\
           access_log {d}/access.log engine;\n\
           client_body_temp_path {d}/tmp; proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp;\n\
           uwsgi_temp_path {d}/tmp; scgi_temp_path {d}/tmp;\n\
           server {{ listen 127.0.0.1:{port}{listen}; root {d}/www; keepalive_requests {keepalive_requests};\n\
             gzip on; gzip_min_length 1; gzip_types text/plain; }}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let child = Command::new(nginx_program())
        .args([
            "-p",
            &d,
            "-e",
            &format!("{d}/error.log"),
            "-c",
            &format!("{d}/nginx.conf"),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Nginx {
        child,
        url: format!("{}://127.0.0.1:{port}/", if tls { "https" } else { "http" }),
        dir,
    }
}

/// Distinct connection serials in log lines.
fn connections(lines: &[Vec<String>]) -> usize {
    lines
        .iter()
        .map(|l| l[0].clone())
        .collect::<BTreeSet<_>>()
        .len()
}

const LARGE: usize = 3 * 1024 * 1024 + 5;

/// Text that gzip shrinks but not to nothing: nginx answers it chunked.
fn text() -> Vec<u8> {
    (0..200_000u32)
        .map(|i| b"abcdefghij \n"[(i.wrapping_mul(2_654_435_761) >> 28) as usize % 12])
        .collect()
}

#[test]
fn nginx_small_and_large_files() {
    let large = body(LARGE);
    let n = nginx(10_000, &[("small", b"hello, nginx\n"), ("large", &large)]);
    let small = bench(&[&format!("{}small", n.url), "-c", "2", "-n", "300"]);
    assert_all_ok(&small, 300, 300 * 13);
    let big = bench(&[&format!("{}large", n.url), "-c", "2", "-n", "12"]);
    assert_all_ok(&big, 12, 12 * LARGE as u64);
    let lines = n.log_lines(312);
    assert_eq!(lines.len(), 312);
    assert!(
        lines.iter().all(|l| l[2] == "200" && l[3] == "GET"),
        "{lines:?}"
    );
    // Keep-alive: at most two connections per run (a counted run's requests are shared by
    // the load threads, so one thread's connection may have carried none).
    assert!(connections(&lines) <= 4, "{lines:?}");
}

#[test]
fn nginx_head_answers_end_at_the_head() {
    let n = nginx(10_000, &[("large", &body(LARGE)), ("text.txt", &text())]);
    // A Content-Length of 3 MiB with no body after it.
    let large = bench(&[
        &format!("{}large", n.url),
        "-m",
        "HEAD",
        "-c",
        "2",
        "-n",
        "40",
        "--timeout",
        "10s",
    ]);
    assert_all_ok(&large, 40, 0);
    // Gzipped: neither Content-Length nor Transfer-Encoding, and the connection kept open.
    let gzip = bench(&[
        &format!("{}text.txt", n.url),
        "-m",
        "HEAD",
        "-H",
        "Accept-Encoding: gzip",
        "-c",
        "2",
        "-n",
        "40",
        "--timeout",
        "10s",
    ]);
    assert_all_ok(&gzip, 40, 0);
    let lines = n.log_lines(80);
    assert_eq!(lines.len(), 80);
    assert!(
        lines.iter().all(|l| l[2] == "200" && l[3] == "HEAD"),
        "{lines:?}"
    );
    assert!(connections(&lines) <= 4, "{lines:?}");
    // Pipelined, the answers without a length one behind the other.
    let pipelined = bench(&[
        &format!("{}text.txt", n.url),
        "-m",
        "HEAD",
        "-H",
        "Accept-Encoding: gzip",
        "-c",
        "2",
        "-n",
        "80",
        "--pipeline",
        "8",
        "--timeout",
        "10s",
    ]);
    assert_all_ok(&pipelined, 80, 0);
    let lines = n.log_lines(160);
    assert_eq!(lines.len(), 160);
    assert!(connections(&lines) <= 6, "{lines:?}");
}

/// What nginx sends for `path` with gzip asked for: its head and its body size, by curl.
fn curl_gzip(url: &str) -> (String, u64) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
        ])
        .args(["-H", "Accept-Encoding: gzip", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", explain(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (head, size) = text.rsplit_once("\r\n\r\n").unwrap();
    (head.to_ascii_lowercase(), size.trim().parse().unwrap())
}

#[test]
fn nginx_chunked_gzip_answers() {
    let n = nginx(10_000, &[("text.txt", &text())]);
    let url = format!("{}text.txt", n.url);
    let (head, size) = curl_gzip(&url);
    assert!(head.contains("transfer-encoding: chunked"), "{head}");
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(size > 1000 && size < 200_000, "{size}");
    let step = bench(&[&url, "-H", "Accept-Encoding: gzip", "-c", "2", "-n", "50"]);
    assert_all_ok(&step, 50, 50 * size);
    let lines = n.log_lines(51);
    assert_eq!(lines.len(), 51);
    assert!(connections(&lines) <= 3, "{lines:?}");
}

#[test]
fn nginx_keepalive_requests_limit_closes_every_tenth_answer() {
    let n = nginx(10, &[("small", b"hello, nginx\n")]);
    let url = format!("{}small", n.url);
    let step = bench(&[&url, "-c", "1", "-n", "100"]);
    assert_all_ok(&step, 100, 1300);
    let lines = n.log_lines(100);
    assert_eq!(lines.len(), 100);
    assert_eq!(connections(&lines), 10);
}

#[test]
fn nginx_pipelined_requests() {
    let n = nginx(10_000, &[("small", b"hello, nginx\n")]);
    let url = format!("{}small", n.url);
    let step = bench(&[&url, "-c", "2", "-n", "2000", "--pipeline", "16"]);
    assert_all_ok(&step, 2000, 2000 * 13);
    let lines = n.log_lines(2000);
    assert_eq!(lines.len(), 2000);
    assert!(connections(&lines) <= 2, "{lines:?}");
    // nginx marks a request it read behind another, still unanswered, with "p".
    let pipelined = lines.iter().filter(|l| l[1] == "p").count();
    assert!(pipelined > 0, "no request reached nginx pipelined");
}

#[test]
fn nginx_pipelined_requests_past_the_keepalive_limit_are_sent_again() {
    // nginx answers the tenth request on a connection with Connection: close and drops what
    // was pipelined behind it; every request still gets one answer.
    let n = nginx(10, &[("small", b"hello, nginx\n"), ("text.txt", &text())]);
    let step = bench(&[
        &format!("{}small", n.url),
        "-c",
        "1",
        "-n",
        "200",
        "--pipeline",
        "4",
    ]);
    assert_all_ok(&step, 200, 200 * 13);
    let lines = n.log_lines(200);
    assert_eq!(lines.len(), 200);
    assert_eq!(connections(&lines), 20);
    // The same with chunked answers.
    let (_, size) = curl_gzip(&format!("{}text.txt", n.url));
    let gzip = bench(&[
        &format!("{}text.txt", n.url),
        "-H",
        "Accept-Encoding: gzip",
        "-c",
        "2",
        "-n",
        "100",
        "--pipeline",
        "8",
    ]);
    assert_all_ok(&gzip, 100, 100 * size);
    let lines = n.log_lines(301);
    assert_eq!(lines.len(), 301);
}

#[test]
fn tls_answers_through_rustls_on_the_engine() {
    let large = body(LARGE);
    let n = nginx_tls(&[("small", b"hello, nginx\n"), ("large", &large)]);
    let small = format!("{}small", n.url);
    // Self-signed: accepted with --insecure; the SNI name is the --host.
    let tls = ["--host", "bench.test", "--insecure"];
    let step = bench(
        &[
            &[&small[..]][..],
            &tls,
            &["-c", "2", "-n", "200", "--pipeline", "4"],
        ]
        .concat(),
    );
    assert_all_ok(&step, 200, 200 * 13);
    let large_url = format!("{}large", n.url);
    let big = bench(&[&[&large_url[..]][..], &tls, &["-c", "2", "-n", "6"]].concat());
    assert_all_ok(&big, 6, 6 * LARGE as u64);
    let lines = n.log_lines(206);
    assert_eq!(lines.len(), 206);
    assert!(connections(&lines) <= 4, "{lines:?}");
    // Without --insecure the certificate is refused: every request is a TLS failure, and a
    // step in which every request failed exits 1.
    let refused = Command::new(BIN)
        .args([
            "run",
            &small,
            "--host",
            "bench.test",
            "-c",
            "2",
            "-n",
            "20",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", explain(&refused));
    let report: Value = serde_json::from_slice(&refused.stdout).unwrap();
    let step = &report["steps"][0];
    assert_eq!(step["requests"], 20, "{step:#}");
    assert_eq!(errors(step), errors_of(&[("tls", 20)]), "{step:#}");
}

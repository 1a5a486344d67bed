//! The answer parser: heads parsed in place by httparse, bodies framed by Content-Length, the
//! chunked coding (sizes by httparse too) or the connection's close, interim 1xx answers skipped.
//! Bodies are counted, never copied, so any body fits any read buffer.

use httparse::{Status, parse_chunk_size};

/// Header lines an answer head may carry; more is a malformed answer. Heads are parsed with
/// room for [`USUAL_HEADERS`] first: the array is set up for every answer.
const MAX_HEADERS: usize = 100;
const USUAL_HEADERS: usize = 24;

/// A complete answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    /// Body bytes (chunk data only, for chunked bodies).
    pub bytes: u64,
    /// The server closes the connection after this answer.
    pub close: bool,
}

/// Why the bytes are not an HTTP/1.1 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    Body { remaining: u64 },
    ChunkSize,
    ChunkData { remaining: u64 },
    ChunkEnd,
    Trailers,
    UntilClose,
}

/// What one step of parsing did.
enum Step {
    /// Consumed this many bytes; go on.
    Progress(usize),
    /// Consumed this many bytes, which completed the answer.
    Done(usize),
    /// Nothing more can be taken until more bytes arrive.
    NeedMore,
}

/// Parses the answers of one connection, one after the other.
#[derive(Debug, Clone)]
pub struct Parser {
    state: State,
    /// The request was HEAD: answers have no body, whatever their head says.
    head_request: bool,
    status: u16,
    bytes: u64,
    close: bool,
}

impl Parser {
    pub fn new(head_request: bool) -> Parser {
        Parser {
            state: State::Head,
            head_request,
            status: 0,
            bytes: 0,
            close: false,
        }
    }

    /// Takes bytes from `buf` up to the end of the current answer: how many were consumed, and
    /// the answer if they completed it. (0, None) means more bytes are needed; a head is only
    /// consumed whole, so its bytes stay in the caller's buffer until then.
    pub fn parse(&mut self, buf: &[u8]) -> Result<(usize, Option<Answer>), Malformed> {
        let mut at = 0;
        loop {
            let rest = buf.get(at..).unwrap_or_default();
            match self.step(rest)? {
                Step::Progress(n) => at += n,
                Step::Done(n) => {
                    let answer = Answer {
                        status: self.status,
                        bytes: self.bytes,
                        close: self.close,
                    };
                    self.reset();
                    return Ok((at + n, Some(answer)));
                }
                Step::NeedMore => return Ok((at, None)),
            }
        }
    }

    /// The connection ended: a close-delimited body is complete; anything else was cut short.
    pub fn at_eof(&mut self) -> Option<Answer> {
        if self.state == State::UntilClose {
            let answer = Answer {
                status: self.status,
                bytes: self.bytes,
                close: true,
            };
            self.reset();
            return Some(answer);
        }
        None
    }

    /// Part of an answer (past its head) has been read.
    pub fn in_body(&self) -> bool {
        self.state != State::Head
    }

    /// Forgets a half-read answer (the connection is being replaced).
    pub fn reset(&mut self) {
        self.state = State::Head;
        self.status = 0;
        self.bytes = 0;
        self.close = false;
    }

    fn step(&mut self, buf: &[u8]) -> Result<Step, Malformed> {
        match self.state {
            State::Head => self.head(buf),
            State::Body { remaining } => {
                let (taken, left) = take(remaining, buf.len());
                self.bytes += taken as u64;
                self.state = State::Body { remaining: left };
                Ok(match (left, taken) {
                    (0, _) => Step::Done(taken),
                    (_, 0) => Step::NeedMore,
                    _ => Step::Progress(taken),
                })
            }
            State::ChunkSize => match parse_chunk_size(buf) {
                Ok(Status::Complete((n, 0))) => {
                    self.state = State::Trailers;
                    Ok(Step::Progress(n))
                }
                Ok(Status::Complete((n, size))) => {
                    self.state = State::ChunkData { remaining: size };
                    Ok(Step::Progress(n))
                }
                Ok(Status::Partial) => Ok(Step::NeedMore),
                Err(_) => Err(Malformed("a chunk size is not hexadecimal")),
            },
            State::ChunkData { remaining } => {
                let (taken, left) = take(remaining, buf.len());
                self.bytes += taken as u64;
                self.state = if left == 0 {
                    State::ChunkEnd
                } else {
                    State::ChunkData { remaining: left }
                };
                Ok(if taken == 0 {
                    Step::NeedMore
                } else {
                    Step::Progress(taken)
                })
            }
            State::ChunkEnd => match buf.get(..2) {
                None => Ok(Step::NeedMore),
                Some(b"\r\n") => {
                    self.state = State::ChunkSize;
                    Ok(Step::Progress(2))
                }
                Some(_) => Err(Malformed("a chunk's data is longer than its size")),
            },
            // Trailer fields are skipped line by line until the empty line.
            State::Trailers => match buf.get(..2) {
                None => Ok(Step::NeedMore),
                Some(b"\r\n") => Ok(Step::Done(2)),
                Some(_) => Ok(match buf.windows(2).position(|w| w == b"\r\n") {
                    Some(at) => Step::Progress(at + 2),
                    None => Step::NeedMore,
                }),
            },
            State::UntilClose => {
                self.bytes += buf.len() as u64;
                Ok(if buf.is_empty() {
                    Step::NeedMore
                } else {
                    Step::Progress(buf.len())
                })
            }
        }
    }

    fn head(&mut self, buf: &[u8]) -> Result<Step, Malformed> {
        let mut usual = [httparse::EMPTY_HEADER; USUAL_HEADERS];
        let mut response = httparse::Response::new(&mut usual);
        match response.parse(buf) {
            Err(httparse::Error::TooManyHeaders) => {}
            parsed => return self.framed(parsed, response),
        }
        let mut most = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut most);
        match response.parse(buf) {
            Err(httparse::Error::TooManyHeaders) => Err(Malformed("too many header lines")),
            parsed => self.framed(parsed, response),
        }
    }

    /// The state a parsed head leads to.
    fn framed(
        &mut self,
        parsed: httparse::Result<usize>,
        response: httparse::Response<'_, '_>,
    ) -> Result<Step, Malformed> {
        let n = match parsed {
            Ok(Status::Complete(n)) => n,
            Ok(Status::Partial) => return Ok(Step::NeedMore),
            Err(_) => return Err(Malformed("not an HTTP/1.x answer head")),
        };
        let status = response.code.unwrap_or(0);
        let http11 = response.version == Some(1);
        let framing = Framing::of(response.headers)?;
        match status {
            101 => return Err(Malformed("the server switched protocols unasked")),
            // An interim answer (100 Continue, 103 Early Hints): the final one follows.
            100..=199 => return Ok(Step::Progress(n)),
            _ => {}
        }
        self.status = status;
        self.bytes = 0;
        self.close = framing.close || (!http11 && !framing.keep_alive);
        if self.head_request || status == 204 || status == 304 {
            return Ok(Step::Done(n));
        }
        self.state = if framing.transfer_encoding {
            // RFC 9112 6.3: chunked must be the final coding, else the body runs to the close.
            if framing.chunked {
                State::ChunkSize
            } else {
                self.close = true;
                State::UntilClose
            }
        } else {
            match framing.length {
                Some(0) => return Ok(Step::Done(n)),
                Some(length) => State::Body { remaining: length },
                None => {
                    self.close = true;
                    State::UntilClose
                }
            }
        };
        Ok(Step::Progress(n))
    }
}

/// What a head's fields say about the body and the connection.
#[derive(Default)]
struct Framing {
    length: Option<u64>,
    transfer_encoding: bool,
    chunked: bool,
    close: bool,
    keep_alive: bool,
}

impl Framing {
    fn of(headers: &[httparse::Header<'_>]) -> Result<Framing, Malformed> {
        let mut framing = Framing::default();
        for header in headers {
            let name = header.name;
            if name.eq_ignore_ascii_case("content-length") {
                let length = content_length(header.value)?;
                if framing.length.is_some_and(|l| l != length) {
                    return Err(Malformed("two different Content-Length values"));
                }
                framing.length = Some(length);
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                framing.transfer_encoding = true;
                framing.chunked = tokens(header.value)
                    .last()
                    .is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case("connection") {
                for token in tokens(header.value) {
                    framing.close |= token.eq_ignore_ascii_case(b"close");
                    framing.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
        }
        Ok(framing)
    }
}

/// A Content-Length value: decimal digits only (a list of equal values is allowed, RFC 9110 8.6).
fn content_length(value: &[u8]) -> Result<u64, Malformed> {
    let mut length = None;
    for token in tokens(value) {
        if token.is_empty() || !token.iter().all(u8::is_ascii_digit) {
            return Err(Malformed("a Content-Length is not a number"));
        }
        let parsed = std::str::from_utf8(token)
            .ok()
            .and_then(|t| t.parse::<u64>().ok())
            .ok_or(Malformed("a Content-Length is too large"))?;
        if length.is_some_and(|l| l != parsed) {
            return Err(Malformed("two different Content-Length values"));
        }
        length = Some(parsed);
    }
    length.ok_or(Malformed("an empty Content-Length"))
}

/// The comma-separated tokens of a field value, trimmed.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii)
}

/// Takes up to `remaining` of `available` bytes: (taken, left over).
fn take(remaining: u64, available: usize) -> (usize, u64) {
    let taken = usize::try_from(remaining).map_or(available, |r| r.min(available));
    (taken, remaining - taken as u64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Feeds `wire` in pieces of `piece` bytes the way a connection does (unconsumed bytes stay
    /// buffered), and returns the answers.
    fn feed(wire: &[u8], piece: usize, head_request: bool) -> Result<Vec<Answer>, Malformed> {
        let mut parser = Parser::new(head_request);
        let mut buffered = Vec::new();
        let mut answers = Vec::new();
        for chunk in wire.chunks(piece) {
            buffered.extend_from_slice(chunk);
            loop {
                let (used, answer) = parser.parse(&buffered)?;
                buffered.drain(..used);
                match answer {
                    Some(answer) => answers.push(answer),
                    None if used == 0 => break,
                    None => {}
                }
            }
        }
        answers.extend(parser.at_eof());
        Ok(answers)
    }

    fn ok(status: u16, bytes: u64, close: bool) -> Answer {
        Answer {
            status,
            bytes,
            close,
        }
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: yes\r\n\r\n";

    #[test]
    fn chunked_bodies_parse_whatever_the_read_boundaries() {
        for piece in 1..=CHUNKED.len() {
            assert_eq!(
                feed(CHUNKED, piece, false).unwrap(),
                vec![ok(200, 31, false)],
                "piece {piece}"
            );
        }
    }

    #[test]
    fn pipelined_answers_in_one_buffer_are_each_counted() {
        let one = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let wire: Vec<u8> = [&one[..], CHUNKED, one, b"HTTP/1.1 204 No Content\r\n\r\n"].concat();
        for piece in [1, 7, wire.len()] {
            assert_eq!(
                feed(&wire, piece, false).unwrap(),
                vec![
                    ok(200, 5, false),
                    ok(200, 31, false),
                    ok(200, 5, false),
                    ok(204, 0, false)
                ]
            );
        }
    }

    #[test]
    fn interim_answers_are_skipped_and_head_answers_have_no_body() {
        let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
            HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(feed(wire, 3, false).unwrap(), vec![ok(201, 2, false)]);
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        assert_eq!(
            feed(head, 5, true).unwrap(),
            vec![ok(200, 0, false), ok(200, 0, false)]
        );
    }

    #[test]
    fn close_delimited_bodies_end_at_eof_and_cut_bodies_do_not_complete() {
        let wire = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end";
        assert_eq!(feed(wire, 4, false).unwrap(), vec![ok(200, 13, true)]);
        let coded = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabc";
        assert_eq!(feed(coded, 64, false).unwrap(), vec![ok(200, 3, true)]);
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789";
        assert_eq!(feed(cut, 64, false).unwrap(), vec![]);
        let mut parser = Parser::new(false);
        assert_eq!(parser.parse(cut).unwrap(), (cut.len(), None));
        assert!(parser.in_body());
        assert_eq!(parser.at_eof(), None);
    }

    #[test]
    fn connection_tokens_and_versions_decide_the_close() {
        let answers = feed(
            b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n\
              HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n\
              HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
            9,
            false,
        )
        .unwrap();
        assert_eq!(
            answers,
            vec![ok(200, 0, true), ok(200, 0, true), ok(200, 1, false)]
        );
    }

    #[test]
    fn a_large_body_is_counted_across_any_number_of_reads() {
        let mut wire = b"HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n".to_vec();
        wire.resize(wire.len() + 3_000_000, b'x');
        assert_eq!(
            feed(&wire, 16384, false).unwrap(),
            vec![ok(200, 3_000_000, false)]
        );
    }

    #[test]
    fn malformed_answers_are_named() {
        let cases: [(&[u8], &str); 6] = [
            (b"garbage\r\n\r\n", "not an HTTP/1.x answer head"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                "two different Content-Length values",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "a Content-Length is not a number",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "a chunk size is not hexadecimal",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc",
                "a chunk's data is longer than its size",
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                "the server switched protocols unasked",
            ),
        ];
        for (wire, why) in cases {
            assert_eq!(feed(wire, wire.len(), false), Err(Malformed(why)));
        }
        let many: Vec<u8> = [
            &b"HTTP/1.1 200 OK\r\n"[..],
            &b"X: y\r\n".repeat(MAX_HEADERS + 1),
            b"\r\n",
        ]
        .concat();
        assert_eq!(
            feed(&many, many.len(), false),
            Err(Malformed("too many header lines"))
        );
        // Equal repeated lengths are one length.
        let same = b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok";
        assert_eq!(feed(same, 64, false).unwrap(), vec![ok(200, 2, false)]);
    }
}

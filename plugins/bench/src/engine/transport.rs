//! A connection's bytes: plain TCP, or TLS by rustls over the same non-blocking socket. Both
//! read and write plaintext and answer `WouldBlock` when the socket has nothing to give.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::ClientConnection;
use rustls::pki_types::ServerName;

/// How to reach the server: its addresses and, for https, the TLS settings and SNI name.
pub struct Dialer {
    pub addrs: Vec<SocketAddr>,
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

pub enum Transport {
    Plain(TcpStream),
    Tls(Box<(TcpStream, ClientConnection)>),
}

/// A transport failure, kept apart so that TLS failures count as such.
#[derive(Debug)]
pub enum Failure {
    Io(io::Error),
    Tls,
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

impl Transport {
    /// Starts a non-blocking connect (it completes when the socket turns writable).
    pub fn connect(dialer: &Dialer, addr: SocketAddr) -> Result<Transport, Failure> {
        let tcp = TcpStream::connect(addr)?;
        Ok(match &dialer.tls {
            None => Transport::Plain(tcp),
            Some((config, name)) => {
                let tls = ClientConnection::new(config.clone(), name.clone())
                    .map_err(|_| Failure::Tls)?;
                Transport::Tls(Box::new((tcp, tls)))
            }
        })
    }

    pub fn socket(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(tcp) => tcp,
            Transport::Tls(both) => &mut both.0,
        }
    }

    /// Plain TCP reads may stop at a short read: the socket was drained then, and more bytes
    /// raise a new edge. TLS reads go on until the socket says `WouldBlock`.
    pub fn short_read_drains(&self) -> bool {
        matches!(self, Transport::Plain(_))
    }

    /// Reads plaintext: Ok(0) is the end of the stream.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Failure> {
        match self {
            Transport::Plain(tcp) => Ok(tcp.read(buf)?),
            Transport::Tls(both) => {
                let (tcp, tls) = &mut **both;
                loop {
                    match tls.reader().read(buf) {
                        Ok(n) => return Ok(n),
                        // A peer that closes without close_notify ends the stream all the same.
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                        Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e.into()),
                        Err(_) => {}
                    }
                    if tls.read_tls(tcp)? == 0 {
                        return Ok(0);
                    }
                    tls.process_new_packets().map_err(|_| Failure::Tls)?;
                    // Handshake replies and key updates go out as soon as they are made.
                    flush(tcp, tls)?;
                }
            }
        }
    }

    /// Writes plaintext; TLS takes it all into its buffer (to go out once the handshake is done).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Failure> {
        match self {
            Transport::Plain(tcp) => Ok(tcp.write(data)?),
            Transport::Tls(both) => {
                let (tcp, tls) = &mut **both;
                let n = tls.writer().write(data)?;
                flush(tcp, tls)?;
                Ok(n)
            }
        }
    }

    /// Sends what TLS has buffered, as far as the socket takes it.
    pub fn flush(&mut self) -> Result<(), Failure> {
        match self {
            Transport::Plain(_) => Ok(()),
            Transport::Tls(both) => {
                let (tcp, tls) = &mut **both;
                flush(tcp, tls)
            }
        }
    }
}

fn flush(tcp: &mut TcpStream, tls: &mut ClientConnection) -> Result<(), Failure> {
    while tls.wants_write() {
        match tls.write_tls(tcp) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

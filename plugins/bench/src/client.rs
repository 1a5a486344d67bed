//! The load generator's HTTP client: one hyper connection per worker, driven in the worker's
//! own task (no connection task, no channel hop per request), request parts built once.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::stats::ErrorKind;

type Body = Full<Bytes>;

/// The parts of every request of a step, built once.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    pub method: Method,
    /// Origin form (`/path?q`) for HTTP/1.1, absolute for HTTP/2 (its `:authority`).
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl RequestTemplate {
    #[inline]
    fn request(&self) -> Request<Body> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// Where and how to connect: resolved addresses, TLS (with the SNI name), HTTP version.
pub struct Connector {
    addrs: Vec<SocketAddr>,
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    http2: bool,
}

impl Connector {
    /// `tls_name` is the SNI name (the Host the requests carry); None for plain HTTP.
    pub fn new(
        addrs: Vec<SocketAddr>,
        tls_name: Option<&str>,
        insecure: bool,
        http2: bool,
    ) -> Result<Connector, String> {
        let tls = match tls_name {
            None => None,
            Some(name) => {
                let server = ServerName::try_from(name.to_string())
                    .map_err(|e| format!("{name:?} is not a valid TLS server name: {e}"))?;
                Some((Arc::new(tls_config(insecure, http2)?), server))
            }
        };
        Ok(Connector { addrs, tls, http2 })
    }

    /// HTTP/2 runs on hyper; HTTP/1.1 on the engine.
    pub fn http2(&self) -> bool {
        self.http2
    }

    /// What the HTTP/1.1 engine connects with.
    pub fn dialer(&self) -> crate::engine::Dialer {
        crate::engine::Dialer {
            addrs: self.addrs.clone(),
            tls: self.tls.clone(),
        }
    }

    /// A new HTTP connection to the target, or why there is none (connect or TLS).
    pub async fn open(&self) -> Result<Conn, ErrorKind> {
        let mut tcp = None;
        for addr in &self.addrs {
            if let Ok(stream) = TcpStream::connect(addr).await {
                tcp = Some(stream);
                break;
            }
        }
        let tcp = tcp.ok_or(ErrorKind::Connect)?;
        // Requests are small and answered one at a time: never wait for Nagle.
        tcp.set_nodelay(true).map_err(|_| ErrorKind::Connect)?;
        let stream = match &self.tls {
            None => Stream::Plain(tcp),
            Some((config, name)) => Stream::Tls(Box::new(
                TlsConnector::from(config.clone())
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|_| ErrorKind::Tls)?,
            )),
        };
        let io = TokioIo::new(stream);
        if self.http2 {
            let (sender, driver) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|e| classify(&e))?;
            Ok(Conn::H2 {
                sender,
                driver: Some(Box::pin(driver)),
            })
        } else {
            let (sender, driver) = http1::handshake(io).await.map_err(|e| classify(&e))?;
            Ok(Conn::H1 {
                sender,
                driver: Some(Box::pin(driver)),
            })
        }
    }
}

/// An answer: its status and the body bytes read.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    pub status: u16,
    pub bytes: u64,
}

/// Why a request on a connection did not get an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The connection was already closed (a keep-alive limit): the request was never sent.
    NotSent,
    Failed(ErrorKind),
}

type H1Driver = Pin<Box<http1::Connection<TokioIo<Stream>, Body>>>;
type H2Driver = Pin<Box<http2::Connection<TokioIo<Stream>, Body, TokioExecutor>>>;

/// One open connection. The driver is polled alongside each request; None once it ended.
pub enum Conn {
    H1 {
        sender: http1::SendRequest<Body>,
        driver: Option<H1Driver>,
    },
    H2 {
        sender: http2::SendRequest<Body>,
        driver: Option<H2Driver>,
    },
}

impl Conn {
    /// False once the connection ended: the next request needs a new one.
    pub fn is_open(&self) -> bool {
        match self {
            Conn::H1 { driver, .. } => driver.is_some(),
            Conn::H2 { driver, .. } => driver.is_some(),
        }
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(&mut self, template: &RequestTemplate) -> Result<Answer, SendError> {
        match self {
            Conn::H1 { sender, driver } => {
                let exchange = async {
                    sender.ready().await.map_err(|_| SendError::NotSent)?;
                    let response = sender
                        .send_request(template.request())
                        .await
                        .map_err(not_sent_or_failed)?;
                    read_answer(response).await
                };
                drive(exchange, driver).await
            }
            Conn::H2 { sender, driver } => {
                let exchange = async {
                    sender.ready().await.map_err(|_| SendError::NotSent)?;
                    let response = sender
                        .send_request(template.request())
                        .await
                        .map_err(not_sent_or_failed)?;
                    read_answer(response).await
                };
                drive(exchange, driver).await
            }
        }
    }
}

/// Polls the exchange and the connection driver together in this task. If the driver ends
/// first (the peer closed, or a keep-alive limit), it is dropped, which settles the exchange.
async fn drive<E, D>(exchange: E, driver: &mut Option<Pin<Box<D>>>) -> Result<Answer, SendError>
where
    E: Future<Output = Result<Answer, SendError>>,
    D: Future<Output = hyper::Result<()>> + ?Sized,
{
    let mut exchange = pin!(exchange);
    let Some(conn) = driver.as_mut() else {
        return Err(SendError::NotSent);
    };
    let first = poll_fn(|cx: &mut Context<'_>| {
        if let Poll::Ready(answer) = exchange.as_mut().poll(cx) {
            return Poll::Ready(Some(answer));
        }
        match conn.as_mut().poll(cx) {
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    match first {
        Some(answer) => answer,
        None => {
            *driver = None;
            exchange.await
        }
    }
}

async fn read_answer(response: http::Response<hyper::body::Incoming>) -> Result<Answer, SendError> {
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| SendError::Failed(classify(&e)))?;
        if let Some(data) = frame.data_ref() {
            bytes += data.len() as u64;
        }
    }
    Ok(Answer { status, bytes })
}

fn not_sent_or_failed(e: hyper::Error) -> SendError {
    if e.is_canceled() {
        SendError::NotSent
    } else {
        SendError::Failed(classify(&e))
    }
}

/// The kind of a transport failure, from the error and its causes.
pub fn classify(err: &hyper::Error) -> ErrorKind {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return ErrorKind::Tls;
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            if io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
            {
                return ErrorKind::Tls;
            }
            return ErrorKind::of_io(io.kind());
        }
        source = e.source();
    }
    if err.is_timeout() {
        ErrorKind::Timeout
    } else if err.is_incomplete_message() || err.is_canceled() || err.is_closed() {
        ErrorKind::Reset
    } else {
        ErrorKind::Other
    }
}

fn tls_config(insecure: bool, http2: bool) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("set up TLS: {e}"))?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// `--insecure`: accepts any certificate, still checks the handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Plain TCP or TLS over TCP, both `Unpin`.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

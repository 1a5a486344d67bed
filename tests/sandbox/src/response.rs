//! Building HTTP answers: JSON objects, Status errors, plain text and streams.

use crate::status::ApiError;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Response, StatusCode, header};
use serde_json::Value;

pub type Body = BoxBody<Bytes, std::io::Error>;
pub type Resp = Response<Body>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

pub fn with_type(code: u16, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(full(body));
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

pub fn json(code: u16, v: &Value) -> Resp {
    with_type(
        code,
        "application/json",
        serde_json::to_vec(v).unwrap_or_default(),
    )
}

pub fn error(e: &ApiError) -> Resp {
    json(e.code, &e.to_status())
}

pub fn text(code: u16, body: String) -> Resp {
    with_type(code, "text/plain", body)
}

/// A streamed 200 answer fed by a channel of chunks (watch events, one JSON per line).
pub fn stream(content_type: &str, rx: tokio::sync::mpsc::Receiver<Bytes>) -> Resp {
    let s = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    let mut r = Response::new(StreamBody::new(s).boxed());
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache, private"),
    );
    r
}

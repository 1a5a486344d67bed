//! The request on the wire, serialized once per step: every request of a step is the same bytes,
//! so a connection writes slices of one buffer holding `pipeline` copies back to back.

use http::Method;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};

use crate::client::RequestTemplate;

/// `pipeline` copies of the request, and the length of one.
#[derive(Debug)]
pub struct Wire {
    bytes: Vec<u8>,
    one: usize,
}

impl Wire {
    pub fn new(template: &RequestTemplate, pipeline: usize) -> Wire {
        let one = serialize(template);
        let bytes = one.repeat(pipeline.max(1));
        Wire {
            one: one.len(),
            bytes,
        }
    }

    /// How many requests a connection may have in flight.
    pub fn pipeline(&self) -> usize {
        self.bytes.len() / self.one.max(1)
    }

    /// The length of one request.
    pub fn request_len(&self) -> usize {
        self.one
    }

    /// `len` bytes of the endless request stream, starting `offset` bytes into a request.
    /// `offset + len` never exceeds `pipeline` requests.
    pub fn slice(&self, offset: usize, len: usize) -> &[u8] {
        let end = (offset + len).min(self.bytes.len());
        self.bytes.get(offset..end).unwrap_or_default()
    }
}

/// One HTTP/1.1 request: request line, the template's fields (Host among them), a
/// Content-Length where a body is sent or the method expects one, then the body.
fn serialize(template: &RequestTemplate) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + template.body.len());
    out.extend_from_slice(template.method.as_str().as_bytes());
    out.push(b' ');
    let target = template
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .as_bytes();
    out.extend_from_slice(if target.is_empty() { b"/" } else { target });
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &template.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let framed = template.headers.contains_key(CONTENT_LENGTH)
        || template.headers.contains_key(TRANSFER_ENCODING);
    let expects_body = matches!(template.method, Method::POST | Method::PUT | Method::PATCH);
    if !framed && (!template.body.is_empty() || expects_body) {
        out.extend_from_slice(format!("content-length: {}\r\n", template.body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&template.body);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use bytes::Bytes;
    use http::HeaderMap;
    use http::header::{HOST, HeaderValue};

    fn template(method: Method, body: &'static [u8]) -> RequestTemplate {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("app.example.com"));
        headers.insert("x-test", HeaderValue::from_static("1"));
        RequestTemplate {
            method,
            uri: "/api?q=1".parse().unwrap(),
            headers,
            body: Bytes::from_static(body),
        }
    }

    #[test]
    fn requests_carry_the_fields_and_a_length_where_a_body_goes() {
        let get = Wire::new(&template(Method::GET, b""), 1);
        assert_eq!(
            get.slice(0, get.request_len()),
            b"GET /api?q=1 HTTP/1.1\r\nhost: app.example.com\r\nx-test: 1\r\n\r\n"
        );
        let post = Wire::new(&template(Method::POST, b"{}"), 1);
        assert!(
            post.slice(0, post.request_len())
                .ends_with(b"content-length: 2\r\n\r\n{}")
        );
        let empty_put = Wire::new(&template(Method::PUT, b""), 1);
        assert!(
            empty_put
                .slice(0, empty_put.request_len())
                .ends_with(b"content-length: 0\r\n\r\n")
        );
    }

    #[test]
    fn the_wire_holds_pipeline_copies_for_any_offset() {
        let wire = Wire::new(&template(Method::GET, b""), 3);
        let one = wire.request_len();
        assert_eq!(wire.slice(0, 3 * one).len(), 3 * one);
        // A write cut inside the first request resumes there and still ends on a request.
        assert_eq!(wire.slice(5, 3 * one - 5), &wire.slice(0, 3 * one)[5..]);
        assert_eq!(wire.slice(one, one), wire.slice(0, one));
    }
}

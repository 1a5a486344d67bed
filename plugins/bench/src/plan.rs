//! Input checks and the request each URL becomes: everything here runs before any request.

use bytes::Bytes;
use http::header::{HOST, HeaderName, HeaderValue, USER_AGENT};
use http::{HeaderMap, Method, Uri};
use sealos_shared::number;

use crate::client::RequestTemplate;

/// The most connections one step opens: each is a worker and a socket, and far more than this
/// exhausts memory and file descriptors before it measures anything.
pub const MAX_CONCURRENCY: u32 = 100_000;
/// The most load threads.
pub const MAX_THREADS: u32 = 1024;
/// The most requests in flight on one connection (`--pipeline`).
pub const MAX_PIPELINE: u32 = 1024;
/// `--rate` bounds: below one request in 1000 s the schedule's arithmetic stops meaning anything
/// (1e-320 made the next due time infinite), and no single machine sends 100 million a second.
pub const MIN_RATE: f64 = 0.001;
pub const MAX_RATE: f64 = 1e8;

/// `-c`: a concurrency level, 1 to [`MAX_CONCURRENCY`].
pub fn parse_concurrency(text: &str) -> Result<u32, String> {
    whole(text, MAX_CONCURRENCY, "connections")
}

/// `--threads`: 1 to [`MAX_THREADS`].
pub fn parse_threads(text: &str) -> Result<u32, String> {
    whole(text, MAX_THREADS, "threads")
}

fn whole(text: &str, max: u32, what: &str) -> Result<u32, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err(format!("{what}: must be at least 1")),
        Ok(c) if c > u64::from(max) => Err(format!("{text:?}: at most {max} {what}")),
        Ok(c) => u32::try_from(c).map_err(|_| format!("{text:?}: at most {max} {what}")),
        Err(_) => Err(format!("{text:?} is not a whole number of {what}")),
    }
}

/// `--pipeline`: 1 to [`MAX_PIPELINE`].
pub fn parse_pipeline(text: &str) -> Result<u32, String> {
    whole(text, MAX_PIPELINE, "requests in flight per connection")
}

/// `-n`: a request count, 1 or more.
pub fn parse_count(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("the request count must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "{text:?} is not a positive whole number of requests"
        )),
    }
}

/// `--rate`: total requests per second, [`MIN_RATE`] to [`MAX_RATE`].
pub fn parse_rate(text: &str) -> Result<f64, String> {
    number::float(text, MIN_RATE, MAX_RATE)
        .map_err(|why| format!("{why}: not a rate in requests per second (e.g. 500)"))
}

/// `-m`: an HTTP method.
pub fn parse_method(text: &str) -> Result<Method, String> {
    Method::from_bytes(text.trim().to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{text:?} is not an HTTP method"))
}

/// `-H 'Name: value'`.
pub fn parse_header(text: &str) -> Result<(HeaderName, HeaderValue), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("header {text:?} is not 'Name: value'"))?;
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("header {text:?}: {:?} is not a header name", name.trim()))?;
    let value = HeaderValue::from_str(value.trim())
        .map_err(|_| format!("header {text:?}: the value has characters a header cannot carry"))?;
    Ok((name, value))
}

/// A URL as given: http or https, with a host.
pub fn parse_url(text: &str) -> Result<Uri, String> {
    if !text.contains("://") {
        return Err(format!(
            "{text:?} has no scheme: write http://{text} or https://{text}"
        ));
    }
    let uri: Uri = text
        .parse()
        .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        Some(other) => {
            return Err(format!(
                "{text:?}: the scheme {other:?} is not supported (use http:// or https://)"
            ));
        }
        None => {
            return Err(format!(
                "{text:?} has no scheme: write http://{text} or https://{text}"
            ));
        }
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    Ok(uri)
}

/// Where a step sends its requests and what they look like.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    /// What reports and CSV rows call it: the Host, plus the path when it is not "/".
    pub service: String,
    pub https: bool,
    /// The address to connect to.
    pub connect_host: String,
    pub port: u16,
    /// The Host header (and TLS server name, without the port).
    pub host_header: String,
    pub template: RequestTemplate,
}

/// The request options shared by every URL.
#[derive(Debug, Clone)]
pub struct RequestOptions {
    pub method: Method,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub http2: bool,
}

/// Builds the endpoint for `url`, with `host` (from `--host` or a target) as the Host header.
pub fn endpoint(
    url: &str,
    host: Option<&str>,
    options: &RequestOptions,
) -> Result<Endpoint, String> {
    let uri = parse_url(url)?;
    let https = uri.scheme_str() == Some("https");
    let connect_host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    // -H 'Host: x' is the same as --host x.
    let header_host = options
        .headers
        .iter()
        .find(|(name, _)| name == HOST)
        .and_then(|(_, v)| v.to_str().ok());
    let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host_header = host.or(header_host).unwrap_or(authority).to_string();
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let host_name = host_header
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()) && !host_header.ends_with(']'))
        .map_or(host_header.as_str(), |(name, _)| name);
    let service = if path == "/" {
        host_name.to_string()
    } else {
        format!("{host_name}{path}")
    };

    let mut headers = HeaderMap::new();
    let request_uri = if options.http2 {
        // HTTP/2 carries the Host as :authority, taken from an absolute URI.
        let scheme = if https { "https" } else { "http" };
        format!("{scheme}://{host_header}{path}")
    } else {
        let value = HeaderValue::from_str(&host_header)
            .map_err(|_| format!("{host_header:?} is not a valid Host"))?;
        headers.insert(HOST, value);
        path.to_string()
    };
    let request_uri: Uri = request_uri
        .parse()
        .map_err(|e| format!("{url:?} with Host {host_header:?} is not a valid request: {e}"))?;
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("kubectl-sealos-bench/", env!("CARGO_PKG_VERSION"))),
    );
    for (name, value) in &options.headers {
        if name != HOST {
            headers.append(name.clone(), value.clone());
        }
    }
    Ok(Endpoint {
        url: url.to_string(),
        service,
        https,
        connect_host,
        port,
        host_header: host_name.to_string(),
        template: RequestTemplate {
            method: options.method.clone(),
            uri: request_uri,
            headers,
            body: options.body.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn options(http2: bool) -> RequestOptions {
        RequestOptions {
            method: Method::GET,
            headers: vec![parse_header("X-Test: 1").unwrap()],
            body: Bytes::new(),
            http2,
        }
    }

    #[test]
    fn bad_input_is_named() {
        assert!(
            parse_url("example.com/x")
                .unwrap_err()
                .contains("has no scheme")
        );
        assert!(
            parse_url("127.0.0.1:80/x")
                .unwrap_err()
                .contains("has no scheme")
        );
        assert!(
            parse_url("ftp://example.com/")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(parse_concurrency("0").unwrap_err().contains("at least 1"));
        assert!(
            parse_concurrency("4294967296")
                .unwrap_err()
                .contains("at most 100000 connections")
        );
        assert!(parse_threads("5000").unwrap_err().contains("at most 1024"));
        assert!(
            parse_count("-1")
                .unwrap_err()
                .contains("positive whole number")
        );
        assert!(parse_count("0").is_err());
        assert!(parse_rate("abc").unwrap_err().contains("not a rate"));
        assert!(parse_rate("0").is_err());
        for bad in ["1e-320", "NaN", "inf", "-5", "1e9"] {
            assert!(parse_rate(bad).unwrap_err().contains("not a rate"), "{bad}");
        }
        assert!(parse_header("no colon").is_err());
        assert_eq!(parse_method("post").unwrap(), Method::POST);
    }

    #[test]
    fn http1_requests_carry_the_host_header_and_an_origin_form_uri() {
        let e = endpoint(
            "http://10.0.0.1:8080/api?x=1",
            Some("app.example.com"),
            &options(false),
        )
        .unwrap();
        assert_eq!(e.connect_host, "10.0.0.1");
        assert_eq!(e.port, 8080);
        assert_eq!(e.service, "app.example.com/api?x=1");
        assert_eq!(e.template.uri.to_string(), "/api?x=1");
        assert_eq!(e.template.headers[HOST], "app.example.com");
        assert_eq!(e.template.headers["x-test"], "1");
        let plain = endpoint("https://example.com:8443", None, &options(false)).unwrap();
        assert!(plain.https);
        assert_eq!(plain.service, "example.com");
        assert_eq!(plain.host_header, "example.com");
        assert_eq!(plain.template.headers[HOST], "example.com:8443");
        assert_eq!(plain.template.uri.to_string(), "/");
    }

    #[test]
    fn http2_requests_carry_the_host_as_authority() {
        let e = endpoint("https://10.0.0.1/", Some("app.example.com"), &options(true)).unwrap();
        assert_eq!(e.template.uri.to_string(), "https://app.example.com/");
        assert!(!e.template.headers.contains_key(HOST));
        assert_eq!(e.port, 443);
    }
}

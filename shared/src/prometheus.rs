//! A client for Prometheus's HTTP API (`/api/v1/query`), reached directly by URL or through the
//! Kubernetes API server's service proxy (which works from a laptop, where the in-cluster URL the
//! guide uses does not).
//!
//! Queries are form-encoded (the guide's script put raw PromQL into a URL, curl refused it, and the
//! monitor read the failure as "0"). Answers are parsed as the API defines them: a `success`
//! envelope with a typed `data`, or an `error` envelope; anything else is garbage, and said so.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why a query produced no answer. None of these is ever read as "healthy".
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// No connection, a timeout, or the API server could not proxy.
    #[error("cannot reach Prometheus at {target}: {reason}")]
    Unreachable { target: String, reason: String },
    /// Prometheus answered with its error envelope (bad_data, execution, timeout, ...).
    #[error("Prometheus at {target} refused the query ({error_type}): {message}")]
    Api {
        target: String,
        error_type: String,
        message: String,
    },
    /// An answer that is not the HTTP API's JSON (a proxy's HTML page, a truncated body...).
    #[error("Prometheus at {target} answered something that is not its API: {reason}")]
    Garbage { target: String, reason: String },
}

/// One series of an instant vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    pub metric: BTreeMap<String, String>,
    /// Seconds since the epoch, as Prometheus gives it.
    pub time: f64,
    /// May be NaN or infinite: Prometheus encodes those as strings and so do we.
    pub value: f64,
}

/// One series of a range vector: its labels and its (time, value) points.
pub type Series = (BTreeMap<String, String>, Vec<(f64, f64)>);

/// The `data` of a successful query, by `resultType`.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    Vector(Vec<Sample>),
    Scalar {
        time: f64,
        value: f64,
    },
    /// Range vectors: the series' labels and their (time, value) points.
    Matrix(Vec<Series>),
    String {
        time: f64,
        value: String,
    },
}

impl QueryResult {
    /// The single number of a scalar or one-element vector; `None` for an empty vector (no data).
    pub fn single_value(&self) -> Option<f64> {
        match self {
            QueryResult::Scalar { value, .. } => Some(*value),
            QueryResult::Vector(samples) => samples.first().map(|s| s.value),
            _ => None,
        }
    }

    /// The samples of a vector (empty for other kinds).
    pub fn samples(&self) -> &[Sample] {
        match self {
            QueryResult::Vector(samples) => samples,
            _ => &[],
        }
    }
}

/// Where the queries go.
#[derive(Clone)]
enum Transport {
    Direct {
        base: String,
        http: reqwest::Client,
    },
    ServiceProxy {
        client: kube::Client,
        /// `/api/v1/namespaces/NS/services/NAME:PORT/proxy`
        prefix: String,
        /// A bound on each query, tighter than the client's own `--request-timeout`.
        timeout: Option<Duration>,
    },
}

/// A Prometheus server to query.
#[derive(Clone)]
pub struct Prometheus {
    transport: Transport,
    /// How the server is named in messages: never carries credentials.
    target: String,
}

impl fmt::Debug for Prometheus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prometheus")
            .field("target", &self.target)
            .finish()
    }
}

impl Prometheus {
    /// Prometheus at `url` (e.g. `http://127.0.0.1:9090`, or with a path prefix), each query bounded
    /// by `timeout`.
    pub fn direct(url: &str, timeout: Duration) -> Result<Prometheus, PromError> {
        let target = redact(url);
        let parsed: http::Uri = url.parse().map_err(|e| PromError::Unreachable {
            target: target.clone(),
            reason: format!("invalid URL: {e}"),
        })?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) {
            return Err(PromError::Unreachable {
                target,
                reason: "the URL must start with http:// or https://".into(),
            });
        }
        // reqwest is built without a bundled crypto provider: ring is the suite's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| PromError::Unreachable {
                target: target.clone(),
                reason: format!("build the HTTP client: {}", e.without_url()),
            })?;
        Ok(Prometheus {
            transport: Transport::Direct {
                base: url.trim_end_matches('/').to_string(),
                http,
            },
            target,
        })
    }

    /// Prometheus behind the Service `namespace/service`, where `service` is `NAME:PORT` (a port
    /// number or name), reached through the API server's `services/proxy` subresource.
    pub fn service_proxy(client: kube::Client, namespace: &str, service: &str) -> Prometheus {
        Prometheus {
            transport: Transport::ServiceProxy {
                client,
                prefix: proxy_prefix(namespace, service),
                timeout: None,
            },
            target: format!("service {namespace}/{service} (through the API server)"),
        }
    }

    /// Bounds each proxied query by `timeout` as well as by the cluster client's own deadline,
    /// so the command's one client serves the queries too.
    pub fn within(mut self, limit: Duration) -> Prometheus {
        if let Transport::ServiceProxy { timeout, .. } = &mut self.transport
            && !limit.is_zero()
        {
            *timeout = Some(limit);
        }
        self
    }

    /// How this server is named in messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// An instant query, evaluated now (or at `time`, seconds since the epoch).
    pub async fn query(&self, promql: &str, time: Option<f64>) -> Result<QueryResult, PromError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("query", promql);
        if let Some(time) = time {
            form.append_pair("time", &format!("{time:.3}"));
        }
        let query = form.finish();
        let (status, body) = match &self.transport {
            Transport::Direct { base, http } => self.get_direct(http, base, &query).await?,
            Transport::ServiceProxy {
                client,
                prefix,
                timeout: Some(limit),
            } => tokio::time::timeout(*limit, self.get_proxied(client, prefix, &query))
                .await
                .map_err(|_| PromError::Unreachable {
                    target: self.target.clone(),
                    reason: format!("no answer within {limit:?} (--prometheus-timeout)"),
                })??,
            Transport::ServiceProxy {
                client,
                prefix,
                timeout: None,
            } => self.get_proxied(client, prefix, &query).await?,
        };
        parse_answer(&self.target, status, &body)
    }

    async fn get_direct(
        &self,
        http: &reqwest::Client,
        base: &str,
        query: &str,
    ) -> Result<(u16, String), PromError> {
        let unreachable = |e: reqwest::Error| PromError::Unreachable {
            target: self.target.clone(),
            reason: describe_reqwest(&e),
        };
        let response = http
            .get(format!("{base}/api/v1/query?{query}"))
            .header("accept", "application/json")
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status().as_u16();
        let body = response.text().await.map_err(unreachable)?;
        Ok((status, body))
    }

    async fn get_proxied(
        &self,
        client: &kube::Client,
        prefix: &str,
        query: &str,
    ) -> Result<(u16, String), PromError> {
        let request = http::Request::get(format!("{prefix}/api/v1/query?{query}"))
            .header("accept", "application/json")
            .body(Vec::new())
            .map_err(|e| PromError::Unreachable {
                target: self.target.clone(),
                reason: format!("build the request: {e}"),
            })?;
        match client.request_text(request).await {
            Ok(body) => Ok((200, body)),
            // kube turns every non-2xx into an API error; Prometheus's own 4xx/5xx error envelope
            // is the message when the proxy passed it through.
            Err(kube::Error::Api(status)) => {
                if serde_json::from_str::<Envelope>(&status.message).is_ok() {
                    Ok((status.code, status.message.clone()))
                } else {
                    Err(PromError::Unreachable {
                        target: self.target.clone(),
                        reason: format!("the API server answered {}: {}", status.code, {
                            let message = status.message.trim();
                            if message.is_empty() {
                                status.reason.as_str()
                            } else {
                                message
                            }
                        }),
                    })
                }
            }
            Err(e) => Err(PromError::Unreachable {
                target: self.target.clone(),
                reason: e.to_string(),
            }),
        }
    }
}

/// The API server path of a Service's proxy subresource; `service` is `NAME:PORT` (`:` kept, as
/// the API server reads it; anything else escaped).
pub fn proxy_prefix(namespace: &str, service: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "/api/v1/namespaces/{}/services/{}/proxy",
        enc(namespace),
        enc(service).replace("%3A", ":")
    )
}

/// reqwest's message without the URL (which may carry credentials), plus its cause.
fn describe_reqwest(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "request failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}

/// A URL with any `user:password@` removed, for messages.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => url.to_string(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    result: Value,
}

/// Reads an HTTP answer of `/api/v1/query` as the API defines it.
pub fn parse_answer(target: &str, status: u16, body: &str) -> Result<QueryResult, PromError> {
    let garbage = |reason: String| PromError::Garbage {
        target: target.to_string(),
        reason,
    };
    let envelope: Envelope = serde_json::from_str(body).map_err(|e| {
        let head: String = body.chars().take(80).collect();
        garbage(format!("HTTP {status}, not JSON ({e}): {head:?}"))
    })?;
    match envelope.status.as_str() {
        "success" if (200..300).contains(&status) => {
            let data = envelope
                .data
                .ok_or_else(|| garbage("a success answer without data".into()))?;
            parse_data(&data).map_err(garbage)
        }
        "error" => Err(PromError::Api {
            target: target.to_string(),
            error_type: envelope.error_type.unwrap_or_else(|| "unknown".into()),
            message: envelope
                .error
                .unwrap_or_else(|| format!("HTTP {status} without a message")),
        }),
        other => Err(garbage(format!("HTTP {status} with status {other:?}"))),
    }
}

fn parse_data(data: &Data) -> Result<QueryResult, String> {
    match data.result_type.as_str() {
        "vector" => {
            let items = data
                .result
                .as_array()
                .ok_or("a vector that is not a list")?;
            items
                .iter()
                .map(|item| {
                    let (time, value) = point(&item["value"])?;
                    Ok(Sample {
                        metric: labels(&item["metric"])?,
                        time,
                        value,
                    })
                })
                .collect::<Result<Vec<_>, String>>()
                .map(QueryResult::Vector)
        }
        "scalar" => point(&data.result).map(|(time, value)| QueryResult::Scalar { time, value }),
        "matrix" => {
            let items = data
                .result
                .as_array()
                .ok_or("a matrix that is not a list")?;
            items
                .iter()
                .map(|item| {
                    let values = item["values"]
                        .as_array()
                        .ok_or("a matrix series without values")?
                        .iter()
                        .map(point)
                        .collect::<Result<Vec<_>, String>>()?;
                    Ok((labels(&item["metric"])?, values))
                })
                .collect::<Result<Vec<_>, String>>()
                .map(QueryResult::Matrix)
        }
        "string" => {
            let pair = data.result.as_array().filter(|a| a.len() == 2);
            let pair = pair.ok_or("a string result that is not [time, value]")?;
            let time = pair[0].as_f64().ok_or("a string result without a time")?;
            let value = pair[1].as_str().ok_or("a string result without text")?;
            Ok(QueryResult::String {
                time,
                value: value.to_string(),
            })
        }
        other => Err(format!("unknown resultType {other:?}")),
    }
}

fn labels(value: &Value) -> Result<BTreeMap<String, String>, String> {
    match value {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| format!("label {k:?} is not a string"))
            })
            .collect(),
        _ => Err("labels that are not an object".into()),
    }
}

/// `[1435781451.781, "1"]`: a float time and the value as a string.
fn point(value: &Value) -> Result<(f64, f64), String> {
    let pair = value
        .as_array()
        .filter(|a| a.len() == 2)
        .ok_or("a sample that is not [time, value]")?;
    let time = pair[0]
        .as_f64()
        .ok_or("a sample time that is not a number")?;
    let text = pair[1]
        .as_str()
        .ok_or("a sample value that is not a string")?;
    Ok((time, parse_value(text)?))
}

/// Prometheus spells special values `NaN`, `+Inf`, `-Inf`.
pub fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "NaN" => Ok(f64::NAN),
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => text
            .parse::<f64>()
            .map_err(|_| format!("a sample value {text:?} that is not a number")),
    }
}

/// Escapes a label value for a PromQL string literal (`"..."`).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A duration as PromQL writes it (`5m`, `90s`, `1h`), in whole seconds at least 1s.
pub fn promql_duration(d: Duration) -> String {
    let secs = d.as_secs().max(1);
    if secs.is_multiple_of(3600) {
        format!("{}h", secs / 3600)
    } else if secs.is_multiple_of(60) {
        format!("{}m", secs / 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const T: &str = "test";

    #[test]
    fn vectors_parse_with_labels_and_special_values() {
        let body = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"destination_service_name":"terminal"},"value":[1700000000.5,"0.25"]},
            {"metric":{},"value":[1700000000.5,"NaN"]},
            {"metric":{},"value":[1700000000.5,"+Inf"]}]}}"#;
        let result = parse_answer(T, 200, body).unwrap();
        let samples = result.samples();
        assert_eq!(samples.len(), 3);
        assert_eq!(samples[0].metric["destination_service_name"], "terminal");
        assert_eq!(samples[0].value, 0.25);
        assert_eq!(samples[0].time, 1_700_000_000.5);
        assert!(samples[1].value.is_nan());
        assert_eq!(samples[2].value, f64::INFINITY);
        assert_eq!(result.single_value(), Some(0.25));
    }

    #[test]
    fn empty_vectors_are_no_data_and_scalars_are_single() {
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert_eq!(parse_answer(T, 200, empty).unwrap().single_value(), None);
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"-Inf"]}}"#;
        assert_eq!(
            parse_answer(T, 200, scalar).unwrap(),
            QueryResult::Scalar {
                time: 1.5,
                value: f64::NEG_INFINITY
            }
        );
        let string = r#"{"status":"success","data":{"resultType":"string","result":[2,"hi"]}}"#;
        assert_eq!(
            parse_answer(T, 200, string).unwrap(),
            QueryResult::String {
                time: 2.0,
                value: "hi".into()
            }
        );
        let matrix = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"b"},"values":[[1,"1"],[2,"3"]]}]}}"#;
        let QueryResult::Matrix(series) = parse_answer(T, 200, matrix).unwrap() else {
            panic!("not a matrix")
        };
        assert_eq!(series[0].1, vec![(1.0, 1.0), (2.0, 3.0)]);
    }

    #[test]
    fn error_envelopes_are_api_errors() {
        let body =
            r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}"#;
        let err = parse_answer(T, 400, body).unwrap_err();
        assert!(
            matches!(&err, PromError::Api { error_type, message, .. } if error_type == "bad_data" && message.contains("parse error")),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_never_data() {
        for (status, body) in [
            (200, "<html>Bad Gateway</html>"),
            (200, r#"{"status":"success"}"#),
            (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}"#,
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}"#,
            ),
            (
                200,
                r#"{"status":"success","data":{"resultType":"histogram","result":[]}}"#,
            ),
            (
                502,
                r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#,
            ),
            (200, r#"{"status":"maybe"}"#),
            (200, ""),
        ] {
            let err = parse_answer(T, status, body).unwrap_err();
            assert!(matches!(err, PromError::Garbage { .. }), "{body}: {err}");
        }
    }

    #[test]
    fn quoting_and_durations_follow_promql() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(promql_duration(Duration::from_secs(300)), "5m");
        assert_eq!(promql_duration(Duration::from_secs(3600)), "1h");
        assert_eq!(promql_duration(Duration::from_secs(90)), "90s");
        assert_eq!(promql_duration(Duration::from_millis(10)), "1s");
    }

    #[test]
    fn the_proxy_path_names_service_and_port() {
        assert_eq!(
            proxy_prefix("monitoring", "prometheus:9090"),
            "/api/v1/namespaces/monitoring/services/prometheus:9090/proxy"
        );
        assert_eq!(
            proxy_prefix("monitoring", "https:prometheus:web"),
            "/api/v1/namespaces/monitoring/services/https:prometheus:web/proxy"
        );
    }

    #[test]
    fn urls_lose_their_credentials_in_messages() {
        assert_eq!(
            redact("https://user:pw@prom.example:9090/prom"),
            "https://prom.example:9090/prom"
        );
        assert_eq!(redact("http://127.0.0.1:9090"), "http://127.0.0.1:9090");
        assert!(Prometheus::direct("ftp://x", Duration::from_secs(1)).is_err());
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable_not_zero() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let prom = Prometheus::direct(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2))
            .unwrap();
        let err = prom.query("up", None).await.unwrap_err();
        assert!(matches!(err, PromError::Unreachable { .. }), "{err}");
    }
}

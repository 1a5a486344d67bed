//! Fault injection: requests matching a rule (verb, resource, namespace, path prefix) get an
//! error answer (429 with Retry-After, 500, 503, 504), a delay, a reset connection, a body cut
//! mid-stream, a watch closed early or an expired continue token; for the first N matches or with
//! a seeded (reproducible) probability.

use crate::response::{self, Resp};
use crate::status::ApiError;
use std::sync::Mutex;
use std::time::Duration;

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// 429 TooManyRequests with a `Retry-After` header of this many seconds.
    TooManyRequests { retry_after_seconds: u64 },
    /// 500, 503 or 504 (any code: the Status reason follows it).
    Status(u16),
    /// Answer normally, after a delay.
    Delay(Duration),
    /// Close the connection without an answer.
    Reset,
    /// Answer normally but break the connection after this many body bytes.
    CutBody { after_bytes: usize },
    /// A watch ends cleanly after this many chunks (events); fires on watches only.
    CloseWatch { after_events: usize },
    /// A list with a `continue` token answers 410 Expired; fires on such lists only.
    ExpireContinue,
}

/// Which requests a fault applies to; `None` matches anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultMatch {
    /// Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: Option<String>,
    /// Plural resource name (`pods`, `deployments`).
    pub resource: Option<String>,
    pub namespace: Option<String>,
    /// A path prefix (`/api/v1/namespaces/default/pods`).
    pub path_prefix: Option<String>,
}

/// How often a fault fires.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultWhen {
    /// The first N matching requests.
    FirstN(u64),
    /// Each matching request with this probability, drawn from a generator seeded with `seed`.
    Probability { p: f64, seed: u64 },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub matches: FaultMatch,
    pub action: FaultAction,
    pub when: FaultWhen,
}

struct Armed {
    fault: Fault,
    fired: u64,
    rng: fastrand::Rng,
}

/// The faults a running sandbox applies.
#[derive(Default)]
pub struct Faults(Mutex<Vec<Armed>>);

/// The request facts faults match on.
pub struct RequestFacts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub watch: bool,
    /// The request carries a `continue` token.
    pub has_continue: bool,
}

/// (verb, resource, namespace) of a resource path, as the authorizer would name them.
pub fn describe(facts: &RequestFacts<'_>) -> (String, Option<String>, Option<String>) {
    let segs: Vec<&str> = facts.path.split('/').filter(|s| !s.is_empty()).collect();
    let rest: &[&str] = match segs.as_slice() {
        ["api", _, rest @ ..] => rest,
        ["apis", _, _, rest @ ..] => rest,
        _ => &[],
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
        other => (None, other),
    };
    let resource = rest.first().map(|s| s.to_string());
    let named = rest.len() > 1;
    let verb = match facts.method {
        "GET" if facts.watch => "watch",
        "GET" if named => "get",
        "GET" => "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if named => "delete",
        "DELETE" => "deletecollection",
        other => other,
    };
    (verb.to_lowercase(), resource, ns)
}

impl Faults {
    pub fn add(&self, fault: Fault) {
        let seed = match fault.when {
            FaultWhen::Probability { seed, .. } => seed,
            FaultWhen::FirstN(_) => 0,
        };
        let armed = Armed {
            fault,
            fired: 0,
            rng: fastrand::Rng::with_seed(seed),
        };
        match self.0.lock() {
            Ok(mut g) => g.push(armed),
            Err(p) => p.into_inner().push(armed),
        }
    }

    pub fn clear(&self) {
        match self.0.lock() {
            Ok(mut g) => g.clear(),
            Err(p) => p.into_inner().clear(),
        }
    }

    /// The action for this request, if a fault fires (the first matching rule that fires wins).
    pub fn fire(&self, facts: &RequestFacts<'_>) -> Option<FaultAction> {
        let (verb, resource, ns) = describe(facts);
        let mut g = match self.0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for a in g.iter_mut() {
            let m = &a.fault.matches;
            let ok = m.verb.as_deref().is_none_or(|v| v == verb)
                && m.resource
                    .as_deref()
                    .is_none_or(|r| Some(r) == resource.as_deref())
                && m.namespace
                    .as_deref()
                    .is_none_or(|n| Some(n) == ns.as_deref())
                && m.path_prefix
                    .as_deref()
                    .is_none_or(|p| facts.path.starts_with(p));
            let applies = match a.fault.action {
                FaultAction::CloseWatch { .. } => facts.watch,
                FaultAction::ExpireContinue => facts.has_continue,
                _ => true,
            };
            if !ok || !applies {
                continue;
            }
            let fires = match a.fault.when {
                FaultWhen::FirstN(n) => a.fired < n,
                FaultWhen::Probability { p, .. } => a.rng.f64() < p,
            };
            if fires {
                a.fired += 1;
                return Some(a.fault.action.clone());
            }
        }
        None
    }
}

/// The answer for an error action (None for a delay).
pub fn answer(action: &FaultAction) -> Option<Resp> {
    match action {
        FaultAction::Delay(_)
        | FaultAction::Reset
        | FaultAction::CutBody { .. }
        | FaultAction::CloseWatch { .. } => None,
        FaultAction::ExpireContinue => Some(response::error(&ApiError::expired(
            "The provided continue parameter is too old to display a consistent list result. \
             You can start a new list without the continue parameter.",
        ))),
        FaultAction::TooManyRequests {
            retry_after_seconds,
        } => {
            let mut e = ApiError::new(
                429,
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
            );
            e.details = Some(serde_json::json!({ "retryAfterSeconds": retry_after_seconds }));
            let mut r = response::error(&e);
            if let Ok(v) = hyper::header::HeaderValue::from_str(&retry_after_seconds.to_string()) {
                r.headers_mut().insert(hyper::header::RETRY_AFTER, v);
            }
            Some(r)
        }
        FaultAction::Status(code) => {
            let (reason, message) = match code {
                503 => (
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request",
                ),
                504 => (
                    "Timeout",
                    "the server was unable to return a response in the time allotted, but may still be processing the request",
                ),
                _ => (
                    "InternalError",
                    "an error on the server (\"\") has prevented the request from succeeding",
                ),
            };
            Some(response::error(&ApiError::new(*code, reason, message)))
        }
    }
}

/// A response body that ends early: with an error (the connection breaks mid-body, the promised
/// length unmet) or cleanly (a watch stream that just stops).
pub struct Truncated {
    inner: response::Body,
    /// Bytes (for a cut) or frames (for a clean end) still let through.
    budget: usize,
    count_frames: bool,
}

impl hyper::body::Body for Truncated {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, std::io::Error>>> {
        use std::task::Poll;
        if self.budget == 0 {
            return Poll::Ready(if self.count_frames {
                None
            } else {
                Some(Err(std::io::Error::other("fault: body cut")))
            });
        }
        let frame = match std::pin::Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(f))) => f,
            other => return other,
        };
        let Ok(mut data) = frame.into_data() else {
            return Poll::Ready(None);
        };
        if self.count_frames {
            self.budget -= 1;
        } else {
            let keep = data.len().min(self.budget);
            self.budget -= keep;
            data.truncate(keep);
            if self.budget == 0 && keep == 0 {
                return Poll::Ready(Some(Err(std::io::Error::other("fault: body cut"))));
            }
        }
        Poll::Ready(Some(Ok(hyper::body::Frame::data(data))))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        // The full length is still promised: a cut leaves the client short of it.
        self.inner.size_hint()
    }
}

/// Apply an after-routing action (a cut body, an early watch end) to an answer.
pub fn shape(action: &FaultAction, resp: Resp) -> Resp {
    use http_body_util::BodyExt;
    let (budget, count_frames) = match action {
        FaultAction::CutBody { after_bytes } => (*after_bytes, false),
        FaultAction::CloseWatch { after_events } => (*after_events, true),
        _ => return resp,
    };
    resp.map(|inner| {
        Truncated {
            inner,
            budget,
            count_frames,
        }
        .boxed()
    })
}

/// Parse a faults file: a YAML list of rules such as
/// `{verb: list, resource: pods, namespace: default, path: /api/v1, action: "429",
/// retryAfterSeconds: 1, first: 2}` or `{action: delay, delayMs: 200, probability: 0.3, seed: 7}`.
/// `action` is 429, 500, 503, 504 or `delay`; without `first` or `probability` a rule always fires.
pub fn parse_file(text: &str) -> Result<Vec<Fault>, String> {
    let doc: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| format!("faults file: {e}"))?;
    let rules = doc
        .as_array()
        .ok_or("faults file: expected a list of rules")?;
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| rule(r).map_err(|e| format!("fault {}: {e}", i + 1)))
        .collect()
}

fn rule(r: &serde_json::Value) -> Result<Fault, String> {
    let text = |k: &str| r[k].as_str().map(String::from);
    let action_text = match &r["action"] {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        _ => return Err("missing action".into()),
    };
    let action = match action_text.as_str() {
        "429" => FaultAction::TooManyRequests {
            retry_after_seconds: r["retryAfterSeconds"].as_u64().unwrap_or(1),
        },
        "delay" => FaultAction::Delay(Duration::from_millis(
            r["delayMs"].as_u64().ok_or("a delay needs delayMs")?,
        )),
        "reset" => FaultAction::Reset,
        "cut-body" => FaultAction::CutBody {
            after_bytes: r["afterBytes"].as_u64().unwrap_or(0) as usize,
        },
        "close-watch" => FaultAction::CloseWatch {
            after_events: r["afterEvents"].as_u64().unwrap_or(0) as usize,
        },
        "expire-continue" => FaultAction::ExpireContinue,
        code => match code.parse::<u16>() {
            Ok(c @ (500 | 503 | 504)) => FaultAction::Status(c),
            _ => {
                return Err(format!(
                    "unknown action {code:?} (429, 500, 503, 504, delay)"
                ));
            }
        },
    };
    let when = match (r["first"].as_u64(), r["probability"].as_f64()) {
        (Some(n), _) => FaultWhen::FirstN(n),
        (None, Some(p)) => FaultWhen::Probability {
            p,
            seed: r["seed"].as_u64().unwrap_or(0),
        },
        (None, None) => FaultWhen::FirstN(u64::MAX),
    };
    Ok(Fault {
        matches: FaultMatch {
            verb: text("verb"),
            resource: text("resource"),
            namespace: text("namespace"),
            path_prefix: text("path"),
        },
        action,
        when,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_faults_file() {
        let f = parse_file("- {verb: list, resource: pods, action: 429, retryAfterSeconds: 2, first: 3}\n- {action: delay, delayMs: 50, probability: 0.5, seed: 9}\n- {action: '503'}\n").unwrap();
        assert_eq!(
            f[0].action,
            FaultAction::TooManyRequests {
                retry_after_seconds: 2
            }
        );
        assert_eq!(f[0].when, FaultWhen::FirstN(3));
        assert_eq!(f[0].matches.resource.as_deref(), Some("pods"));
        assert_eq!(f[1].when, FaultWhen::Probability { p: 0.5, seed: 9 });
        assert_eq!(f[2].action, FaultAction::Status(503));
        assert!(parse_file("- {action: 418}").is_err());
    }

    fn facts(method: &'static str, path: &'static str) -> RequestFacts<'static> {
        RequestFacts {
            method,
            path,
            watch: false,
            has_continue: false,
        }
    }

    #[test]
    fn first_n_and_matching() {
        let f = Faults::default();
        f.add(Fault {
            matches: FaultMatch {
                verb: Some("list".into()),
                resource: Some("pods".into()),
                namespace: Some("a".into()),
                ..Default::default()
            },
            action: FaultAction::Status(500),
            when: FaultWhen::FirstN(2),
        });
        assert!(
            f.fire(&facts("GET", "/api/v1/namespaces/a/pods/x"))
                .is_none(),
            "a get is not a list"
        );
        assert!(f.fire(&facts("GET", "/api/v1/namespaces/b/pods")).is_none());
        assert_eq!(
            f.fire(&facts("GET", "/api/v1/namespaces/a/pods")),
            Some(FaultAction::Status(500))
        );
        assert!(f.fire(&facts("GET", "/api/v1/namespaces/a/pods")).is_some());
        assert!(f.fire(&facts("GET", "/api/v1/namespaces/a/pods")).is_none());
    }

    #[test]
    fn seeded_probability_is_reproducible() {
        let run = || {
            let f = Faults::default();
            f.add(Fault {
                matches: FaultMatch::default(),
                action: FaultAction::Status(503),
                when: FaultWhen::Probability { p: 0.5, seed: 7 },
            });
            (0..64)
                .map(|_| f.fire(&facts("GET", "/api/v1/pods")).is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        assert!(a.iter().any(|x| *x) && a.iter().any(|x| !*x));
    }
}

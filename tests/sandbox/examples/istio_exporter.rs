//! A stand-in for the mesh's telemetry, for the demo: serves `/metrics` with Istio's
//! `istio_requests_total` and `istio_request_duration_milliseconds` for the services named, so a
//! real Prometheus scraping it gives `kubectl sealos health`, `health monitor` and `rollout plan`
//! traffic to judge.
//!
//! ```text
//! istio_exporter [--listen 127.0.0.1:0] [--errors FILE] NS/SERVICE[:RPS]...
//! ```
//!
//! Every scrape adds RPS requests (default 100) per service, all under 10 ms. Which fail is read
//! from `--errors FILE` at every scrape, one rule a line:
//! - `NS/SERVICE RATIO` — that share of its requests are 503s (`0.5`);
//! - `NS/SERVICE RATIO from-percent N` — the same, only while the Deployment NS/SERVICE has
//!   `ISTIO_PERCENTAGE` N or more (asked of the cluster with `kubectl` at each scrape): the Istio
//!   path is broken, so a rollout past N breaches.
//!
//! Prints `listening on 127.0.0.1:PORT` once bound; runs until killed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;

struct Service {
    namespace: String,
    name: String,
    per_scrape: u64,
    total: u64,
    errors: u64,
}

fn usage(why: &str) -> ! {
    eprintln!(
        "error: {why}\nusage: istio_exporter [--listen ADDR] [--errors FILE] NS/SERVICE[:RPS]..."
    );
    std::process::exit(2);
}

fn main() {
    let mut listen = "127.0.0.1:0".to_string();
    let mut errors_file = None;
    let mut services = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().unwrap_or_else(|| usage("--listen needs ADDR")),
            "--errors" => {
                errors_file = Some(args.next().unwrap_or_else(|| usage("--errors needs FILE")))
            }
            spec => {
                let (service, rps) = spec.split_once(':').unwrap_or((spec, "100"));
                let Some((namespace, name)) = service.split_once('/') else {
                    usage(&format!("{spec:?} is not NS/SERVICE[:RPS]"));
                };
                let per_scrape = rps
                    .parse()
                    .unwrap_or_else(|_| usage(&format!("{rps:?} is not a number of requests")));
                services.push(Service {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    per_scrape,
                    total: 0,
                    errors: 0,
                });
            }
        }
    }
    if services.is_empty() {
        usage("name at least one NS/SERVICE");
    }
    let listener =
        TcpListener::bind(&listen).unwrap_or_else(|e| usage(&format!("bind {listen}: {e}")));
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => usage(&e.to_string()),
    }
    for stream in listener.incoming().flatten() {
        let rules = errors_file.as_deref().map(read_rules).unwrap_or_default();
        for s in &mut services {
            let ratio = rules
                .get(&format!("{}/{}", s.namespace, s.name))
                .map_or(0.0, |rule| rule.ratio_now(&s.namespace, &s.name));
            // Whole requests: a ratio of 0.5 of 100 is 50.
            let failed = (s.per_scrape as f64 * ratio).round() as u64;
            s.total += s.per_scrape;
            s.errors += failed.min(s.per_scrape);
        }
        answer(stream, &metrics(&services));
    }
}

/// One line of the errors file.
struct Rule {
    ratio: f64,
    from_percent: Option<u32>,
}

impl Rule {
    fn ratio_now(&self, namespace: &str, name: &str) -> f64 {
        match self.from_percent {
            None => self.ratio,
            Some(n) if istio_percentage(namespace, name).is_some_and(|p| p >= n) => self.ratio,
            Some(_) => 0.0,
        }
    }
}

fn read_rules(path: &str) -> BTreeMap<String, Rule> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let ratio: f64 = words.get(1)?.parse().ok()?;
            if !(0.0..=1.0).contains(&ratio) {
                return None;
            }
            let from_percent = match (words.get(2), words.get(3)) {
                (Some(&"from-percent"), Some(n)) => Some(n.parse().ok()?),
                _ => None,
            };
            Some((
                words[0].to_string(),
                Rule {
                    ratio,
                    from_percent,
                },
            ))
        })
        .collect()
}

/// The Deployment's ISTIO_PERCENTAGE, asked of the cluster with the real kubectl.
fn istio_percentage(namespace: &str, name: &str) -> Option<u32> {
    let out = Command::new("kubectl")
        .args(["get", "deployment", name, "-n", namespace, "-o"])
        .arg("jsonpath={.spec.template.spec.containers[*].env[?(@.name==\"ISTIO_PERCENTAGE\")].value}")
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn metrics(services: &[Service]) -> String {
    let mut body = String::from(
        "# TYPE istio_requests_total counter\n# TYPE istio_request_duration_milliseconds histogram\n",
    );
    for s in services {
        let labels = format!(
            "destination_service_namespace=\"{}\",destination_service_name=\"{}\"",
            s.namespace, s.name
        );
        let (t, e) = (s.total, s.errors);
        body.push_str(&format!(
            "istio_requests_total{{{labels},response_code=\"200\"}} {ok}\n\
             istio_requests_total{{{labels},response_code=\"503\"}} {e}\n\
             istio_request_duration_milliseconds_bucket{{{labels},le=\"10\"}} {t}\n\
             istio_request_duration_milliseconds_bucket{{{labels},le=\"100\"}} {t}\n\
             istio_request_duration_milliseconds_bucket{{{labels},le=\"+Inf\"}} {t}\n\
             istio_request_duration_milliseconds_sum{{{labels}}} {sum}\n\
             istio_request_duration_milliseconds_count{{{labels}}} {t}\n",
            ok = t - e,
            sum = t * 5,
        ));
    }
    body
}

/// Reads the request head and answers with `body`.
fn answer(mut stream: TcpStream, body: &str) {
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line == "\r\n" || line == "\n" {
            break;
        }
        line.clear();
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

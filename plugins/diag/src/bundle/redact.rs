//! What a bundle hides before it leaves the cluster's owner: Secret values, credential-looking
//! env values, ConfigMap entries and annotations, passwords in URLs, and `name=value` /
//! `"name": "value"` / `name: value` credentials in any text (logs, Envoy dumps, ConfigMap files,
//! container args, event messages).
//!
//! A name "looks like a credential" when it *contains* one of the patterns, ignoring case. That
//! is deliberately broad: `API_KEYS`, `ssh-keys`, `tls.key` and `accessKey` are credentials, and
//! so `keys` is matched on purpose; the price is harmless names such as `monkey`, `keyspace`,
//! `author` or `authority`, whose values are hidden too. A value hidden by mistake costs the
//! vendor a question; a credential shown by mistake leaves the organisation. Names stay, and a
//! redacted value keeps its length, so the reader still sees what is set.

use std::borrow::Cow;

use regex::{Captures, Regex};
use serde::Serialize;
use serde_json::Value;

/// The name patterns every bundle redacts (matched as case-insensitive substrings).
pub const PATTERNS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "key",
    "credential",
    "auth",
    "dsn",
];

/// The annotation `kubectl apply` keeps: the whole object as applied, values in clear.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What replaces a value.
pub const MARK: &str = "<redacted>";

/// How many values each rule replaced (the bundle's README and summary say so).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Secret `data` and `stringData` values.
    pub secret_values: u64,
    /// `env[].value` of containers, init containers and pod templates.
    pub env_values: u64,
    /// ConfigMap `data`/`binaryData` entries whose key looks like a credential.
    pub configmap_values: u64,
    /// Annotations whose name looks like a credential.
    pub annotations: u64,
    /// `last-applied-configuration` annotations redacted by the same rules (or dropped when
    /// unreadable).
    pub last_applied: u64,
    /// Passwords in `scheme://user:password@host` URLs.
    pub url_passwords: u64,
    /// `name=value`, `"name": "value"` and `name: value` credentials inside text.
    pub text_values: u64,
}

impl Tally {
    pub fn total(&self) -> u64 {
        self.secret_values
            + self.env_values
            + self.configmap_values
            + self.annotations
            + self.last_applied
            + self.url_passwords
            + self.text_values
    }
}

/// The compiled rules.
#[derive(Debug, Clone)]
pub struct Rules {
    /// False with `--no-redact`: nothing is touched.
    pub enabled: bool,
    /// False with `--include-secrets`: Secret values are kept, everything else still applies.
    pub secrets: bool,
    /// Every name pattern, the built-in ones first, lower case.
    pub patterns: Vec<String>,
    name: Regex,
    url: Regex,
    quoted: Regex,
    assigned: Regex,
    line: Regex,
}

impl Rules {
    /// The rules with `extra` name patterns (`--redact`, repeatable) added.
    pub fn new(extra: &[String], secrets: bool, enabled: bool) -> Result<Rules, String> {
        let mut patterns: Vec<String> = PATTERNS.iter().map(|p| p.to_string()).collect();
        for p in extra {
            let p = p.trim().to_lowercase();
            if p.is_empty() {
                return Err("--redact needs a non-empty name pattern".into());
            }
            if p.chars().any(char::is_whitespace) {
                return Err(format!(
                    "--redact {p:?}: a name pattern has no spaces (it is matched inside names)"
                ));
            }
            if !patterns.contains(&p) {
                patterns.push(p);
            }
        }
        let any = patterns
            .iter()
            .map(|p| regex::escape(p))
            .collect::<Vec<_>>()
            .join("|");
        let word = r"[A-Za-z0-9_.\-]";
        let build = |re: String| Regex::new(&re).map_err(|e| format!("redaction rule: {e}"));
        Ok(Rules {
            enabled,
            secrets,
            name: build(format!("(?i){any}"))?,
            // scheme://user:password@ (the user may be empty: redis://:password@host).
            url: build(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]*):([^@\s/]+)@".into())?,
            // "name": "value" (JSON, or JSON inside a log line), also escaped once (\"name\":
            // \"value\"), as JSON kept in a JSON string is (annotations, structured logs).
            quoted: build(format!(
                r#"(?i)(\\?"{word}*(?:{any}){word}*\\?"\s*:\s*)(\\?")(?:[^"\\]|\\[^"])*\\?""#
            ))?,
            // name=value, --name=value, NAME="value" (env files, args, logfmt, query strings).
            assigned: build(format!(
                r#"(?i)({word}*(?:{any}){word}*\s*=\s*)("[^"]*"|'[^']*'|[^\s"',;&]+)"#
            ))?,
            // name: value at the start of a line (YAML, properties, headers), when the value
            // is on the same line and is not the start of a nested block.
            line: build(format!(
                r"(?im)^(\s*-?\s*{word}*(?:{any}){word}*[ \t]*:[ \t]+)([^\s{{\[|>&*][^\r\n]*)$"
            ))?,
            patterns,
        })
    }

    /// Rules that change nothing (`--no-redact`).
    pub fn off() -> Result<Rules, String> {
        Rules::new(&[], false, false)
    }

    /// Whether `name` looks like a credential's.
    pub fn sensitive(&self, name: &str) -> bool {
        self.name.is_match(name)
    }

    /// `text` with URL passwords and `name=value`-style credentials replaced.
    pub fn text<'a>(&self, text: &'a str, tally: &mut Tally) -> Cow<'a, str> {
        if !self.enabled {
            return Cow::Borrowed(text);
        }
        let mut out = Cow::Borrowed(text);
        let mut count = 0;
        let replaced = self.url.replace_all(&out, |c: &Captures| {
            count += 1;
            format!("{}:{MARK}@", &c[1])
        });
        if let Cow::Owned(s) = replaced {
            out = Cow::Owned(s);
        }
        tally.url_passwords += count;
        let mut count = 0;
        for (re, quoted) in [
            (&self.quoted, true),
            (&self.assigned, false),
            (&self.line, false),
        ] {
            let replaced = re.replace_all(&out, |c: &Captures| {
                let whole = &c[0];
                let quote = c.get(2).map_or("", |m| m.as_str());
                if whole.ends_with(MARK) || (quoted && whole.ends_with(&format!("{MARK}{quote}"))) {
                    return whole.to_string();
                }
                count += 1;
                if quoted {
                    format!("{}{quote}{MARK}{quote}", &c[1])
                } else {
                    format!("{}{MARK}", &c[1])
                }
            });
            if let Cow::Owned(s) = replaced {
                out = Cow::Owned(s);
            }
        }
        tally.text_values += count;
        out
    }

    /// Redacts one Kubernetes object (as JSON) in place.
    pub fn object(&self, object: &mut Value, tally: &mut Tally) {
        if !self.enabled {
            return;
        }
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        // What is left as data (binary, or kept Secret values) is not scanned as text.
        let mut skip: Vec<&str> = Vec::new();
        if kind == "Secret" {
            if self.secrets {
                for field in ["data", "stringData"] {
                    if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
                        for value in map.values_mut() {
                            *value = Value::String(sized(value));
                            tally.secret_values += 1;
                        }
                    }
                }
            }
            skip.extend(["data", "stringData"]);
        }
        if kind == "ConfigMap" {
            for field in ["data", "binaryData"] {
                if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
                    for (key, value) in map.iter_mut() {
                        if self.sensitive(key) {
                            *value = Value::String(sized(value));
                            tally.configmap_values += 1;
                        }
                    }
                }
            }
            skip.push("binaryData");
        }
        if let Some(annotations) = object
            .pointer_mut("/metadata/annotations")
            .and_then(Value::as_object_mut)
        {
            for (name, value) in annotations.iter_mut() {
                if name == LAST_APPLIED {
                    *value = Value::String(self.last_applied(value.as_str().unwrap_or_default()));
                    tally.last_applied += 1;
                } else if self.sensitive(name) {
                    *value = Value::String(sized(value));
                    tally.annotations += 1;
                } else if let Some(text) = value.as_str()
                    && let Cow::Owned(redacted) = self.text(text, tally)
                {
                    *value = Value::String(redacted);
                }
            }
        }
        if let Some(map) = object.as_object_mut() {
            for (key, value) in map.iter_mut() {
                if !skip.contains(&key.as_str()) {
                    self.walk(value, tally);
                }
            }
        }
    }

    /// The last-applied annotation with the same rules applied to the object it holds; when it
    /// cannot be read, nothing of it is kept.
    fn last_applied(&self, text: &str) -> String {
        match serde_json::from_str::<Value>(text) {
            Ok(mut applied) if applied.is_object() => {
                self.object(&mut applied, &mut Tally::default());
                applied.to_string()
            }
            _ => format!("{MARK} (unreadable, {} characters)", text.len()),
        }
    }

    /// Env values by name, then every string through the text rules.
    fn walk(&self, value: &mut Value, tally: &mut Tally) {
        match value {
            Value::Object(map) => {
                if let Some(env) = map.get_mut("env").and_then(Value::as_array_mut) {
                    for var in env.iter_mut() {
                        let sensitive = var["name"].as_str().is_some_and(|n| self.sensitive(n));
                        if sensitive && let Some(v) = var.get_mut("value").filter(|v| v.is_string())
                        {
                            *v = Value::String(sized(v));
                            tally.env_values += 1;
                        }
                    }
                }
                for (key, v) in map.iter_mut() {
                    // Annotations were handled by name (the last-applied one is JSON already
                    // redacted, which the text rules would only mangle).
                    if key != "annotations" {
                        self.walk(v, tally);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.walk(v, tally)),
            Value::String(s) => {
                if let Cow::Owned(redacted) = self.text(s, tally) {
                    *s = redacted;
                }
            }
            _ => {}
        }
    }
}

/// `<redacted: N characters>`: the length says whether something is set, not what.
fn sized(value: &Value) -> String {
    let size = value.as_str().map_or(0, |s| s.chars().count());
    format!("{MARK} ({size} characters)")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn rules() -> Rules {
        Rules::new(&[], true, true).unwrap()
    }

    #[test]
    fn names_that_look_like_credentials() {
        let r = rules();
        for name in [
            "DB_PASSWORD",
            "passwd",
            "clientSecret",
            "GITHUB_TOKEN",
            "tls.key",
            "apiKey",
            "API_KEYS",
            "AWS_SECRET_ACCESS_KEY",
            "credentials.json",
            "BASIC_AUTH",
            "Authorization",
            "SENTRY_DSN",
        ] {
            assert!(r.sensitive(name), "{name} should be redacted");
        }
        for name in [
            "replicas",
            "image",
            "LOG_LEVEL",
            "PORT",
            "DATABASE_HOST",
            "mesh",
        ] {
            assert!(!r.sensitive(name), "{name} should be kept");
        }
        // Deliberate false positives: documented, accepted.
        assert!(r.sensitive("monkey") && r.sensitive("author"));
        let extra = Rules::new(&["License".into()], true, true).unwrap();
        assert!(extra.sensitive("LICENSE_ID") && !r.sensitive("LICENSE_ID"));
        assert!(Rules::new(&[" ".into()], true, true).is_err());
        assert!(Rules::new(&["a b".into()], true, true).is_err());
    }

    #[test]
    fn a_deployment_keeps_its_shape_and_loses_its_credentials() {
        let mut d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "app", "annotations": {
                "deployment.kubernetes.io/revision": "3",
                "vault.example.com/token": "s.abcdef",
                LAST_APPLIED: json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
                    {"name": "app", "env": [{"name": "DB_PASSWORD", "value": "hunter2-applied"}]}]}}}}).to_string(),
            }},
            "spec": {"replicas": 3, "template": {"spec": {
                "initContainers": [{"name": "migrate", "image": "app:1", "env": [
                    {"name": "DB_PASSWORD", "value": "hunter2-init"}]}],
                "containers": [{"name": "app", "image": "app:1",
                    "args": ["--listen=:8080", "--db-password=hunter2-arg"],
                    "env": [
                        {"name": "DB_PASSWORD", "value": "hunter2"},
                        {"name": "LOG_LEVEL", "value": "debug"},
                        {"name": "DATABASE_URL", "value": "postgres://app:hunter2-url@db:5432/app"},
                        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "token"}}},
                    ]}],
            }}},
        });
        let mut tally = Tally::default();
        rules().object(&mut d, &mut tally);
        let text = d.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("s.abcdef"), "{text}");
        assert_eq!(d["spec"]["replicas"], 3);
        let app = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(app["image"], "app:1");
        assert_eq!(app["env"][0]["value"], "<redacted> (7 characters)");
        assert_eq!(app["env"][1]["value"], "debug");
        assert_eq!(
            app["env"][2]["value"],
            "postgres://app:<redacted>@db:5432/app"
        );
        assert_eq!(app["env"][3]["valueFrom"]["secretKeyRef"]["key"], "token");
        assert_eq!(app["args"][0], "--listen=:8080");
        assert_eq!(app["args"][1], "--db-password=<redacted>");
        assert_eq!(
            d["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            "3"
        );
        let applied: Value =
            serde_json::from_str(d["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap())
                .unwrap();
        assert_eq!(
            applied["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"],
            "<redacted> (15 characters)"
        );
        assert_eq!(tally.env_values, 2);
        assert_eq!(tally.annotations, 1);
        assert_eq!(tally.last_applied, 1);
        assert_eq!(tally.url_passwords, 1);
        assert_eq!(tally.text_values, 1);
    }

    #[test]
    fn secrets_configmaps_and_their_last_applied() {
        let mut secret = json!({
            "kind": "Secret",
            "metadata": {"name": "s", "annotations": {
                LAST_APPLIED: "{\"kind\":\"Secret\",\"data\":{\"tls.key\":\"c2VjcmV0\"},\"stringData\":{\"password\":\"hunter2\"}}",
                "keep": "me"}},
            "data": {"tls.key": "c2VjcmV0", "tls.crt": "Y2VydA=="},
            "stringData": {"password": "hunter2"},
        });
        let mut tally = Tally::default();
        rules().object(&mut secret, &mut tally);
        let text = secret.to_string();
        assert!(
            !text.contains("c2VjcmV0") && !text.contains("hunter2"),
            "{text}"
        );
        assert_eq!(secret["data"]["tls.key"], "<redacted> (8 characters)");
        assert_eq!(secret["metadata"]["annotations"]["keep"], "me");
        assert_eq!(tally.secret_values, 3);
        // --include-secrets keeps Secret values, byte for byte.
        let mut kept = json!({"kind": "Secret", "data": {"password": "aGk9dGhlcmU="}});
        Rules::new(&[], false, true)
            .unwrap()
            .object(&mut kept, &mut Tally::default());
        assert_eq!(kept["data"]["password"], "aGk9dGhlcmU=");

        let mut cm = json!({
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {
                "password": "hunter2",
                "replicas": "3",
                "app.properties": "db.host=db\ndb.password=hunter2-file\n",
                "config.yaml": "server:\n  token: hunter2-yaml\n  port: 8080\n",
                "config.json": "{\"apiKey\": \"hunter2-json\", \"n\": 1}",
            },
            "binaryData": {"keystore": "aHVudGVyMg=="},
        });
        let mut tally = Tally::default();
        rules().object(&mut cm, &mut tally);
        let text = cm.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVyMg"),
            "{text}"
        );
        assert_eq!(cm["data"]["replicas"], "3");
        assert_eq!(
            cm["data"]["app.properties"],
            "db.host=db\ndb.password=<redacted>\n"
        );
        assert_eq!(
            cm["data"]["config.yaml"],
            "server:\n  token: <redacted>\n  port: 8080\n"
        );
        assert_eq!(
            cm["data"]["config.json"],
            "{\"apiKey\": \"<redacted>\", \"n\": 1}"
        );
        assert_eq!(tally.configmap_values, 2);
    }

    #[test]
    fn log_lines() {
        let r = rules();
        let mut tally = Tally::default();
        let log = "2026-01-01T00:00:00Z info connect postgres://app:hunter2@db/app\n\
                   level=info msg=\"login\" token=hunter2-logfmt user=bob\n\
                   {\"level\":\"debug\",\"client_secret\":\"hunter2-json\",\"replicas\":3}\n\
                   DB_PASSWORD=\"hunter2 quoted\" started\n\
                   all is well: 3 replicas, image app:1\n";
        let out = r.text(log, &mut tally);
        assert!(!out.contains("hunter2"), "{out}");
        assert!(
            out.contains("user=bob") && out.contains("\"replicas\":3"),
            "{out}"
        );
        assert!(
            out.contains("all is well: 3 replicas, image app:1"),
            "{out}"
        );
        assert_eq!(tally.url_passwords, 1);
        assert_eq!(tally.text_values, 3);
        // JSON kept inside a JSON string (an annotation, a structured log) is escaped once.
        let mut tally = Tally::default();
        let escaped = r#"{"app":"{\"user\": \"bob\", \"token\": \"hunter2\\nx\"}"}"#;
        assert_eq!(
            r.text(escaped, &mut tally),
            r#"{"app":"{\"user\": \"bob\", \"token\": \"<redacted>\"}"}"#
        );
        assert_eq!(tally.text_values, 1);
        // Already redacted text is left alone (the rules run once per value, but twice is safe).
        let again = r.text(&out, &mut Tally::default());
        assert_eq!(again, out);
        // --no-redact changes nothing.
        let off = Rules::off().unwrap();
        assert_eq!(off.text(log, &mut Tally::default()), log);
    }
}

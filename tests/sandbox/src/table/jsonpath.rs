//! The JSONPath subset CRD `additionalPrinterColumns` use (client-go `jsonpath` with missing
//! keys allowed): `.a.b`, `['a.b']`, `[0]`, `[-1]`, `[*]`, `.*`, `..name` and filters such as
//! `[?(@.type=="Ready")]`, `[?(@.count>1)]`, `[?(@.ready)]`.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Recursive(String),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    path: Vec<String>,
    cmp: Option<(Cmp, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

/// A compiled column path.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JsonPath {
    segments: Vec<Segment>,
}

impl JsonPath {
    /// Compiles `.status.conditions[?(@.type=="Ready")].status` (with or without `{}` around it).
    pub(super) fn parse(expr: &str) -> Result<JsonPath, String> {
        let text = expr.trim();
        let text = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text)
            .trim();
        let text = text.strip_prefix('$').unwrap_or(text);
        let chars: Vec<char> = text.chars().collect();
        let mut segments = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '.' if chars.get(i + 1) == Some(&'.') => {
                    let (name, next) = read_name(&chars, i + 2);
                    if name.is_empty() {
                        return Err(format!("unrecognized column definition {expr:?}"));
                    }
                    segments.push(Segment::Recursive(name));
                    i = next;
                }
                '.' => {
                    if chars.get(i + 1) == Some(&'*') {
                        segments.push(Segment::Wildcard);
                        i += 2;
                        continue;
                    }
                    let (name, next) = read_name(&chars, i + 1);
                    if !name.is_empty() {
                        segments.push(Segment::Field(name));
                    }
                    i = next;
                }
                '[' => {
                    let close =
                        find_closing(&chars, i).ok_or_else(|| format!("unclosed [ in {expr:?}"))?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    segments.push(
                        parse_bracket(inner.trim())
                            .ok_or_else(|| format!("invalid array index {inner:?}"))?,
                    );
                    i = close + 1;
                }
                c if c.is_whitespace() => i += 1,
                _ => {
                    let (name, next) = read_name(&chars, i);
                    if name.is_empty() {
                        return Err(format!("unrecognized character in {expr:?}"));
                    }
                    segments.push(Segment::Field(name));
                    i = next;
                }
            }
        }
        Ok(JsonPath { segments })
    }

    /// All values the path reaches, in document order; missing keys yield nothing.
    pub(super) fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for seg in &self.segments {
            let mut next = Vec::new();
            for v in current {
                match seg {
                    Segment::Field(name) => {
                        if let Some(x) = v.get(name.as_str()) {
                            next.push(x);
                        }
                    }
                    Segment::Index(idx) => {
                        if let Value::Array(a) = v {
                            let len = a.len() as i64;
                            let at = if *idx < 0 { idx + len } else { *idx };
                            if (0..len).contains(&at) {
                                next.push(&a[at as usize]);
                            }
                        }
                    }
                    Segment::Wildcard => match v {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(m) => next.extend(m.values()),
                        _ => {}
                    },
                    Segment::Recursive(name) => collect_recursive(v, name, &mut next),
                    Segment::Filter(f) => {
                        if let Value::Array(a) = v {
                            next.extend(a.iter().filter(|item| f.accepts(item)));
                        }
                    }
                }
            }
            current = next;
        }
        current
    }
}

fn collect_recursive<'a>(v: &'a Value, name: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(m) => {
            if let Some(x) = m.get(name) {
                out.push(x);
            }
            for child in m.values() {
                collect_recursive(child, name, out);
            }
        }
        Value::Array(a) => {
            for child in a {
                collect_recursive(child, name, out);
            }
        }
        _ => {}
    }
}

impl Filter {
    fn accepts(&self, item: &Value) -> bool {
        let found = self.path.iter().try_fold(item, |v, k| v.get(k.as_str()));
        match (&self.cmp, found) {
            (None, Some(v)) => !v.is_null() && v != &Value::Bool(false),
            (None, None) | (Some(_), None) => false,
            (Some((cmp, want)), Some(have)) => compare(have, *cmp, want),
        }
    }
}

fn compare(have: &Value, cmp: Cmp, want: &Value) -> bool {
    if let (Some(a), Some(b)) = (have.as_f64(), want.as_f64()) {
        return match cmp {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Gt => a > b,
            Cmp::Le => a <= b,
            Cmp::Ge => a >= b,
        };
    }
    match cmp {
        Cmp::Eq => have == want,
        Cmp::Ne => have != want,
        _ => match (have.as_str(), want.as_str()) {
            (Some(a), Some(b)) => match cmp {
                Cmp::Lt => a < b,
                Cmp::Gt => a > b,
                Cmp::Le => a <= b,
                _ => a >= b,
            },
            _ => false,
        },
    }
}

fn read_name(chars: &[char], start: usize) -> (String, usize) {
    let mut i = start;
    let mut name = String::new();
    while i < chars.len() && !matches!(chars[i], '.' | '[') && !chars[i].is_whitespace() {
        name.push(chars[i]);
        i += 1;
    }
    (name, i)
}

/// The `]` closing the `[` at `open`, skipping quoted strings and nested brackets.
fn find_closing(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Segment> {
    if inner == "*" {
        return Some(Segment::Wildcard);
    }
    if let Some(name) = unquote(inner) {
        return Some(Segment::Field(name));
    }
    if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        return parse_filter(filter.trim()).map(Segment::Filter);
    }
    inner.parse::<i64>().ok().map(Segment::Index)
}

fn unquote(s: &str) -> Option<String> {
    let first = s.chars().next()?;
    if (first == '\'' || first == '"') && s.len() >= 2 && s.ends_with(first) {
        return Some(s[1..s.len() - 1].to_string());
    }
    None
}

fn parse_filter(f: &str) -> Option<Filter> {
    let rest = f.strip_prefix('@')?;
    for (token, cmp) in [
        ("==", Cmp::Eq),
        ("!=", Cmp::Ne),
        ("<=", Cmp::Le),
        (">=", Cmp::Ge),
        ("<", Cmp::Lt),
        (">", Cmp::Gt),
    ] {
        if let Some((lhs, rhs)) = rest.split_once(token) {
            return Some(Filter {
                path: filter_path(lhs.trim()),
                cmp: Some((cmp, literal(rhs.trim())?)),
            });
        }
    }
    Some(Filter {
        path: filter_path(rest.trim()),
        cmp: None,
    })
}

fn filter_path(p: &str) -> Vec<String> {
    p.split('.')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn literal(s: &str) -> Option<Value> {
    if let Some(text) = unquote(s) {
        return Some(Value::String(text));
    }
    match s {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        "nil" | "null" => return Some(Value::Null),
        _ => {}
    }
    serde_json::from_str::<serde_json::Number>(s)
        .ok()
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "spec": {"hosts": ["a.example.com", "b.example.com"], "secretName": "tls",
                     "issuerRef": {"name": "ca", "kind": "ClusterIssuer"}, "weird.key": 1},
            "status": {"conditions": [
                {"type": "Issuing", "status": "False"},
                {"type": "Ready", "status": "True", "message": "Certificate is up to date"}
            ], "notAfter": "2027-01-01T00:00:00Z", "count": 3}
        })
    }

    fn first(expr: &str) -> Option<Value> {
        JsonPath::parse(expr)
            .unwrap()
            .find(&doc())
            .first()
            .map(|v| (*v).clone())
    }

    #[test]
    fn simple_fields_indexes_and_filters() {
        assert_eq!(first(".spec.secretName"), Some(json!("tls")));
        assert_eq!(first("{.spec.issuerRef.name}"), Some(json!("ca")));
        assert_eq!(first(".spec.hosts[1]"), Some(json!("b.example.com")));
        assert_eq!(first(".spec.hosts[-1]"), Some(json!("b.example.com")));
        assert_eq!(
            first(".status.conditions[?(@.type==\"Ready\")].status"),
            Some(json!("True"))
        );
        assert_eq!(
            first(".status.conditions[?(@.type=='Ready')].message"),
            Some(json!("Certificate is up to date"))
        );
        assert_eq!(
            first(".status.conditions[?(@.type!=\"Ready\")].type"),
            Some(json!("Issuing"))
        );
        assert_eq!(first(".spec['weird.key']"), Some(json!(1)));
        assert_eq!(first(".spec.hosts[*]"), Some(json!("a.example.com")));
        assert_eq!(first("..message"), Some(json!("Certificate is up to date")));
        assert_eq!(
            first(".status.conditions[?(@.message)].type"),
            Some(json!("Ready"))
        );
    }

    #[test]
    fn missing_keys_yield_nothing() {
        assert_eq!(first(".spec.nope"), None);
        assert_eq!(
            first(".status.conditions[?(@.type==\"Gone\")].status"),
            None
        );
        assert_eq!(first(".spec.hosts[5]"), None);
        assert_eq!(first(".spec.secretName.deeper"), None);
    }
}

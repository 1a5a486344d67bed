//! deps: serde_json
//!
//! Label and field selectors as kube-apiserver 1.32 parses and matches them
//! (apimachinery `labels.Parse`, `metav1.LabelSelectorAsSelector`, `fields.ParseSelector` and the
//! per-kind field label conversions), with upstream's error wording, which kubectl prints
//! verbatim after "Error from server (BadRequest): ...".

use serde_json::Value;
use std::fmt;

mod field;

pub use field::{FieldLabels, FieldSelector};

// ---------------------------------------------------------------------------------------------
// Label selectors

/// A selector operator (apimachinery `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One requirement: `key`, operator, values (sorted and de-duplicated, as upstream keeps them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    pub values: Vec<String>,
}

impl Requirement {
    fn matches(&self, labels: &serde_json::Map<String, Value>) -> bool {
        let value = labels.get(&self.key).map(label_text);
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| has(&v))
            }
            Operator::NotIn | Operator::NotEquals => value.is_none_or(|v| !has(&v)),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(v), [want]) = (value, self.values.as_slice()) else {
                    return false;
                };
                let (Ok(have), Ok(want)) = (v.parse::<i64>(), want.parse::<i64>()) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

fn label_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl fmt::Display for Requirement {
    /// `Requirement.String()`: `!k`, `k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a)`, `k>1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        f.write_str(&self.values.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector: the AND of its requirements, sorted by key. `nothing` is upstream's
/// `labels.Nothing()` (a nil `LabelSelector` in an object), which matches no object at all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Matches no object (a nil selector).
    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the `labelSelector` query parameter: `a=b,c!=d,e in (x,y),f notin (z),g,!h`,
    /// also `==`, `k>1`, `k<1`. Errors are worded as `labels.Parse` words them.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parser = Parser {
            items: lex(s),
            pos: 0,
        };
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// From an object's `LabelSelector` (`{matchLabels, matchExpressions}`), as
    /// `metav1.LabelSelectorAsSelector`: `null` matches nothing, `{}` matches everything.
    pub fn from_spec(sel: &Value) -> Result<Self, String> {
        let map = match sel {
            Value::Null => return Ok(Self::nothing()),
            Value::Object(m) => m,
            other => return Err(format!("a label selector must be an object, not {other}")),
        };
        let mut requirements = Vec::new();
        if let Some(labels) = map.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in labels {
                let Some(v) = v.as_str() else {
                    return Err(format!("matchLabels[{k}] must be a string"));
                };
                requirements.push(new_requirement(k, Operator::Equals, vec![v.to_string()])?);
            }
        }
        if let Some(exprs) = map.get("matchExpressions").and_then(Value::as_array) {
            for expr in exprs {
                let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
                let op_name = expr
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let operator = match op_name {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err(format!(
                            "{} is not a valid label selector operator",
                            go_quote(other)
                        ));
                    }
                };
                let values: Vec<String> = expr
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| vs.iter().map(label_text).collect())
                    .unwrap_or_default();
                requirements.push(new_requirement(key, operator, values)?);
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        let everything = requirements.is_empty();
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
        .map(|s| if everything { Self::everything() } else { s })
    }

    /// Whether an object with these `metadata.labels` (an object, or `None`) is selected.
    pub fn matches(&self, labels: Option<&Value>) -> bool {
        if self.nothing {
            return false;
        }
        let empty = serde_json::Map::new();
        let labels = labels.and_then(Value::as_object).unwrap_or(&empty);
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True when the selector does not restrict anything (`Nothing` is not empty).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for LabelSelector {
    /// `Selector.String()`: requirements joined by `,` (empty for everything and nothing).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// `metav1.FormatLabelSelector`: the selector's string, `<none>` when empty, `<error>` when invalid.
pub fn format_label_selector(sel: &Value) -> String {
    match LabelSelector::from_spec(sel) {
        Err(_) => "<error>".to_string(),
        Ok(s) => {
            let text = s.to_string();
            if text.is_empty() {
                "<none>".to_string()
            } else {
                text
            }
        }
    }
}

/// `labels.FormatLabels`: `k=v` sorted by key and joined by `,`, `<none>` when there are none.
pub fn format_labels(labels: Option<&Value>) -> String {
    let Some(map) = labels.and_then(Value::as_object) else {
        return "<none>".to_string();
    };
    let mut pairs: Vec<(&String, String)> = map.iter().map(|(k, v)| (k, label_text(v))).collect();
    pairs.sort();
    let text = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    if text.is_empty() {
        "<none>".to_string()
    } else {
        text
    }
}

/// `labels.NewRequirement` with no field path: validates key, value count and values.
fn new_requirement(
    key: &str,
    operator: Operator,
    mut values: Vec<String>,
) -> Result<Requirement, String> {
    let mut errs: Vec<String> = Vec::new();
    if let Err(msg) = validate_label_key(key) {
        errs.push(field_invalid("key", &go_quote(key), &msg));
    }
    match operator {
        Operator::In | Operator::NotIn if values.is_empty() => errs.push(field_invalid(
            "values",
            &go_string_slice(&values),
            "for 'in', 'notin' operators, values set can't be empty",
        )),
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
            errs.push(field_invalid(
                "values",
                &go_string_slice(&values),
                "exact-match compatibility requires one single value",
            ))
        }
        Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
            errs.push(field_invalid(
                "values",
                &go_string_slice(&values),
                "values set must be empty for exists and does not exist",
            ))
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(field_invalid(
                    "values",
                    &go_string_slice(&values),
                    "for 'Gt', 'Lt' operators, exactly one value is required",
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(field_invalid(
                        &format!("values[{i}]"),
                        &go_quote(v),
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    ));
                }
            }
        }
        _ => {}
    }
    for (i, v) in values.iter().enumerate() {
        if let Err(msg) = validate_label_value(v) {
            errs.push(field_invalid(
                &format!("values[{i}][{key}]"),
                &go_quote(v),
                &msg,
            ));
        }
    }
    if !errs.is_empty() {
        return Err(aggregate(errs));
    }
    values.sort();
    values.dedup();
    Ok(Requirement {
        key: key.to_string(),
        operator,
        values,
    })
}

/// `field.Invalid(path, value, detail).Error()`.
fn field_invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value}: {detail}")
}

/// `utilerrors.Aggregate.Error()`: one message alone, several de-duplicated inside `[...]`.
fn aggregate(errs: Vec<String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for e in errs {
        if !seen.contains(&e) {
            seen.push(e);
        }
    }
    if seen.len() == 1 {
        seen.remove(0)
    } else {
        format!("[{}]", seen.join(", "))
    }
}

/// Go's `%q` for the strings selectors carry.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%#v` of a `[]string`.
fn go_string_slice(values: &[String]) -> String {
    if values.is_empty() {
        return "[]string(nil)".to_string();
    }
    let inner: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", inner.join(", "))
}

// ---- apimachinery validation (IsQualifiedName, IsValidLabelValue, IsDNS1123Subdomain)

const QUALIFIED_NAME_ERR: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_ERR: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const DNS1123_SUBDOMAIN_ERR: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// `validation.RegexError`.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let mut out = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{e}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    match b {
        [] => false,
        [one] => alnum(*one),
        [first, middle @ .., last] => {
            alnum(*first)
                && alnum(*last)
                && middle
                    .iter()
                    .all(|&c| alnum(c) || matches!(c, b'-' | b'_' | b'.'))
        }
    }
}

fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match b {
        [] => false,
        [one] => ok(*one),
        [first, middle @ .., last] => {
            ok(*first) && ok(*last) && middle.iter().all(|&c| ok(c) || c == b'-')
        }
    }
}

fn dns1123_subdomain_errors(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    if !s.split('.').all(is_dns1123_label) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// `validation.IsQualifiedName`, joined with "; " as the label parser joins them.
fn validate_label_key(key: &str) -> Result<(), String> {
    let mut errs: Vec<String> = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                errs.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|e| format!("prefix part {e}")),
                );
            }
            *name
        }
        _ => {
            return Err(format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            ));
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !is_qualified_name_part(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

/// `validation.IsValidLabelValue`.
fn validate_label_value(v: &str) -> Result<(), String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !v.is_empty() && !is_qualified_name_part(v) {
        errs.push(regex_error(
            LABEL_VALUE_ERR,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

// ---- lexer and parser (labels.Lexer / labels.Parser)

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::DoesNotExist,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::GreaterThan,
        "in" => Tok::In,
        "<" => Tok::LessThan,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn lex(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut items = Vec::new();
    loop {
        while pos < b.len() && is_space(b[pos]) {
            pos += 1;
        }
        if pos >= b.len() {
            items.push((Tok::End, String::new()));
            return items;
        }
        let start = pos;
        if is_special(b[pos]) {
            // Longest run of special symbols that is still a token.
            let mut last: Option<(Tok, usize)> = None;
            while pos < b.len() && is_special(b[pos]) {
                pos += 1;
                match keyword(&s[start..pos]) {
                    Some(t) => last = Some((t, pos)),
                    None if last.is_some() => {
                        pos -= 1;
                        break;
                    }
                    None => {}
                }
            }
            match last {
                Some((t, end)) => {
                    pos = end;
                    items.push((t, s[start..end].to_string()));
                }
                None => items.push((
                    Tok::Error,
                    format!("error expected: keyword found '{}'", &s[start..pos]),
                )),
            }
        } else {
            while pos < b.len() && !is_special(b[pos]) && !is_space(b[pos]) {
                pos += 1;
            }
            let word = &s[start..pos];
            items.push((keyword(word).unwrap_or(Tok::Identifier), word.to_string()));
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

impl Parser {
    fn peek_at(&self, ctx: Ctx) -> (Tok, String) {
        let (tok, lit) = self
            .items
            .get(self.pos)
            .cloned()
            .unwrap_or((Tok::End, String::new()));
        // In a values context `in` and `notin` are plain identifiers.
        let tok = match (ctx, tok) {
            (Ctx::Values, Tok::In | Tok::NotIn) => Tok::Identifier,
            (_, t) => t,
        };
        (tok, lit)
    }

    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        self.peek_at(ctx)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let item = self.peek_at(ctx);
        if self.pos < self.items.len() {
            self.pos += 1;
        }
        item
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut requirements = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(requirements),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(requirements),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return new_requirement(&key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        new_requirement(&key, op, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        if tok == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        if let Err(msg) = validate_label_key(&lit) {
            return Err(field_invalid("<nil>", &go_quote(&lit), &msg));
        }
        let (next, _) = self.lookahead(Ctx::Values);
        if (next == Tok::End || next == Tok::Comma) && op != Some(Operator::DoesNotExist) {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let values = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Ctx::Values);
                if tok != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(values)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut values: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    values.push(lit);
                    let (tok2, lit2) = self.lookahead(Ctx::Values);
                    match tok2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    // "(," ",," and ",)" each stand for an empty value.
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    let (tok2, _) = self.lookahead(Ctx::Values);
                    if tok2 == Tok::ClosedPar {
                        values.push(String::new());
                        return Ok(values);
                    }
                    if tok2 == Tok::Comma {
                        self.consume(Ctx::Values);
                        values.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::End || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;
    fn labels() -> Value {
        json!({"app": "istiod", "tier": "control", "version": "3", "istio.io/rev": "default"})
    }

    fn sel(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap()
    }

    #[test]
    fn every_operator_matches_like_upstream() {
        let l = labels();
        let cases = [
            ("app=istiod", true),
            ("app==istiod", true),
            ("app=other", false),
            ("app!=other", true),
            ("missing!=x", true),
            ("app in (istiod,gateway)", true),
            ("app in (gateway)", false),
            ("missing in (a)", false),
            ("app notin (gateway)", true),
            ("app notin (istiod)", false),
            ("missing notin (a)", true),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("version>2", true),
            ("version<3", false),
            ("app>1", false),
            ("istio.io/rev=default", true),
            ("app=istiod,tier=control", true),
            ("app=istiod,tier=data", false),
            ("", true),
        ];
        for (s, want) in cases {
            assert_eq!(sel(s).matches(Some(&l)), want, "{s}");
        }
        assert!(sel("!app").matches(None));
        assert!(!sel("app").matches(None));
    }

    #[test]
    fn whitespace_and_keywords_are_handled_as_the_lexer_does() {
        let l = json!({"in": "notin", "env": ""});
        assert!(sel("  app = istiod ,  tier  in  ( control , x ) ").matches(Some(&labels())));
        // "in"/"notin" are identifiers in value position and as keys.
        assert!(sel("in in (notin)").matches(Some(&l)));
        // "k=" and "k in ()" mean the empty value.
        assert!(sel("env=").matches(Some(&l)));
        assert!(sel("env in ()").matches(Some(&l)));
        assert!(sel("env in (,a)").matches(Some(&l)));
    }

    #[test]
    fn string_form_is_sorted_and_normalised() {
        let s = sel("z=1,a in (y,x,x),!m,b notin (q),c,d!=e,f==g,h>1");
        assert_eq!(
            s.to_string(),
            "a in (x,y),b notin (q),c,d!=e,f==g,h>1,!m,z=1"
        );
        assert_eq!(s.requirements().len(), 8);
    }

    #[test]
    fn syntax_errors_are_worded_like_labels_parse() {
        let cases = [
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a=b,", "found '', expected: identifier after ','"),
            (
                "=b",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            (
                "a in b",
                "unable to parse requirement: found 'b' expected: '('",
            ),
            (
                "a in (b",
                "unable to parse requirement: found '', expected: ',' or ')'",
            ),
            (
                "a b",
                "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "a=(b)",
                "unable to parse requirement: found '(', expected: identifier",
            ),
            (
                "a=!=b",
                "unable to parse requirement: found '!=', expected: identifier",
            ),
        ];
        for (s, want) in cases {
            assert_eq!(LabelSelector::parse(s).unwrap_err(), want, "{s}");
        }
    }

    #[test]
    fn validation_errors_are_worded_like_upstream() {
        assert_eq!(
            LabelSelector::parse("app:monolith").unwrap_err(),
            "unable to parse requirement: <nil>: Invalid value: \"app:monolith\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert_eq!(
            LabelSelector::parse("a/b/c=d").unwrap_err(),
            "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        );
        assert_eq!(
            LabelSelector::parse("app.kubernetes_io/name=x").unwrap_err(),
            "unable to parse requirement: <nil>: Invalid value: \"app.kubernetes_io/name\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
        assert_eq!(
            LabelSelector::parse("app=-bad").unwrap_err(),
            "unable to parse requirement: values[0][app]: Invalid value: \"-bad\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        );
        assert_eq!(
            LabelSelector::parse(&format!("a={}", "z".repeat(64))).unwrap_err(),
            "unable to parse requirement: values[0][a]: Invalid value: \"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\": must be no more than 63 characters"
        );
        assert_eq!(
            LabelSelector::parse("a>x").unwrap_err(),
            "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn from_spec_follows_label_selector_as_selector() {
        let spec = json!({"matchLabels": {"app": "istiod"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["control", "data"]},
            {"key": "canary", "operator": "DoesNotExist"}
        ]});
        let s = LabelSelector::from_spec(&spec).unwrap();
        assert_eq!(s.to_string(), "app=istiod,!canary,tier in (control,data)");
        assert!(s.matches(Some(&labels())));
        assert!(!s.matches(Some(
            &json!({"app": "istiod", "tier": "control", "canary": "1"})
        )));

        let everything = LabelSelector::from_spec(&json!({})).unwrap();
        assert!(everything.is_empty() && everything.matches(None));
        let nothing = LabelSelector::from_spec(&Value::Null).unwrap();
        assert!(!nothing.is_empty() && !nothing.matches(Some(&labels())));

        assert_eq!(
            LabelSelector::from_spec(
                &json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
            )
            .unwrap_err(),
            "\"Foo\" is not a valid label selector operator"
        );
        assert_eq!(
            LabelSelector::from_spec(
                &json!({"matchExpressions": [{"key": "a", "operator": "In"}]})
            )
            .unwrap_err(),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            LabelSelector::from_spec(
                &json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]})
            )
            .unwrap_err(),
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
        assert!(
            LabelSelector::from_spec(&json!({"matchLabels": {"bad key": "x"}}))
                .unwrap_err()
                .starts_with("key: Invalid value: \"bad key\": name part")
        );
    }

    #[test]
    fn formatting_helpers_match_metav1() {
        assert_eq!(
            format_label_selector(&json!({"matchLabels": {"b": "2", "a": "1"}})),
            "a=1,b=2"
        );
        assert_eq!(format_label_selector(&json!({})), "<none>");
        assert_eq!(format_label_selector(&Value::Null), "<none>");
        assert_eq!(
            format_label_selector(&json!({"matchExpressions": [{"key": "a", "operator": "Bad"}]})),
            "<error>"
        );
        assert_eq!(format_labels(Some(&json!({"z": "1", "a": "2"}))), "a=2,z=1");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }
}

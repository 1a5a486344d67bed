//! The bundle's own `README.md`: what it holds and what was hidden, so whoever receives it
//! (a vendor, a colleague) knows what they are not seeing and why.

use std::fmt::Write;

use super::Summary;
use super::redact::{LAST_APPLIED, MARK, Rules};

pub fn text(rules: &Rules, summary: &Summary) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# kubectl sealos diag bundle\n");
    let _ = writeln!(
        out,
        "Collected {} from context `{}` ({}), namespaces {}; logs and events of the last {} s.\n",
        summary.created,
        summary.context,
        summary.server,
        summary.namespaces.join(", "),
        summary.since_seconds
    );
    let _ = writeln!(
        out,
        "`summary.json` lists every file, what was skipped for size, and what could not be \
         collected. `resources/` holds objects as YAML lists, `events/` the events, `logs/` \
         container logs, `envoy/` Envoy config dumps.\n"
    );
    let _ = writeln!(out, "## Redaction\n");
    if !rules.enabled {
        let _ = writeln!(
            out,
            "**NOTHING WAS REDACTED** (`--no-redact`): Secret values, tokens, passwords and \
             every other credential in this bundle are in clear. Treat it as a Secret.\n"
        );
        return out;
    }
    let _ = writeln!(
        out,
        "Values were replaced by `{MARK}` before anything was written (a redacted value keeps \
         its length: `{MARK} (N characters)`). Names and keys are kept.\n"
    );
    let patterns = rules
        .patterns
        .iter()
        .map(|p| format!("`{p}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let secret_rule = if rules.secrets {
        "- Secrets: every value of `data` and `stringData`.".to_string()
    } else {
        "- Secrets: **values kept** (`--include-secrets`); the other rules still apply.".to_string()
    };
    let rules_text = [
        secret_rule,
        format!(
            "- `{LAST_APPLIED}` annotations (on any object; they repeat the object as applied, \
             values in clear): redacted by these same rules, or replaced whole when unreadable."
        ),
        "- Container `env` values (containers, init containers, any pod template: Deployments, \
         ReplicaSets, StatefulSets, DaemonSets, Jobs, Pods) whose variable name looks like a \
         credential."
            .to_string(),
        "- ConfigMap `data` and `binaryData` entries whose key looks like a credential."
            .to_string(),
        "- Annotations whose name looks like a credential.".to_string(),
        "- Any text (every string of every object, ConfigMap files, logs, Envoy dumps): the \
         password of `scheme://user:password@host` URLs; `NAME=value` (also `--name=value`, \
         `NAME=\"value\"`); `\"name\": \"value\"`; and `name: value` at the start of a line, \
         where the name looks like a credential."
            .to_string(),
        "- Logs are read with `limitBytes` (at most --log-limit per container) and then \
         redacted as text."
            .to_string(),
    ];
    for rule in rules_text {
        let _ = writeln!(out, "{rule}");
    }
    let _ = writeln!(
        out,
        "\nA name looks like a credential when it contains, ignoring case, one of: {patterns}. \
         This is broad on purpose: `API_KEYS` or `ssh-keys` are credentials, so `keys` matches; \
         harmless names such as `monkey` or `author` are hidden too.\n"
    );
    let _ = writeln!(
        out,
        "Not caught: a credential in a name that does not look like one (`DATABASE_URL` without \
         a password in URL form), a value in the argument after a flag (`--password`, `x`), \
         or a multi-line block under a credential-looking key. Look before you send.\n"
    );
    let t = &summary.redaction.counts;
    let _ = writeln!(out, "Replaced in this bundle:\n");
    for (what, n) in [
        ("Secret values", t.secret_values),
        ("env values", t.env_values),
        ("ConfigMap entries", t.configmap_values),
        ("annotations", t.annotations),
        ("last-applied annotations", t.last_applied),
        ("URL passwords", t.url_passwords),
        ("name=value credentials in text", t.text_values),
    ] {
        let _ = writeln!(out, "- {what}: {n}");
    }
    out
}

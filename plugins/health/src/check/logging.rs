//! Logging: the guide's Fluent Bit pipeline (fluent-bit-istio.conf), read from the ConfigMap it
//! is deployed in, judged against the nodes: the `docker` parser reads Docker's JSON log files,
//! not the CRI lines containerd and CRI-O write; a tail input without Mem_Buf_Limit buffers
//! without bound when the output is slow.

use k8s_openapi::api::core::v1::Node;
use sealos_shared::output::Severity;

use super::collect::Snapshot;
use super::{Area, Finding, ObjectRef};

/// One `[SECTION]` of a Fluent Bit classic configuration: its name and key/value pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub entries: Vec<(String, String)>,
}

impl Section {
    /// A key's value; Fluent Bit keys are case-insensitive.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// The sections of a classic-mode configuration; comments and `@` directives are skipped.
pub fn parse(text: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            out.push(Section {
                name: name.trim().to_ascii_uppercase(),
                entries: Vec::new(),
            });
        } else if let Some(section) = out.last_mut() {
            let (k, v) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            section.entries.push((k.to_string(), v.trim().to_string()));
        }
    }
    out
}

/// `containerd://1.7.24` → the nodes whose runtime writes CRI-format logs.
fn cri_runtimes(nodes: &[Node]) -> Vec<String> {
    let mut out: Vec<String> = nodes
        .iter()
        .filter_map(|n| n.status.as_ref()?.node_info.as_ref())
        .map(|i| i.container_runtime_version.clone())
        .filter(|v| v.starts_with("containerd://") || v.starts_with("cri-o://"))
        .collect();
    out.sort();
    out.dedup();
    out
}

pub fn check(snapshot: &Snapshot) -> Vec<Finding> {
    let Some(cms) = snapshot.config_maps.as_deref() else {
        return Vec::new();
    };
    let nodes = snapshot.nodes.as_deref().unwrap_or_default();
    let cri = cri_runtimes(nodes);
    let cri_nodes = nodes
        .iter()
        .filter(|n| {
            n.status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .is_some_and(|i| cri.contains(&i.container_runtime_version))
        })
        .count();
    let mut out = Vec::new();
    let mut found = false;
    for cm in cms {
        for (key, text) in cm.data.iter().flatten() {
            let sections = parse(text);
            if !sections.iter().any(|s| s.name == "INPUT") {
                continue;
            }
            found = true;
            let object = ObjectRef::new(
                "ConfigMap",
                cm.metadata.namespace.as_deref(),
                cm.metadata.name.as_deref().unwrap_or_default(),
            );
            let before = out.len();
            let tails = sections.iter().filter(|s| {
                s.name == "INPUT"
                    && s.get("Name")
                        .is_some_and(|n| n.eq_ignore_ascii_case("tail"))
            });
            for (i, input) in tails.enumerate() {
                let path = input.get("Path").unwrap_or("?");
                let what = format!("{key}: tail input {} ({path})", i + 1);
                if input
                    .get("Parser")
                    .is_some_and(|p| p.eq_ignore_ascii_case("docker"))
                    && !cri.is_empty()
                {
                    out.push(
                        Finding::new(Area::Logging, Severity::Fail, object.clone(), format!(
                            "{what} parses with the docker parser, but {cri_nodes} nodes run {} whose CRI log lines (`<time> <stream> <F|P> <log>`) it does not read: records keep the raw line and split lines are not joined",
                            cri.join(", ")
                        ))
                        .coded("LOG_DOCKER_PARSER_ON_CRI", "use `multiline.parser cri` (or `Parser cri`) on tail inputs of containerd/CRI-O nodes"),
                    );
                }
                let filesystem = input
                    .get("storage.type")
                    .is_some_and(|t| t.eq_ignore_ascii_case("filesystem"));
                if input.get("Mem_Buf_Limit").is_none() && !filesystem {
                    out.push(
                        Finding::new(Area::Logging, Severity::Warn, object.clone(), format!(
                            "{what} has no Mem_Buf_Limit: when the output is slow, Fluent Bit buffers this input in memory without bound"
                        ))
                        .coded("LOG_NO_MEM_BUF_LIMIT", "set Mem_Buf_Limit (e.g. 50MB) on every tail input, or storage.type filesystem"),
                    );
                }
            }
            if out.len() == before {
                out.push(Finding::new(
                    Area::Logging,
                    Severity::Ok,
                    object,
                    format!(
                        "{key}: tail inputs parse the nodes' log format and bound their buffers"
                    ),
                ));
            }
        }
    }
    if !found {
        out.push(
            Finding::new(
                Area::Logging,
                Severity::Info,
                ObjectRef::new("ConfigMap", None, "fluent-bit"),
                "no ConfigMap holds a Fluent Bit configuration ([INPUT] sections): the guide's fluent-bit-istio.conf is not deployed",
            )
            .coded("LOG_CONFIG_NOT_FOUND", "deploy fluent-bit-istio.conf as a ConfigMap (key fluent-bit.conf) with the cri parser and Mem_Buf_Limit on every input"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_sections_parse_case_insensitively() {
        let s =
            parse("[SERVICE]\n    Flush 1\n# c\n[INPUT]\n    Name  tail\n    mem_buf_limit 5MB\n");
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].get("Mem_Buf_Limit"), Some("5MB"));
        assert_eq!(s[1].get("NAME"), Some("tail"));
    }
}

//! The rules krew's own `validate-krew-manifest` applies to a plugin manifest (and that the
//! krew-index reviewers run on every pull request), checked here so that a release never fails
//! there: the file is named after `metadata.name`, the name is safe, a one-line
//! `shortDescription`, a `v`-prefixed semantic version, every platform with a uri, a sha256, a
//! bin and an `os`/`arch` selector, no two selectors matching one platform; and, for each archive
//! built locally, that its sha256 is the manifest's and it holds `bin` and a LICENSE.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::package::sha256_file;

/// The platforms krew runs on (`KREW_OS`/`KREW_ARCH`).
const KREW_PLATFORMS: [(&str, &str); 9] = [
    ("linux", "amd64"),
    ("linux", "arm64"),
    ("linux", "arm"),
    ("linux", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("windows", "386"),
];

const API_VERSION: &str = "krew.googlecontainertools.github.com/v1alpha2";

const WINDOWS_RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// What is wrong with the manifest at `path`; with `dist`, also with the archives found there.
pub fn check_file(path: &Path, dist: Option<&Path>) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    let manifest: Value =
        serde_saphyr::from_str(&text).with_context(|| format!("parse {}", path.display()))?;
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut problems = match file_name.strip_suffix(".yaml") {
        Some(name) => check(name, &manifest),
        None => vec![format!(
            "expected manifest extension \".yaml\" in {file_name:?}"
        )],
    };
    if let Some(dist) = dist {
        problems.extend(check_archives(&manifest, dist)?);
    }
    Ok(problems)
}

/// The structural rules, for a manifest whose file is `name.yaml`.
pub fn check(name: &str, manifest: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut fail = |p: String| problems.push(p);
    if manifest["apiVersion"] != API_VERSION {
        fail(format!(
            "apiVersion is {}, krew reads {API_VERSION}",
            manifest["apiVersion"]
        ));
    }
    if manifest["kind"] != "Plugin" {
        fail(format!(
            "kind is {}, only \"Plugin\" is supported",
            manifest["kind"]
        ));
    }
    if !safe_name(name) {
        fail(format!(
            "the plugin name {name:?} is not allowed, must match ^[\\w-]+$"
        ));
    }
    if manifest["metadata"]["name"] != name {
        fail(format!(
            "plugin should be named {name:?} (its file name), not {}",
            manifest["metadata"]["name"]
        ));
    }
    let spec = &manifest["spec"];
    match spec["shortDescription"].as_str() {
        None | Some("") => fail("should have a short description".into()),
        Some(s) if s.contains(['\r', '\n']) => {
            fail("should not have line breaks in short description".into())
        }
        Some(_) => {}
    }
    match spec["version"].as_str() {
        None | Some("") => fail("should have a version specified".into()),
        Some(v) if !semver_with_v(v) => fail(format!(
            "version {v:?} is not a v-prefixed semantic version"
        )),
        Some(_) => {}
    }
    let platforms = spec["platforms"].as_array().map_or(&[][..], Vec::as_slice);
    if platforms.is_empty() {
        fail("should have a platform specified".into());
    }
    for (i, platform) in platforms.iter().enumerate() {
        for problem in check_platform(platform) {
            fail(format!("spec.platforms[{i}]: {problem}"));
        }
    }
    for (os, arch) in KREW_PLATFORMS {
        let matching: Vec<usize> = platforms
            .iter()
            .enumerate()
            .filter(|(_, p)| selects(&p["selector"], os, arch))
            .map(|(i, _)| i)
            .collect();
        if matching.len() > 1 {
            fail(format!(
                "spec.platforms at indexes {matching:?} have overlapping selectors that select os={os}/arch={arch}"
            ));
        }
    }
    problems
}

fn check_platform(platform: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let present = |key: &str| platform[key].as_str().is_some_and(|s| !s.is_empty());
    if !present("uri") {
        problems.push("`uri` has to be set".to_string());
    }
    match platform["sha256"].as_str() {
        None | Some("") => problems.push("`sha256` sum has to be set".into()),
        Some(s)
            if !(s.len() == 64
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))) =>
        {
            problems.push(format!(
                "`sha256` value {s} is not valid, must match ^[a-f0-9]{{64}}$"
            ))
        }
        Some(_) => {}
    }
    if !present("bin") {
        problems.push("`bin` has to be set".into());
    }
    if let Some(files) = platform.get("files") {
        match files.as_array() {
            Some(ops) if ops.is_empty() => {
                problems.push("`files` has to be unspecified or non-empty".into())
            }
            Some(ops) => {
                for op in ops {
                    for key in ["from", "to"] {
                        if op[key].as_str().is_none_or(str::is_empty) {
                            problems.push(format!("`files`: `{key}` field has to be set"));
                        }
                    }
                }
            }
            None => problems.push("`files` is not a list".into()),
        }
    }
    let selector = &platform["selector"];
    let labels = selector["matchLabels"].as_object();
    let expressions = selector["matchExpressions"].as_array();
    if labels.is_none_or(|l| l.is_empty()) && expressions.is_none_or(|e| e.is_empty()) {
        problems.push("empty selector is not supported".into());
    }
    let keys = labels
        .into_iter()
        .flat_map(|l| l.keys().map(String::as_str))
        .chain(
            expressions
                .into_iter()
                .flatten()
                .filter_map(|e| e["key"].as_str()),
        );
    for key in keys {
        if key != "os" && key != "arch" {
            problems.push(format!("selector key {key:?} not supported"));
        }
    }
    if !KREW_PLATFORMS
        .iter()
        .any(|(os, arch)| selects(selector, os, arch))
    {
        problems.push("selector doesn't match any supported platform".into());
    }
    problems
}

/// Whether a label selector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) selects
/// the labels `os` and `arch`.
fn selects(selector: &Value, os: &str, arch: &str) -> bool {
    let value = |key: &str| match key {
        "os" => Some(os),
        "arch" => Some(arch),
        _ => None,
    };
    let labels_match = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| value(k).is_some_and(|have| v.as_str() == Some(have)));
    let expressions_match = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let have = e["key"].as_str().and_then(value);
            let values: BTreeSet<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match e["operator"].as_str() {
                Some("In") => have.is_some_and(|h| values.contains(h)),
                Some("NotIn") => have.is_none_or(|h| !values.contains(h)),
                Some("Exists") => have.is_some(),
                Some("DoesNotExist") => have.is_none(),
                _ => false,
            }
        });
    let empty = selector["matchLabels"]
        .as_object()
        .is_none_or(|l| l.is_empty())
        && selector["matchExpressions"]
            .as_array()
            .is_none_or(|e| e.is_empty());
    !empty && labels_match && expressions_match
}

fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        && !WINDOWS_RESERVED
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
}

/// `vMAJOR.MINOR.PATCH` with an optional `-pre` and `+build`, as krew's semver parser takes it.
fn semver_with_v(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let core = rest.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// For each platform whose archive (the uri's file name) is in `dist`: the sha256 is the
/// manifest's, and the archive holds `bin` and a LICENSE.
fn check_archives(manifest: &Value, dist: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let platforms = manifest["spec"]["platforms"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for (i, platform) in platforms.iter().enumerate() {
        let Some(file) = platform["uri"].as_str().and_then(|u| u.rsplit('/').next()) else {
            continue;
        };
        let archive = dist.join(file);
        if file.is_empty() || file.contains("..") || !archive.is_file() {
            continue;
        }
        let sha = sha256_file(&archive)?;
        if platform["sha256"].as_str() != Some(sha.as_str()) {
            problems.push(format!(
                "spec.platforms[{i}]: {file} has sha256 {sha}, the manifest says {}",
                platform["sha256"]
            ));
        }
        let entries = archive_entries(&archive)?;
        let bin = platform["bin"].as_str().unwrap_or("");
        if !entries.contains(bin.trim_start_matches("./")) {
            problems.push(format!(
                "spec.platforms[{i}]: {file} does not contain bin {bin:?}"
            ));
        }
        if !entries.iter().any(|e| {
            e.rsplit('/')
                .next()
                .is_some_and(|n| n.to_ascii_uppercase().starts_with("LICENSE"))
        }) {
            problems.push(format!("spec.platforms[{i}]: {file} has no LICENSE file"));
        }
    }
    Ok(problems)
}

fn archive_entries(path: &Path) -> Result<BTreeSet<String>> {
    let file = File::open(path).with_context(|| format!("open {}", path.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut names = BTreeSet::new();
    for entry in archive
        .entries()
        .with_context(|| format!("read {}", path.display()))?
    {
        let entry = entry.with_context(|| format!("read {}", path.display()))?;
        names.insert(entry.path()?.display().to_string());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "apiVersion": API_VERSION,
            "kind": "Plugin",
            "metadata": { "name": "sealos" },
            "spec": {
                "version": "v0.1.0",
                "shortDescription": "Operate Sealos on Istio",
                "platforms": [
                    { "selector": { "matchLabels": { "os": "linux", "arch": "amd64" } },
                      "uri": "https://x/v0.1.0/a.tar.gz", "sha256": "a".repeat(64), "bin": "kubectl-sealos" },
                    { "selector": { "matchLabels": { "os": "darwin", "arch": "arm64" } },
                      "uri": "https://x/v0.1.0/b.tar.gz", "sha256": "b".repeat(64), "bin": "kubectl-sealos" },
                ]
            }
        })
    }

    #[test]
    fn a_good_manifest_passes() {
        assert_eq!(check("sealos", &good()), Vec::<String>::new());
    }

    #[test]
    fn the_file_name_is_the_plugin_name() {
        assert!(check("sealos-x", &good())[0].contains("plugin should be named \"sealos-x\""));
        assert!(check("con", &json!({}))[2].contains("not allowed"));
    }

    #[test]
    fn short_description_is_one_line_and_version_is_v_semver() {
        let mut m = good();
        m["spec"]["shortDescription"] = json!("two\nlines");
        m["spec"]["version"] = json!("0.1.0");
        let problems = check("sealos", &m);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("line breaks"));
        assert!(problems[1].contains("not a v-prefixed semantic version"));
        for bad in ["v1.2", "v01.2.3", "v1.2.x", "1.2.3"] {
            assert!(!semver_with_v(bad), "{bad}");
        }
        assert!(semver_with_v("v1.20.3-rc.1+build.5"));
    }

    #[test]
    fn platforms_need_uri_sha_bin_and_a_known_selector() {
        let mut m = good();
        m["spec"]["platforms"][0]["sha256"] = json!("ABC");
        m["spec"]["platforms"][0]["bin"] = json!("");
        m["spec"]["platforms"][1]["selector"] = json!({ "matchLabels": { "os": "plan9" } });
        let problems = check("sealos", &m);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("`sha256` value ABC is not valid"));
        assert!(problems[1].contains("`bin` has to be set"));
        assert!(
            problems[2].contains("platforms[1]: selector doesn't match any supported platform")
        );
    }

    #[test]
    fn overlapping_selectors_are_refused() {
        let mut m = good();
        m["spec"]["platforms"][1]["selector"] = json!({ "matchExpressions": [
            { "key": "os", "operator": "In", "values": ["linux", "darwin"] }
        ]});
        let problems = check("sealos", &m);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains(
                "indexes [0, 1] have overlapping selectors that select os=linux/arch=amd64"
            )
        );
    }
}

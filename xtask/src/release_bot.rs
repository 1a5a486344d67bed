//! `.krew.yaml`, the template krew-release-bot renders into the krew-index manifest on a release:
//! `{{ .TagName }}` is the tag, `{{addURIAndSha "URL" .TagName }}` becomes the `uri:` line and the
//! downloaded archive's `sha256:` line. Rendered here so a test can hold it to the committed
//! `krew-manifests/sealos.yaml`: the two must never drift apart.

use anyhow::{Result, bail};

/// Renders `template` for `tag`, asking `sha256_of(url)` for each archive.
pub fn render(template: &str, tag: &str, sha256_of: impl Fn(&str) -> String) -> Result<String> {
    let mut out = String::new();
    for line in template.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(call) = trimmed.strip_prefix("{{addURIAndSha \"") {
            let Some((url, rest)) = call.split_once('"') else {
                bail!("unterminated addURIAndSha in {line:?}");
            };
            if rest.trim() != ".TagName }}" {
                bail!("unexpected addURIAndSha arguments in {line:?}");
            }
            let url = url.replace("{{ .TagName }}", tag);
            // The bot writes the sha256 line at the uri's indentation.
            out.push_str(&format!(
                "{indent}uri: {url}\n{indent}sha256: \"{}\"\n",
                sha256_of(&url)
            ));
        } else {
            out.push_str(&line.replace("{{ .TagName }}", tag));
            out.push('\n');
        }
    }
    if out.contains("{{") {
        bail!("template actions left unrendered");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn without_comments(text: &str) -> String {
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_bots_template_renders_the_committed_suite_manifest() {
        let root = crate::workspace_root();
        let template = std::fs::read_to_string(root.join(".krew.yaml")).unwrap();
        let committed = std::fs::read_to_string(root.join("krew-manifests/sealos.yaml")).unwrap();
        let sha_in_committed = |url: &str| {
            let at = committed.find(url).unwrap();
            let rest = &committed[at..];
            let line = rest.lines().nth(1).unwrap().trim();
            line.trim_start_matches("sha256: ")
                .trim_matches('"')
                .to_string()
        };
        let tag = format!("v{}", env!("CARGO_PKG_VERSION"));
        let rendered = render(&template, &tag, sha_in_committed).unwrap();
        assert_eq!(without_comments(&rendered), without_comments(&committed));
    }

    #[test]
    fn a_malformed_call_is_an_error() {
        assert!(
            render(
                "    {{addURIAndSha \"https://x/a.tar.gz\" }}",
                "v1.0.0",
                |_| String::new()
            )
            .is_err()
        );
        assert!(render("version: {{ .Version }}", "v1.0.0", |_| String::new()).is_err());
    }
}

//! Writing an archive's sha256 into a krew manifest without disturbing the rest of the file.

use anyhow::{Result, bail};

/// Replaces the `sha256:` that follows the `uri:` ending in `archive_name`, keeping every other
/// line (comments, order, indentation) as it is.
pub fn set_sha256(manifest: &str, archive_name: &str, sha256: &str) -> Result<String> {
    let mut lines: Vec<String> = manifest.lines().map(str::to_string).collect();
    let Some(uri_line) = lines.iter().position(|l| {
        let l = l.trim_start().trim_start_matches("- ");
        l.starts_with("uri:")
            && l.trim_end()
                .trim_end_matches('"')
                .ends_with(&format!("/{archive_name}"))
    }) else {
        bail!("no platform entry with a uri ending in {archive_name}");
    };
    // The sha256 belongs to the same platform entry: the next `sha256:` before another `uri:`.
    for line in lines.iter_mut().skip(uri_line + 1) {
        let trimmed = line.trim_start();
        if trimmed.starts_with("uri:") || trimmed.starts_with("- ") {
            break;
        }
        if trimmed.starts_with("sha256:") {
            let indent = &line[..line.len() - trimmed.len()];
            *line = format!("{indent}sha256: \"{sha256}\"");
            let mut text = lines.join("\n");
            text.push('\n');
            return Ok(text);
        }
    }
    bail!("the platform entry for {archive_name} has no sha256 field")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MANIFEST: &str = r#"spec:
  platforms:
  - selector:
      matchLabels: {os: linux, arch: amd64}
    # the linux build
    uri: https://example.test/v0.1.0/kubectl-sealos-health_v0.1.0_linux_amd64.tar.gz
    sha256: "old"
    bin: kubectl-sealos-health
  - selector:
      matchLabels: {os: linux, arch: arm64}
    uri: https://example.test/v0.1.0/kubectl-sealos-health_v0.1.0_linux_arm64.tar.gz
    sha256: "other"
    bin: kubectl-sealos-health
"#;

    #[test]
    fn only_the_matching_platform_changes() {
        let out = set_sha256(
            MANIFEST,
            "kubectl-sealos-health_v0.1.0_linux_amd64.tar.gz",
            "abc",
        )
        .unwrap();
        assert!(out.contains("    sha256: \"abc\"\n    bin"));
        assert!(out.contains("sha256: \"other\""));
        assert!(out.contains("# the linux build"));
        assert_eq!(out.lines().count(), MANIFEST.lines().count());
    }

    #[test]
    fn an_unknown_archive_is_an_error() {
        assert!(set_sha256(MANIFEST, "nope.tar.gz", "abc").is_err());
    }
}

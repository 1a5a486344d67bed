//! Plurals are words: no string literal in the suite's sources says "proxy(ies)" or "pod(s)".
//! Checked over every `.rs` file of `shared/src` and `plugins/*/src`, so a new message cannot
//! bring the pattern back (`sealos_shared::output::counted` says "1 pod" / "3 pods").
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "rs") {
            into.push(path);
        }
    }
}

/// The string literals of one line of Rust (`"..."` spans; escapes skipped; comments dropped).
fn literals(line: &str) -> Vec<String> {
    let code = match line.trim_start() {
        l if l.starts_with("//") => return Vec::new(),
        _ => line,
    };
    let mut out = Vec::new();
    let mut chars = code.chars().peekable();
    let mut current: Option<String> = None;
    while let Some(c) = chars.next() {
        match (&mut current, c) {
            (None, '"') => current = Some(String::new()),
            (None, '/') if chars.peek() == Some(&'/') => break,
            (None, _) => {}
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(text), '"') => {
                out.push(std::mem::take(text));
                current = None;
            }
            (Some(text), c) => text.push(c),
        }
    }
    // A literal that goes on to the next line.
    out.extend(current);
    out
}

/// "(s)", "(es)" or "(ies)" right after a letter or a placeholder: a plural left to the reader.
fn bracket_plural(text: &str) -> bool {
    ["(s)", "(es)", "(ies)"].iter().any(|p| {
        text.match_indices(p).any(|(at, _)| {
            text[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphabetic() || c == '}')
        })
    })
}

#[test]
fn the_pattern_is_caught() {
    assert!(bracket_plural("3 proxy(ies) over"));
    assert!(bracket_plural("{n} pod(s)"));
    assert!(bracket_plural("{kind}(s)"));
    assert!(!bracket_plural("a (s) alone, or (es) after a space"));
    // Code is not a literal: `Some(s)` is a pattern, not a message.
    assert!(literals("        Some(s) => s.len(),").is_empty());
    assert_eq!(
        literals(r#"    format!("{} pod(s) \"x\"", n) // a (s) comment"#),
        ["{} pod(s) x"]
    );
}

#[test]
fn no_message_leaves_the_plural_to_the_reader() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    sources(&root.join("shared/src"), &mut files);
    for plugin in std::fs::read_dir(root.join("plugins")).unwrap() {
        let src = plugin.unwrap().path().join("src");
        if src.is_dir() {
            sources(&src, &mut files);
        }
    }
    assert!(files.len() > 50, "found only {} sources", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if literals(line).iter().any(|l| bracket_plural(l)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "say the plural as a word (sealos_shared::output::counted):\n{}",
        found.join("\n")
    );
}

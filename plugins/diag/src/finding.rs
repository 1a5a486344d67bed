//! A finding: a stable code, a level, the object it is about, what was seen and what to do.
//! The exit code follows `--fail-on`, whatever `-o` is.

use sealos_shared::flags::FailOn;
use sealos_shared::output::Severity;
use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warning,
    #[default]
    Error,
}

impl Level {
    pub fn label(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warning => "WARNING",
            Level::Error => "ERROR",
        }
    }

    /// The lowest level `--fail-on` fails on (the report's `failure_threshold`).
    pub fn threshold(fail_on: FailOn) -> Level {
        match fail_on {
            FailOn::Warn => Level::Warning,
            FailOn::Fail => Level::Error,
        }
    }

    /// The shared theme's colour for this level.
    pub fn severity(self) -> Severity {
        match self {
            Level::Info => Severity::Info,
            Level::Warning => Severity::Warn,
            Level::Error => Severity::Fail,
        }
    }
}

pub use sealos_shared::resources::ObjectRef;

/// One thing found on the way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable, upper snake case (`ENDPOINTS_EMPTY`): scripts match on it.
    pub code: &'static str,
    pub level: Level,
    pub object: ObjectRef,
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

impl Finding {
    pub fn new(
        code: &'static str,
        level: Level,
        object: ObjectRef,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            level,
            object,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

/// True when a finding reaches `threshold`: the command then exits 1.
pub fn fails(findings: &[Finding], threshold: Level) -> bool {
    findings.iter().any(|f| f.level >= threshold)
}

/// Worst first, then by code and object, so output is stable.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then_with(|| a.code.cmp(b.code))
            .then_with(|| a.object.cmp(&b.object))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(code: &'static str, level: Level) -> Finding {
        Finding::new(
            code,
            level,
            ObjectRef::new("Pod", Some("ns"), "p"),
            "m",
            "h",
        )
    }

    #[test]
    fn the_threshold_decides_the_exit() {
        let findings = [finding("A", Level::Info), finding("B", Level::Warning)];
        assert!(fails(&findings, Level::Info));
        assert!(fails(&findings, Level::Warning));
        assert!(!fails(&findings, Level::Error));
        assert!(!fails(&[], Level::Info));
    }

    #[test]
    fn worst_first() {
        let mut findings = vec![
            finding("Z", Level::Info),
            finding("B", Level::Error),
            finding("A", Level::Warning),
            finding("A", Level::Error),
        ];
        sort(&mut findings);
        let codes: Vec<_> = findings.iter().map(|f| (f.code, f.level)).collect();
        assert_eq!(
            codes,
            [
                ("A", Level::Error),
                ("B", Level::Error),
                ("A", Level::Warning),
                ("Z", Level::Info)
            ]
        );
        assert_eq!(findings[0].object.display(), "pod/ns/p");
    }
}

//! The two env vars that say where a controller's traffic goes, and the guide's rule between them:
//! 0% → `ingress`, 100% → `istio`, anything between → `dual`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The env var holding the networking mode.
pub const MODE_VAR: &str = "NETWORKING_MODE";
/// The env var holding the share of traffic sent through Istio.
pub const PERCENT_VAR: &str = "ISTIO_PERCENTAGE";

/// A share of traffic through Istio: an integer 0–100, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Percent(u8);

impl Percent {
    pub const ZERO: Percent = Percent(0);
    pub const FULL: Percent = Percent(100);

    /// `value` when it is 0–100.
    pub fn new(value: u8) -> Option<Percent> {
        (value <= 100).then_some(Percent(value))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// The mode the guide prescribes for this share.
    pub fn mode(self) -> Mode {
        match self.0 {
            0 => Mode::Ingress,
            100 => Mode::Istio,
            _ => Mode::Dual,
        }
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Why a percentage was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid percentage {input:?}: {why}")]
pub struct PercentError {
    pub input: String,
    pub why: &'static str,
}

impl FromStr for Percent {
    type Err = PercentError;

    /// Digits only (no sign, no fraction, no `%`), at most 100. `007` reads as 7.
    fn from_str(text: &str) -> Result<Percent, PercentError> {
        let refuse = |why| PercentError {
            input: text.to_string(),
            why,
        };
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse("use an integer from 0 to 100"));
        }
        let trimmed = text.trim_start_matches('0');
        if trimmed.len() > 3 {
            return Err(refuse("more than 100"));
        }
        let value: u16 = if trimmed.is_empty() {
            0
        } else {
            trimmed
                .parse()
                .map_err(|_| refuse("use an integer from 0 to 100"))?
        };
        u8::try_from(value)
            .ok()
            .and_then(Percent::new)
            .ok_or_else(|| refuse("more than 100"))
    }
}

/// Where a controller sends its traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Ingress,
    Dual,
    Istio,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Ingress => "ingress",
            Mode::Dual => "dual",
            Mode::Istio => "istio",
        }
    }

    /// The value as a controller reads it (exact, lower case).
    pub fn parse(text: &str) -> Option<Mode> {
        match text {
            "ingress" => Some(Mode::Ingress),
            "dual" => Some(Mode::Dual),
            "istio" => Some(Mode::Istio),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The two env values as found on the container: `None` when the var is absent, or set from a
/// `valueFrom` source whose value cannot be read from the Deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Setting {
    pub mode: Option<String>,
    pub percentage: Option<String>,
}

impl Setting {
    /// The setting the guide prescribes for `percent`.
    pub fn for_percent(percent: Percent) -> Setting {
        Setting {
            mode: Some(percent.mode().to_string()),
            percentage: Some(percent.to_string()),
        }
    }

    /// The percentage, when it is a valid one.
    pub fn percent(&self) -> Option<Percent> {
        self.percentage.as_deref()?.parse().ok()
    }

    /// The mode, when it is a known one.
    pub fn parsed_mode(&self) -> Option<Mode> {
        Mode::parse(self.mode.as_deref()?)
    }

    /// `mode/percentage%` for messages, `-` for what is missing.
    pub fn describe(&self) -> String {
        format!(
            "{}/{}%",
            self.mode.as_deref().unwrap_or("-"),
            self.percentage.as_deref().unwrap_or("-")
        )
    }

    /// What a person should look at: a missing or unreadable var, a value the controller will not
    /// understand, a mode that disagrees with the percentage.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self.mode.as_deref() {
            None => out.push(format!("{MODE_VAR} is not set (or not a literal value)")),
            Some(mode) if Mode::parse(mode).is_none() => out.push(format!(
                "{MODE_VAR}={mode:?} is not one of ingress, dual, istio"
            )),
            Some(_) => {}
        }
        match self.percentage.as_deref() {
            None => out.push(format!("{PERCENT_VAR} is not set (or not a literal value)")),
            Some(text) if text.parse::<Percent>().is_err() => out.push(format!(
                "{PERCENT_VAR}={text:?} is not an integer from 0 to 100"
            )),
            Some(_) => {}
        }
        if let (Some(mode), Some(percent)) = (self.parsed_mode(), self.percent())
            && mode != percent.mode()
        {
            out.push(format!(
                "{MODE_VAR}={mode} disagrees with {PERCENT_VAR}={percent} (expected {})",
                percent.mode()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn percentages_are_integers_from_0_to_100() {
        for (text, value) in [("0", 0), ("7", 7), ("050", 50), ("100", 100), ("0000", 0)] {
            assert_eq!(text.parse::<Percent>().unwrap().get(), value, "{text}");
        }
        for text in [
            "150",
            "101",
            "-5",
            "abc",
            "",
            " 5",
            "5%",
            "50.0",
            "+5",
            "1e2",
            "99999999999999999999",
        ] {
            let err = text.parse::<Percent>().unwrap_err();
            assert_eq!(err.input, text);
            assert!(err.to_string().starts_with("invalid percentage"), "{err}");
        }
    }

    #[test]
    fn mode_follows_the_guide() {
        assert_eq!(Percent::ZERO.mode(), Mode::Ingress);
        assert_eq!(Percent::new(1).unwrap().mode(), Mode::Dual);
        assert_eq!(Percent::new(99).unwrap().mode(), Mode::Dual);
        assert_eq!(Percent::FULL.mode(), Mode::Istio);
        assert_eq!(Percent::new(101), None);
        assert_eq!(
            Setting::for_percent(Percent::new(25).unwrap()),
            Setting {
                mode: Some("dual".into()),
                percentage: Some("25".into())
            }
        );
    }

    fn setting(mode: Option<&str>, percentage: Option<&str>) -> Setting {
        Setting {
            mode: mode.map(Into::into),
            percentage: percentage.map(Into::into),
        }
    }

    #[test]
    fn disagreements_and_missing_vars_are_warned() {
        assert!(setting(Some("dual"), Some("50")).warnings().is_empty());
        assert!(setting(Some("ingress"), Some("0")).warnings().is_empty());
        let w = setting(Some("dual"), Some("0")).warnings();
        assert_eq!(
            w,
            ["NETWORKING_MODE=dual disagrees with ISTIO_PERCENTAGE=0 (expected ingress)"]
        );
        let w = setting(Some("istio"), Some("50")).warnings();
        assert!(w[0].contains("expected dual"), "{w:?}");
        let w = setting(None, Some("50")).warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].starts_with("NETWORKING_MODE is not set"));
        let w = setting(Some("Istio"), Some("150")).warnings();
        assert_eq!(w.len(), 2, "{w:?}");
        assert_eq!(setting(Some("dual"), None).describe(), "dual/-%");
    }
}

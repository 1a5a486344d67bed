//! Kubernetes resource quantities (`128Mi`, `0.05Gi`, `115343360`, `500m`, `1.5e3`, `100n`) as
//! exact integers: a value is held in nano-units (the API server's own finest precision), so no
//! float ever decides whether 312Mi is above 256Mi. Every suffix the API accepts is understood:
//! binary `Ki Mi Gi Ti Pi Ei`, decimal `n u m k M G T P E`, and exponents `e3`/`E-2`.

use std::fmt;
use std::str::FromStr;

const NANO: i128 = 1_000_000_000;

/// A parsed quantity, exact to the nano-unit (finer fractions round up, as the API server does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity {
    nanos: i128,
}

/// Why a quantity was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid quantity {input:?}: {why}")]
pub struct QuantityError {
    pub input: String,
    pub why: &'static str,
}

impl Quantity {
    pub const ZERO: Quantity = Quantity { nanos: 0 };

    /// Whole units (bytes for memory, cores for CPU), rounded up as `Quantity.Value()` does.
    pub fn value(self) -> i128 {
        div_ceil(self.nanos, NANO)
    }

    /// Thousandths (millicores for CPU), rounded up as `Quantity.MilliValue()` does.
    pub fn millis(self) -> i128 {
        div_ceil(self.nanos, 1_000_000)
    }

    pub fn nanos(self) -> i128 {
        self.nanos
    }

    pub fn from_value(units: i128) -> Quantity {
        Quantity {
            nanos: units.saturating_mul(NANO),
        }
    }

    pub fn from_millis(millis: i128) -> Quantity {
        Quantity {
            nanos: millis.saturating_mul(1_000_000),
        }
    }

    /// `self / whole` as a share (1.0 = 100%); `None` when `whole` is zero.
    pub fn ratio(self, whole: Quantity) -> Option<f64> {
        (whole.nanos != 0).then(|| self.nanos as f64 / whole.nanos as f64)
    }

    pub fn saturating_add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
        }
    }

    /// Parses a quantity as the API server accepts it.
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let refuse = |why| QuantityError {
            input: text.to_string(),
            why,
        };
        let s = text.trim();
        if s.is_empty() {
            return Err(refuse("empty"));
        }
        let (negative, s) = match s.as_bytes()[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let number_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(refuse("no digits"));
        }
        if fraction.contains('.') {
            return Err(refuse("more than one decimal point"));
        }
        // The number as digits / 10^scale.
        let digits: String = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 36 {
            return Err(refuse("too many digits"));
        }
        let mantissa: i128 = if digits.is_empty() {
            0
        } else {
            digits.parse().map_err(|_| refuse("not a number"))?
        };
        let mut scale = i32::try_from(fraction.len()).map_err(|_| refuse("too many digits"))?;
        // Multiplier: 2^binary × 10^decimal.
        let (binary, decimal): (u32, i32) = match suffix {
            "" => (0, 0),
            "Ki" => (10, 0),
            "Mi" => (20, 0),
            "Gi" => (30, 0),
            "Ti" => (40, 0),
            "Pi" => (50, 0),
            "Ei" => (60, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            other => {
                let exponent = other
                    .strip_prefix('e')
                    .or_else(|| other.strip_prefix('E'))
                    .ok_or_else(|| refuse("unknown suffix"))?;
                let exponent: i32 = exponent
                    .parse()
                    .map_err(|_| refuse("unknown suffix or bad exponent"))?;
                if !(-100..=100).contains(&exponent) {
                    return Err(refuse("exponent out of range"));
                }
                (0, exponent)
            }
        };
        // nanos = mantissa × 2^binary × 10^(decimal + 9 - scale), rounded up.
        scale -= decimal + 9;
        let mut value = mantissa
            .checked_mul(1i128 << binary)
            .ok_or_else(|| refuse("too large"))?;
        if scale < 0 {
            for _ in 0..(-scale) {
                value = value.checked_mul(10).ok_or_else(|| refuse("too large"))?;
            }
        } else if scale > 0 {
            let divisor = 10i128
                .checked_pow(u32::try_from(scale).map_err(|_| refuse("too small"))?)
                .unwrap_or(i128::MAX);
            value = div_ceil(value, divisor);
        }
        Ok(Quantity {
            nanos: if negative { -value } else { value },
        })
    }

    /// Bytes for people, the one way the suite prints a size: `312Mi`, `1.5Gi`, `900` (binary
    /// units, at most one decimal), a quantity the size flags (`--max-size`, `--threshold`) read back.
    pub fn format_bytes(self) -> String {
        let bytes = self.value();
        let units = [
            ("Ei", 60),
            ("Pi", 50),
            ("Ti", 40),
            ("Gi", 30),
            ("Mi", 20),
            ("Ki", 10),
        ];
        for (unit, shift) in units {
            let size = 1i128 << shift;
            if bytes.abs() >= size {
                // Tenths, rounded to nearest.
                let tenths = (bytes * 10 + size / 2) / size;
                return if tenths % 10 == 0 {
                    format!("{}{unit}", tenths / 10)
                } else {
                    format!("{}.{}{unit}", tenths / 10, tenths % 10)
                };
            }
        }
        bytes.to_string()
    }

    /// CPU for people: millicores (`35m`), or cores when whole (`2`).
    pub fn format_cpu(self) -> String {
        let millis = self.millis();
        if millis != 0 && millis % 1000 == 0 {
            format!("{}", millis / 1000)
        } else {
            format!("{millis}m")
        }
    }
}

/// A byte count for people (`Quantity::format_bytes`): archive sizes, memory, bundles.
pub fn bytes(count: impl Into<i128>) -> String {
    Quantity::from_value(count.into()).format_bytes()
}

fn div_ceil(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    if value % divisor > 0 {
        quotient + 1
    } else {
        quotient
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Quantity, QuantityError> {
        Quantity::parse(s)
    }
}

impl fmt::Display for Quantity {
    /// The exact value in plain units with up to nine decimals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.nanos < 0 { "-" } else { "" };
        let abs = self.nanos.abs();
        let (whole, frac) = (abs / NANO, abs % NANO);
        if frac == 0 {
            write!(f, "{sign}{whole}")
        } else {
            let frac = format!("{frac:09}");
            write!(f, "{sign}{whole}.{}", frac.trim_end_matches('0'))
        }
    }
}

impl TryFrom<&k8s_openapi::apimachinery::pkg::api::resource::Quantity> for Quantity {
    type Error = QuantityError;
    fn try_from(
        q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity,
    ) -> Result<Quantity, QuantityError> {
        Quantity::parse(&q.0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn bytes(text: &str) -> i128 {
        Quantity::parse(text).unwrap().value()
    }

    fn millis(text: &str) -> i128 {
        Quantity::parse(text).unwrap().millis()
    }

    #[test]
    fn binary_suffixes_are_powers_of_two() {
        assert_eq!(bytes("1Ki"), 1024);
        assert_eq!(bytes("256Mi"), 256 << 20);
        assert_eq!(bytes("312Mi"), 312 << 20);
        assert_eq!(bytes("2Gi"), 2 << 30);
        assert_eq!(bytes("1Ti"), 1 << 40);
        assert_eq!(bytes("1Pi"), 1 << 50);
        assert_eq!(bytes("1Ei"), 1 << 60);
        assert_eq!(bytes("319488Ki"), 312 << 20);
    }

    #[test]
    fn decimal_suffixes_and_plain_numbers() {
        assert_eq!(bytes("115343360"), 115_343_360);
        assert_eq!(bytes("1k"), 1000);
        assert_eq!(bytes("1M"), 1_000_000);
        assert_eq!(bytes("1G"), 1_000_000_000);
        assert_eq!(bytes("1T"), 1_000_000_000_000);
        assert_eq!(bytes("1P"), 1_000_000_000_000_000);
        assert_eq!(bytes("1E"), 1_000_000_000_000_000_000);
        assert_eq!(millis("500m"), 500);
        assert_eq!(millis("2"), 2000);
        assert_eq!(millis("0.5"), 500);
        assert_eq!(millis(".25"), 250);
        assert_eq!(millis("250000u"), 250);
        assert_eq!(millis("35000000n"), 35);
        // A fraction of a millicore rounds up, as MilliValue does.
        assert_eq!(millis("100n"), 1);
    }

    #[test]
    fn fractions_of_binary_units_are_exact() {
        // 0.05Gi = 53687091.2 bytes: rounded up to whole bytes.
        assert_eq!(
            Quantity::parse("0.05Gi").unwrap().nanos(),
            53_687_091_200_000_000
        );
        assert_eq!(bytes("0.05Gi"), 53_687_092);
        assert_eq!(bytes("0.2Gi"), 214_748_365);
        assert_eq!(bytes("1.5Mi"), 1_572_864);
        assert!(Quantity::parse("0.21Gi").unwrap() < Quantity::parse("256Mi").unwrap());
    }

    #[test]
    fn exponents_and_signs() {
        assert_eq!(bytes("1e3"), 1000);
        assert_eq!(bytes("1.5E3"), 1500);
        assert_eq!(millis("5e-1"), 500);
        assert_eq!(millis("1e-12"), 1); // below a nano: rounds up
        assert_eq!(bytes("+12"), 12);
        assert_eq!(bytes("-1Ki"), -1024);
        assert_eq!(Quantity::parse("12e0").unwrap().value(), 12);
    }

    #[test]
    fn garbage_is_refused_not_guessed() {
        for bad in [
            "", "Mi", "12MB", "1.2.3", "abc", "12 Mi", "1e", "1e999", "--1", "1Gii", ".",
        ] {
            let err = Quantity::parse(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("invalid quantity"),
                "{bad}: {err}"
            );
        }
        assert!(Quantity::parse(&"9".repeat(40)).is_err());
        assert!(Quantity::parse("999999999999Ei").is_err());
    }

    #[test]
    fn formatting_for_people() {
        assert_eq!(Quantity::parse("312Mi").unwrap().format_bytes(), "312Mi");
        assert_eq!(Quantity::parse("0.2Gi").unwrap().format_bytes(), "204.8Mi");
        assert_eq!(Quantity::parse("1.5Gi").unwrap().format_bytes(), "1.5Gi");
        assert_eq!(Quantity::parse("900").unwrap().format_bytes(), "900");
        assert_eq!(super::bytes(1536u64), "1.5Ki");
        assert_eq!(super::bytes(5u64 * 1024 * 1024), "5Mi");
        assert_eq!(Quantity::parse("35m").unwrap().format_cpu(), "35m");
        assert_eq!(Quantity::parse("2").unwrap().format_cpu(), "2");
        assert_eq!(Quantity::parse("0.05Gi").unwrap().to_string(), "53687091.2");
        let share = Quantity::parse("312Mi")
            .unwrap()
            .ratio(Quantity::parse("256Mi").unwrap())
            .unwrap();
        assert!((share - 1.21875).abs() < 1e-12);
        assert_eq!(Quantity::ZERO.ratio(Quantity::ZERO), None);
    }
}

//! Prometheus-style durations (`90s`, `5m`, `1h30m`, `30d`): parsed once, printed canonically.
//!
//! Kept rather than promql-parser's `parse_duration`/`display_duration`, which follow the
//! PromQL literal grammar, not the configuration one: they accept `1.5` (seconds), refuse
//! `0s`, drop a part whose number overflows `u32` without an error, and print `28d` as `4w`.
//! The test `promql_parser_durations_are_not_config_durations` pins those differences.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_with::{DeserializeFromStr, SerializeDisplay};

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

/// A span of time as Prometheus writes it: one or more `<integer><unit>` parts in
/// decreasing unit order, units `y w d h m s ms`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, SerializeDisplay, DeserializeFromStr)]
pub struct Duration {
    millis: u64,
}

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a duration: {reason}; expected a Prometheus duration like `30s`, `5m` or `1h30m`")]
pub struct DurationError {
    pub text: String,
    pub reason: &'static str,
}

impl Duration {
    pub const ZERO: Duration = Duration { millis: 0 };

    pub const fn from_millis(millis: u64) -> Self {
        Self { millis }
    }

    pub const fn from_secs(secs: u64) -> Self {
        Self { millis: secs * 1000 }
    }

    pub fn as_millis(self) -> u64 {
        self.millis
    }

    pub fn as_secs_f64(self) -> f64 {
        self.millis as f64 / 1000.0
    }

    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_millis(self.millis)
    }

    pub fn parse(text: &str) -> Result<Self, DurationError> {
        let fail = |reason| DurationError {
            text: text.to_string(),
            reason,
        };
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        let bytes = text.as_bytes();
        let mut pos = 0;
        let mut total: u64 = 0;
        let mut last_unit_rank: Option<usize> = None;
        while pos < bytes.len() {
            let start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_digit() {
                pos += 1;
            }
            if start == pos {
                return Err(fail("each part must start with a whole number"));
            }
            let number: u64 = text[start..pos].parse().map_err(|_| fail("the number is too large"))?;
            let unit_start = pos;
            while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
                pos += 1;
            }
            let unit = &text[unit_start..pos];
            let Some(rank) = UNITS.iter().position(|(name, _)| *name == unit) else {
                return Err(fail(if unit.is_empty() {
                    "a unit is missing"
                } else {
                    "the unit is not one of y, w, d, h, m, s, ms"
                }));
            };
            if last_unit_rank.is_some_and(|last| rank <= last) {
                return Err(fail("units must go from largest to smallest, each once"));
            }
            last_unit_rank = Some(rank);
            total = number
                .checked_mul(UNITS[rank].1)
                .and_then(|part| total.checked_add(part))
                .ok_or_else(|| fail("it is too long"))?;
        }
        Ok(Self { millis: total })
    }

    /// `a / b` rounded down, for scaling windows; `None` when `b` is zero.
    pub fn checked_div(self, by: u64) -> Option<Self> {
        self.millis.checked_div(by).map(Self::from_millis)
    }

    pub fn mul_ratio(self, numerator: u64, denominator: u64) -> Self {
        let scaled = u128::from(self.millis) * u128::from(numerator) / u128::from(denominator);
        Self::from_millis(u64::try_from(scaled).unwrap_or(u64::MAX))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.millis;
        // `w` and `y` are skipped so that 14d stays 14d rather than 2w, as people write it.
        for (name, size) in UNITS.iter().filter(|(name, _)| *name != "w" && *name != "y") {
            if rest >= *size {
                write!(f, "{}{}", rest / size, name)?;
                rest %= size;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^([0-9]+(y|w|d|h|m|s|ms))+$",
            "description": "A Prometheus duration: `30s`, `5m`, `1h30m`, `30d`.",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compound_durations() {
        assert_eq!(Duration::parse("1h30m").unwrap().as_millis(), 5_400_000);
        assert_eq!(Duration::parse("500ms").unwrap().as_millis(), 500);
        assert_eq!(Duration::parse("30d").unwrap().as_millis(), 30 * 86_400_000);
        assert_eq!(Duration::parse("1w").unwrap(), Duration::parse("7d").unwrap());
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "1m1h",
            "1s1s",
            "-5s",
            "1.5h",
            "99999999999999999999s",
        ] {
            assert!(Duration::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn prints_the_largest_units_first() {
        assert_eq!(Duration::parse("90s").unwrap().to_string(), "1m30s");
        assert_eq!(Duration::parse("2w").unwrap().to_string(), "14d");
        assert_eq!(Duration::from_millis(1500).to_string(), "1s500ms");
        assert_eq!(Duration::ZERO.to_string(), "0s");
    }

    #[test]
    fn promql_parser_durations_are_not_config_durations() {
        use promql_parser::util::{display_duration, parse_duration};
        assert!(parse_duration("1.5").is_ok() && Duration::parse("1.5").is_err());
        assert!(parse_duration("0s").is_err() && Duration::parse("0s").is_ok());
        let overflowing = "5000000000s1ms";
        assert_eq!(parse_duration(overflowing).unwrap().as_millis(), 1);
        assert_eq!(Duration::parse(overflowing).unwrap().as_millis(), 5_000_000_000_001);
        let four_weeks = std::time::Duration::from_secs(28 * 86_400);
        assert_eq!(display_duration(&four_weeks), "4w");
        assert_eq!(Duration::parse("28d").unwrap().to_string(), "28d");
    }

    #[test]
    fn scales_by_a_ratio() {
        let hour = Duration::parse("1h").unwrap();
        assert_eq!(hour.mul_ratio(28, 30).to_string(), "56m");
    }
}

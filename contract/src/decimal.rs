//! Exact decimal numbers for thresholds and objectives, so `99.9` gives a budget of
//! `0.001` and never `0.0009999999999999432`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// `mantissa × 10^-scale`, exact. Built from the shortest decimal text of a YAML number.
#[derive(Clone, Copy, Debug, Eq)]
pub struct Decimal {
    mantissa: i128,
    scale: u32,
}

const MAX_SCALE: u32 = 24;

impl Decimal {
    pub const ZERO: Decimal = Decimal { mantissa: 0, scale: 0 };

    pub const fn from_int(value: i64) -> Self {
        Self {
            mantissa: value as i128,
            scale: 0,
        }
    }

    /// Parses plain decimal text (`-12.5`, `0.001`, `3`, `1e-3`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (body, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (negative, body) = match body.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, body.strip_prefix('+').unwrap_or(body)),
        };
        let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        if !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = format!("{int_part}{frac_part}");
        let mut mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
        let mut scale = i64::try_from(frac_part.len()).ok()? - i64::from(exponent);
        while scale < 0 {
            mantissa = mantissa.checked_mul(10)?;
            scale += 1;
        }
        if scale > i64::from(MAX_SCALE) {
            return None;
        }
        if negative {
            mantissa = -mantissa;
        }
        Some(
            Self {
                mantissa,
                scale: u32::try_from(scale).ok()?,
            }
            .normalized(),
        )
    }

    pub fn from_f64(value: f64) -> Option<Self> {
        if !value.is_finite() {
            return None;
        }
        // Rust prints the shortest text that reads back as the same f64: what the user wrote.
        Self::parse(&format!("{value}"))
    }

    fn normalized(mut self) -> Self {
        while self.scale > 0 && self.mantissa % 10 == 0 {
            self.mantissa /= 10;
            self.scale -= 1;
        }
        self
    }

    fn aligned(self, other: Self) -> (i128, i128, u32) {
        let scale = self.scale.max(other.scale);
        let a = self.mantissa * 10i128.pow(scale - self.scale);
        let b = other.mantissa * 10i128.pow(scale - other.scale);
        (a, b, scale)
    }

    pub fn checked_add(self, other: Self) -> Option<Self> {
        let (a, b, scale) = self.aligned(other);
        Some(
            Self {
                mantissa: a.checked_add(b)?,
                scale,
            }
            .normalized(),
        )
    }

    pub fn checked_sub(self, other: Self) -> Option<Self> {
        let (a, b, scale) = self.aligned(other);
        Some(
            Self {
                mantissa: a.checked_sub(b)?,
                scale,
            }
            .normalized(),
        )
    }

    pub fn checked_mul(self, other: Self) -> Option<Self> {
        let scale = self.scale + other.scale;
        if scale > MAX_SCALE * 2 {
            return None;
        }
        Some(
            Self {
                mantissa: self.mantissa.checked_mul(other.mantissa)?,
                scale,
            }
            .normalized(),
        )
    }

    /// Divides by `10^power` exactly (percent → ratio is `shift_left(2)`).
    pub fn shift_left(self, power: u32) -> Self {
        Self {
            mantissa: self.mantissa,
            scale: self.scale + power,
        }
        .normalized()
    }

    pub fn to_f64(self) -> f64 {
        // Going through text keeps the nearest f64 to the exact value.
        self.to_string().parse().unwrap_or(f64::NAN)
    }

    pub fn is_positive(self) -> bool {
        self.mantissa > 0
    }

    pub fn is_negative(self) -> bool {
        self.mantissa < 0
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl std::hash::Hash for Decimal {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Every constructor normalizes (no trailing zeros), so equal values share fields.
        self.mantissa.hash(state);
        self.scale.hash(state);
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b, _) = self.aligned(*other);
        a.cmp(&b)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let negative = self.mantissa < 0;
        let digits = self.mantissa.unsigned_abs().to_string();
        let scale = self.scale as usize;
        if negative {
            f.write_str("-")?;
        }
        if scale == 0 {
            return f.write_str(&digits);
        }
        if digits.len() > scale {
            let (int, frac) = digits.split_at(digits.len() - scale);
            write!(f, "{int}.{frac}")
        } else {
            write!(f, "0.{}{digits}", "0".repeat(scale - digits.len()))
        }
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.scale == 0 {
            if let Ok(int) = i64::try_from(self.mantissa) {
                return serializer.serialize_i64(int);
            }
        }
        serializer.serialize_f64(self.to_f64())
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DecimalVisitor;
        impl Visitor<'_> for DecimalVisitor {
            type Value = Decimal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
                Ok(Decimal::from_int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
                i64::try_from(v)
                    .map(Decimal::from_int)
                    .map_err(|_| E::custom("number is too large"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
                Decimal::from_f64(v).ok_or_else(|| E::custom("expected a finite number"))
            }
        }
        deserializer.deserialize_any(DecimalVisitor)
    }
}

impl JsonSchema for Decimal {
    fn schema_name() -> Cow<'static, str> {
        "Number".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "number" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn error_budget_of_three_nines_is_exact() {
        let budget = d("100").checked_sub(d("99.9")).unwrap().shift_left(2);
        assert_eq!(budget.to_string(), "0.001");
        assert_eq!(budget.checked_mul(d("14.4")).unwrap().to_string(), "0.0144");
    }

    #[test]
    fn prints_numbers_as_written() {
        for text in ["0.05", "1", "0.5", "99.95", "-3", "1024", "0.0001"] {
            assert_eq!(d(text).to_string(), text);
        }
        assert_eq!(Decimal::from_f64(0.1 + 0.2).unwrap().to_string(), "0.30000000000000004");
        assert_eq!(Decimal::from_f64(1e-3).unwrap().to_string(), "0.001");
        assert_eq!(d("2.50").to_string(), "2.5");
    }

    #[test]
    fn compares_across_scales() {
        assert!(d("0.5") < d("1"));
        assert_eq!(d("1.0"), d("1"));
        assert!(d("-0.1").is_negative());
    }

    #[test]
    fn rejects_non_numbers() {
        for bad in ["", ".", "1.2.3", "abc", "1e"] {
            assert!(Decimal::parse(bad).is_none(), "{bad}");
        }
    }
}

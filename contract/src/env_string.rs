//! Strings that may name an environment variable: `${VAR}` or `${VAR:-default}`.
//! The runtime resolves them at start-up; generated files pass them through to the tool
//! that interpolates (compose), and never bake a secret in.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_with::SerializeDisplay;

/// A literal, or a reference to an environment variable with an optional default. A YAML
/// number or boolean is read as its text; a null is refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash, SerializeDisplay)]
pub enum EnvString {
    Literal(String),
    Env { var: String, default: Option<String> },
}

impl EnvString {
    pub fn literal(text: impl Into<String>) -> Self {
        Self::Literal(text.into())
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(inner) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
            if text.contains("${") {
                return Err(format!(
                    "`{text}` mixes text with `${{...}}`; write the whole value as `${{VAR}}` or `${{VAR:-default}}`"
                ));
            }
            return Ok(Self::Literal(text.to_string()));
        };
        let (var, default) = match inner.split_once(":-") {
            Some((var, default)) => (var, Some(default.to_string())),
            None => (inner, None),
        };
        let valid_name = !var.is_empty()
            && !var.starts_with(|c: char| c.is_ascii_digit())
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(format!(
                "`{var}` is not an environment variable name (letters, digits and `_`, not starting with a digit)"
            ));
        }
        Ok(Self::Env {
            var: var.to_string(),
            default,
        })
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, Self::Literal(_))
    }

    pub fn env_var(&self) -> Option<&str> {
        match self {
            Self::Env { var, .. } => Some(var),
            Self::Literal(_) => None,
        }
    }

    /// The value a generated file uses where no environment exists: the literal or the default.
    pub fn default_value(&self) -> Option<&str> {
        match self {
            Self::Literal(text) => Some(text),
            Self::Env { default, .. } => default.as_deref(),
        }
    }

    /// Resolves against an environment lookup (the process environment at run time).
    pub fn resolve(&self, lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
        match self {
            Self::Literal(text) => Some(text.clone()),
            Self::Env { var, default } => lookup(var)
                .filter(|value| !value.is_empty())
                .or_else(|| default.clone()),
        }
    }
}

impl std::str::FromStr for EnvString {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

/// Hand-written rather than serde_with's `DeserializeFromStr`: that one asks for a string,
/// and serde_yaml then hands a null (`url:`, `~`) over as the text `""` or `"~"`, which
/// would pass as a literal instead of failing as a missing value.
impl<'de> Deserialize<'de> for EnvString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = EnvString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text, `${VAR}` or `${VAR:-default}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<EnvString, E> {
                EnvString::parse(v).map_err(E::custom)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<EnvString, E> {
                Ok(EnvString::Literal(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<EnvString, E> {
                Ok(EnvString::Literal(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<EnvString, E> {
                Ok(EnvString::Literal(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<EnvString, E> {
                Ok(EnvString::Literal(v.to_string()))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

impl fmt::Display for EnvString {
    /// The form compose interpolates: `${VAR}` or `${VAR:-default}`; literals as they are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(text) => f.write_str(text),
            Self::Env { var, default: None } => write!(f, "${{{var}}}"),
            Self::Env {
                var,
                default: Some(default),
            } => write!(f, "${{{var}:-{default}}}"),
        }
    }
}

impl JsonSchema for EnvString {
    fn schema_name() -> Cow<'static, str> {
        "EnvString".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": ["string", "number", "boolean"],
            "description": "A literal value, or `${VAR}` / `${VAR:-default}` read from the environment.",
        })
    }
}

/// Whether an environment variable's name says it holds a secret: `POSTGRES_PASSWORD`,
/// `API_TOKEN`, `JWT_SECRET`, `AWS_SECRET_ACCESS_KEY`…
pub fn names_a_secret(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "APIKEY",
        "ACCESS_KEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_variables_with_and_without_defaults() {
        assert_eq!(
            EnvString::parse("${APP_ENV:-development}").unwrap(),
            EnvString::Env {
                var: "APP_ENV".into(),
                default: Some("development".into())
            }
        );
        assert_eq!(EnvString::parse("${LOKI_URL}").unwrap().env_var(), Some("LOKI_URL"));
        assert!(EnvString::parse("plain").unwrap().is_literal());
    }

    #[test]
    fn rejects_partial_interpolation_and_bad_names() {
        assert!(EnvString::parse("http://${HOST}:80").is_err());
        assert!(EnvString::parse("${1BAD}").is_err());
        assert!(EnvString::parse("${}").is_err());
    }

    #[test]
    fn a_null_is_no_value() {
        for null in ["~", "null", ""] {
            let yaml = format!("url: {null}\n");
            #[derive(Debug, serde::Deserialize)]
            #[allow(dead_code)]
            struct Holder {
                url: EnvString,
            }
            assert!(serde_yaml::from_str::<Holder>(&yaml).is_err(), "`{null}` was accepted");
        }
    }

    #[test]
    fn reads_yaml_numbers_and_booleans_as_their_text() {
        let values: Vec<EnvString> = serde_yaml::from_str("[8080, true, 0.5, '${PORT:-80}']").unwrap();
        assert_eq!(
            values,
            [
                EnvString::literal("8080"),
                EnvString::literal("true"),
                EnvString::literal("0.5"),
                EnvString::parse("${PORT:-80}").unwrap()
            ]
        );
    }

    #[test]
    fn resolves_with_fallback_to_default() {
        let value = EnvString::parse("${X:-fallback}").unwrap();
        assert_eq!(value.resolve(|_| None).as_deref(), Some("fallback"));
        assert_eq!(value.resolve(|_| Some("set".into())).as_deref(), Some("set"));
        assert_eq!(value.to_string(), "${X:-fallback}");
    }
}

//! `slos`: service level objectives, their indicators and burn-rate alerting.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use serde_with::{DeserializeFromStr, SerializeDisplay};

use crate::{Decimal, Duration, Severity};

/// A service level objective.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// SLO name, kebab-case (`http-availability`); alert names are derived from it.
    pub name: String,
    /// What the objective promises, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Target percentage of good events, strictly between 0 and 100 (e.g. `99.9`).
    pub objective: Decimal,
    /// Compliance period.
    #[serde(default = "Slo::default_period")]
    pub period: Duration,
    /// How good and bad events are counted.
    pub sli: Sli,
    /// Burn-rate alerting.
    #[serde(default)]
    pub alerting: SloAlerting,
    /// Below this traffic the burn-rate alerts stay silent, e.g. `1/min`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_traffic: Option<Rate>,
    /// Extra labels on the SLO's series and alerts.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Slo {
    fn default_period() -> Duration {
        Duration::from_secs(30 * 86_400)
    }
}

/// The indicator: an error ratio from two counter selectors, or a latency threshold.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sli {
    /// Selector of bad events, e.g. `http_requests_total{status=~"5.."}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<String>,
    /// Selector of all events, e.g. `http_requests_total`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    /// Good events are those faster than a declared histogram bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySli>,
}

/// Events faster than `threshold` are good.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatencySli {
    /// Histogram metric name (without `_bucket`).
    pub metric: String,
    /// Upper bound of a good event; must be one of the histogram's buckets.
    pub threshold: Decimal,
    /// Label matchers narrowing the histogram, e.g. `route!="/metrics"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
}

/// Burn-rate alerting settings.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SloAlerting {
    /// Whether burn-rate alerts are generated.
    #[serde(default = "crate::model::yes")]
    pub enabled: bool,
    /// Severity of the fast-burn (page) alerts.
    #[serde(default = "SloAlerting::default_page")]
    pub page_severity: Severity,
    /// Severity of the slow-burn (ticket) alerts.
    #[serde(default = "SloAlerting::default_ticket")]
    pub ticket_severity: Severity,
}

impl SloAlerting {
    fn default_page() -> Severity {
        Severity::Critical
    }
    fn default_ticket() -> Severity {
        Severity::Warning
    }
}

impl Default for SloAlerting {
    fn default() -> Self {
        Self {
            enabled: true,
            page_severity: Self::default_page(),
            ticket_severity: Self::default_ticket(),
        }
    }
}

/// Events per unit of time: `1/min`, `0.5/s`, `100/h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, SerializeDisplay, DeserializeFromStr)]
pub struct Rate {
    /// How many events.
    pub count: Decimal,
    /// Per this long.
    pub per: Duration,
}

impl Rate {
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected =
            || format!("`{text}` is not a rate; expected `<number>/<unit>` such as `1/min`, `0.5/s` or `100/h`");
        let (count, unit) = text.split_once('/').ok_or_else(expected)?;
        let count = Decimal::parse(count)
            .filter(|c| !c.is_negative())
            .ok_or_else(expected)?;
        let per = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            _ => return Err(expected()),
        };
        Ok(Self { count, per })
    }

    /// Seconds in one `per`, for turning a per-second rate into this rate's unit.
    pub fn per_seconds(&self) -> u64 {
        self.per.as_millis() / 1000
    }
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.per_seconds() {
            1 => "s",
            60 => "min",
            3600 => "h",
            _ => "d",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": "^[0-9.]+/(s|sec|second|m|min|minute|h|hour|d|day)$",
            "description": "Events per unit of time, e.g. `1/min`.",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rates() {
        let rate = Rate::parse("1/min").unwrap();
        assert_eq!(rate.per_seconds(), 60);
        assert_eq!(rate.to_string(), "1/min");
        assert_eq!(Rate::parse("0.5/s").unwrap().count.to_string(), "0.5");
        assert!(Rate::parse("5").is_err());
        assert!(Rate::parse("x/min").is_err());
        assert!(Rate::parse("1/fortnight").is_err());
    }
}

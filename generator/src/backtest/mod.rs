//! `generator backtest`: replays every alert of a spec (SLO burn-rate alerts included) over
//! what a Prometheus recorded, the way Prometheus evaluates it, and reports when each
//! would have fired and resolved, how many notifications that means a day, and which
//! alerts never fired.

pub mod evaluate;
pub mod query;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use contract::rules::Rule;

pub use evaluate::{Episode, Labels};
pub use report::{AlertReport, Report};

/// One alerting rule as Prometheus runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRule {
    pub group: String,
    pub name: String,
    pub expr: String,
    pub for_ms: i64,
    pub keep_firing_for_ms: i64,
    /// The rule's own labels (severity, service…), added to every instance.
    pub labels: Labels,
    /// How often its group is evaluated.
    pub interval_ms: i64,
}

/// Why a backtest could not run at all (a failing alert is reported in its row instead).
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Spec(#[from] crate::GenerateError),
    #[error("{file}: {message}")]
    Rules { file: String, message: String },
    #[error("{argument} `{value}`: {message}")]
    Time {
        argument: &'static str,
        value: String,
        message: String,
    },
    #[error("{0}")]
    Query(#[from] query::QueryError),
    #[error("{0}")]
    Selection(String),
}

fn millis(duration: contract::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// The spec's default evaluation interval: `stack.prometheus.evaluation_interval`, else its
/// scrape interval, as the generated prometheus.yml says.
pub fn default_interval(spec: &contract::Spec) -> contract::Duration {
    let prometheus = &spec.stack.prometheus;
    prometheus.evaluation_interval.unwrap_or(prometheus.scrape_interval)
}

/// Every alerting rule the spec renders, in file and group order.
pub fn rules_from_spec(checked: &crate::Checked, interval: contract::Duration) -> Vec<AlertRule> {
    let mut rules = Vec::new();
    for file in &checked.resolved.rules.files {
        for group in &file.groups {
            let interval_ms = millis(group.interval.unwrap_or(interval));
            for rule in &group.rules {
                if let Rule::Alert(alert) = rule {
                    rules.push(AlertRule {
                        group: group.name.clone(),
                        name: alert.name.clone(),
                        expr: alert.expr.clone(),
                        for_ms: alert.for_.map(millis).unwrap_or(0),
                        keep_firing_for_ms: 0,
                        labels: alert.labels.clone(),
                        interval_ms,
                    });
                }
            }
        }
    }
    rules
}

/// A Prometheus duration (`5m`, `1h30m`, `500ms`) in milliseconds.
fn duration_ms(text: &str) -> Result<i64, String> {
    contract::Duration::parse(text)
        .map(millis)
        .map_err(|e| format!("`{text}` is not a duration: {e}"))
}

/// Every alerting rule of Prometheus rule files (as deployed, or a test's copy): `groups`,
/// each with `rules` holding `alert`, `expr`, `for`, `keep_firing_for` and `labels`.
pub fn rules_from_files(paths: &[PathBuf], interval: contract::Duration) -> Result<Vec<AlertRule>, BacktestError> {
    let mut rules = Vec::new();
    for path in paths {
        let file = path.display().to_string();
        let fail = |message: String| BacktestError::Rules {
            file: file.clone(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read: {e}")))?;
        let document: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| match e.location() {
            Some(at) => BacktestError::Rules {
                file: format!("{file}:{}:{}", at.line(), at.column()),
                message: format!("not YAML: {e}"),
            },
            None => fail(format!("not YAML: {e}")),
        })?;
        let groups = document["groups"]
            .as_sequence()
            .ok_or_else(|| fail("has no `groups` list: not a Prometheus rule file".into()))?;
        for (g, group) in groups.iter().enumerate() {
            let group_name = group["name"].as_str().unwrap_or_default().to_string();
            let interval_ms = match group["interval"].as_str() {
                Some(text) => duration_ms(text).map_err(|m| fail(format!("groups[{g}].interval: {m}")))?,
                None => millis(interval),
            };
            for (r, rule) in group["rules"].as_sequence().into_iter().flatten().enumerate() {
                let Some(name) = rule["alert"].as_str() else { continue };
                let at = |field: &str| format!("groups[{g}].rules[{r}].{field}");
                let expr = rule["expr"]
                    .as_str()
                    .map(String::from)
                    .or_else(|| rule["expr"].as_i64().map(|n| n.to_string()))
                    .ok_or_else(|| fail(format!("{}: missing", at("expr"))))?;
                let optional = |field: &str| -> Result<i64, BacktestError> {
                    match rule[field].as_str() {
                        Some(text) => duration_ms(text).map_err(|m| fail(format!("{}: {m}", at(field)))),
                        None => Ok(0),
                    }
                };
                let labels = rule["labels"]
                    .as_mapping()
                    .into_iter()
                    .flatten()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
                    .collect();
                rules.push(AlertRule {
                    group: group_name.clone(),
                    name: name.to_string(),
                    expr,
                    for_ms: optional("for")?,
                    keep_firing_for_ms: optional("keep_firing_for")?,
                    labels,
                    interval_ms,
                });
            }
        }
    }
    Ok(rules)
}

/// `now`, `now-7d`, `-7d` (before `now`), RFC 3339 (`2026-12-01T00:00:00Z`) or Unix seconds.
pub fn parse_time(argument: &'static str, text: &str, now_ms: i64) -> Result<i64, BacktestError> {
    let fail = |message: String| BacktestError::Time {
        argument,
        value: text.to_string(),
        message,
    };
    let trimmed = text.trim();
    if trimmed == "now" {
        return Ok(now_ms);
    }
    if let Some(ago) = trimmed.strip_prefix("now-").or_else(|| trimmed.strip_prefix('-')) {
        return duration_ms(ago).map(|ms| now_ms - ms).map_err(fail);
    }
    if let Ok(seconds) = trimmed.parse::<f64>() {
        if seconds.is_finite() && seconds >= 0.0 {
            return Ok((seconds * 1000.0).round() as i64);
        }
    }
    time::OffsetDateTime::parse(trimmed, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|e| {
            fail(format!(
                "expected now, now-<duration> (now-7d), RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds: {e}"
            ))
        })
}

/// What to replay and against what.
#[derive(Debug, Clone)]
pub struct Options {
    pub prometheus: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub timeout: Duration,
}

/// Keeps the rules named in `wanted` (all when empty); an unknown name is an error that
/// says which names exist.
pub fn select(rules: Vec<AlertRule>, wanted: &[String]) -> Result<Vec<AlertRule>, BacktestError> {
    if rules.is_empty() {
        return Err(BacktestError::Selection("the spec has no alert to replay".into()));
    }
    for name in wanted {
        if !rules.iter().any(|r| &r.name == name) {
            let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
            let hint = match contract::suggest::closest(name, names.iter().copied()) {
                Some(close) => format!("; did you mean `{close}`?"),
                None => format!("; the alerts are: {}", names.join(", ")),
            };
            return Err(BacktestError::Selection(format!("no alert is named `{name}`{hint}")));
        }
    }
    Ok(rules
        .into_iter()
        .filter(|r| wanted.is_empty() || wanted.contains(&r.name))
        .collect())
}

/// Series names the expression reads that recording rules produce.
fn recorded_inputs<'a>(expr: &str, recorded: &'a [String]) -> Vec<&'a String> {
    recorded
        .iter()
        .filter(|name| {
            expr.match_indices(name.as_str()).any(|(at, _)| {
                let before = expr[..at].chars().next_back();
                let after = expr[at + name.len()..].chars().next();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
                !word(before) && !word(after)
            })
        })
        .collect()
}

/// Replays `rules` against the Prometheus of `options`. `recorded`: the spec's recording
/// rule names, so that an alert that never fired because their series are missing says so.
pub async fn run(
    rules: &[AlertRule],
    recorded: &[String],
    alertmanager: Option<&contract::Alertmanager>,
    options: &Options,
) -> Result<Report, BacktestError> {
    if options.to_ms <= options.from_ms {
        return Err(BacktestError::Time {
            argument: "--to",
            value: options.to_ms.to_string(),
            message: "must be after --from".into(),
        });
    }
    let client = query::RangeClient::new(&options.prometheus, options.timeout)?;
    // One cheap query first: an unreachable Prometheus is one clear error, not one per alert.
    client
        .presence("vector(1)", options.from_ms, options.from_ms, 1000)
        .await?;
    let mut alerts = Vec::new();
    for rule in rules {
        // Start `for` + `keep_firing_for` early, on the same grid, so that an alert already
        // pending or firing at --from is in the state Prometheus had it in then.
        let step = rule.interval_ms.max(1);
        let warm_up = (rule.for_ms + rule.keep_firing_for_ms + step - 1) / step * step;
        let start = options.from_ms - warm_up;
        let times = query::times(start, options.to_ms, step);
        let outcome = match client.presence(&rule.expr, start, options.to_ms, step).await {
            Ok(present) => {
                let mut episodes = evaluate::replay(&times, &present, rule.for_ms, rule.keep_firing_for_ms);
                episodes.retain(|e| e.resolved_at.is_none_or(|resolved| resolved > options.from_ms));
                Ok(episodes)
            }
            Err(error) => Err(error.to_string()),
        };
        let mut notes = Vec::new();
        if matches!(&outcome, Ok(episodes) if episodes.is_empty()) {
            let seconds = ((options.to_ms - options.from_ms + 999) / 1000).max(1);
            for name in recorded_inputs(&rule.expr, recorded) {
                let probe = format!("count(count_over_time({name}[{seconds}s]))");
                if let Ok(found) = client.presence(&probe, options.to_ms, options.to_ms, 1000).await {
                    if found.iter().all(Vec::is_empty) {
                        notes.push(format!(
                            "it reads `{name}`, a recording rule's series with no data in the range: this Prometheus did not run obs's recording rules then, so the alert could not fire"
                        ));
                    }
                }
            }
        }
        let repeat_ms = |episode: &Episode| {
            let mut labels = rule.labels.clone();
            labels.extend(episode.labels.clone());
            labels.insert("alertname".into(), rule.name.clone());
            millis(
                alertmanager
                    .map(|am| am.repeat_interval_for(&labels))
                    .unwrap_or(contract::DEFAULT_REPEAT_INTERVAL),
            )
        };
        let repeats = match &outcome {
            Ok(episodes) => episodes.iter().map(repeat_ms).collect(),
            Err(_) => Vec::new(),
        };
        alerts.push(AlertReport {
            group: rule.group.clone(),
            name: rule.name.clone(),
            severity: rule.labels.get("severity").cloned(),
            for_ms: rule.for_ms,
            interval_ms: rule.interval_ms,
            outcome,
            repeat_ms: repeats,
            notes,
        });
    }
    Ok(Report {
        prometheus: options.prometheus.clone(),
        from_ms: options.from_ms,
        to_ms: options.to_ms,
        alerts,
    })
}

/// `run` for callers without a runtime (the CLI).
pub fn run_blocking(
    rules: &[AlertRule],
    recorded: &[String],
    alertmanager: Option<&contract::Alertmanager>,
    options: &Options,
) -> Result<Report, BacktestError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BacktestError::Selection(format!("cannot start the HTTP client: {e}")))?;
    runtime.block_on(run(rules, recorded, alertmanager, options))
}

/// The rules to replay: the spec's own, or those of `rule_files` when given.
pub fn load_rules(
    spec_path: &Path,
    rule_files: &[PathBuf],
    interval: Option<contract::Duration>,
) -> Result<(crate::Checked, Vec<AlertRule>), BacktestError> {
    let checked = crate::check(spec_path)?;
    let interval = interval.unwrap_or_else(|| default_interval(&checked.loaded.spec));
    let rules = if rule_files.is_empty() {
        rules_from_spec(&checked, interval)
    } else {
        rules_from_files(rule_files, interval)?
    };
    Ok((checked, rules))
}

/// The spec's recording rule names.
pub fn recorded_names(checked: &crate::Checked) -> Vec<String> {
    checked.resolved.rules.recorded_names().map(String::from).collect()
}

/// Labels as Prometheus writes them: `{a="1", b="2"}`.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_in_every_documented_form() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_time("--from", "now", now).unwrap(), now);
        assert_eq!(parse_time("--from", "now-7d", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(parse_time("--from", "-90m", now).unwrap(), now - 90 * 60_000);
        assert_eq!(parse_time("--from", "1764547200", now).unwrap(), 1_764_547_200_000);
        assert_eq!(
            parse_time("--from", "2025-12-01T00:00:00Z", now).unwrap(),
            1_764_547_200_000
        );
        let error = parse_time("--from", "yesterday", now).unwrap_err().to_string();
        assert!(
            error.starts_with("--from `yesterday`: expected now, now-<duration>"),
            "{error}"
        );
    }

    #[test]
    fn recorded_inputs_are_whole_names() {
        let recorded = vec!["job:http_requests:rate5m".to_string(), "job:http".to_string()];
        assert_eq!(
            recorded_inputs("sum(job:http_requests:rate5m) > 1", &recorded),
            [&recorded[0]]
        );
    }

    #[test]
    fn rule_files_are_read_with_for_and_keep_firing_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.yml");
        std::fs::write(
            &path,
            "groups:\n  - name: g\n    interval: 30s\n    rules:\n      - record: r\n        expr: up\n      - alert: A\n        expr: up == 0\n        for: 2m\n        keep_firing_for: 5m\n        labels: {severity: page}\n",
        )
        .unwrap();
        let rules = rules_from_files(std::slice::from_ref(&path), contract::Duration::from_secs(15)).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(
            (rules[0].for_ms, rules[0].keep_firing_for_ms, rules[0].interval_ms),
            (120_000, 300_000, 30_000)
        );
        assert_eq!(rules[0].labels["severity"], "page");
        std::fs::write(
            &path,
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: soon\n",
        )
        .unwrap();
        let error = rules_from_files(&[path], contract::Duration::from_secs(15))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("groups[0].rules[0].for: `soon` is not a duration"),
            "{error}"
        );
    }

    #[test]
    fn an_unknown_alert_is_named_with_the_closest() {
        let rule = |name: &str| AlertRule {
            group: "g".into(),
            name: name.into(),
            expr: "up".into(),
            for_ms: 0,
            keep_firing_for_ms: 0,
            labels: Labels::new(),
            interval_ms: 1000,
        };
        let error = select(vec![rule("ServiceDown"), rule("HighErrors")], &["ServiceDwn".into()])
            .unwrap_err()
            .to_string();
        assert!(error.contains("did you mean `ServiceDown`"), "{error}");
    }
}

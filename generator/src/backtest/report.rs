//! A backtest's findings as a terminal table, Markdown and JSON: per alert, how often it
//! fired, for how long, the notifications a day that means, its episodes, and the alerts
//! that never fired or could not be evaluated, each with the reason.

use std::fmt::Write as _;

use super::evaluate::Episode;
use super::labels_text;

/// One alert's replay.
#[derive(Debug, Clone)]
pub struct AlertReport {
    pub group: String,
    pub name: String,
    pub severity: Option<String>,
    pub for_ms: i64,
    pub interval_ms: i64,
    /// Every episode (fired or only pending), or why the query failed.
    pub outcome: Result<Vec<Episode>, String>,
    /// Alertmanager's repeat interval for each episode, in the order of the episodes.
    pub repeat_ms: Vec<i64>,
    /// What else the reader should know (a recording rule with no data…).
    pub notes: Vec<String>,
}

/// The whole replay.
#[derive(Debug, Clone)]
pub struct Report {
    pub prometheus: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub alerts: Vec<AlertReport>,
}

/// Episodes listed per alert in Markdown before the rest are counted.
const EPISODES_SHOWN: usize = 20;

/// `2026-12-01T10:00:00Z`.
pub fn timestamp(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// `2d 3h`, `1h 5m`, `4m 10s`, `750ms`.
pub fn span(ms: i64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let seconds = ms / 1000;
    let (d, h, m, s) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

impl AlertReport {
    /// Episodes that reached firing.
    pub fn fired(&self) -> Vec<&Episode> {
        match &self.outcome {
            Ok(episodes) => episodes.iter().filter(|e| e.fired_at.is_some()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Notifications Alertmanager would send for the firing: one per episode, plus one per
    /// repeat interval it kept firing (resolved notices not counted).
    pub fn notifications(&self, end: i64) -> u64 {
        let Ok(episodes) = &self.outcome else { return 0 };
        episodes
            .iter()
            .zip(&self.repeat_ms)
            .filter(|(e, _)| e.fired_at.is_some())
            .map(|(e, repeat)| 1 + (e.firing_ms(end) / (*repeat).max(1)) as u64)
            .sum()
    }

    /// Total milliseconds firing, across instances.
    pub fn firing_ms(&self, end: i64) -> i64 {
        self.fired().iter().map(|e| e.firing_ms(end)).sum()
    }
}

impl Report {
    fn days(&self) -> f64 {
        ((self.to_ms - self.from_ms) as f64 / 86_400_000.0).max(f64::MIN_POSITIVE)
    }

    pub fn per_day(&self, alert: &AlertReport) -> f64 {
        alert.notifications(self.to_ms) as f64 / self.days()
    }

    /// Alerts that were evaluated and never fired.
    pub fn never_fired(&self) -> Vec<&AlertReport> {
        self.alerts
            .iter()
            .filter(|a| a.outcome.is_ok() && a.fired().is_empty())
            .collect()
    }

    /// Alerts whose query failed.
    pub fn failed(&self) -> Vec<(&AlertReport, &str)> {
        self.alerts
            .iter()
            .filter_map(|a| a.outcome.as_ref().err().map(|e| (a, e.as_str())))
            .collect()
    }

    fn rows(&self) -> Vec<[String; 6]> {
        self.alerts
            .iter()
            .map(|a| {
                let fired = a.fired();
                let (count, firing, per_day, first) = match &a.outcome {
                    Err(_) => ("error".into(), "-".into(), "-".into(), "-".into()),
                    Ok(_) if fired.is_empty() => ("0".into(), "-".into(), "0".into(), "-".into()),
                    Ok(_) => (
                        fired.len().to_string(),
                        span(a.firing_ms(self.to_ms)),
                        format!("{:.1}", self.per_day(a)),
                        fired
                            .iter()
                            .filter_map(|e| e.fired_at)
                            .min()
                            .map(timestamp)
                            .unwrap_or_else(|| "-".into()),
                    ),
                };
                [
                    a.name.clone(),
                    a.severity.clone().unwrap_or_else(|| "-".into()),
                    count,
                    firing,
                    per_day,
                    first,
                ]
            })
            .collect()
    }

    fn header_line(&self) -> String {
        format!(
            "{} to {} ({}), {}",
            timestamp(self.from_ms),
            timestamp(self.to_ms),
            span(self.to_ms - self.from_ms),
            self.prometheus
        )
    }

    /// Aligned columns for a terminal.
    pub fn table(&self) -> String {
        let heading = ["alert", "severity", "fired", "firing", "notif/day", "first fired"].map(String::from);
        let rows = self.rows();
        let widths: Vec<usize> = (0..6)
            .map(|i| {
                rows.iter()
                    .map(|r| r[i].len())
                    .chain([heading[i].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = format!("backtest {}\n\n", self.header_line());
        for row in std::iter::once(&heading).chain(&rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        }
        self.trailer(&mut out, "");
        out
    }

    /// Never fired, failures and notes, as lines after the table.
    fn trailer(&self, out: &mut String, bullet: &str) {
        let never: Vec<&str> = self.never_fired().iter().map(|a| a.name.as_str()).collect();
        if !never.is_empty() {
            let _ = writeln!(out, "\n{bullet}Never fired: {}", never.join(", "));
        }
        for (alert, error) in self.failed() {
            let _ = writeln!(out, "{bullet}{} could not be evaluated: {error}", alert.name);
        }
        for alert in &self.alerts {
            for note in &alert.notes {
                let _ = writeln!(out, "{bullet}{}: {note}", alert.name);
            }
        }
    }

    /// A Markdown report: the table, then each alert's episodes.
    pub fn markdown(&self) -> String {
        let mut out = format!("### Backtest: {}\n\n", self.header_line());
        out.push_str("| alert | severity | fired | firing | notifications/day | first fired |\n");
        out.push_str("|---|---|---|---|---|---|\n");
        for row in self.rows() {
            let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        self.trailer(&mut out, "- ");
        for alert in &self.alerts {
            let fired = alert.fired();
            if fired.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n#### {} (group {}, `for` {}, every {})\n",
                alert.name,
                alert.group,
                span(alert.for_ms),
                span(alert.interval_ms)
            );
            for episode in fired.iter().take(EPISODES_SHOWN) {
                let _ = writeln!(
                    out,
                    "- {} fired {}, {}",
                    labels_text(&episode.labels).replace('|', "\\|"),
                    episode.fired_at.map(timestamp).unwrap_or_default(),
                    match episode.resolved_at {
                        Some(resolved) => format!(
                            "resolved {} after {}",
                            timestamp(resolved),
                            span(episode.firing_ms(resolved))
                        ),
                        None => "still firing at the end".into(),
                    }
                );
            }
            if fired.len() > EPISODES_SHOWN {
                let _ = writeln!(out, "- … and {} more", fired.len() - EPISODES_SHOWN);
            }
        }
        out
    }

    /// Everything, as data.
    pub fn json(&self) -> serde_json::Value {
        let alerts: Vec<serde_json::Value> = self
            .alerts
            .iter()
            .map(|a| {
                let episodes: Vec<serde_json::Value> = match &a.outcome {
                    Ok(episodes) => episodes
                        .iter()
                        .map(|e| {
                            serde_json::json!({
                                "labels": e.labels,
                                "active_at": timestamp(e.active_at),
                                "fired_at": e.fired_at.map(timestamp),
                                "resolved_at": e.resolved_at.map(timestamp),
                                "firing_seconds": e.firing_ms(self.to_ms) as f64 / 1000.0,
                            })
                        })
                        .collect(),
                    Err(_) => Vec::new(),
                };
                serde_json::json!({
                    "name": a.name,
                    "group": a.group,
                    "severity": a.severity,
                    "for_seconds": a.for_ms as f64 / 1000.0,
                    "interval_seconds": a.interval_ms as f64 / 1000.0,
                    "error": a.outcome.as_ref().err(),
                    "fired": a.fired().len(),
                    "firing_seconds": a.firing_ms(self.to_ms) as f64 / 1000.0,
                    "notifications": a.notifications(self.to_ms),
                    "notifications_per_day": self.per_day(a),
                    "episodes": episodes,
                    "notes": a.notes,
                })
            })
            .collect();
        serde_json::json!({
            "prometheus": self.prometheus,
            "from": timestamp(self.from_ms),
            "to": timestamp(self.to_ms),
            "alerts": alerts,
            "never_fired": self.never_fired().iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn report() -> Report {
        let episode = |fired: i64, resolved: Option<i64>| Episode {
            labels: BTreeMap::from([("instance".to_string(), "a|b".to_string())]),
            active_at: fired - 60_000,
            fired_at: Some(fired),
            resolved_at: resolved,
        };
        let day = 86_400_000;
        Report {
            prometheus: "http://127.0.0.1:9090".into(),
            from_ms: 0,
            to_ms: 2 * day,
            alerts: vec![
                AlertReport {
                    group: "g".into(),
                    name: "Flapping".into(),
                    severity: Some("warning".into()),
                    for_ms: 60_000,
                    interval_ms: 15_000,
                    outcome: Ok(vec![episode(3_600_000, Some(3_900_000)), episode(day, None)]),
                    repeat_ms: vec![4 * 3_600_000, 4 * 3_600_000],
                    notes: vec![],
                },
                AlertReport {
                    group: "g".into(),
                    name: "Quiet".into(),
                    severity: None,
                    for_ms: 0,
                    interval_ms: 15_000,
                    outcome: Ok(vec![]),
                    repeat_ms: vec![],
                    notes: vec!["a note".into()],
                },
                AlertReport {
                    group: "g".into(),
                    name: "Broken".into(),
                    severity: None,
                    for_ms: 0,
                    interval_ms: 15_000,
                    outcome: Err("Prometheus refused `x`: bad_data".into()),
                    repeat_ms: vec![],
                    notes: vec![],
                },
            ],
        }
    }

    #[test]
    fn notifications_count_episodes_and_repeats() {
        let report = report();
        // 1 for the short episode; 1 + 24h/4h = 7 for the one firing to the end.
        assert_eq!(report.alerts[0].notifications(report.to_ms), 8);
        assert_eq!(report.per_day(&report.alerts[0]), 4.0);
        assert_eq!(report.alerts[0].firing_ms(report.to_ms), 300_000 + 86_400_000);
    }

    #[test]
    fn every_format_names_never_fired_and_failed_alerts() {
        let report = report();
        let table = report.table();
        assert!(table.contains("Never fired: Quiet"), "{table}");
        assert!(
            table.contains("Broken could not be evaluated: Prometheus refused `x`"),
            "{table}"
        );
        assert!(table.contains("Quiet: a note"), "{table}");
        let markdown = report.markdown();
        assert!(
            markdown.contains("| Flapping | warning | 2 | 1d 0h | 4.0 | 1970-01-01T01:00:00Z |"),
            "{markdown}"
        );
        assert!(markdown.contains("instance=\"a\\|b\""), "pipes escaped: {markdown}");
        assert!(markdown.contains("still firing at the end"), "{markdown}");
        let json = report.json();
        assert_eq!(json["never_fired"][0], "Quiet");
        assert_eq!(json["alerts"][0]["notifications"], 8);
        assert_eq!(json["alerts"][2]["error"], "Prometheus refused `x`: bad_data");
    }

    #[test]
    fn spans_read_naturally() {
        assert_eq!(span(750), "750ms");
        assert_eq!(span(61_000), "1m 1s");
        assert_eq!(span(3_660_000), "1h 1m");
        assert_eq!(span(90_000_000), "1d 1h");
    }
}

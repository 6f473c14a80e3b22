//! What Prometheus itself did with its alerting rules, read back from its `ALERTS` series,
//! and the check that a backtest of the same rules over the same data agrees with it.

use generator::backtest::{Labels, Report};
use serde_json::Value;

use crate::{encode, Prometheus};

/// One firing stretch as Prometheus recorded it: its first and last `ALERTS` sample (ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub alertname: String,
    /// The series' labels besides `alertname` and `alertstate`.
    pub labels: Labels,
    pub first: i64,
    pub last: i64,
}

/// Every firing stretch of `[from, to]` (ms), from the raw `ALERTS` samples Prometheus
/// wrote at each rule evaluation; a gap over 1.5 evaluation steps starts a new stretch.
pub async fn firings(prometheus: &Prometheus, from: i64, to: i64, step: i64) -> Vec<Firing> {
    let seconds = (to - from + 999) / 1000;
    let expr = format!(r#"ALERTS{{alertstate="firing"}}[{seconds}s]"#);
    let url = format!(
        "{}/api/v1/query?query={}&time={}.{:03}",
        prometheus.base,
        encode(&expr),
        to / 1000,
        to % 1000
    );
    let response = runtime::http_client::get(&url, std::time::Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["status"], "success", "{body}");
    let mut out = Vec::new();
    for series in body["data"]["result"].as_array().into_iter().flatten() {
        let mut labels: Labels = series["metric"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let alertname = labels.remove("alertname").unwrap_or_default();
        labels.remove("alertstate");
        labels.remove("__name__");
        let stamps: Vec<i64> = series["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p[0].as_f64())
            .map(|t| (t * 1000.0).round() as i64)
            .filter(|t| *t >= from)
            .collect();
        let mut start: Option<(i64, i64)> = None;
        for t in stamps {
            start = match start {
                Some((first, last)) if t - last <= step * 3 / 2 => Some((first, t)),
                Some((first, last)) => {
                    out.push(Firing {
                        alertname: alertname.clone(),
                        labels: labels.clone(),
                        first,
                        last,
                    });
                    Some((t, t))
                }
                None => Some((t, t)),
            };
        }
        if let Some((first, last)) = start {
            out.push(Firing {
                alertname: alertname.clone(),
                labels: labels.clone(),
                first,
                last,
            });
        }
    }
    out.sort_by(|a, b| (&a.alertname, a.first).cmp(&(&b.alertname, b.first)));
    out
}

/// The backtest and Prometheus agree: every stretch Prometheus fired has a backtest episode
/// of the same alert and labels starting within one evaluation step, and resolving within
/// one step of Prometheus's resolution (the evaluation after its last sample) unless the
/// stretch ran to the end; and the backtest has no fired episode Prometheus did not.
/// Returns the number of stretches matched.
pub fn assert_agrees(report: &Report, firings: &[Firing], step: i64) -> usize {
    let mut matched = 0;
    let mut used = std::collections::BTreeSet::new();
    for firing in firings {
        let alert = report
            .alerts
            .iter()
            .find(|a| a.name == firing.alertname)
            .unwrap_or_else(|| {
                panic!(
                    "Prometheus fired {}, which the backtest did not replay",
                    firing.alertname
                )
            });
        let episodes = alert.fired();
        let found = episodes.iter().enumerate().find(|(i, e)| {
            !used.contains(&(alert.name.clone(), *i))
                && e.labels.iter().all(|(k, v)| firing.labels.get(k) == Some(v))
                && (e.fired_at.unwrap_or(i64::MIN) - firing.first).abs() <= step
        });
        let Some((index, episode)) = found else {
            panic!(
                "Prometheus fired {} {:?} from {} to {}, the backtest has no episode starting within {step} ms: {episodes:#?}",
                firing.alertname, firing.labels, firing.first, firing.last
            );
        };
        used.insert((alert.name.clone(), index));
        let prometheus_resolved = firing.last + step;
        // A stretch Prometheus resolved a step or more before the end is resolved in the
        // backtest too, within a step; one running to the end may still be firing there.
        if prometheus_resolved < report.to_ms - step {
            let resolved = episode.resolved_at.unwrap_or_else(|| {
                panic!(
                    "{} {:?}: Prometheus resolved it at {prometheus_resolved}, the backtest never did",
                    firing.alertname, firing.labels
                )
            });
            assert!(
                (resolved - prometheus_resolved).abs() <= step,
                "{} {:?}: backtest resolved at {resolved}, Prometheus at {prometheus_resolved}",
                firing.alertname,
                firing.labels
            );
        }
        matched += 1;
    }
    for alert in &report.alerts {
        for (index, episode) in alert.fired().iter().enumerate() {
            // An episode firing in the last step may not have reached ALERTS yet.
            let late = episode.fired_at.is_some_and(|t| t > report.to_ms - 2 * step);
            assert!(
                used.contains(&(alert.name.clone(), index)) || late,
                "the backtest fired {} {:?} at {:?}, Prometheus never did: {firings:#?}",
                alert.name,
                episode.labels,
                episode.fired_at
            );
        }
    }
    matched
}

//! The alerting state machine Prometheus runs at each rule evaluation, replayed over the
//! answers of a range query: a series that appears goes pending, fires once it has been
//! there for `for`, stays firing through gaps shorter than `keep_firing_for`, and resolves
//! at the first evaluation it is missing from.

use std::collections::BTreeMap;

/// Labels of one alert instance (the expression's result labels, `__name__` dropped).
pub type Labels = BTreeMap<String, String>;

/// One stretch of one alert instance from pending to resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    pub labels: Labels,
    /// First evaluation the expression returned this series (ms since the epoch).
    pub active_at: i64,
    /// First evaluation at which it had been active for `for`; `None`: it never fired.
    pub fired_at: Option<i64>,
    /// First evaluation it was gone (after `keep_firing_for`); `None`: still active at the end.
    pub resolved_at: Option<i64>,
}

impl Episode {
    /// Milliseconds it fired, up to `end` when still firing.
    pub fn firing_ms(&self, end: i64) -> i64 {
        match self.fired_at {
            Some(fired) => self.resolved_at.unwrap_or(end) - fired,
            None => 0,
        }
    }
}

#[derive(Debug)]
struct Active {
    active_at: i64,
    fired_at: Option<i64>,
    /// When the series went missing while firing, for `keep_firing_for`.
    missing_since: Option<i64>,
}

/// Replays one rule. `times` are the evaluation timestamps in order; `present[i]` is the set
/// of label sets the expression returned at `times[i]`. Returns every episode, fired or not,
/// in the order they ended (still active ones last).
pub fn replay(times: &[i64], present: &[Vec<Labels>], for_ms: i64, keep_firing_for_ms: i64) -> Vec<Episode> {
    let mut active: BTreeMap<Labels, Active> = BTreeMap::new();
    let mut episodes = Vec::new();
    for (&t, seen) in times.iter().zip(present) {
        for labels in seen {
            let alert = active.entry(labels.clone()).or_insert(Active {
                active_at: t,
                fired_at: None,
                missing_since: None,
            });
            alert.missing_since = None;
            if alert.fired_at.is_none() && t - alert.active_at >= for_ms {
                alert.fired_at = Some(t);
            }
        }
        let gone: Vec<Labels> = active.keys().filter(|labels| !seen.contains(labels)).cloned().collect();
        for labels in gone {
            let Some(alert) = active.get_mut(&labels) else { continue };
            if alert.fired_at.is_some() && keep_firing_for_ms > 0 {
                let since = *alert.missing_since.get_or_insert(t);
                if t - since < keep_firing_for_ms {
                    continue;
                }
            }
            if let Some(alert) = active.remove(&labels) {
                episodes.push(Episode {
                    labels,
                    active_at: alert.active_at,
                    fired_at: alert.fired_at,
                    resolved_at: Some(t),
                });
            }
        }
    }
    episodes.extend(active.into_iter().map(|(labels, alert)| Episode {
        labels,
        active_at: alert.active_at,
        fired_at: alert.fired_at,
        resolved_at: None,
    }));
    episodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(instance: &str) -> Labels {
        BTreeMap::from([("instance".to_string(), instance.to_string())])
    }

    /// Evaluations every 10 ms at 0, 10, … with `a` present at the steps marked `x`.
    fn run(pattern: &str, for_ms: i64, keep: i64) -> Vec<Episode> {
        let times: Vec<i64> = (0..pattern.len() as i64).map(|i| i * 10).collect();
        let present: Vec<Vec<Labels>> = pattern
            .chars()
            .map(|c| if c == 'x' { vec![labels("a")] } else { vec![] })
            .collect();
        replay(&times, &present, for_ms, keep)
    }

    fn spans(episodes: &[Episode]) -> Vec<(i64, Option<i64>, Option<i64>)> {
        episodes
            .iter()
            .map(|e| (e.active_at, e.fired_at, e.resolved_at))
            .collect()
    }

    #[test]
    fn fires_after_for_and_resolves_when_gone() {
        assert_eq!(spans(&run("..xxxxx..", 20, 0)), [(20, Some(40), Some(70))]);
    }

    #[test]
    fn without_for_it_fires_at_once() {
        assert_eq!(spans(&run(".x.", 0, 0)), [(10, Some(10), Some(20))]);
    }

    #[test]
    fn a_gap_while_pending_starts_over() {
        assert_eq!(
            spans(&run("xx.xxxx", 30, 0)),
            [(0, None, Some(20)), (30, Some(60), None)]
        );
    }

    #[test]
    fn keep_firing_for_bridges_short_gaps_only() {
        // Missing for one step (10 ms) under keep_firing_for 20 ms: still one episode.
        assert_eq!(spans(&run("xxx.xx...", 0, 20)), [(0, Some(0), Some(80))]);
        // Without it, two.
        assert_eq!(
            spans(&run("xxx.xx...", 0, 0)),
            [(0, Some(0), Some(30)), (40, Some(40), Some(60))]
        );
    }

    #[test]
    fn instances_are_tracked_apart() {
        let times = [0, 10, 20, 30];
        let present = vec![
            vec![labels("a")],
            vec![labels("a"), labels("b")],
            vec![labels("b")],
            vec![labels("b")],
        ];
        let episodes = replay(&times, &present, 10, 0);
        assert_eq!(episodes.len(), 2);
        assert_eq!(episodes[0].labels, labels("a"));
        assert_eq!(spans(&episodes), [(0, Some(10), Some(20)), (10, Some(20), None)]);
        assert_eq!(episodes[1].firing_ms(40), 20);
    }
}

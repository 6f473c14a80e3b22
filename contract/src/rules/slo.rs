//! SLO rules: error ratios over every burn-rate window, multi-window multi-burn-rate alerts
//! (Google SRE workbook; windows scaled to the SLO period) with a minimum-traffic guard,
//! error-budget series for dashboards, and generated promtool tests for each alert.

use std::collections::BTreeMap;

use crate::model::{Slo, Spec};
use crate::{Decimal, Duration};

use super::matching_labels::{good_example, Selector};
use super::{
    camel_case, AlertCheck, AlertContext, AlertView, ExpectedAlert, InputSeries, RecordingRule, Rule, RuleGroup,
    RuleTest,
};

/// Prefix of the SLI error-ratio series: `slo:sli_error:ratio_rate5m{slo="…"}`.
pub const SLO_ERROR_RATIO_PREFIX: &str = "slo:sli_error:ratio_rate";
/// Share of the period's error budget left (1 = untouched, 0 = spent, negative = overspent).
pub const SLO_ERROR_BUDGET_REMAINING: &str = "slo:error_budget:remaining";
/// The objective as a ratio, for dashboards.
pub const SLO_OBJECTIVE: &str = "slo:objective:ratio";

const REFERENCE_PERIOD_SECS: u64 = 30 * 86_400;
/// Requests per second in generated test traffic.
const TEST_RPS: u64 = 10;

/// Whether a window pair pages or opens a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BurnKind {
    Page,
    Ticket,
}

/// A long/short window pair and the burn factor both must exceed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BurnWindow {
    pub long: Duration,
    pub short: Duration,
    pub factor: Decimal,
    pub kind: BurnKind,
}

/// The four window pairs for a period. For 30 days: page on 1h&5m at 14.4× and 6h&30m at
/// 6×, ticket on 1d&2h at 3× and 3d&6h at 1×. Other periods scale the windows, which keeps
/// the share of budget each pair guards (2%, 5%, 10%, 10%) and therefore the factors.
pub fn burn_windows(period: Duration) -> Vec<BurnWindow> {
    let base: [(u64, u64, &str, BurnKind); 4] = [
        (3600, 300, "14.4", BurnKind::Page),
        (6 * 3600, 1800, "6", BurnKind::Page),
        (86_400, 2 * 3600, "3", BurnKind::Ticket),
        (3 * 86_400, 6 * 3600, "1", BurnKind::Ticket),
    ];
    let scale = |secs: u64| {
        let scaled = Duration::from_secs(secs).mul_ratio(period.as_millis(), REFERENCE_PERIOD_SECS * 1000);
        // Whole seconds: Prometheus accepts `ms`, but nobody wants to read `4m40s120ms`.
        Duration::from_secs((scaled.as_millis() / 1000).max(1))
    };
    base.iter()
        .map(|&(long, short, factor, kind)| BurnWindow {
            long: scale(long),
            short: scale(short),
            factor: Decimal::parse(factor).unwrap_or(Decimal::ZERO),
            kind,
        })
        .collect()
}

/// `HttpAvailabilityBurnRate1h`: distinct per SLO and per window pair.
pub fn slo_alert_name(slo_name: &str, window: &BurnWindow) -> String {
    format!("{}BurnRate{}", camel_case(slo_name), window.long)
}

/// Share of events allowed to be bad: `(100 - objective) / 100`, exactly.
pub fn error_budget(objective: Decimal) -> Decimal {
    Decimal::from_int(100)
        .checked_sub(objective)
        .unwrap_or(Decimal::ZERO)
        .shift_left(2)
}

fn ratio_name(window: Duration) -> String {
    format!("{SLO_ERROR_RATIO_PREFIX}{window}")
}

fn selector_text(metric: &str, labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return metric.to_string();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", crate::promql::quote(v)))
        .collect();
    format!("{metric}{{{}}}", inner.join(", "))
}

/// How an SLO counts bad and total events, as PromQL for a window.
struct Indicator {
    bad_ratio: String,
    total: String,
}

impl Indicator {
    fn of(slo: &Slo, context: &AlertContext) -> Option<Self> {
        if let (Some(errors), Some(total)) = (&slo.sli.errors, &slo.sli.total) {
            return Some(Self {
                // `> 0` on the total: a window without traffic has no ratio rather than
                // 0/0 = NaN, which would poison every average taken over it (the period's
                // error ratio, so the budget, for a whole period). `or vector(0)`: a service
                // that never failed has no error series, and its ratio is 0, not absent.
                bad_ratio: format!(
                    "(sum(rate({}[{{w}}])) or vector(0)) / (sum(rate({}[{{w}}])) > 0)",
                    errors.trim(),
                    total.trim()
                ),
                total: format!("sum(rate({}[{{w}}]))", total.trim()),
            });
        }
        let latency = slo.sli.latency.as_ref()?;
        let filter = latency.filter.as_deref().map(str::trim).filter(|f| !f.is_empty());
        if context.is_native(&latency.metric) {
            let series = match filter {
                Some(filter) => format!("{}{{{filter}}}", latency.metric),
                None => latency.metric.clone(),
            };
            let rate = format!("sum(rate({series}[{{w}}]))");
            // The share above the threshold, interpolated within the native bucket it falls
            // in; `and … > 0`: a window without requests has no ratio (as above).
            return Some(Self {
                bad_ratio: format!(
                    "1 - (histogram_fraction(0, {}, {rate}) and histogram_count({rate}) > 0)",
                    latency.threshold
                ),
                total: format!("histogram_count({rate})"),
            });
        }
        let le = le_matcher(latency.threshold);
        let bucket_matchers = match filter {
            Some(filter) => format!("{filter}, {le}"),
            None => le,
        };
        let count = match filter {
            Some(filter) => format!("{}_count{{{filter}}}", latency.metric),
            None => format!("{}_count", latency.metric),
        };
        Some(Self {
            bad_ratio: format!(
                "1 - (sum(rate({}_bucket{{{bucket_matchers}}}[{{w}}])) / (sum(rate({count}[{{w}}])) > 0))",
                latency.metric
            ),
            total: format!("sum(rate({count}[{{w}}]))"),
        })
    }

    fn bad_ratio(&self, window: Duration) -> String {
        self.bad_ratio.replace("{w}", &window.to_string())
    }

    fn total(&self, window: Duration) -> String {
        self.total.replace("{w}", &window.to_string())
    }
}

/// `le="0.5"`; whole numbers also match `1.0`, as Python and Java clients print them.
fn le_matcher(threshold: Decimal) -> String {
    let text = threshold.to_string();
    if text.contains('.') {
        format!("le=\"{text}\"")
    } else {
        format!("le=~\"{text}|{text}.0\"")
    }
}

pub(super) struct SloRules {
    pub groups: Vec<RuleGroup>,
    pub tests: Vec<RuleTest>,
    pub untested: Vec<(usize, String)>,
    /// Rule evaluation step for the tests: the shortest window of any SLO.
    pub evaluation_interval: Duration,
}

pub(super) fn slo_rules(spec: &Spec, context: &AlertContext) -> SloRules {
    let mut out = SloRules {
        groups: Vec::new(),
        tests: Vec::new(),
        untested: Vec::new(),
        evaluation_interval: Duration::from_secs(300),
    };
    for (index, slo) in spec.slos.iter().enumerate() {
        let Some(indicator) = Indicator::of(slo, context) else {
            continue;
        };
        let windows = burn_windows(slo.period);
        if let Some(shortest) = windows.iter().map(|w| w.short).min() {
            out.evaluation_interval = out.evaluation_interval.min(shortest);
        }
        let mut rules = Vec::new();
        let mut slo_labels = slo.labels.clone();
        slo_labels.insert("slo".into(), slo.name.clone());
        let mut distinct: Vec<Duration> = windows.iter().flat_map(|w| [w.short, w.long]).collect();
        distinct.sort();
        distinct.dedup();
        for window in &distinct {
            rules.push(Rule::Record(RecordingRule {
                record: ratio_name(*window),
                expr: indicator.bad_ratio(*window),
                labels: slo_labels.clone(),
            }));
        }
        let budget = error_budget(slo.objective);
        let shortest = distinct.first().copied().unwrap_or(Duration::from_secs(300));
        let slo_selector = format!("{{slo=\"{}\"}}", crate::promql::quote(&slo.name));
        rules.push(Rule::Record(RecordingRule {
            record: ratio_name(slo.period),
            expr: format!("avg_over_time({}{slo_selector}[{}])", ratio_name(shortest), slo.period),
            labels: slo_labels.clone(),
        }));
        rules.push(Rule::Record(RecordingRule {
            record: SLO_ERROR_BUDGET_REMAINING.into(),
            expr: format!("1 - {}{slo_selector} / {budget}", ratio_name(slo.period)),
            labels: slo_labels.clone(),
        }));
        rules.push(Rule::Record(RecordingRule {
            record: SLO_OBJECTIVE.into(),
            expr: format!("vector({})", slo.objective.shift_left(2)),
            labels: slo_labels.clone(),
        }));
        let mut alerts = Vec::new();
        if slo.alerting.enabled {
            for window in &windows {
                let alert = burn_alert(slo, index, window, budget, &indicator, context, &slo_labels);
                alerts.push(alert.clone());
                rules.push(Rule::Alert(alert));
            }
            match slo_tests(slo, &windows, budget, &alerts, context) {
                Ok(tests) => out.tests.extend(tests),
                Err(reason) => out.untested.push((index, reason)),
            }
        }
        out.groups.push(RuleGroup {
            name: format!("{}.slo.{}", spec.service.name, slo.name),
            interval: None,
            rules,
        });
    }
    out
}

fn burn_alert(
    slo: &Slo,
    index: usize,
    window: &BurnWindow,
    budget: Decimal,
    indicator: &Indicator,
    context: &AlertContext,
    slo_labels: &BTreeMap<String, String>,
) -> AlertView {
    let threshold = window.factor.checked_mul(budget).unwrap_or(budget);
    let selector = format!("{{slo=\"{}\"}}", crate::promql::quote(&slo.name));
    let mut expr = format!(
        "{long}{selector} > {threshold}\nand\n{short}{selector} > {threshold}",
        long = ratio_name(window.long),
        short = ratio_name(window.short),
    );
    if let Some(min) = &slo.min_traffic {
        expr.push_str(&format!(
            "\nand on() ({} * {} >= {})",
            indicator.total(window.short),
            min.per_seconds(),
            min.count
        ));
    }
    let name = slo_alert_name(&slo.name, window);
    let severity = match window.kind {
        BurnKind::Page => slo.alerting.page_severity,
        BurnKind::Ticket => slo.alerting.ticket_severity,
    };
    let mut labels = context.static_labels.clone();
    labels.extend(slo_labels.clone());
    labels.insert("severity".into(), severity.as_str().into());
    labels.insert("window".into(), window.long.to_string());
    let percent = |d: Decimal| d.checked_mul(Decimal::from_int(100)).unwrap_or(d);
    let mut annotations = BTreeMap::new();
    annotations.insert(
        "summary".to_string(),
        format!(
            "The {} SLO is spending its error budget {}x faster than it can afford.",
            slo.name, window.factor
        ),
    );
    annotations.insert(
        "description".to_string(),
        format!(
            "Over both the last {} and the last {}, more than {}% of events were bad (objective {}%, budget {}% over {}). At this pace the whole budget is gone well before the period ends.",
            window.long,
            window.short,
            percent(threshold),
            slo.objective,
            percent(budget),
            slo.period
        ),
    );
    if let Some(runbook) = context.runbook_for(&name) {
        annotations.insert("runbook_url".into(), runbook);
    }
    AlertView {
        name,
        expr,
        for_: None,
        labels,
        annotations,
        spec_path: format!("slos[{index}]"),
    }
}

/// Input series of an SLO test: `bad` of every `total` events per interval are bad.
fn test_series(
    slo: &Slo,
    per_interval: Decimal,
    bad_share: Decimal,
    samples: u64,
    context: &AlertContext,
) -> Result<Vec<InputSeries>, String> {
    let bad = per_interval.checked_mul(bad_share).ok_or("numbers too large")?;
    let good = per_interval.checked_sub(bad).ok_or("numbers too large")?;
    let counter = |increment: Decimal| format!("0+{increment}x{samples}");
    if let (Some(errors), Some(total)) = (&slo.sli.errors, &slo.sli.total) {
        let errors_sel = Selector::parse(errors).ok_or_else(|| format!("`{errors}` is not a plain selector"))?;
        let total_sel = Selector::parse(total).ok_or_else(|| format!("`{total}` is not a plain selector"))?;
        let bad_labels = errors_sel
            .example()
            .ok_or_else(|| format!("no label values satisfy `{errors}`"))?;
        if total_sel.matches(&errors_sel.metric, &bad_labels) {
            let good_labels = good_example(&total_sel, &errors_sel)
                .ok_or_else(|| format!("no label values satisfy `{total}` without also satisfying `{errors}`"))?;
            return Ok(vec![
                InputSeries {
                    series: selector_text(&errors_sel.metric, &bad_labels),
                    values: counter(bad),
                },
                InputSeries {
                    series: selector_text(&total_sel.metric, &good_labels),
                    values: counter(good),
                },
            ]);
        }
        let total_labels = total_sel
            .example()
            .ok_or_else(|| format!("no label values satisfy `{total}`"))?;
        return Ok(vec![
            InputSeries {
                series: selector_text(&errors_sel.metric, &bad_labels),
                values: counter(bad),
            },
            InputSeries {
                series: selector_text(&total_sel.metric, &total_labels),
                values: counter(per_interval),
            },
        ]);
    }
    let latency = slo.sli.latency.as_ref().ok_or("the SLO has no indicator")?;
    let filter = latency.filter.as_deref().unwrap_or("");
    if context.is_native(&latency.metric) {
        return native_test_series(latency, filter, per_interval, good, bad, samples, context);
    }
    let base = Selector::parse(&format!("{}_count{{{filter}}}", latency.metric))
        .ok_or_else(|| format!("`{filter}` is not a list of label matchers"))?;
    let mut labels = base
        .example()
        .ok_or_else(|| format!("no label values satisfy `{filter}`"))?;
    let count = selector_text(&format!("{}_count", latency.metric), &labels);
    labels.insert("le".into(), latency.threshold.to_string());
    let fast = selector_text(&format!("{}_bucket", latency.metric), &labels);
    Ok(vec![
        InputSeries {
            series: fast,
            values: counter(good),
        },
        InputSeries {
            series: count,
            values: counter(per_interval),
        },
    ])
}

/// The input of a native-histogram latency SLO's test: one histogram series whose good
/// events fall in a schema-0 bucket wholly at or under the threshold and whose bad ones
/// fall in one wholly above it, so the fraction under the threshold is exact.
fn native_test_series(
    latency: &crate::model::LatencySli,
    filter: &str,
    per_interval: Decimal,
    good: Decimal,
    bad: Decimal,
    samples: u64,
    context: &AlertContext,
) -> Result<Vec<InputSeries>, String> {
    if context.prometheus.is_some_and(|v| v.major < 3) {
        return Err(
            "promtool 2.x reads no native-histogram test series; the rules are checked with `promtool check rules` only"
                .into(),
        );
    }
    let threshold = latency.threshold.to_f64();
    if !(threshold > 0.0 && threshold.is_finite()) {
        return Err(format!(
            "the threshold {} is not a positive duration",
            latency.threshold
        ));
    }
    let base = Selector::parse(&format!("{}{{{filter}}}", latency.metric))
        .ok_or_else(|| format!("`{filter}` is not a list of label matchers"))?;
    let labels = base
        .example()
        .ok_or_else(|| format!("no label values satisfy `{filter}`"))?;
    // Schema 0: bucket k holds (2^(k-1), 2^k]. The good bucket ends at or under the
    // threshold; the bad one starts at or above it.
    let exponent = threshold.log2();
    let good_key = exponent.floor() as i64;
    let bad_key = if exponent.fract() == 0.0 {
        good_key + 1
    } else {
        good_key + 2
    };
    let mut buckets = vec![good.to_string()];
    buckets.extend(std::iter::repeat_n("0".to_string(), (bad_key - good_key - 1) as usize));
    buckets.push(bad.to_string());
    let sum = per_interval.checked_mul(latency.threshold).ok_or("numbers too large")?;
    Ok(vec![InputSeries {
        series: selector_text(&latency.metric, &labels),
        values: format!(
            "{{{{schema:0 sum:0 count:0}}}}+{{{{schema:0 sum:{sum} count:{per_interval} offset:{good_key} buckets:[{}]}}}}x{samples}",
            buckets.join(" ")
        ),
    }])
}

fn slo_tests(
    slo: &Slo,
    windows: &[BurnWindow],
    budget: Decimal,
    alerts: &[AlertView],
    context: &AlertContext,
) -> Result<Vec<RuleTest>, String> {
    let one = Decimal::from_int(1);
    let shortest = windows.iter().map(|w| w.short).min().ok_or("no windows")?;
    // Five samples in the shortest window keep every rate() well defined.
    let interval = Duration::from_secs((shortest.as_millis() / 5000).clamp(1, 60));
    let interval_secs = interval.as_millis() / 1000;
    let per_interval = Decimal::from_int(i64::try_from(TEST_RPS * interval_secs).map_err(|_| "interval too long")?);
    let threshold = |w: &BurnWindow| w.factor.checked_mul(budget).unwrap_or(one);
    let fired = |alert: &AlertView| ExpectedAlert {
        labels: alert.labels.clone(),
        annotations: alert.annotations.clone(),
    };
    let samples_until = |eval: Duration| eval.as_millis() / interval.as_millis() + 1;
    let silent_checks = |eval: Duration, share: Decimal| -> Vec<AlertCheck> {
        windows
            .iter()
            .zip(alerts)
            .filter(|(w, _)| share < threshold(w))
            .map(|(_, alert)| AlertCheck {
                eval_time: eval,
                alertname: alert.name.clone(),
                expected: Vec::new(),
            })
            .collect()
    };
    let mut tests = Vec::new();
    for (window, alert) in windows.iter().zip(alerts) {
        let t = threshold(window);
        if t >= one {
            continue; // this pair cannot fire: even 100% bad events stay under its threshold
        }
        let share = t
            .checked_mul(Decimal::parse("1.5").unwrap_or(one))
            .filter(|s| *s < one)
            .unwrap_or(one);
        // The guard's window (the short one) is full of data from here on.
        let eval = Duration::from_millis(window.short.as_millis() + shortest.as_millis());
        let mut checks = vec![AlertCheck {
            eval_time: eval,
            alertname: alert.name.clone(),
            expected: vec![fired(alert)],
        }];
        checks.extend(silent_checks(eval, share));
        let kind = match window.kind {
            BurnKind::Page => "pages",
            BurnKind::Ticket => "opens a ticket",
        };
        tests.push(RuleTest {
            name: format!(
                "{}: {}% of events failing over {} and {} {kind}",
                slo.name,
                share.checked_mul(Decimal::from_int(100)).unwrap_or(share),
                window.long,
                window.short
            ),
            interval,
            input_series: test_series(slo, per_interval, share, samples_until(eval), context)?,
            checks,
        });
    }
    let healthy_share = budget
        .checked_mul(Decimal::parse("0.5").unwrap_or(one))
        .unwrap_or(Decimal::ZERO);
    // Silence needs no full windows: below every threshold nothing can fire, and a partly
    // filled guard window only lowers the traffic it sees.
    let healthy_eval = Duration::from_millis((shortest.as_millis() * 2).max(3_600_000));
    tests.push(RuleTest {
        name: format!("{}: healthy traffic within budget stays silent", slo.name),
        interval,
        input_series: test_series(slo, per_interval, healthy_share, samples_until(healthy_eval), context)?,
        checks: silent_checks(healthy_eval, healthy_share),
    });
    if let Some(min) = &slo.min_traffic {
        // Half the minimum traffic, every event bad: only the guard keeps the alerts quiet.
        let low = Decimal::from_f64(min.count.to_f64() * interval_secs as f64 * 0.5 / min.per_seconds() as f64)
            .ok_or("numbers too large")?;
        let eval = healthy_eval;
        let mut checks = Vec::new();
        for alert in alerts {
            checks.push(AlertCheck {
                eval_time: eval,
                alertname: alert.name.clone(),
                expected: Vec::new(),
            });
        }
        tests.push(RuleTest {
            name: format!("{}: every event failing below {} stays silent", slo.name, min),
            interval,
            input_series: test_series(slo, low, one, samples_until(eval), context)?,
            checks,
        });
    }
    Ok(tests)
}

//! The live drift check: a running service's exposition compared with its spec — metrics
//! declared but missing, present but undeclared, of the wrong type, with the wrong label
//! names, with values outside a closed set, or with more series than their budget.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::catalog::{Catalog, Family, OVERFLOW_VALUE};
use crate::exposition::ParsedFamily;
use crate::model::MetricType;

/// What kind of drift a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DriftKind {
    Missing,
    Undeclared,
    WrongType,
    WrongLabels,
    UnknownValue,
    OverBudget,
}

impl DriftKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Undeclared => "undeclared",
            Self::WrongType => "wrong-type",
            Self::WrongLabels => "wrong-labels",
            Self::UnknownValue => "unknown-value",
            Self::OverBudget => "over-budget",
        }
    }
}

/// One difference between the spec and the exposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: DriftKind,
    pub metric: String,
    pub detail: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:<13} {}: {}", self.kind.as_str(), self.metric, self.detail)
    }
}

fn type_name(kind: MetricType) -> &'static str {
    kind.as_str()
}

fn check_family(declared: &Family, found: &ParsedFamily, findings: &mut Vec<Finding>) {
    let name = &declared.name;
    let expected_type = type_name(declared.kind);
    match found.kind.as_deref() {
        Some(kind) if kind == expected_type => {}
        Some(kind) => findings.push(Finding {
            kind: DriftKind::WrongType,
            metric: name.clone(),
            detail: format!("exposed as {kind}, declared as {expected_type}"),
        }),
        None => findings.push(Finding {
            kind: DriftKind::WrongType,
            metric: name.clone(),
            detail: format!("exposed without a TYPE, declared as {expected_type}"),
        }),
    }
    let expected: BTreeSet<String> = declared.label_names().map(String::from).collect();
    let mut reported_labels = false;
    let mut series: BTreeSet<Vec<(String, String)>> = BTreeSet::new();
    let mut unknown: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for sample in &found.samples {
        let labels: BTreeSet<String> = sample.own_labels().map(|(name, _)| name.to_string()).collect();
        if labels != expected && !reported_labels {
            reported_labels = true;
            findings.push(Finding {
                kind: DriftKind::WrongLabels,
                metric: name.clone(),
                detail: format!(
                    "exposed with labels {{{}}}, declared {{{}}}",
                    labels.into_iter().collect::<Vec<_>>().join(", "),
                    expected.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            });
        }
        for label in &declared.labels {
            let Some(values) = &label.values else { continue };
            if let Some(value) = sample.labels.get(&label.name) {
                if !values.contains(value) && value != OVERFLOW_VALUE {
                    unknown.entry(label.name.clone()).or_default().insert(value.clone());
                }
            }
        }
        series.insert(
            sample
                .labels
                .iter()
                .filter(|(k, _)| k.as_str() != "le")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        );
    }
    for (label, values) in unknown {
        findings.push(Finding {
            kind: DriftKind::UnknownValue,
            metric: name.clone(),
            detail: format!(
                "label `{label}` has values outside its declared set: {}",
                values.into_iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }
    if series.len() as u64 > declared.max_series {
        findings.push(Finding {
            kind: DriftKind::OverBudget,
            metric: name.clone(),
            detail: format!("{} series, budget {}", series.len(), declared.max_series),
        });
    }
}

/// Compares an exposition with the families `component` should expose.
pub fn compare(catalog: &Catalog, component: &str, exposed: &[ParsedFamily]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let by_name: BTreeMap<String, &ParsedFamily> = exposed.iter().map(|f| (f.declared_name(), f)).collect();
    let declared: Vec<&Family> = catalog.for_component(component).collect();
    for family in &declared {
        match by_name.get(&family.name) {
            Some(found) => check_family(family, found, &mut findings),
            None => findings.push(Finding {
                kind: DriftKind::Missing,
                metric: family.name.clone(),
                detail: "declared in the spec, not exposed".into(),
            }),
        }
    }
    for (name, found) in &by_name {
        if !declared.iter().any(|f| &f.name == name) {
            let kind = found.kind.clone().unwrap_or_else(|| "untyped".into());
            findings.push(Finding {
                kind: DriftKind::Undeclared,
                metric: name.clone(),
                detail: format!(
                    "exposed ({kind}, {} samples), not declared in the spec",
                    found.samples.len()
                ),
            });
        }
    }
    findings.sort_by(|a, b| (a.kind, &a.metric).cmp(&(b.kind, &b.metric)));
    findings
}

/// The component whose families best match an exposition (for specs with several).
pub fn likely_component(catalog: &Catalog, components: &[String], exposed: &[ParsedFamily]) -> Option<String> {
    let names: BTreeSet<String> = exposed.iter().map(ParsedFamily::declared_name).collect();
    components
        .iter()
        .max_by_key(|component| {
            catalog
                .for_component(component)
                .filter(|f| names.contains(&f.name))
                .count()
        })
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::parse;

    fn catalog() -> Catalog {
        let spec: crate::Spec = serde_yaml::from_str(
            "service: {name: s}\nmetrics:\n  custom:\n    - {name: a_total, type: counter, help: A., labels: [{name: kind, values: [x, y]}]}\n    - {name: g, type: gauge, help: G., labels: [{name: c, max_series: 2}], max_series: 3}",
        )
        .unwrap();
        Catalog::from_spec(&spec)
    }

    #[test]
    fn a_matching_exposition_has_no_findings() {
        let text = "# TYPE a_total counter\na_total{kind=\"x\"} 1\n# TYPE g gauge\ng{c=\"1\"} 2\n# TYPE obs_series_dropped_total counter\nobs_series_dropped_total{metric=\"g\"} 0\n";
        assert!(compare(&catalog(), "app", &parse(text).unwrap()).is_empty());
    }

    #[test]
    fn reports_each_kind_of_drift() {
        let text = "# TYPE a_total gauge\na_total{kind=\"z\"} 1\n# TYPE g gauge\ng{c=\"1\",extra=\"1\"} 1\ng{c=\"2\",extra=\"1\"} 1\ng{c=\"3\",extra=\"1\"} 1\ng{c=\"4\",extra=\"1\"} 1\n# TYPE rogue counter\nrogue 1\n";
        let findings = compare(&catalog(), "app", &parse(text).unwrap());
        let kinds: Vec<DriftKind> = findings.iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds,
            [
                DriftKind::Missing,
                DriftKind::Undeclared,
                DriftKind::WrongType,
                DriftKind::WrongLabels,
                DriftKind::UnknownValue,
                DriftKind::OverBudget
            ],
            "{findings:#?}"
        );
        assert_eq!(findings[0].metric, "obs_series_dropped_total");
        assert!(findings[4].to_string().contains("values outside its declared set: z"));
    }
}

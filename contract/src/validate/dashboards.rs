//! Dashboard checks: uids Grafana accepts, one data source per panel, metric references
//! that resolve, quantiles only on histograms, widths that fit the 24-column grid.

use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::{MetricType, MetricView, PanelDatasource, PanelType};

use super::{report_duplicates, Checker};

use crate::resolve::dashboards::MAX_UID;

pub(super) fn check_all(checker: &mut Checker) {
    check_identity(checker);
    check_panels(checker);
}

fn check_identity(checker: &mut Checker) {
    let spec = checker.spec;
    let mut uids = Vec::new();
    for (d, dashboard) in spec.dashboards.iter().enumerate() {
        let path = format!("dashboards[{d}]");
        if dashboard.title.is_none() && !dashboard.overview {
            checker.push(Diagnostic::new(
                Code::DashboardTitleMissing,
                path.clone(),
                "a dashboard needs a `title` (only an overview gets one by default)",
            ));
        }
        if let Some(uid) = &dashboard.uid {
            let valid = !uid.is_empty() && uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid || uid.len() > MAX_UID {
                checker.push(
                    Diagnostic::new(
                        Code::DashboardUidInvalid,
                        format!("{path}.uid"),
                        format!("uid `{uid}` is not 1 to {MAX_UID} characters of letters, digits, `-` and `_`"),
                    )
                    .with_help("Grafana rejects such uids"),
                );
            }
        }
        if !dashboard.overview && dashboard.panels.is_empty() {
            checker.push(Diagnostic::new(
                Code::DashboardEmpty,
                format!("{path}.panels"),
                "the dashboard has no panels",
            ));
        }
        let identity = &checker.dashboards[d];
        let uid_path = if dashboard.uid.is_some() {
            format!("{path}.uid")
        } else {
            // No uid written: it comes from the title, and that is what to change.
            format!("{path}.title")
        };
        uids.push((uid_path, identity.uid.as_str()));
    }
    report_duplicates(
        checker,
        Code::DashboardUidDuplicate,
        "dashboard uid",
        uids.iter().map(|(p, u)| (p.clone(), *u)),
    );
}

fn check_panels(checker: &mut Checker) {
    let spec = checker.spec;
    for (d, dashboard) in spec.dashboards.iter().enumerate() {
        for (p, panel) in dashboard.panels.iter().enumerate() {
            let path = format!("dashboards[{d}].panels[{p}]");
            let sources = [panel.query.is_some(), !panel.queries.is_empty(), panel.metric.is_some()]
                .iter()
                .filter(|s| **s)
                .count();
            match panel.kind {
                PanelType::Text => {
                    if panel.content.is_none() {
                        checker.push(Diagnostic::new(
                            Code::PanelContentMissing,
                            path.clone(),
                            format!("text panel `{}` has no `content`", panel.title),
                        ));
                    }
                    if sources > 0 {
                        checker.push(Diagnostic::new(
                            Code::PanelQueryUnused,
                            path.clone(),
                            "a text panel runs no query",
                        ));
                    }
                }
                _ if panel.kind == PanelType::Logs || panel.datasource == PanelDatasource::Loki => {
                    if panel.query.is_none() && panel.queries.is_empty() {
                        checker.push(
                            Diagnostic::new(
                                Code::PanelQueryMissing,
                                path.clone(),
                                format!("logs panel `{}` needs a LogQL `query`", panel.title),
                            )
                            .with_help("e.g. `{service=\"api\"} |= \"ERROR\"`"),
                        );
                    }
                    if spec.logging.loki.is_none() {
                        checker.push(
                            Diagnostic::new(
                                Code::PanelLogsWithoutLoki,
                                path.clone(),
                                "a logs panel reads Loki, but `logging.loki` is not set",
                            )
                            .with_help("ship logs to Loki or remove the panel"),
                        );
                    }
                }
                _ => match sources {
                    0 => checker.push(
                        Diagnostic::new(
                            Code::PanelQueryMissing,
                            path.clone(),
                            format!("panel `{}` shows nothing", panel.title),
                        )
                        .with_help("give `query`, `queries`, or a declared `metric`"),
                    ),
                    1 => {}
                    _ => checker.push(
                        Diagnostic::new(
                            Code::PanelQueryAmbiguous,
                            path.clone(),
                            format!(
                                "panel `{}` has more than one of `query`, `queries` and `metric`",
                                panel.title
                            ),
                        )
                        .with_help("keep one"),
                    ),
                },
            }
            if let Some(width) = panel.width {
                if width == 0 || width > 24 {
                    checker.push(
                        Diagnostic::new(
                            Code::PanelWidth,
                            format!("{path}.width"),
                            format!("width {width} does not fit the 24-column grid"),
                        )
                        .with_help("use 1 to 24"),
                    );
                }
            }
            if panel.height == Some(0) {
                checker.push(Diagnostic::new(
                    Code::PanelHeight,
                    format!("{path}.height"),
                    "height 0 hides the panel",
                ));
            }
            check_metric_reference(checker, &path, panel);
        }
    }
}

fn check_metric_reference(checker: &mut Checker, path: &str, panel: &crate::model::Panel) {
    let Some(metric) = &panel.metric else {
        if !panel.quantiles.is_empty() {
            checker.push(Diagnostic::new(
                Code::PanelQuantilesUnused,
                format!("{path}.quantiles"),
                "`quantiles` apply to a histogram `metric` only",
            ));
        }
        return;
    };
    let Some(family) = checker.catalog.get(metric) else {
        let names = checker.catalog.families.iter().map(|f| f.name.as_str());
        let mut diagnostic = Diagnostic::new(
            Code::PanelMetricUnknown,
            format!("{path}.metric"),
            format!("panel `{}` shows `{metric}`, which is not declared", panel.title),
        );
        if let Some(close) = crate::suggest::closest(metric, names) {
            diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
        }
        checker.push(diagnostic);
        return;
    };
    let kind = family.kind;
    let labels: Vec<String> = family.label_names().map(String::from).collect();
    for (q, quantile) in panel.quantiles.iter().enumerate() {
        if kind != MetricType::Histogram {
            checker.push(Diagnostic::new(
                Code::PanelQuantilesUnused,
                format!("{path}.quantiles[{q}]"),
                format!("`{metric}` is a {}; quantiles need a histogram", kind.as_str()),
            ));
            break;
        }
        super::alerting::check_quantile(checker, format!("{path}.quantiles[{q}]"), *quantile);
    }
    if matches!(panel.view, Some(MetricView::Rate | MetricView::Increase)) && kind == MetricType::Gauge {
        checker.push(
            Diagnostic::new(
                Code::PanelViewGauge,
                format!("{path}.view"),
                format!("`{metric}` is a gauge; rate() of a gauge is rarely meaningful"),
            )
            .with_help("use `view: value`, or `deriv()` in a query"),
        );
    }
    for (b, label) in panel.by.iter().enumerate() {
        if !labels.contains(label) && label != "job" && label != "instance" {
            checker.push(
                Diagnostic::new(
                    Code::PanelByUnknown,
                    format!("{path}.by[{b}]"),
                    format!("`{metric}` has no label `{label}`"),
                )
                .with_help(format!("its labels: {}", labels.join(", "))),
            );
        }
    }
}

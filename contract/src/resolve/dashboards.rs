//! The identity of every dashboard, decided once: its uid (as written, or derived from its
//! title) and its title (as written, or `<service> Overview` for an overview).

use crate::model::{Dashboard, Spec};

/// Grafana's limit on a dashboard uid.
pub const MAX_UID: usize = 40;

/// What a dashboard is called and where Grafana files it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardIdentity {
    pub uid: String,
    pub title: String,
}

impl DashboardIdentity {
    pub fn of(spec: &Spec, dashboard: &Dashboard) -> Self {
        Self {
            uid: uid(spec, dashboard),
            title: title(spec, dashboard),
        }
    }
}

/// The uid a dashboard gets: as written, or derived from its title.
fn uid(spec: &Spec, dashboard: &Dashboard) -> String {
    if let Some(uid) = &dashboard.uid {
        return uid.clone();
    }
    let title = title(spec, dashboard);
    let mut uid = String::new();
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            uid.push(c.to_ascii_lowercase());
        } else if !uid.ends_with('-') && !uid.is_empty() {
            uid.push('-');
        }
    }
    let uid = uid.trim_end_matches('-');
    uid.chars()
        .take(MAX_UID)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string()
}

/// The title a dashboard gets: as written, or `<service> Overview` for an overview.
fn title(spec: &Spec, dashboard: &Dashboard) -> String {
    dashboard
        .title
        .clone()
        .unwrap_or_else(|| format!("{} Overview", spec.service.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_come_from_titles_when_not_written() {
        let spec: Spec = serde_yaml::from_str(
            "service: {name: shop}\ndashboards:\n  - {overview: true}\n  - {title: 'Checkout — p95 & errors!', panels: []}\n  - {title: T, uid: kept_as-is, panels: []}",
        )
        .unwrap();
        let ids: Vec<DashboardIdentity> = spec
            .dashboards
            .iter()
            .map(|d| DashboardIdentity::of(&spec, d))
            .collect();
        assert_eq!(
            (ids[0].uid.as_str(), ids[0].title.as_str()),
            ("shop-overview", "shop Overview")
        );
        assert_eq!(ids[1].uid, "checkout-p95-errors");
        assert_eq!(ids[2].uid, "kept_as-is");
    }
}

//! The generated dashboards for Grafana on Kubernetes: a ConfigMap per dashboard labelled
//! for Grafana's dashboard sidecar (kube-prometheus' convention), or a `GrafanaDashboard`
//! per dashboard for the Grafana operator, as `stack.kubernetes.dashboards` says. The JSON
//! is the file `generated/grafana/dashboards/` holds, byte for byte.

use std::collections::BTreeMap;

use contract::kubernetes::object_name;
use contract::model::DashboardDelivery;
use serde_json::{json, Value};

use super::metadata;
use crate::output::Tree;
use crate::plan::dashboards::dashboard_path;
use crate::plan::Plan;
use crate::GenerateError;

/// The label Grafana's dashboard sidecar watches ConfigMaps for.
const SIDECAR_LABEL: &str = "grafana_dashboard";

/// An object name for a dashboard uid (letters, digits, `-` and `_`): lowercase, `_` as `-`.
fn dashboard_object(plan: &Plan<'_>, uid: &str) -> String {
    let uid = object_name(&uid.to_ascii_lowercase());
    format!("{}-dashboard-{uid}", object_name(&plan.loaded.spec.service.name))
}

pub fn files(plan: &Plan<'_>, tree: &Tree) -> Result<Vec<(&'static str, Vec<Value>)>, GenerateError> {
    let Some(kubernetes) = &plan.loaded.spec.stack.kubernetes else {
        return Ok(Vec::new());
    };
    let mut documents = Vec::new();
    for dashboard in &plan.dashboards {
        let path = dashboard_path(&dashboard.uid);
        let json_text = tree.files.get(&path).ok_or_else(|| GenerateError::Encode {
            target: "kubernetes",
            message: format!("{path} was not rendered before the manifests that embed it"),
        })?;
        let name = dashboard_object(plan, &dashboard.uid);
        documents.push(match kubernetes.dashboards {
            DashboardDelivery::Configmap => json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": metadata(plan, &name, &[(SIDECAR_LABEL, "1".into())]),
                "data": {format!("{}.json", dashboard.uid): json_text},
            }),
            DashboardDelivery::GrafanaOperator => {
                let selector = kubernetes
                    .grafana_selector
                    .clone()
                    .unwrap_or_else(|| BTreeMap::from([("dashboards".to_string(), "grafana".to_string())]));
                json!({
                    "apiVersion": "grafana.integreatly.org/v1beta1",
                    "kind": "GrafanaDashboard",
                    "metadata": metadata(plan, &name, &[]),
                    "spec": {
                        "instanceSelector": {"matchLabels": selector},
                        "uid": dashboard.uid,
                        "json": json_text,
                    },
                })
            }
        });
    }
    if documents.is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![("dashboards.yaml", documents)])
}

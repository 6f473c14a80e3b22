//! `generated/kubernetes/`: a kustomize base for clusters run with the prometheus-operator
//! and Grafana's dashboard sidecar or operator. The app's Deployments and Services carry
//! the probes and shutdown timing the spec declares; the ServiceMonitors, the one
//! PrometheusRule, the AlertmanagerConfig and the dashboards are the same rules, routes and
//! dashboards the compose stack runs, taken from the files the other targets rendered.
//! Written only when the spec sets `stack.kubernetes`.

mod dashboards;
mod monitoring;
mod workload;

use contract::kubernetes;
use serde_json::{json, Value};

use super::{header, Rendered};
use crate::output::Tree;
use crate::plan::Plan;
use crate::GenerateError;

/// Where the manifests go inside `generated/`.
pub const DIR: &str = "kubernetes";

/// The labels every object of the service carries, and the ones its pods are selected by.
fn common_labels(plan: &Plan<'_>) -> serde_json::Map<String, Value> {
    let mut labels = serde_json::Map::new();
    labels.insert(
        "app.kubernetes.io/part-of".into(),
        plan.loaded.spec.service.name.clone().into(),
    );
    labels.insert("app.kubernetes.io/managed-by".into(), "obs".into());
    labels
}

/// `metadata` of a namespaced object: its name, the service's namespace and labels.
fn metadata(plan: &Plan<'_>, name: &str, extra: &[(&str, Value)]) -> Value {
    let mut labels = common_labels(plan);
    for (key, value) in extra {
        labels.insert((*key).into(), value.clone());
    }
    json!({
        "name": name,
        "namespace": kubernetes::namespace(&plan.loaded.spec),
        "labels": labels,
    })
}

/// One YAML file of one or more documents, under the generated header.
fn add_file(tree: &mut Tree, plan: &Plan<'_>, name: &str, documents: &[Value]) -> Rendered {
    let mut text = format!("# {}\n", header(plan.loaded));
    for (i, document) in documents.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        let yaml = serde_yaml::to_string(document).map_err(|e| GenerateError::Encode {
            target: "kubernetes",
            message: format!("{name}: {e}"),
        })?;
        text.push_str(&yaml);
    }
    tree.add(format!("{DIR}/{name}"), text);
    Ok(())
}

pub fn render(plan: &Plan<'_>, tree: &mut Tree) -> Rendered {
    if plan.loaded.spec.stack.kubernetes.is_none() {
        return Ok(());
    }
    let namespace = kubernetes::namespace(&plan.loaded.spec);
    let mut files: Vec<(&str, Vec<Value>)> = vec![(
        "namespace.yaml",
        vec![json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": common_labels(plan)},
        })],
    )];
    files.extend(workload::files(plan));
    files.extend(monitoring::files(plan, tree)?);
    files.extend(dashboards::files(plan, tree)?);
    let resources: Vec<&str> = files.iter().map(|(name, _)| *name).collect();
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": resources,
    });
    for (name, documents) in &files {
        add_file(tree, plan, name, documents)?;
    }
    add_file(tree, plan, "kustomization.yaml", &[kustomization])
}

#[cfg(test)]
mod tests {
    use crate::Checked;

    const SPEC: &str = r#"
service: {name: shop_api, port: 8080, replicas: [blue, green]}
metrics:
  endpoint: {bearer_token_env: METRICS_TOKEN}
logging:
  elasticsearch:
    enabled: "${ES_ENABLED:-true}"
    host: "${ES_HOST:-localhost}"
    port: "${ES_PORT:-9200}"
    scheme: "${ES_SCHEME:-http}"
    auth: true
    user: "${ES_USER:-elastic}"
    password: "${ES_PASSWORD}"
    index_prefix: shop
shutdown: {drain: 7s, grace: 20s}
stack:
  kubernetes: {replicas: 3, image: "registry.example.com/shop:1.2.3", secret_variables: [ES_USER]}
"#;

    fn manifests() -> std::collections::BTreeMap<String, String> {
        let loaded = contract::load_bytes(SPEC.as_bytes(), "obs.yaml").unwrap();
        let checked = Checked::new(loaded).unwrap_or_else(|e| panic!("{e}"));
        let tree = crate::render(&checked).unwrap();
        tree.files
            .into_iter()
            .filter(|(path, _)| path.starts_with("kubernetes/"))
            .collect()
    }

    #[test]
    fn secrets_are_referenced_never_written_and_timing_follows_shutdown() {
        let files = manifests();
        let deployment: serde_json::Value = serde_yaml::from_str(&files["kubernetes/deployments.yaml"]).unwrap();
        let pod = &deployment["spec"]["template"]["spec"];
        let env = pod["containers"][0]["env"].as_array().unwrap();
        let find = |name: &str| env.iter().find(|v| v["name"] == name).cloned().unwrap_or_default();
        let token = &find("METRICS_TOKEN")["valueFrom"]["secretKeyRef"];
        assert_eq!(token["name"], "shop-api-secrets");
        assert_eq!(token["optional"], false, "the runtime refuses to start without it");
        assert_eq!(find("ES_PASSWORD")["valueFrom"]["secretKeyRef"]["key"], "ES_PASSWORD");
        assert_eq!(find("ES_HOST")["valueFrom"]["configMapKeyRef"]["name"], "shop-api-env");
        // Declared a secret: from the Secret, its default kept out of the ConfigMap.
        assert_eq!(find("ES_USER")["valueFrom"]["secretKeyRef"]["key"], "ES_USER");
        let config = &files["kubernetes/config.yaml"];
        assert!(
            config.contains("ES_HOST: localhost")
                && !config.contains("PASSWORD")
                && !config.contains("TOKEN")
                && !config.contains("ES_USER"),
            "{config}"
        );
        assert_eq!(deployment["metadata"]["name"], "shop-api");
        assert_eq!(deployment["spec"]["replicas"], 3);
        assert_eq!(pod["containers"][0]["image"], "registry.example.com/shop:1.2.3");
        assert_eq!(
            pod["terminationGracePeriodSeconds"],
            7 + 20 + super::workload::GRACE_MARGIN_SECS
        );
        assert_eq!(pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"], 7);
        let monitor: serde_json::Value = serde_yaml::from_str(&files["kubernetes/servicemonitors.yaml"]).unwrap();
        let credentials = &monitor["spec"]["endpoints"][0]["authorization"]["credentials"];
        assert_eq!(credentials["key"], "METRICS_TOKEN");
        // No rules, no routes: no PrometheusRule or AlertmanagerConfig to apply.
        assert!(!files.contains_key("kubernetes/alertmanagerconfig.yaml"));
    }
}

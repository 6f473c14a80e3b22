//! `generated/kubernetes/` of obs.yaml and every example that asks for it, checked offline
//! the way a cluster would check it: the custom resources against the operators' CRD
//! schemas in `../shared/schemas/kubernetes/` (the strict datree conversions, and the
//! upstream CRDs made strict so a misspelt field fails), the built-in kinds with
//! `kubernetes-validate --strict` (PyPI; scripts/test.sh installs it), the PrometheusRule's
//! groups with `promtool check rules` and against the rule files they come from, the
//! AlertmanagerConfig against the generated alertmanager.yml it must route like, and the
//! Deployments against the spec's probes and shutdown timing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every spec with `stack.kubernetes`, with its generated/ directory.
fn trees() -> Vec<(contract::Spec, PathBuf)> {
    let root = workspace();
    let mut specs = vec![root.join("obs.yaml")];
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let file = entry.unwrap().path().join("obs.yaml");
        if file.is_file() {
            specs.push(file);
        }
    }
    specs.sort();
    let trees: Vec<(contract::Spec, PathBuf)> = specs
        .into_iter()
        .map(|file| {
            let spec = contract::load_file(&file).unwrap().spec;
            (spec, file.parent().unwrap().join("generated"))
        })
        .filter(|(spec, generated)| {
            let has_dir = generated.join("kubernetes").is_dir();
            assert_eq!(spec.stack.kubernetes.is_some(), has_dir, "{}", generated.display());
            has_dir
        })
        .collect();
    // The bar: obs.yaml and at least two examples.
    assert!(
        trees.len() >= 3,
        "only {} specs render Kubernetes manifests",
        trees.len()
    );
    trees
}

/// Every document of every manifest file, with the file it came from.
fn documents(generated: &Path) -> Vec<(String, Value)> {
    let dir = generated.join("kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value: Value =
                serde::Deserialize::deserialize(document).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((name.clone(), value));
        }
    }
    out
}

fn of_kind<'a>(documents: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    documents
        .iter()
        .filter(|(_, d)| d["kind"] == kind)
        .map(|(_, d)| d)
        .collect()
}

fn schemas() -> PathBuf {
    let dir = workspace().join("../shared/schemas/kubernetes");
    assert!(
        dir.is_dir(),
        "{} is missing: shared/ must sit beside the repository",
        dir.display()
    );
    dir
}

fn errors(validator: &jsonschema::Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The datree conversion of a CRD (strict: `additionalProperties: false`).
fn datree(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(schemas().join(file)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Forbids properties an object schema does not list, where the CRD does not allow them.
fn make_strict(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let open = map.contains_key("additionalProperties")
                || map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            if map.contains_key("properties") && !open {
                map.insert("additionalProperties".into(), Value::Bool(false));
            }
            for value in map.values_mut() {
                make_strict(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(make_strict),
        _ => {}
    }
}

/// The served version's schema of an upstream CRD, made strict.
fn upstream(file: &str, version: &str) -> jsonschema::Validator {
    let crd: Value = serde_yaml::from_str(&std::fs::read_to_string(schemas().join(file)).unwrap()).unwrap();
    let versions = crd["spec"]["versions"].as_array().unwrap();
    let served = versions.iter().find(|v| v["name"] == version).unwrap();
    let mut schema = served["schema"]["openAPIV3Schema"].clone();
    make_strict(&mut schema);
    jsonschema::validator_for(&schema).unwrap()
}

#[test]
fn custom_resources_validate_against_the_operators_schemas() {
    let checks = [
        (
            "ServiceMonitor",
            datree("servicemonitor_v1.json"),
            upstream("monitoring.coreos.com_servicemonitors.yaml", "v1"),
        ),
        (
            "PrometheusRule",
            datree("prometheusrule_v1.json"),
            upstream("monitoring.coreos.com_prometheusrules.yaml", "v1"),
        ),
        (
            "GrafanaDashboard",
            datree("grafanadashboard_v1beta1.json"),
            upstream("grafana.integreatly.org_grafanadashboards.yaml", "v1beta1"),
        ),
    ];
    let mut checked = BTreeSet::new();
    for (_, generated) in trees() {
        let documents = documents(&generated);
        for (kind, strict, current) in &checks {
            for document in of_kind(&documents, kind) {
                let mut found = errors(strict, document);
                found.extend(errors(current, document));
                assert!(
                    found.is_empty(),
                    "{} {kind}:\n{}",
                    generated.display(),
                    found.join("\n")
                );
                checked.insert(*kind);
            }
        }
    }
    assert_eq!(checked.len(), checks.len(), "kinds never generated: {checked:?}");
}

/// The native-histogram fixture rendered for Kubernetes on a Prometheus `version`.
fn native_service_monitor(version: &str) -> Value {
    let fixture = workspace().join("generator/tests/fixtures/native-histograms.good.yaml");
    let mut text = std::fs::read_to_string(fixture).unwrap();
    text.push_str(&format!(
        "\nstack:\n  prometheus:\n    version: \"{version}\"\n  kubernetes:\n    namespace: shop\n"
    ));
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("obs.yaml");
    std::fs::write(&spec, text).unwrap();
    let checked = generator::check(&spec).unwrap();
    assert!(!checked.report.has_errors(), "{}", checked.report);
    let generated = dir.path().join("generated");
    generator::output::write(&generator::render(&checked).unwrap(), &generated).unwrap();
    let documents = documents(&generated);
    let monitors = of_kind(&documents, "ServiceMonitor");
    assert_eq!(monitors.len(), 1);
    let monitor = monitors[0].clone();
    let strict = datree("servicemonitor_v1.json");
    let current = upstream("monitoring.coreos.com_servicemonitors.yaml", "v1");
    let mut found = errors(&strict, &monitor);
    found.extend(errors(&current, &monitor));
    assert!(found.is_empty(), "{}", found.join("\n"));
    monitor
}

#[test]
fn a_service_monitor_scrapes_native_histograms_as_the_compose_job_does() {
    let monitor = native_service_monitor("3.9");
    let spec = &monitor["spec"];
    assert_eq!(spec["scrapeProtocols"][0], "PrometheusProto", "{spec:#}");
    assert_eq!(spec["scrapeNativeHistograms"], true);
    // The custom histogram keeps classic buckets beside its native ones.
    assert_eq!(spec["scrapeClassicHistograms"], true);
    // Whatever the compose target: the cluster may run 3.9+, where only the switch works
    // (the operator drops it for releases before 3.8).
    let monitor = native_service_monitor("3.5");
    assert_eq!(monitor["spec"]["scrapeProtocols"][0], "PrometheusProto");
    assert_eq!(monitor["spec"]["scrapeNativeHistograms"], true);
    // A service without native histograms leaves the operator's defaults alone.
    for (_, generated) in trees() {
        for monitor in of_kind(&documents(&generated), "ServiceMonitor") {
            assert!(
                monitor["spec"].get("scrapeProtocols").is_none(),
                "{}",
                generated.display()
            );
        }
    }
}

#[test]
fn a_grafana_dashboard_resource_holds_the_generated_dashboard() {
    let mut found = 0;
    for (_, generated) in trees() {
        for document in of_kind(&documents(&generated), "GrafanaDashboard") {
            let embedded: Value = serde_json::from_str(document["spec"]["json"].as_str().unwrap()).unwrap();
            let uid = embedded["uid"].as_str().unwrap();
            let file = generated.join(format!("grafana/dashboards/{uid}.json"));
            let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            assert_eq!(embedded, on_disk, "{}", file.display());
            assert_eq!(document["spec"]["uid"], uid);
            found += 1;
        }
        for document in of_kind(&documents(&generated), "ConfigMap") {
            if document["metadata"]["labels"]["grafana_dashboard"] != "1" {
                continue;
            }
            for (key, text) in document["data"].as_object().unwrap() {
                let file = generated.join("grafana/dashboards").join(key);
                assert_eq!(
                    Some(text.as_str().unwrap()),
                    std::fs::read_to_string(&file).ok().as_deref(),
                    "{key}"
                );
                found += 1;
            }
        }
    }
    assert!(found >= 3, "{found} dashboards");
}

/// `kubernetes-validate`: from `OBS_KUBERNETES_VALIDATE` (scripts/test.sh sets it to the
/// one it installs), else from PATH.
fn kubernetes_validate() -> String {
    std::env::var("OBS_KUBERNETES_VALIDATE").unwrap_or_else(|_| "kubernetes-validate".into())
}

#[test]
fn built_in_kinds_pass_kubernetes_validate_strict() {
    for (_, generated) in trees() {
        let documents = documents(&generated);
        let dir = tempfile::tempdir().unwrap();
        let mut files = Vec::new();
        for (i, (name, document)) in documents.iter().enumerate() {
            let api = document["apiVersion"].as_str().unwrap();
            // Custom resources are the schema test's; kustomization.yaml is kustomize's own.
            if api.contains(".coreos.com") || api.contains(".integreatly.org") || api.contains("kustomize") {
                continue;
            }
            let file = dir.path().join(format!("{i}-{name}"));
            std::fs::write(&file, serde_yaml::to_string(document).unwrap()).unwrap();
            files.push(file);
        }
        assert!(
            files.len() >= 4,
            "{}: {} built-in objects",
            generated.display(),
            files.len()
        );
        let output = Command::new(kubernetes_validate())
            .arg("--strict")
            .args(&files)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run kubernetes-validate ({e}): run ./scripts/test.sh, which installs it, or `pip install kubernetes-validate`")
            });
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "{}:\n{text}", generated.display());
        assert!(!text.contains("WARN"), "{}:\n{text}", generated.display());
    }
}

#[test]
fn the_prometheus_rule_holds_every_rule_file_and_promtool_accepts_it() {
    for (_, generated) in trees() {
        let documents = documents(&generated);
        let rules = of_kind(&documents, "PrometheusRule");
        assert_eq!(rules.len(), 1, "{}: one PrometheusRule", generated.display());
        let groups = rules[0]["spec"]["groups"].clone();
        let mut expected = Vec::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(generated.join("prometheus/rules"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let value: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
            expected.extend(value["groups"].as_array().unwrap().iter().cloned());
        }
        assert_eq!(groups, Value::Array(expected), "{}", generated.display());
        let names: BTreeSet<&str> = groups
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names.len(),
            groups.as_array().unwrap().len(),
            "group names repeat: the operator refuses that"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rules.yml");
        std::fs::write(
            &file,
            serde_yaml::to_string(&serde_json::json!({"groups": groups})).unwrap(),
        )
        .unwrap();
        let output = Command::new("promtool")
            .args(["check", "rules"])
            .arg(&file)
            .output()
            .expect("promtool");
        assert!(
            output.status.success(),
            "{}: {}",
            generated.display(),
            String::from_utf8_lossy(&output.stdout)
        );
    }
}

/// A `{name, value, matchType}` list as Alertmanager's matcher strings.
fn matchers(list: &Value) -> Value {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let value = m["value"].as_str().unwrap().replace('\\', "\\\\").replace('"', "\\\"");
            Value::from(format!(
                "{}{}\"{value}\"",
                m["name"].as_str().unwrap(),
                m["matchType"].as_str().unwrap()
            ))
        })
        .collect()
}

/// An AlertmanagerConfig field as alertmanager.yml writes it; a field this does not know
/// fails the test, so a misspelt field cannot pass unnoticed.
fn converted_key(key: &str) -> &'static str {
    match key {
        "receiver" => "receiver",
        "groupBy" => "group_by",
        "groupWait" => "group_wait",
        "groupInterval" => "group_interval",
        "repeatInterval" => "repeat_interval",
        "continue" => "continue",
        "routes" => "routes",
        "matchers" => "matchers",
        "name" => "name",
        "webhookConfigs" => "webhook_configs",
        "slackConfigs" => "slack_configs",
        "pagerdutyConfigs" => "pagerduty_configs",
        "emailConfigs" => "email_configs",
        "sendResolved" => "send_resolved",
        "url" => "url",
        "urlSecret" => "url_file",
        "apiURL" => "api_url_file",
        "routingKey" => "routing_key_file",
        "serviceKey" => "service_key_file",
        "authPassword" => "auth_password_file",
        "authUsername" => "auth_username",
        "channel" => "channel",
        "title" => "title",
        "text" => "text",
        "to" => "to",
        "from" => "from",
        "smarthost" => "smarthost",
        "requireTLS" => "require_tls",
        other => panic!("AlertmanagerConfig field `{other}` is not one this test knows"),
    }
}

/// An AlertmanagerConfig object converted to alertmanager.yml's shape: Secret references
/// become the `/run/secrets/<key>` files compose mounts.
fn convert(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (key, value) in map {
                let converted = match key.as_str() {
                    "matchers" => matchers(value),
                    "urlSecret" | "apiURL" | "routingKey" | "serviceKey" | "authPassword" => {
                        Value::from(format!("/run/secrets/{}", value["key"].as_str().unwrap()))
                    }
                    _ => convert(value),
                };
                out.insert(converted_key(key).into(), converted);
            }
            Value::Object(out)
        }
        Value::Array(items) => items.iter().map(convert).collect(),
        other => other.clone(),
    }
}

#[test]
fn the_alertmanager_config_routes_like_the_generated_alertmanager_yml() {
    let mut checked = 0;
    for (spec, generated) in trees() {
        let documents = documents(&generated);
        let configs = of_kind(&documents, "AlertmanagerConfig");
        let file = generated.join("alertmanager/alertmanager.yml");
        if !file.is_file() {
            assert!(configs.is_empty(), "{}", generated.display());
            continue;
        }
        assert_eq!(configs.len(), 1, "{}", generated.display());
        let spec_part = &configs[0]["spec"];
        let mut yml: Value = serde_yaml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(
            convert(&spec_part["route"]),
            yml["route"],
            "{}: route",
            generated.display()
        );
        assert_eq!(
            convert(&spec_part["receivers"]),
            yml["receivers"],
            "{}: receivers",
            generated.display()
        );
        if let Some(inhibit) = yml.get_mut("inhibit_rules") {
            let rules = spec_part["inhibitRules"].as_array().expect("inhibit rules");
            let converted: Vec<Value> = rules
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "source_matchers": matchers(&r["sourceMatch"]),
                        "target_matchers": matchers(&r["targetMatch"]),
                        "equal": r["equal"],
                    })
                })
                .collect();
            assert_eq!(
                Value::Array(converted),
                *inhibit,
                "{}: inhibit rules",
                generated.display()
            );
        }
        // No credential is written into the manifest: every secret field is a reference.
        let text = serde_json::to_string(spec_part).unwrap();
        assert!(!text.contains("/run/secrets"), "{text}");
        assert!(spec.alertmanager.is_some());
        checked += 1;
    }
    assert!(checked >= 2, "{checked} AlertmanagerConfigs");
}

fn seconds(duration: contract::Duration) -> u64 {
    duration.as_millis().div_ceil(1000)
}

#[test]
fn deployments_carry_the_specs_probes_shutdown_and_secret_references() {
    for (spec, generated) in trees() {
        let documents = documents(&generated);
        let deployments = of_kind(&documents, "Deployment");
        let services = of_kind(&documents, "Service");
        let components = contract::topology::components(&spec);
        assert_eq!(deployments.len(), components.len(), "{}", generated.display());
        assert_eq!(services.len(), components.len(), "{}", generated.display());
        for (deployment, component) in deployments.iter().zip(&components) {
            let pod = &deployment["spec"]["template"]["spec"];
            let container = &pod["containers"][0];
            let (drain, grace) = (seconds(spec.shutdown.drain), seconds(spec.shutdown.grace));
            let period = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
            assert!(
                period > drain + grace,
                "{period}s does not cover drain {drain}s + grace {grace}s"
            );
            assert_eq!(container["lifecycle"]["preStop"]["sleep"]["seconds"], drain);
            assert_eq!(
                container["livenessProbe"]["httpGet"]["path"],
                spec.health.liveness.path.as_str()
            );
            assert_eq!(
                container["startupProbe"]["httpGet"]["path"],
                spec.health.liveness.path.as_str()
            );
            let startup = &container["startupProbe"];
            let allowed = startup["periodSeconds"].as_u64().unwrap() * startup["failureThreshold"].as_u64().unwrap();
            assert!(allowed >= seconds(spec.health.container.start_period));
            if component.readiness {
                assert_eq!(
                    container["readinessProbe"]["httpGet"]["path"],
                    spec.health.readiness.path.as_str()
                );
            } else {
                assert!(
                    container.get("readinessProbe").is_none(),
                    "{} has no readiness",
                    component.name
                );
            }
            let ports: Vec<u64> = container["ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["containerPort"].as_u64().unwrap())
                .collect();
            assert!(ports.contains(&u64::from(component.port)) && ports.contains(&u64::from(component.metrics_port)));
            for variable in container["env"].as_array().unwrap() {
                let name = variable["name"].as_str().unwrap();
                let secret = ["PASSWORD", "TOKEN", "SECRET", "API_KEY"]
                    .iter()
                    .any(|w| name.contains(w))
                    || spec.metrics.endpoint.bearer_token_env.as_deref() == Some(name);
                if secret {
                    assert!(
                        variable["valueFrom"]["secretKeyRef"].is_object(),
                        "{name} must come from a Secret: {variable}"
                    );
                }
            }
        }
        // Every ServiceMonitor selects a Service by labels the Service has, on a port it names.
        for monitor in of_kind(&documents, "ServiceMonitor") {
            let wanted = monitor["spec"]["selector"]["matchLabels"].as_object().unwrap();
            let service = services
                .iter()
                .find(|s| wanted.iter().all(|(k, v)| s["metadata"]["labels"][k] == *v))
                .unwrap_or_else(|| panic!("no Service matches {wanted:?}"));
            let port = &monitor["spec"]["endpoints"][0]["port"];
            assert!(service["spec"]["ports"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == *port));
            assert_eq!(
                monitor["spec"]["endpoints"][0]["path"],
                spec.metrics.endpoint.path.as_str()
            );
        }
        // The kustomization lists every other file of the directory, and nothing else.
        let listed: BTreeSet<String> = documents
            .iter()
            .find(|(name, _)| name == "kustomization.yaml")
            .map(|(_, k)| {
                k["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap();
        let present: BTreeSet<String> = documents
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| n != "kustomization.yaml")
            .collect();
        assert_eq!(listed, present, "{}", generated.display());
    }
}

#[test]
fn the_schema_checks_catch_a_misspelt_field() {
    let (_, generated) = trees().remove(0);
    let documents = documents(&generated);
    let mut monitor = of_kind(&documents, "ServiceMonitor")[0].clone();
    monitor["spec"]["endpoints"][0]["intervall"] = "15s".into();
    assert!(!errors(&datree("servicemonitor_v1.json"), &monitor).is_empty());
    assert!(!errors(&upstream("monitoring.coreos.com_servicemonitors.yaml", "v1"), &monitor).is_empty());
    let mut rule = of_kind(&documents, "PrometheusRule")[0].clone();
    rule["spec"]["groups"][0]["rules"][0]["expression"] = "up".into();
    assert!(!errors(&upstream("monitoring.coreos.com_prometheusrules.yaml", "v1"), &rule).is_empty());
    let converted = std::panic::catch_unwind(|| convert(&serde_json::json!({"recevier": "x"})));
    assert!(
        converted.is_err(),
        "an unknown AlertmanagerConfig field must fail the conversion"
    );
}

//! Every generated dashboard validates against Grafana's dashboard schema
//! (`../shared/schemas/grafana/`) and passes the checks the schema misses: every panel has
//! a gridPos inside the 24-column grid, no two overlap, ids are unique, and every PromQL
//! query parses and selects only declared or recorded series.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema_dir() -> PathBuf {
    let dir = workspace().join("../shared/schemas/grafana");
    assert!(
        dir.is_dir(),
        "{} is missing: shared/ must sit beside the repository",
        dir.display()
    );
    dir
}

fn dashboard_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_dir().join("dashboard.jsonschema.json")).unwrap();
    let mut schema: Value = serde_json::from_str(&text).unwrap();
    // The file's root only collects definitions; a dashboard is `#/definitions/Dashboard`.
    schema["$ref"] = Value::String("#/definitions/Dashboard".into());
    jsonschema::validator_for(&schema).expect("the Grafana schema compiles")
}

/// Every spec we ship with its committed generated/ directory.
fn trees() -> Vec<(PathBuf, PathBuf)> {
    let root = workspace();
    let mut trees = vec![(root.join("obs.yaml"), root.join("generated"))];
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let dir = entry.unwrap().path();
        trees.push((dir.join("obs.yaml"), dir.join("generated")));
    }
    trees.sort();
    trees
}

fn dashboards(generated: &Path) -> Vec<(PathBuf, Value)> {
    let dir = generated.join("grafana/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
            (path, value)
        })
        .collect()
}

/// Panels of a dashboard, row panels' children included.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().into_iter().flatten() {
        out.push(panel);
        out.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

#[test]
fn every_dashboard_validates_against_the_grafana_schema() {
    let validator = dashboard_validator();
    let mut checked = 0;
    for (_, generated) in trees() {
        for (path, dashboard) in dashboards(&generated) {
            let errors: Vec<String> = validator
                .iter_errors(&dashboard)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}:\n{}", path.display(), errors.join("\n"));
            checked += 1;
        }
    }
    assert!(checked >= 7, "only {checked} dashboards");
}

#[test]
fn the_schema_check_catches_a_broken_dashboard() {
    let validator = dashboard_validator();
    let (_, mut dashboard) = dashboards(&workspace().join("generated")).remove(0);
    dashboard["panels"][0]["gridPos"]["w"] = Value::from(30);
    assert!(!validator.is_valid(&dashboard));
}

#[test]
fn panels_are_laid_out_without_overlap_and_with_unique_ids() {
    for (_, generated) in trees() {
        for (path, dashboard) in dashboards(&generated) {
            assert!(
                dashboard["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{} has no title",
                path.display()
            );
            let uid = dashboard["uid"].as_str().unwrap();
            assert!(
                uid.len() <= 40 && path.ends_with(format!("{uid}.json")),
                "{}",
                path.display()
            );
            let panels = all_panels(&dashboard);
            let mut ids = Vec::new();
            let mut boxes: Vec<(u64, u64, u64, u64, &str)> = Vec::new();
            for panel in panels {
                let title = panel["title"].as_str().unwrap_or("?");
                let grid = &panel["gridPos"];
                let (x, y, w, h) = (
                    grid["x"].as_u64(),
                    grid["y"].as_u64(),
                    grid["w"].as_u64(),
                    grid["h"].as_u64(),
                );
                let (Some(x), Some(y), Some(w), Some(h)) = (x, y, w, h) else {
                    panic!("{}: panel `{title}` has no complete gridPos", path.display());
                };
                assert!(
                    x + w <= 24 && w > 0 && h > 0,
                    "{}: `{title}` leaves the grid",
                    path.display()
                );
                for (ox, oy, ow, oh, other) in &boxes {
                    let overlap = x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h;
                    assert!(!overlap, "{}: `{title}` overlaps `{other}`", path.display());
                }
                boxes.push((x, y, w, h, title));
                let id = panel["id"].as_u64().expect("panel id");
                assert!(!ids.contains(&id), "{}: id {id} used twice", path.display());
                ids.push(id);
            }
        }
    }
}

#[test]
fn every_promql_query_parses_and_selects_known_series() {
    let mut queries = 0;
    for (spec_path, generated) in trees() {
        let resolved = contract::Resolved::of(&contract::load_file(&spec_path).unwrap().spec);
        for (path, dashboard) in dashboards(&generated) {
            for panel in all_panels(&dashboard) {
                if panel["datasource"]["type"] != "prometheus" {
                    continue;
                }
                for target in panel["targets"].as_array().into_iter().flatten() {
                    let expr = target["expr"].as_str().expect("expr");
                    let unknown = contract::validate::unknown_series(&resolved, expr)
                        .unwrap_or_else(|e| panic!("{}: `{expr}` does not parse: {e}", path.display()));
                    assert!(
                        unknown.is_empty(),
                        "{}: `{expr}` selects unknown {unknown:?}",
                        path.display()
                    );
                    queries += 1;
                }
            }
            for annotation in dashboard["annotations"]["list"].as_array().into_iter().flatten() {
                if let Some(expr) = annotation["expr"].as_str() {
                    assert!(contract::validate::unknown_series(&resolved, expr).unwrap().is_empty());
                }
            }
        }
    }
    assert!(queries > 100, "only {queries} queries checked");
}

fn titles(generated: &str, uid: &str) -> Vec<String> {
    let path = workspace()
        .join(generated)
        .join(format!("grafana/dashboards/{uid}.json"));
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    all_panels(&dashboard)
        .into_iter()
        .filter(|p| p["type"] != "row")
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn seed_dashboards_have_their_documented_panels() {
    let seed_000 = titles("examples/ws-blue-green/generated", "ws-app");
    assert_eq!(
        seed_000,
        [
            "Active Connections",
            "Total Messages",
            "Error Count",
            "Connection Timeline"
        ]
    );
    let seed_003 = titles("examples/shadower-analytics/generated", "shadower-analytics");
    let documented = [
        "Request Rate",
        "Error Rate",
        "P95/P99 Latency",
        "Active Users",
        "Credits Consumed",
        "Database Connections",
        "Cache Hit Rate",
        "Background Jobs",
        "Request Distribution",
        "WebSocket Connections",
        "Database Query Performance",
        "Export Performance",
        "System Resources - Memory",
        "System Resources - CPU",
        "Alert Status",
        "Request Rate (Current)",
        "Average Response Time",
    ];
    assert_eq!(seed_003, documented);
    let seed_000_dashboard = workspace().join("examples/ws-blue-green/generated/grafana/dashboards/ws-app.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(seed_000_dashboard).unwrap()).unwrap();
    assert_eq!(dashboard["refresh"], "5s");
    assert_eq!(dashboard["time"]["from"], "now-1h");
}

#[test]
fn the_overview_covers_every_declared_metric() {
    let spec = contract::load_file(&workspace().join("obs.yaml")).unwrap().spec;
    let catalog = contract::Catalog::from_spec(&spec);
    let overview = workspace().join("generated/grafana/dashboards/ws-counter-overview.json");
    let text = std::fs::read_to_string(&overview).unwrap();
    for family in &catalog.families {
        assert!(
            text.contains(&family.name),
            "the overview does not show {}",
            family.name
        );
    }
    for expected in [
        "\"type\": \"heatmap\"",
        "slo:error_budget:remaining",
        "job:http_requests:error_ratio_rate5m",
        "\"type\": \"logs\"",
    ] {
        assert!(text.contains(expected), "the overview lacks {expected}");
    }
}

#[test]
fn provisioning_points_grafana_at_the_stack() {
    for (spec_path, generated) in trees() {
        let spec = contract::load_file(&spec_path).unwrap().spec;
        let text = std::fs::read_to_string(generated.join("grafana/provisioning/datasources/datasources.yml")).unwrap();
        let datasources: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        let uids: Vec<&str> = datasources["datasources"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter_map(|d| d["uid"].as_str())
            .collect();
        assert!(uids.contains(&"prometheus"));
        assert_eq!(
            uids.contains(&"loki"),
            spec.logging.loki.is_some(),
            "{}",
            spec_path.display()
        );
        assert_eq!(
            uids.contains(&"alertmanager"),
            spec.alertmanager.is_some(),
            "{}",
            spec_path.display()
        );
        let providers: serde_yaml::Value = serde_yaml::from_str(
            &std::fs::read_to_string(generated.join("grafana/provisioning/dashboards/dashboards.yml")).unwrap(),
        )
        .unwrap();
        assert_eq!(
            providers["providers"][0]["options"]["path"],
            "/var/lib/grafana/dashboards"
        );
    }
}

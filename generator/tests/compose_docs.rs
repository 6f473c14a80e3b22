//! The generated compose files validate against the Compose Specification schema and
//! Debian's docker-compose accepts them; the generated OBSERVABILITY.md of each example
//! covers what its seed document covers.

use std::path::PathBuf;
use std::process::Command;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn generated_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![workspace().join("generated")];
    for entry in std::fs::read_dir(workspace().join("examples")).unwrap() {
        dirs.push(entry.unwrap().path().join("generated"));
    }
    dirs.sort();
    dirs
}

fn compose_yaml(dir: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

#[test]
fn compose_files_validate_against_the_compose_specification() {
    let schema_path = workspace().join("../shared/schemas/compose/compose-spec.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("compose schema compiles");
    for dir in generated_dirs() {
        let compose = compose_yaml(&dir);
        let errors: Vec<String> = validator
            .iter_errors(&compose)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}:\n{}", dir.display(), errors.join("\n"));
    }
    let mut broken = compose_yaml(&workspace().join("generated"));
    broken["services"]["prometheus"]["restart"] = serde_json::json!(["always"]);
    assert!(!validator.is_valid(&broken), "the schema check must be able to fail");
}

/// Runs `docker-compose config -q` in a copy of the directory with the secret files it
/// expects in place.
fn compose_config(dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("docker-compose.yml"), copy.path().join("docker-compose.yml")).unwrap();
    let compose = compose_yaml(dir);
    if let Some(secrets) = compose["secrets"].as_object() {
        std::fs::create_dir_all(copy.path().join("secrets")).unwrap();
        for name in secrets.keys() {
            std::fs::write(copy.path().join("secrets").join(name), "secret").unwrap();
        }
    }
    let mut command = Command::new("docker-compose");
    command
        .args(["config", "-q"])
        .current_dir(copy.path())
        .env_remove("GRAFANA_ADMIN_PASSWORD");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap_or_else(|e| {
        panic!("cannot run docker-compose ({e}); install Debian's docker-compose or run ./scripts/test.sh")
    });
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn docker_compose_accepts_every_compose_file() {
    for dir in generated_dirs() {
        let (ok, stderr) = compose_config(
            &dir,
            &[
                ("GRAFANA_ADMIN_PASSWORD", "s3cret"),
                ("ELASTICSEARCH_PASSWORD", "s3cret"),
            ],
        );
        assert!(ok, "{}:\n{stderr}", dir.display());
    }
}

#[test]
fn grafana_starts_with_its_first_login_password_until_one_is_set() {
    let (ok, stderr) = compose_config(&workspace().join("generated"), &[]);
    assert!(ok, "compose refused an empty environment:\n{stderr}");
    let compose = compose_yaml(&workspace().join("generated"));
    assert_eq!(
        compose["services"]["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"],
        "${GRAFANA_ADMIN_PASSWORD:-admin}"
    );
    let header = std::fs::read_to_string(workspace().join("generated/docker-compose.yml")).unwrap();
    assert!(
        header.contains("Grafana asks for a new one at the first sign-in"),
        "{header}"
    );
}

#[test]
fn no_two_services_publish_the_same_host_port() {
    let focused = tempfile::tempdir().unwrap();
    let checked =
        generator::check(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/focused.good.yaml")).unwrap();
    generator::output::write(&generator::render(&checked).unwrap(), focused.path()).unwrap();
    let mut dirs = generated_dirs();
    dirs.push(focused.path().to_path_buf());
    for dir in dirs {
        let compose = compose_yaml(&dir);
        let mut seen: Vec<(String, String)> = Vec::new();
        for (name, service) in compose["services"].as_object().unwrap() {
            for port in service["ports"].as_array().into_iter().flatten() {
                let host = port.as_str().unwrap().split(':').next().unwrap().to_string();
                if let Some((_, other)) = seen.iter().find(|(h, _)| *h == host) {
                    panic!("{}: {name} and {other} both publish host port {host}", dir.display());
                }
                seen.push((host, name.clone()));
            }
        }
    }
}

#[test]
fn app_services_carry_the_spec_healthcheck_and_replicas() {
    let compose = compose_yaml(&workspace().join("generated"));
    for replica in ["app_blue", "app_green"] {
        let service = &compose["services"][replica];
        assert_eq!(service["healthcheck"]["interval"], "30s");
        assert_eq!(service["healthcheck"]["timeout"], "10s");
        assert_eq!(service["healthcheck"]["retries"], 3);
        assert_eq!(service["healthcheck"]["test"][1], "/usr/local/bin/obs-demo");
        assert_eq!(service["healthcheck"]["test"][2], "healthcheck");
    }
    assert_eq!(compose["services"]["prometheus"]["profiles"][0], "observability");
    let personaworlds = compose_yaml(&workspace().join("examples/personaworlds/generated"));
    assert!(
        personaworlds["services"]["backend"].is_object(),
        "api runs as `backend`"
    );
    assert_eq!(personaworlds["services"]["worker"]["ports"][0], "9091:9091");
    assert_eq!(personaworlds["services"]["grafana"]["ports"][0], "3001:3000");
    assert_eq!(personaworlds["services"]["grafana"]["profiles"][0], "observability");
}

#[test]
fn dependencies_start_with_the_app_which_waits_for_them() {
    let shadower = compose_yaml(&workspace().join("examples/shadower-analytics/generated"));
    let api = &shadower["services"]["analytics-api"];
    for dependency in ["postgres", "redis"] {
        assert_eq!(
            api["depends_on"][dependency]["condition"], "service_healthy",
            "{dependency}"
        );
        let service = &shadower["services"][dependency];
        assert!(service["profiles"].is_null(), "{dependency} must start with the app");
        assert_eq!(service["healthcheck"]["retries"], 12);
    }
    assert_eq!(
        shadower["services"]["postgres"]["volumes"][0],
        "postgres-data:/var/lib/postgresql/data"
    );
    assert!(shadower["volumes"]["postgres-data"].is_object());
    let personaworlds = compose_yaml(&workspace().join("examples/personaworlds/generated"));
    for app in ["backend", "worker"] {
        assert_eq!(
            personaworlds["services"][app]["depends_on"]["db"]["condition"],
            "service_healthy"
        );
    }
    assert!(personaworlds["services"]["db"]["profiles"].is_null());
    assert_eq!(personaworlds["services"]["prometheus"]["profiles"][0], "observability");
    let names: Vec<&String> = personaworlds["services"].as_object().unwrap().keys().collect();
    assert_eq!(
        names[..3],
        ["backend", "worker", "db"],
        "dependencies follow the app services"
    );
}

fn document(example: &str) -> String {
    std::fs::read_to_string(
        workspace()
            .join("examples")
            .join(example)
            .join("generated/OBSERVABILITY.md"),
    )
    .unwrap()
}

fn assert_mentions(example: &str, expected: &[&str]) {
    let text = document(example);
    let missing: Vec<&&str> = expected.iter().filter(|e| !text.contains(**e)).collect();
    assert!(
        missing.is_empty(),
        "{example}/generated/OBSERVABILITY.md misses {missing:?}"
    );
}

#[test]
fn seed_000_blue_green_websocket_app() {
    assert_mentions(
        "ws-blue-green",
        &[
            "`websocket_active_connections`",
            "`websocket_messages_total`",
            "`websocket_errors_total`",
            "`sigiq_startup_time_seconds`",
            "`sigiq_shutdown_time_seconds`",
            "`app_blue:8000`",
            "`app_green:8000`",
            "scraped every\n15s",
            "15d of data",
            "`/healthz`",
            "`/readyz`",
            "\"session_id\"",
            "\"lineno\"",
            "\"event\"",
            "heartbeat broadcast",
            "every 30s (timeout 10s, unhealthy after 3 failures",
            "`NoActiveWebSocketConnections` | warning | 1m",
            "refreshing every 5s over the last 1h",
            "1. **Active Connections** (gauge)",
            "4. **Connection Timeline** (timeseries)",
            "--interval 3s --duration 1m",
        ],
    );
}

#[test]
fn seed_001_websocket_message_counter() {
    assert_mentions(
        "ws-message-counter",
        &[
            "`/metrics/`",
            "`/healthz/`",
            "`/readyz/`",
            "\"status\": \"healthy\"",
            "\"uptime\": 3600.5",
            "\"shutting_down\": false",
            "`websocket_connection_duration_seconds`",
            "`websocket_shutdown_time_seconds`",
            "`type` ∈ {connection_failed, processing_error, protocol, abnormal_close}",
            "`$LOKI_URL`",
            "`$LOKI_ENABLED`",
            "`service`, `environment`, `level`",
            "\"level\": \"INFO\"",
            "\"logger\"",
            "\"client_ip\"",
            "| json | session_id",
            "--bin loadtest -- --spec examples/ws-message-counter/obs.yaml\n",
            "1000 sockets opened 10 a second against `ws://localhost:8080`, each sending 0.1 messages a second, for 300 s",
            "--interval 10s --duration 1m",
        ],
    );
}

#[test]
fn seed_002_ws_service() {
    assert_mentions(
        "ws-service",
        &[
            "\"status\": \"ok\"",
            "`active_connections` | gauge",
            "`total_messages_total` | counter",
            "`error_count_total` | counter",
            "`shutdown_duration` | histogram",
            "`NoActiveConnections` | warning | 1m | No active WebSocket connections for 1 minute",
            "\"request_id\"",
            "`ws-service`",
        ],
    );
}

#[test]
fn seed_003_shadower_analytics() {
    let alerts = [
        "HighErrorRate",
        "DatabaseConnectionPoolExhausted",
        "DatabaseConnectionFailures",
        "HighMemoryUsage",
        "HighCPUUsage",
        "HighAPILatencyP95",
        "HighAPILatencyP99",
        "CreditConsumptionSpike",
        "LowCacheHitRate",
        "BackgroundJobFailures",
        "ServiceDown",
        "ExportFailures",
        "SlowDatabaseQueries",
        "DatabaseQueryTimeout",
    ];
    let text = document("shadower-analytics");
    for alert in alerts {
        assert!(text.contains(&format!("| `{alert}` |")), "alert {alert} missing");
    }
    assert_mentions(
        "shadower-analytics",
        &[
            "### analytics_alerts",
            "### database_performance",
            "`/health`",
            "`/health/detailed`",
            "`/ready`",
            "`/live`",
            "`http_requests_total` | counter | `endpoint`",
            "`analytics_credits_consumed_total`",
            "`cache_items_total`",
            "`OTEL_EXPORTER_OTLP_ENDPOINT`",
            "`SENTRY_DSN`",
            "`SENTRY_TRACES_SAMPLE_RATE`",
            "`analytics-errors-YYYY.MM.DD`",
            "`ELASTICSEARCH_PASSWORD`",
            "Slack `#analytics-alerts`",
            "PagerDuty",
            "`/api/v1/metrics`",
            "17. **Average Response Time**",
            "Jaeger | http://localhost:16686",
            "`[REDACTED]`",
            "| `postgres` | `postgres:16-alpine` | `postgres:5432` |",
            "| `redis` | `redis:7-alpine` | `redis:6379` |",
        ],
    );
}

#[test]
fn seed_004_personaworlds() {
    assert_mentions(
        "personaworlds",
        &[
            "`api` | `api` | `backend:8000`",
            "`worker` | `worker` | `worker:9091`",
            "`WORKER_OBSERVABILITY_PORT`",
            "\"ts\"",
            "\"msg\"",
            "\"job_id\"",
            "\"user_id\"",
            "`jobs_trace_total` | counter | `type` (≤ 20 values, then `other`); `status` ∈ {succeeded, failed}; `trace` ∈ {present, missing}",
            "`queue_depth`",
            "`db_query_duration_seconds`",
            "docker compose --profile observability up -d",
            "Grafana | http://localhost:3001",
            "`HighApiLatency`",
            "`ApiErrorRateSpike`",
            "`WorkerFailures`",
            "`RetryStorm`",
            "`QueueBacklog`",
            "| `db` | `postgres:16-alpine` | `db:5432` |",
        ],
    );
}

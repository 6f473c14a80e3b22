//! The JSON bodies of the probe endpoints, built in one place so the runtime serves exactly
//! what OBSERVABILITY.md shows. Keys come out in the order the spec lists the fields.

use serde_json::{json, Map, Value};

use crate::model::{CheckKind, Probe, ProbeField};

/// Status word when a probe fails because the process is stopping.
pub const SHUTTING_DOWN: &str = "shutting_down";
/// Status word of a readiness probe whose gating checks fail.
pub const NOT_READY: &str = "not_ready";

/// The outcome of one dependency check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub name: String,
    pub kind: CheckKind,
    pub up: bool,
    pub latency_ms: f64,
    pub gates_readiness: bool,
    pub error: Option<String>,
}

/// What a probe answer is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeState {
    /// RFC 3339 time of the answer.
    pub timestamp: String,
    pub uptime_seconds: f64,
    pub version: String,
    pub shutting_down: bool,
    pub checks: Vec<CheckResult>,
}

impl ProbeState {
    /// Every gating check is up and the process is not stopping.
    pub fn ready(&self) -> bool {
        !self.shutting_down && self.checks.iter().filter(|c| c.gates_readiness).all(|c| c.up)
    }
}

fn round_ms(value: f64) -> Value {
    json!((value * 10.0).round() / 10.0)
}

fn body(probe: &Probe, default_status: &str, healthy: bool, failing_status: &str, state: &ProbeState) -> Value {
    let mut map = Map::new();
    for field in &probe.fields {
        let (key, value) = match field {
            ProbeField::Status => {
                let word = if healthy {
                    probe.status_text.as_deref().unwrap_or(default_status)
                } else {
                    failing_status
                };
                ("status", json!(word))
            }
            ProbeField::Timestamp => ("timestamp", json!(state.timestamp)),
            ProbeField::Uptime => ("uptime", round_ms(state.uptime_seconds)),
            ProbeField::Ready => ("ready", json!(state.ready())),
            ProbeField::ShuttingDown => ("shutting_down", json!(state.shutting_down)),
            ProbeField::Version => ("version", json!(state.version)),
            ProbeField::Checks => {
                let checks: Map<String, Value> = state
                    .checks
                    .iter()
                    .map(|c| (c.name.clone(), json!(if c.up { "up" } else { "down" })))
                    .collect();
                ("checks", Value::Object(checks))
            }
        };
        map.insert(key.to_string(), value);
    }
    Value::Object(map)
}

/// Liveness: healthy whenever the process answers.
pub fn liveness_body(probe: &Probe, state: &ProbeState) -> Value {
    body(probe, "ok", true, "ok", state)
}

/// Readiness: the HTTP status (200 or 503) and the body.
pub fn readiness_body(probe: &Probe, state: &ProbeState) -> (u16, Value) {
    let ready = state.ready();
    let failing = if state.shutting_down { SHUTTING_DOWN } else { NOT_READY };
    (
        if ready { 200 } else { 503 },
        body(probe, "ready", ready, failing, state),
    )
}

/// Overall word of the detailed endpoint: a gating check down is `unhealthy`, only
/// optional ones down is `degraded`.
pub fn overall_status(state: &ProbeState) -> &'static str {
    if state.checks.iter().any(|c| c.gates_readiness && !c.up) {
        "unhealthy"
    } else if state.checks.iter().any(|c| !c.up) {
        "degraded"
    } else {
        "healthy"
    }
}

/// The detailed endpoint: status code (503 when unhealthy or stopping) and every check.
pub fn detailed_body(state: &ProbeState) -> (u16, Value) {
    let status = if state.shutting_down {
        SHUTTING_DOWN
    } else {
        overall_status(state)
    };
    let checks: Vec<Value> = state
        .checks
        .iter()
        .map(|c| {
            let mut check = Map::new();
            check.insert("name".into(), json!(c.name));
            check.insert(
                "kind".into(),
                json!(match c.kind {
                    CheckKind::Tcp => "tcp",
                    CheckKind::Http => "http",
                    CheckKind::Redis => "redis",
                    CheckKind::Postgres => "postgres",
                    CheckKind::Custom => "custom",
                }),
            );
            check.insert("status".into(), json!(if c.up { "up" } else { "down" }));
            check.insert("latency_ms".into(), round_ms(c.latency_ms));
            check.insert("gates_readiness".into(), json!(c.gates_readiness));
            if let Some(error) = &c.error {
                check.insert("error".into(), json!(error));
            }
            Value::Object(check)
        })
        .collect();
    let code = if status == "healthy" || status == "degraded" {
        200
    } else {
        503
    };
    let body = json!({
        "status": status,
        "timestamp": state.timestamp,
        "uptime": round_ms(state.uptime_seconds),
        "version": state.version,
        "checks": checks,
    });
    (code, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(fields: &[ProbeField], status_text: Option<&str>) -> Probe {
        Probe {
            path: "/p".into(),
            aliases: vec![],
            fields: fields.to_vec(),
            status_text: status_text.map(String::from),
        }
    }

    fn state(shutting_down: bool, db_up: bool) -> ProbeState {
        ProbeState {
            timestamp: "2024-01-15T10:30:00Z".into(),
            uptime_seconds: 3600.54,
            version: "1.0.0".into(),
            shutting_down,
            checks: vec![CheckResult {
                name: "db".into(),
                kind: CheckKind::Tcp,
                up: db_up,
                latency_ms: 1.234,
                gates_readiness: true,
                error: (!db_up).then(|| "connection refused".into()),
            }],
        }
    }

    #[test]
    fn liveness_matches_the_seed_bodies() {
        let ok = liveness_body(&probe(&[ProbeField::Status], Some("ok")), &state(false, true));
        assert_eq!(ok.to_string(), r#"{"status":"ok"}"#);
        let fields = [ProbeField::Status, ProbeField::Timestamp, ProbeField::Uptime];
        let healthy = liveness_body(&probe(&fields, Some("healthy")), &state(false, false));
        assert_eq!(
            healthy.to_string(),
            r#"{"status":"healthy","timestamp":"2024-01-15T10:30:00Z","uptime":3600.5}"#
        );
    }

    #[test]
    fn readiness_turns_503_when_stopping_or_a_gating_check_fails() {
        let fields = [
            ProbeField::Status,
            ProbeField::Timestamp,
            ProbeField::Ready,
            ProbeField::ShuttingDown,
        ];
        let p = probe(&fields, None);
        let (code, body) = readiness_body(&p, &state(false, true));
        assert_eq!(code, 200);
        assert_eq!(
            body.to_string(),
            r#"{"status":"ready","timestamp":"2024-01-15T10:30:00Z","ready":true,"shutting_down":false}"#
        );
        let (code, body) = readiness_body(&p, &state(true, true));
        assert_eq!((code, body["status"].as_str()), (503, Some("shutting_down")));
        let (code, body) = readiness_body(&p, &state(false, false));
        assert_eq!(
            (code, body["status"].as_str(), body["ready"].as_bool()),
            (503, Some("not_ready"), Some(false))
        );
    }

    #[test]
    fn detailed_lists_each_check() {
        let (code, body) = detailed_body(&state(false, false));
        assert_eq!(code, 503);
        assert_eq!(body["status"], "unhealthy");
        assert_eq!(body["checks"][0]["error"], "connection refused");
        assert_eq!(body["checks"][0]["latency_ms"], 1.2);
    }
}

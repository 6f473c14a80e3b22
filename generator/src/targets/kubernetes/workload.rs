//! The app on Kubernetes: a Deployment and a Service per component, and the ConfigMap of
//! the spec's variables. Probes come from `health` (liveness, readiness where the component
//! has it, and a startup probe that gives the process `health.container.start_period`
//! before liveness counts); the preStop hook keeps the pod serving for `shutdown.drain`
//! while endpoints stop routing to it, and the grace period covers that, the service's own
//! `shutdown.grace` and a margin, so Kubernetes never kills in-flight work the runtime
//! would still finish. Secrets come from a Secret by reference, never inline.

use contract::kubernetes::{component_object, object_name};
use contract::topology::ComponentView;
use contract::{Duration, EnvString, Spec};
use serde_json::{json, Value};

use super::metadata;
use crate::plan::environment::app_variables;
use crate::plan::Plan;

/// Seconds Kubernetes waits beyond the preStop hook and the service's own grace period.
pub(super) const GRACE_MARGIN_SECS: u64 = 5;
/// The startup probe asks often, so a pod is live as soon as it serves; it allows as long
/// as compose would (the start period, then `retries` failed intervals).
const STARTUP_PERIOD_SECS: u64 = 2;
/// Readiness is asked at least this often, so a pod that starts draining leaves rotation
/// well within `shutdown.drain`.
const READINESS_PERIOD_SECS: u64 = 5;

/// The Secret the app's secret variables are read from (created by the team, not generated).
pub fn secret_name(spec: &Spec) -> String {
    format!("{}-secrets", object_name(&spec.service.name))
}

/// The ConfigMap holding the defaults of the app's other variables.
fn env_config_name(spec: &Spec) -> String {
    format!("{}-env", object_name(&spec.service.name))
}

/// Whole seconds, rounded up, at least `min`.
fn secs(duration: Duration, min: u64) -> u64 {
    duration.as_millis().div_ceil(1000).max(min)
}

/// A variable the app reads, and where its value comes from on Kubernetes.
struct Variable {
    name: String,
    /// Read from the Secret (the name says it holds one, or it is the metrics token).
    secret: bool,
    /// The spec's default; it goes into the ConfigMap (never for a secret).
    default: Option<String>,
    /// The app refuses to start without it.
    required: bool,
}

fn variables(plan: &Plan<'_>) -> Vec<Variable> {
    let spec = &plan.loaded.spec;
    let mut out: Vec<Variable> = Vec::new();
    let declared_secret: Vec<String> = spec
        .stack
        .kubernetes
        .iter()
        .flat_map(|k| k.secret_variables.iter().cloned())
        .collect();
    for variable in app_variables(spec, &plan.resolved.stack) {
        let EnvString::Env { var, default } = variable.value else {
            continue;
        };
        if out.iter().any(|v| v.name == var) {
            continue;
        }
        let secret = contract::env_string::names_a_secret(&var) || declared_secret.contains(&var);
        out.push(Variable {
            secret,
            required: secret && default.is_none(),
            default: if secret { None } else { default },
            name: var,
        });
    }
    if let Some(var) = &spec.metrics.endpoint.bearer_token_env {
        out.retain(|v| &v.name != var);
        out.push(Variable {
            name: var.clone(),
            secret: true,
            default: None,
            required: true,
        });
    }
    out.push(Variable {
        name: "LOG_LEVEL".into(),
        secret: false,
        default: Some(spec.logging.level.as_str().into()),
        required: false,
    });
    out.push(Variable {
        name: "RUST_LOG".into(),
        secret: false,
        default: None,
        required: false,
    });
    out
}

fn env_config(plan: &Plan<'_>, variables: &[Variable]) -> Value {
    let spec = &plan.loaded.spec;
    let data: serde_json::Map<String, Value> = variables
        .iter()
        .filter(|v| !v.secret)
        .filter_map(|v| v.default.as_ref().map(|d| (v.name.clone(), Value::from(d.as_str()))))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(plan, &env_config_name(spec), &[]),
        "data": data,
    })
}

/// The container's `env`: the component and replica, the port variable, then every variable
/// the spec names, each from the ConfigMap or the Secret.
fn container_env(plan: &Plan<'_>, component: &ComponentView, variables: &[Variable]) -> Vec<Value> {
    let spec = &plan.loaded.spec;
    let mut env = vec![
        json!({"name": runtime_env::COMPONENT, "value": component.name}),
        // A pod's name tells its logs and pushes apart, as the replica name does in compose.
        json!({"name": runtime_env::REPLICA, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
    ];
    if let Some(var) = &component.port_env {
        env.push(json!({"name": var, "value": component.port.to_string()}));
    }
    for variable in variables {
        let source = if variable.secret {
            json!({"secretKeyRef": {"name": secret_name(spec), "key": variable.name, "optional": !variable.required}})
        } else {
            json!({"configMapKeyRef": {"name": env_config_name(spec), "key": variable.name, "optional": true}})
        };
        env.push(json!({"name": variable.name, "valueFrom": source}));
    }
    env
}

/// Names of the environment variables the runtime reads itself.
mod runtime_env {
    pub const COMPONENT: &str = "OBS_COMPONENT";
    pub const REPLICA: &str = "OBS_REPLICA";
}

/// The labels a component's pods are selected by.
pub fn selector(plan: &Plan<'_>, component: &ComponentView) -> Value {
    json!({
        "app.kubernetes.io/name": object_name(&plan.loaded.spec.service.name),
        "app.kubernetes.io/component": object_name(&component.name),
    })
}

fn port_list(component: &ComponentView) -> Vec<(&'static str, u16)> {
    let mut ports = vec![("http", component.port)];
    if component.has_separate_metrics_port() {
        ports.push(("metrics", component.metrics_port));
    }
    ports
}

fn deployment(plan: &Plan<'_>, component: &ComponentView, variables: &[Variable]) -> Value {
    let spec = &plan.loaded.spec;
    let kubernetes = spec.stack.kubernetes.clone().unwrap_or_default();
    let container = &spec.health.container;
    let (drain, grace) = (secs(spec.shutdown.drain, 0), secs(spec.shutdown.grace, 1));
    let interval = secs(container.interval, 1);
    let timeout = secs(container.timeout, 1);
    let http_get = |path: &str| json!({"path": path, "port": "http"});
    let mut probes = serde_json::Map::new();
    // Failures count only after the start period; then liveness takes over.
    probes.insert(
        "startupProbe".into(),
        json!({
            "httpGet": http_get(&spec.health.liveness.path),
            "periodSeconds": STARTUP_PERIOD_SECS,
            "timeoutSeconds": timeout,
            "failureThreshold": (secs(container.start_period, 1) + interval * u64::from(container.retries.max(1)))
                .div_ceil(STARTUP_PERIOD_SECS),
        }),
    );
    probes.insert(
        "livenessProbe".into(),
        json!({
            "httpGet": http_get(&spec.health.liveness.path),
            "periodSeconds": interval,
            "timeoutSeconds": timeout,
            "failureThreshold": container.retries.max(1),
        }),
    );
    if component.readiness {
        // The runtime answers 503 only when a gating check fails or shutdown began: either
        // should take the pod out of rotation at the first answer.
        probes.insert(
            "readinessProbe".into(),
            json!({
                "httpGet": http_get(&spec.health.readiness.path),
                "periodSeconds": interval.min(READINESS_PERIOD_SECS),
                "timeoutSeconds": timeout.min(interval.min(READINESS_PERIOD_SECS)),
                "failureThreshold": 1,
            }),
        );
    }
    let ports: Vec<Value> = port_list(component)
        .into_iter()
        .map(|(name, port)| json!({"name": name, "containerPort": port, "protocol": "TCP"}))
        .collect();
    let mut app = json!({
        "name": object_name(&component.name),
        "image": kubernetes.image.clone().unwrap_or_else(|| spec.service.image_name()),
        "ports": ports,
        "env": container_env(plan, component, variables),
    });
    let app_map = app.as_object_mut().expect("an object");
    if let Some(command) = &component.command {
        // Compose's `command` replaces the image's arguments, not its entrypoint.
        app_map.insert("args".into(), json!(command));
    }
    app_map.extend(probes);
    if drain > 0 {
        app_map.insert("lifecycle".into(), json!({"preStop": {"sleep": {"seconds": drain}}}));
    }
    let replicas = kubernetes
        .replicas
        .unwrap_or_else(|| u32::try_from(component.replicas.len()).unwrap_or(u32::MAX).max(1));
    let name = component_object(spec, component);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(plan, &name, &labels_of(plan, component)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector(plan, component)},
            "template": {
                "metadata": {"labels": selector(plan, component)},
                "spec": {
                    "terminationGracePeriodSeconds": drain + grace + GRACE_MARGIN_SECS,
                    "containers": [app],
                },
            },
        },
    })
}

/// The selector labels and the Prometheus job, as `(key, value)` pairs for `metadata`.
fn labels_of(plan: &Plan<'_>, component: &ComponentView) -> Vec<(&'static str, Value)> {
    let selector = selector(plan, component);
    vec![
        ("app.kubernetes.io/name", selector["app.kubernetes.io/name"].clone()),
        (
            "app.kubernetes.io/component",
            selector["app.kubernetes.io/component"].clone(),
        ),
        (JOB_LABEL, component.job.clone().into()),
    ]
}

/// The Service label whose value the ServiceMonitor makes the Prometheus `job`, so rules
/// written against the compose stack's job names match on the cluster too.
pub const JOB_LABEL: &str = "obs.job";

fn service(plan: &Plan<'_>, component: &ComponentView) -> Value {
    let ports: Vec<Value> = port_list(component)
        .into_iter()
        .map(|(name, port)| json!({"name": name, "port": port, "targetPort": name, "protocol": "TCP"}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(plan, &component_object(&plan.loaded.spec, component), &labels_of(plan, component)),
        "spec": {
            "selector": selector(plan, component),
            "ports": ports,
        },
    })
}

/// `config.yaml`, `deployments.yaml` and `services.yaml`.
pub fn files(plan: &Plan<'_>) -> Vec<(&'static str, Vec<Value>)> {
    let variables = variables(plan);
    let components = &plan.resolved.components;
    vec![
        ("config.yaml", vec![env_config(plan, &variables)]),
        (
            "deployments.yaml",
            components.iter().map(|c| deployment(plan, c, &variables)).collect(),
        ),
        ("services.yaml", components.iter().map(|c| service(plan, c)).collect()),
    ]
}

//! `generated/prometheus/`: the server config (one scrape job per component, one target per
//! replica, rule files, Alertmanager), the rule files, and the promtool test files.

use std::collections::BTreeMap;

use contract::prometheus_version::PrometheusVersion;
use contract::rules::{Rule, RuleFile, RuleSet, RuleTestFile};
use contract::{EnvString, LoadedSpec};
use minijinja::Environment;
use serde::Serialize;

use super::{header, render_into, Rendered};
use crate::output::Tree;
use crate::plan::native_scrape::{NativeScrape, NATIVE_SCRAPE_PROTOCOLS};
use crate::plan::Plan;
use contract::Resolved;

/// Where compose mounts `generated/prometheus/`; paths inside the config are relative to it.
pub const CONFIG_DIR: &str = "/etc/prometheus";
/// Host and port of Alertmanager as Prometheus reaches it inside the compose network.
pub const ALERTMANAGER_TARGET: &str = "alertmanager:9093";

#[derive(Serialize)]
struct Target {
    address: String,
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Job {
    name: String,
    metrics_path: String,
    credentials_file: Option<String>,
    targets: Vec<Target>,
    /// Keep the job and replica labels a push carries (the Pushgateway's job).
    honor_labels: bool,
    /// Native-histogram settings of the job, `name: value`, in the targeted release's form.
    histogram_settings: Vec<(&'static str, String)>,
}

/// What a job scraping native histograms needs, by release: from 3.8 the
/// `scrape_native_histograms` setting with the protocols it negotiates (earlier releases
/// refuse the setting and take the `native-histograms` feature flag the compose command
/// carries instead, which puts protobuf first by itself), and where classic buckets are kept
/// beside the native ones, the setting that keeps ingesting them.
fn histogram_settings(version: PrometheusVersion, scrape: NativeScrape) -> Vec<(&'static str, String)> {
    let mut settings = Vec::new();
    if scrape.native && version.native_histograms_by_setting() {
        settings.push(("scrape_native_histograms", "true".to_string()));
        settings.push(("scrape_protocols", format!("[{}]", NATIVE_SCRAPE_PROTOCOLS.join(", "))));
    }
    if scrape.native && scrape.classic_beside {
        settings.push((version.classic_histograms_setting(), "true".to_string()));
    }
    settings
}

#[derive(Serialize)]
struct RemoteWriteView {
    url: String,
    headers: BTreeMap<&'static str, String>,
    credentials_file: Option<String>,
}

#[derive(Serialize)]
struct Config {
    header: String,
    scrape_interval: String,
    /// `None` in the scrape-only file the vmagent members read.
    evaluation_interval: Option<String>,
    external_labels: BTreeMap<String, String>,
    rule_files: Vec<String>,
    alertmanager_target: Option<&'static str>,
    remote_write: Vec<RemoteWriteView>,
    jobs: Vec<Job>,
}

/// The scrape-only config of the VictoriaMetrics scale-out: its vmagent members read the
/// same jobs, and refuse what only a Prometheus server has (rules, alerting, evaluation).
/// No external labels either: vmagent would stamp them on every sample as written (it does
/// not expand `${VAR}`), where vmalert adds `service` and `environment` to alerts instead.
pub const SCRAPE_CONFIG: &str = "prometheus/scrape.yml";

/// The value Prometheus sees: `${VAR}` (expanded at start by 3.x, and by 2.x with
/// `--enable-feature=expand-external-labels`) or the literal.
fn external_label(value: &EnvString) -> String {
    match value.env_var() {
        Some(var) => format!("${{{var}}}"),
        None => value.default_value().unwrap_or_default().to_string(),
    }
}

pub fn rule_file_path(file: &RuleFile) -> String {
    format!("rules/{}.yml", file.name)
}

fn config(loaded: &LoadedSpec, resolved: &Resolved) -> Config {
    let (rules, stack) = (&resolved.rules, &resolved.stack);
    let spec = &loaded.spec;
    let prometheus = &spec.stack.prometheus;
    let mut external_labels = BTreeMap::new();
    external_labels.insert("service".to_string(), spec.service.name.clone());
    external_labels.insert("environment".to_string(), external_label(&spec.service.environment));
    let version = stack.prometheus;
    let mut jobs: Vec<Job> = resolved
        .components
        .iter()
        .map(|component| Job {
            histogram_settings: histogram_settings(version, NativeScrape::of(resolved, &component.name)),
            honor_labels: false,
            name: component.job.clone(),
            metrics_path: spec.metrics.endpoint.path.clone(),
            credentials_file: stack.credentials_file.clone(),
            targets: component
                .instances()
                .into_iter()
                .map(|instance| Target {
                    address: format!("{}:{}", instance.host, component.metrics_port),
                    labels: instance
                        .replica
                        .map(|r| BTreeMap::from([("replica".to_string(), r)]))
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    if stack.host_port("pushgateway").is_some() {
        jobs.push(Job {
            name: "pushgateway".into(),
            metrics_path: "/metrics".into(),
            credentials_file: None,
            targets: vec![Target {
                address: format!("pushgateway:{}", contract::resolve::stack_plan::PUSHGATEWAY_PORT),
                labels: BTreeMap::new(),
            }],
            honor_labels: true,
            histogram_settings: Vec::new(),
        });
    }
    let remote_write = spec
        .stack
        .storage
        .iter()
        .flat_map(|s| &s.remote_write)
        .map(|receiver| RemoteWriteView {
            url: receiver.url.clone(),
            headers: receiver
                .kind
                .tenant_header()
                .zip(receiver.tenant.clone())
                .into_iter()
                .collect(),
            credentials_file: receiver.bearer_token_file.clone(),
        })
        .collect();
    Config {
        header: header(loaded),
        scrape_interval: prometheus.scrape_interval.to_string(),
        evaluation_interval: Some(
            prometheus
                .evaluation_interval
                .unwrap_or(prometheus.scrape_interval)
                .to_string(),
        ),
        external_labels,
        rule_files: rules.files.iter().map(rule_file_path).collect(),
        alertmanager_target: stack.alertmanager.then_some(ALERTMANAGER_TARGET),
        remote_write,
        jobs,
    }
}

#[derive(Serialize)]
struct RuleView {
    record: Option<String>,
    alert: Option<String>,
    expr: String,
    #[serde(rename = "for")]
    for_: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct GroupView {
    name: String,
    interval: Option<String>,
    rules: Vec<RuleView>,
}

#[derive(Serialize)]
struct RulesView {
    header: String,
    groups: Vec<GroupView>,
}

fn rules_view(loaded: &LoadedSpec, file: &RuleFile) -> RulesView {
    let groups = file
        .groups
        .iter()
        .map(|group| GroupView {
            name: group.name.clone(),
            interval: group.interval.map(|d| d.to_string()),
            rules: group
                .rules
                .iter()
                .map(|rule| match rule {
                    Rule::Record(record) => RuleView {
                        record: Some(record.record.clone()),
                        alert: None,
                        expr: record.expr.clone(),
                        for_: None,
                        labels: record.labels.clone(),
                        annotations: BTreeMap::new(),
                    },
                    Rule::Alert(alert) => RuleView {
                        record: None,
                        alert: Some(alert.name.clone()),
                        expr: alert.expr.clone(),
                        for_: alert.for_.map(|d| d.to_string()),
                        labels: alert.labels.clone(),
                        annotations: alert.annotations.clone(),
                    },
                })
                .collect(),
        })
        .collect();
    RulesView {
        header: header(loaded),
        groups,
    }
}

#[derive(Serialize)]
struct InputView {
    series: String,
    values: String,
}

#[derive(Serialize)]
struct ExpectedView {
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct CheckView {
    eval_time: String,
    alertname: String,
    expected: Vec<ExpectedView>,
}

#[derive(Serialize)]
struct TestView {
    name: String,
    interval: String,
    input_series: Vec<InputView>,
    checks: Vec<CheckView>,
}

#[derive(Serialize)]
struct TestsView {
    header: String,
    file_name: String,
    rule_files: Vec<String>,
    evaluation_interval: String,
    tests: Vec<TestView>,
}

pub fn test_file_path(file: &RuleTestFile) -> String {
    format!("tests/{}.yml", file.name)
}

fn tests_view(loaded: &LoadedSpec, rules: &RuleSet, file: &RuleTestFile) -> TestsView {
    TestsView {
        header: header(loaded),
        file_name: format!("generated/prometheus/{}", test_file_path(file)),
        rule_files: rules
            .files
            .iter()
            .map(|f| format!("../{}", rule_file_path(f)))
            .collect(),
        evaluation_interval: file.evaluation_interval.to_string(),
        tests: file
            .tests
            .iter()
            .map(|test| TestView {
                name: test.name.clone(),
                interval: test.interval.to_string(),
                input_series: test
                    .input_series
                    .iter()
                    .map(|i| InputView {
                        series: i.series.clone(),
                        values: i.values.clone(),
                    })
                    .collect(),
                checks: test
                    .checks
                    .iter()
                    .map(|c| CheckView {
                        eval_time: c.eval_time.to_string(),
                        alertname: c.alertname.clone(),
                        expected: c
                            .expected
                            .iter()
                            .map(|e| ExpectedView {
                                labels: e.labels.clone(),
                                annotations: e.annotations.clone(),
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn render(env: &Environment<'_>, plan: &Plan<'_>, tree: &mut Tree) -> Rendered {
    let (loaded, rules) = (plan.loaded, &plan.resolved.rules);
    render_into(
        env,
        tree,
        "prometheus/prometheus.yml",
        "prometheus/prometheus.yml.j2",
        &config(loaded, plan.resolved),
    )?;
    if plan.resolved.stack.scale_out.is_some() {
        let scrape_only = Config {
            evaluation_interval: None,
            external_labels: BTreeMap::new(),
            rule_files: Vec::new(),
            alertmanager_target: None,
            remote_write: Vec::new(),
            ..config(loaded, plan.resolved)
        };
        render_into(env, tree, SCRAPE_CONFIG, "prometheus/prometheus.yml.j2", &scrape_only)?;
    }
    for file in &rules.files {
        let path = format!("prometheus/{}", rule_file_path(file));
        render_into(env, tree, &path, "prometheus/rules.yml.j2", &rules_view(loaded, file))?;
    }
    for file in &rules.tests {
        let path = format!("prometheus/{}", test_file_path(file));
        render_into(
            env,
            tree,
            &path,
            "prometheus/tests.yml.j2",
            &tests_view(loaded, rules, file),
        )?;
    }
    Ok(())
}

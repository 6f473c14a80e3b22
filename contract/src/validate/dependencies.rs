//! Checks of `stack.dependencies`, the services the app needs: each is a compose service of
//! its own, so its name must be usable and free, its image given, its host port free, and
//! the components that use it must exist.

use crate::codes::Code;
use crate::diagnostic::Diagnostic;

use super::service::is_compose_name;
use super::{report_duplicates, Checker};

/// The monitoring servers' compose service names, taken whether or not the spec runs them.
const MONITORING: [&str; 8] = [
    "prometheus",
    "victoriametrics",
    "vmalert",
    "alertmanager",
    "grafana",
    "loki",
    "jaeger",
    "elasticsearch",
];

pub(super) fn check_all(checker: &mut Checker) {
    check_names(checker);
    check_images(checker);
    check_used_by(checker);
    check_ports(checker);
}

fn path(i: usize, field: &str) -> String {
    format!("stack.dependencies[{i}].{field}")
}

fn check_names(checker: &mut Checker) {
    let (spec, components) = (checker.spec, checker.components);
    let dependencies = &spec.stack.dependencies;
    let containers: Vec<String> = components.iter().flat_map(|c| c.instances()).map(|i| i.host).collect();
    for (i, dependency) in dependencies.iter().enumerate() {
        let name = &dependency.name;
        if !is_compose_name(name) {
            checker.push(
                Diagnostic::new(
                    Code::DependencyNameInvalid,
                    path(i, "name"),
                    format!("dependency `{name}` is not a valid compose service name"),
                )
                .with_help("use lowercase letters, digits, `-` and `_`, starting with a letter or digit"),
            );
        }
        let taken_by = if containers.contains(name) {
            Some(format!("an app container is called `{name}`"))
        } else if MONITORING.contains(&name.as_str()) || name.starts_with(crate::resolve::stack_plan::VMAGENT_PREFIX) {
            Some(format!("`{name}` is a monitoring server of the stack"))
        } else {
            None
        };
        if let Some(reason) = taken_by {
            checker.push(
                Diagnostic::new(
                    Code::DependencyDuplicate,
                    path(i, "name"),
                    format!("dependency `{name}` cannot be a compose service: {reason}"),
                )
                .with_help("rename the dependency (and the host name the app connects to)"),
            );
        }
    }
    report_duplicates(
        checker,
        Code::DependencyDuplicate,
        "dependency",
        dependencies
            .iter()
            .enumerate()
            .map(|(i, d)| (path(i, "name"), d.name.as_str())),
    );
}

fn check_images(checker: &mut Checker) {
    let spec = checker.spec;
    for (i, dependency) in spec.stack.dependencies.iter().enumerate() {
        if dependency.image.trim().is_empty() {
            checker.push(
                Diagnostic::new(
                    Code::DependencyImageEmpty,
                    path(i, "image"),
                    format!("dependency `{}` has no image", dependency.name),
                )
                .with_help("name a public image and tag, e.g. `postgres:16-alpine`"),
            );
        }
    }
}

fn check_used_by(checker: &mut Checker) {
    let (spec, components) = (checker.spec, checker.components);
    let known: Vec<&str> = components.iter().map(|c| c.name.as_str()).collect();
    for (i, dependency) in spec.stack.dependencies.iter().enumerate() {
        for (j, name) in dependency.used_by.iter().flatten().enumerate() {
            if !known.contains(&name.as_str()) {
                checker.push(
                    Diagnostic::new(
                        Code::ComponentUnknown,
                        path(i, &format!("used_by[{j}]")),
                        format!("component `{name}` is not declared"),
                    )
                    .with_help(format!("declared components: {}", known.join(", "))),
                );
            }
        }
    }
}

/// Port 0 for `port` or `publish`, and a published host port another service of the stack
/// publishes too: a monitoring server, an app container, or an earlier dependency.
fn check_ports(checker: &mut Checker) {
    let (spec, stack) = (checker.spec, checker.stack);
    let mut taken: Vec<(u16, String)> = Vec::new();
    for server in &stack.monitoring {
        taken.push((
            server.host_port,
            format!("the host port of the stack's {}", server.name),
        ));
    }
    for published in &stack.published {
        let ports = std::iter::once(published.http).chain(published.metrics);
        taken.extend(ports.map(|port| (port, format!("published by the app container `{}`", published.host))));
    }
    let mut found = Vec::new();
    for (i, dependency) in spec.stack.dependencies.iter().enumerate() {
        if dependency.port == 0 {
            found.push(
                Diagnostic::new(Code::PortInvalid, path(i, "port"), "port 0 cannot be connected to")
                    .with_help("give the port the dependency listens on, e.g. 5432"),
            );
        }
        let Some(publish) = dependency.publish else { continue };
        if publish == 0 {
            found.push(
                Diagnostic::new(Code::PortInvalid, path(i, "publish"), "host port 0 cannot be published")
                    .with_help("give a free host port, or remove `publish`"),
            );
            continue;
        }
        if let Some((_, owner)) = taken.iter().find(|(port, _)| *port == publish) {
            found.push(
                Diagnostic::new(
                    Code::PortConflict,
                    path(i, "publish"),
                    format!("host port {publish} is also {owner}"),
                )
                .with_help("publish the dependency on another host port"),
            );
        } else {
            taken.push((publish, format!("published by the dependency `{}`", dependency.name)));
        }
    }
    found.into_iter().for_each(|d| checker.push(d));
}

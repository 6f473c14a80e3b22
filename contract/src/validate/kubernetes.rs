//! `stack.kubernetes`: the namespace and every object name the manifests use are names the
//! API server accepts, and the selector labels are valid label keys and values.

use super::Checker;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::kubernetes::{component_object, is_dns_label, is_label_key, is_label_value, namespace, MAX_NAME};

pub(super) fn check_all(checker: &mut Checker) {
    let Some(kubernetes) = &checker.spec.stack.kubernetes else {
        return;
    };
    if !is_dns_label(&namespace(checker.spec)) {
        let (path, what) = if kubernetes.namespace.is_some() {
            ("stack.kubernetes.namespace", "namespace")
        } else {
            ("service.name", "namespace (the service's name)")
        };
        checker.push(
            Diagnostic::new(
                Code::KubernetesNameInvalid,
                path,
                format!("{what} `{}` is not a valid Kubernetes name", namespace(checker.spec)),
            )
            .with_help(format!(
                "use at most {MAX_NAME} lowercase letters, digits and `-`, starting and ending with a letter or digit"
            )),
        );
    }
    for (i, component) in checker.components.iter().enumerate() {
        let name = component_object(checker.spec, component);
        if is_dns_label(&name) {
            continue;
        }
        let path = if checker.spec.service.components.is_empty() {
            "service.name".to_string()
        } else {
            format!("service.components[{i}].name")
        };
        checker.push(
            Diagnostic::new(
                Code::KubernetesNameInvalid,
                path,
                format!("the Deployment and Service would be named `{name}`, which is not a valid Kubernetes name"),
            )
            .with_help(format!(
                "keep `<service>-<component>` within {MAX_NAME} characters, ending with a letter or digit"
            )),
        );
    }
    let selectors = [
        ("labels", Some(&kubernetes.labels)),
        ("grafana_selector", kubernetes.grafana_selector.as_ref()),
    ];
    for (field, labels) in selectors {
        for (key, value) in labels.into_iter().flatten() {
            let path = format!("stack.kubernetes.{field}.{key}");
            if !is_label_key(key) {
                checker.push(
                    Diagnostic::new(Code::KubernetesLabelInvalid, path, format!("`{key}` is not a valid Kubernetes label key"))
                        .with_help("use `name` or `prefix/name`: letters, digits, `-`, `_` and `.`, at most 63 characters, starting and ending alphanumeric"),
                );
            } else if !is_label_value(value) {
                checker.push(
                    Diagnostic::new(
                        Code::KubernetesLabelInvalid,
                        path,
                        format!("`{value}` is not a valid Kubernetes label value"),
                    )
                    .with_help("use at most 63 letters, digits, `-`, `_` and `.`, starting and ending alphanumeric"),
                );
            }
        }
    }
}

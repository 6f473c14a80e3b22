//! Kubernetes naming, decided once for validation and the generator: the namespace, the
//! object name of each component's Deployment and Service, and the syntax rules of names
//! and labels the API server enforces.

use crate::model::Spec;
use crate::topology::ComponentView;

/// The longest name a Service (an RFC 1123 label) may have.
pub const MAX_NAME: usize = 63;

/// The namespace every generated resource goes in.
pub fn namespace(spec: &Spec) -> String {
    spec.stack
        .kubernetes
        .as_ref()
        .and_then(|k| k.namespace.clone())
        .unwrap_or_else(|| object_name(&spec.service.name))
}

/// The Deployment and Service of a component: the service's name alone when the service is
/// one process, `<service>-<component>` when it declares components.
pub fn component_object(spec: &Spec, component: &ComponentView) -> String {
    if spec.service.components.is_empty() {
        object_name(&spec.service.name)
    } else {
        object_name(&format!("{}-{}", spec.service.name, component.name))
    }
}

/// A compose name (`[a-z0-9][a-z0-9_-]*`) as an object name: `_` is not allowed there.
pub fn object_name(name: &str) -> String {
    name.replace('_', "-")
}

/// An RFC 1123 label: what Service and namespace names must be.
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// A label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63
/// characters of letters, digits, `-`, `_` and `.`, starting and ending alphanumeric.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && p.split('.').all(is_dns_label));
    prefix_ok && !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or at most 63 letters, digits, `-`, `_` and `.`, starting and
/// ending alphanumeric.
pub fn is_label_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.is_empty()
        || (bytes.len() <= MAX_NAME
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_follow_the_api_servers_rules() {
        assert!(is_dns_label("ws-service"));
        assert!(!is_dns_label("ws_service"));
        assert!(!is_dns_label("-ws"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_label_key("release"));
        assert!(is_label_key("app.kubernetes.io/name"));
        assert!(!is_label_key("app.kubernetes.io/"));
        assert!(!is_label_key("Bad Key"));
        assert!(is_label_value(""));
        assert!(is_label_value("kube-prometheus-stack"));
        assert!(!is_label_value("a b"));
    }

    #[test]
    fn components_are_named_after_the_service() {
        let one: Spec = serde_yaml::from_str("service: {name: ws_app}").unwrap();
        let all = crate::topology::components(&one);
        assert_eq!(component_object(&one, &all[0]), "ws-app");
        assert_eq!(namespace(&one), "ws-app");
        let two: Spec = serde_yaml::from_str(
            "service: {name: pw, components: [{name: api}, {name: worker}]}\nstack: {kubernetes: {namespace: team}}",
        )
        .unwrap();
        let all = crate::topology::components(&two);
        assert_eq!(component_object(&two, &all[1]), "pw-worker");
        assert_eq!(namespace(&two), "team");
    }
}

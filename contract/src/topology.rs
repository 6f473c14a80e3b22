//! The processes of a service (components), their replicas, ports and scrape jobs, with the
//! defaults applied: a spec without `components` is one process named `app`.

use crate::model::Spec;

/// One component with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentView {
    pub name: String,
    pub description: Option<String>,
    /// Prometheus job name.
    pub job: String,
    /// Compose service name (before the replica suffix).
    pub container: String,
    pub port: u16,
    /// Port `/metrics` is served on (equal to `port` unless separate).
    pub metrics_port: u16,
    pub port_env: Option<String>,
    pub replicas: Vec<String>,
    pub readiness: bool,
    pub command: Option<Vec<String>>,
    /// The container healthcheck command.
    pub healthcheck_command: Vec<String>,
}

/// One running copy of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Compose service name and network host name: `app_blue`, `worker`.
    pub host: String,
    pub replica: Option<String>,
}

impl ComponentView {
    pub fn instances(&self) -> Vec<Instance> {
        if self.replicas.is_empty() {
            return vec![Instance {
                host: self.container.clone(),
                replica: None,
            }];
        }
        self.replicas
            .iter()
            .map(|replica| Instance {
                host: format!("{}_{replica}", self.container),
                replica: Some(replica.clone()),
            })
            .collect()
    }

    pub fn has_separate_metrics_port(&self) -> bool {
        self.metrics_port != self.port
    }
}

/// The service's components in declaration order.
pub fn components(spec: &Spec) -> Vec<ComponentView> {
    let service = &spec.service;
    let default_healthcheck = service
        .healthcheck_command
        .clone()
        .unwrap_or_else(|| vec![format!("/usr/local/bin/{}", service.name), "healthcheck".into()]);
    if service.components.is_empty() {
        return vec![ComponentView {
            name: "app".into(),
            description: service.description.clone(),
            job: service.name.clone(),
            container: "app".into(),
            port: service.port,
            metrics_port: service.metrics_port.unwrap_or(service.port),
            port_env: service.port_env.clone(),
            replicas: service.replicas.clone(),
            readiness: true,
            command: None,
            healthcheck_command: default_healthcheck,
        }];
    }
    service
        .components
        .iter()
        .map(|component| {
            let port = component.port.unwrap_or(service.port);
            ComponentView {
                name: component.name.clone(),
                description: component.description.clone(),
                job: component.name.clone(),
                container: component.container.clone().unwrap_or_else(|| component.name.clone()),
                port,
                metrics_port: component.metrics_port.unwrap_or(port),
                port_env: component.port_env.clone(),
                replicas: component.replicas.clone().unwrap_or_else(|| service.replicas.clone()),
                readiness: component.readiness,
                command: component.command.clone(),
                healthcheck_command: component
                    .healthcheck_command
                    .clone()
                    .unwrap_or_else(|| default_healthcheck.clone()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_app_component_by_default_with_replica_hosts() {
        let spec: Spec = serde_yaml::from_str("service: {name: ws, replicas: [blue, green]}").unwrap();
        let all = components(&spec);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].job, "ws");
        let hosts: Vec<_> = all[0].instances().into_iter().map(|i| i.host).collect();
        assert_eq!(hosts, ["app_blue", "app_green"]);
    }

    #[test]
    fn components_inherit_the_service_port() {
        let spec: Spec = serde_yaml::from_str(
            "service: {name: pw, port: 8000, components: [{name: api, container: backend}, {name: worker, metrics_port: 9091}]}",
        )
        .unwrap();
        let all = components(&spec);
        assert_eq!(all[0].instances()[0].host, "backend");
        assert_eq!(all[1].port, 8000);
        assert!(all[1].has_separate_metrics_port());
    }
}

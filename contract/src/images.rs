//! The one table of monitoring images generated stacks name: each service's default image
//! with an exact tag, checked current on [`CHECKED`]. Compose files and the default
//! Prometheus version read it; a spec overrides any one with `stack.<service>.image` (and a
//! `stack.prometheus.version` of another line picks that release's image).

/// When the tags below were checked against the projects' release tags.
pub const CHECKED: &str = "2026-12-04";

/// A monitoring service of the generated stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StackImage {
    Prometheus,
    Alertmanager,
    Grafana,
    Loki,
    Jaeger,
    Pushgateway,
    Elasticsearch,
    VictoriaMetrics,
    Vmagent,
    Vmalert,
}

/// Every service with its image and what the tag is: the one table.
pub const IMAGES: &[(StackImage, &str, &str)] = &[
    (
        StackImage::Prometheus,
        "prom/prometheus:v3.5.5",
        "3.5, the long-term-support line; tests run Debian's 3.5.3 and 2.42",
    ),
    (
        StackImage::Alertmanager,
        "prom/alertmanager:v0.34.0",
        "latest release; tests run Debian's 0.33.1",
    ),
    (StackImage::Grafana, "grafana/grafana:12.4.3", "latest 12.x"),
    (StackImage::Loki, "grafana/loki:3.7.6", "latest 3.x"),
    (
        StackImage::Jaeger,
        "jaegertracing/jaeger:2.20.0",
        "Jaeger v2, receiving OTLP on 4317 (gRPC) and 4318 (HTTP); v1's all-in-one reached its end of life on 2025-12-31",
    ),
    (StackImage::Pushgateway, "prom/pushgateway:v1.11.2", "latest release"),
    (
        StackImage::Elasticsearch,
        "docker.elastic.co/elasticsearch/elasticsearch:9.4.0",
        "latest 9.x minor",
    ),
    (
        StackImage::VictoriaMetrics,
        "victoriametrics/victoria-metrics:v1.145.0",
        "tests run Debian's 1.145",
    ),
    (StackImage::Vmagent, "victoriametrics/vmagent:v1.145.0", "as VictoriaMetrics"),
    (StackImage::Vmalert, "victoriametrics/vmalert:v1.145.0", "as VictoriaMetrics"),
];

impl StackImage {
    /// The service's default image, from [`IMAGES`].
    pub fn default_image(self) -> &'static str {
        IMAGES
            .iter()
            .find(|(service, ..)| *service == self)
            .map(|(_, image, _)| *image)
            .expect("every service has a row in IMAGES")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_one_exactly_tagged_image() {
        for service in [
            StackImage::Prometheus,
            StackImage::Alertmanager,
            StackImage::Grafana,
            StackImage::Loki,
            StackImage::Jaeger,
            StackImage::Pushgateway,
            StackImage::Elasticsearch,
            StackImage::VictoriaMetrics,
            StackImage::Vmagent,
            StackImage::Vmalert,
        ] {
            assert_eq!(IMAGES.iter().filter(|(s, ..)| *s == service).count(), 1, "{service:?}");
            let image = service.default_image();
            let (_, tag) = image.rsplit_once(':').unwrap();
            assert!(
                tag.trim_start_matches('v').split('.').count() == 3 && tag != "latest",
                "{image} is not an exact version"
            );
        }
    }
}

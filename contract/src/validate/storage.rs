//! `stack.storage`: a VictoriaMetrics scale-out whose scrapers can share the targets, and
//! remote-write receivers Prometheus can send to.

use super::Checker;
use crate::codes::Code;
use crate::diagnostic::Diagnostic;
use crate::model::RemoteWriteKind;

pub(super) fn check_all(checker: &mut Checker) {
    let Some(storage) = &checker.spec.stack.storage else {
        return;
    };
    let mut found = Vec::new();
    if let Some(vm) = &storage.victoriametrics {
        if vm.scrapers == 0 {
            found.push(
                Diagnostic::new(
                    Code::StorageInvalid,
                    "stack.storage.victoriametrics.scrapers",
                    "no vmagent would scrape the targets",
                )
                .with_help("use at least 1 scraper (2 for a highly available pair)"),
            );
        } else if vm.replication == 0 || vm.replication > vm.scrapers {
            found.push(
                Diagnostic::new(
                    Code::StorageInvalid,
                    "stack.storage.victoriametrics.replication",
                    format!(
                        "each target must be scraped by 1 to {} members (the `scrapers`), not {}",
                        vm.scrapers, vm.replication
                    ),
                )
                .with_help("use `replication: scrapers` for high availability, 1 for plain sharding"),
            );
        }
        let (retention, retention_path) = match vm.retention {
            Some(retention) => (retention, "stack.storage.victoriametrics.retention"),
            None => (checker.spec.stack.prometheus.retention, "stack.prometheus.retention"),
        };
        if retention.as_millis() < 86_400_000 {
            found.push(
                Diagnostic::new(
                    Code::StorageInvalid,
                    retention_path,
                    format!("VictoriaMetrics keeps data for at least a day, not {retention}"),
                )
                .with_help("set `stack.storage.victoriametrics.retention: 1d` or more"),
            );
        }
        let alerts = checker
            .rules
            .files
            .iter()
            .flat_map(|f| &f.groups)
            .flat_map(|g| &g.rules)
            .any(|r| matches!(r, crate::rules::Rule::Alert(_)));
        if alerts && !checker.stack.alertmanager {
            found.push(
                Diagnostic::new(
                    Code::StorageInvalid,
                    "stack.storage.victoriametrics",
                    "vmalert refuses to evaluate alerts with no Alertmanager to notify, and this stack runs none",
                )
                .with_help(
                    "declare `alertmanager:` with a route and a receiver (and keep `stack.alertmanager.enabled`)",
                ),
            );
        }
        if !storage.remote_write.is_empty() {
            found.push(
                Diagnostic::new(
                    Code::StorageInvalid,
                    "stack.storage.remote_write",
                    "remote-write receivers are Prometheus' and no Prometheus runs beside VictoriaMetrics",
                )
                .with_help("keep one of `victoriametrics` and `remote_write`"),
            );
        }
    }
    for (i, receiver) in storage.remote_write.iter().enumerate() {
        let path = format!("stack.storage.remote_write[{i}]");
        let scheme_ok = receiver.url.starts_with("http://") || receiver.url.starts_with("https://");
        if !scheme_ok || receiver.url.contains(char::is_whitespace) {
            found.push(
                Diagnostic::new(
                    Code::StorageInvalid,
                    format!("{path}.url"),
                    format!("`{}` is not an http(s) URL", receiver.url),
                )
                .with_help("e.g. `http://mimir:9009/api/v1/push` or `http://thanos-receive:19291/api/v1/receive`"),
            );
        }
        if let Some(reason) = super::secrets::credential_in_url(&receiver.url) {
            found.push(
                Diagnostic::new(
                    Code::SecretInline,
                    format!("{path}.url"),
                    format!("the URL carries {reason}"),
                )
                .with_help(
                    "keep credentials out of obs.yaml: put the token in a file and name it in `bearer_token_file`",
                ),
            );
        }
        if receiver.tenant.is_some() && receiver.kind == RemoteWriteKind::Prometheus {
            found.push(
                Diagnostic::new(
                    Code::StorageInvalid,
                    format!("{path}.tenant"),
                    "a plain remote-write receiver has no tenant header",
                )
                .with_help("set `kind: mimir` or `kind: thanos`, or drop `tenant`"),
            );
        }
        if receiver
            .tenant
            .as_deref()
            .is_some_and(|t| t.is_empty() || t.contains(['\n', '\r']))
        {
            found.push(Diagnostic::new(
                Code::StorageInvalid,
                format!("{path}.tenant"),
                "a tenant must be one non-empty line: it travels in an HTTP header",
            ));
        }
    }
    for diagnostic in found {
        checker.push(diagnostic);
    }
}

//! The environment variables the app reads, as the spec names them, for every target that
//! runs the app (compose, Kubernetes): each with the stack server its default should point
//! at when the stack itself runs that server.

use contract::resolve::stack_plan::StackPlan;
use contract::{EnvString, Spec};

/// A variable the app reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppVariable {
    pub value: EnvString,
    /// The stack's server this variable addresses (`loki`, `jaeger`, `pushgateway`) when the
    /// generated stack runs it, so a default naming localhost can be pointed at it.
    pub in_stack: Option<&'static str>,
}

impl AppVariable {
    fn plain(value: &EnvString) -> Self {
        Self {
            value: value.clone(),
            in_stack: None,
        }
    }
}

/// Every variable the spec says the app reads, in a stable order; literals are included and
/// left to each target to skip.
pub fn app_variables(spec: &Spec, stack: &StackPlan) -> Vec<AppVariable> {
    let mut out = vec![
        AppVariable::plain(&spec.service.environment),
        AppVariable::plain(&spec.service.version),
    ];
    out.extend(
        spec.health
            .checks
            .iter()
            .filter_map(|c| c.target.as_ref())
            .map(AppVariable::plain),
    );
    if let Some(loki) = &spec.logging.loki {
        out.push(AppVariable {
            value: loki.url.clone(),
            in_stack: stack.loki.then_some("loki"),
        });
        out.push(AppVariable::plain(&loki.enabled));
    }
    if let Some(push) = spec
        .metrics
        .builtin
        .lifecycle
        .as_ref()
        .and_then(|l| l.pushgateway.as_ref())
    {
        out.push(AppVariable {
            value: push.clone(),
            in_stack: stack.host_port("pushgateway").is_some().then_some("pushgateway"),
        });
    }
    if let Some(tracing) = &spec.tracing {
        out.push(AppVariable {
            value: tracing.otlp_endpoint.clone(),
            in_stack: stack.host_port("jaeger").is_some().then_some("jaeger"),
        });
        out.extend(
            tracing
                .insecure
                .iter()
                .chain(tracing.console_export.iter())
                .map(AppVariable::plain),
        );
    }
    if let Some(es) = &spec.logging.elasticsearch {
        out.extend(
            [&es.enabled, &es.host, &es.port, &es.scheme]
                .into_iter()
                .map(AppVariable::plain),
        );
        if es.auth {
            out.extend(es.user.iter().chain(es.password.iter()).map(AppVariable::plain));
        }
    }
    if let Some(errors) = &spec.error_tracking {
        let sentry = &errors.sentry;
        out.push(AppVariable::plain(&sentry.dsn));
        out.extend(
            sentry
                .traces_sample_rate
                .iter()
                .chain(sentry.profiles_sample_rate.iter())
                .map(AppVariable::plain),
        );
    }
    out
}

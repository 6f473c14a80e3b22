//! greeter: the README's "Use obs in your service", built and run in CI. The runtime serves
//! `/metrics`, `/healthz`, `/readyz`, JSON logs and a graceful shutdown from obs.yaml.
use axum::extract::{FromRef, Path, State};
use axum::{routing::get, Router};
use obs::greetings_total::Language;
use runtime::Observability;

mod obs {
    runtime::include_obs!();
}

#[derive(Clone, FromRef)]
struct App {
    obs: Observability,
    metrics: obs::Metrics,
}

async fn hello(State(app): State<App>, Path(name): Path<String>) -> String {
    app.metrics.greetings_total.with(Language::En).inc();
    format!("hello, {name}\n")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let env = |var: &str| std::env::var(var).ok();
    let obs = Observability::from_embedded(obs::SPEC, env)?; // OBS_SPEC=file overrides
    obs.init_logging(runtime::logging::stdout(), env)?;
    obs.shutdown.on_signals();
    let metrics = obs::Metrics::bind(&obs.registry)?;
    let routes = Router::new().route("/hello/{name}", get(hello));
    runtime::serve(obs.clone(), routes, App { obs, metrics }).await?;
    Ok(())
}

//! The container healthcheck a service's image runs as `<binary> healthcheck`: one GET of
//! the service's own liveness endpoint on loopback, exit 0 on a 200, so the image needs no
//! curl. This is the command obs's generated compose files put in every `healthcheck.test`.

use std::process::ExitCode;
use std::time::Duration;

use crate::config::ServiceConfig;
use crate::embedded::EmbeddedSpec;

/// The first argument that turns a service binary into its own container healthcheck.
pub const ARG: &str = "healthcheck";

/// How long the probe waits for an answer; compose's own `timeout` cuts it shorter when
/// the spec sets one below this.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The liveness URL of the process `config` describes, on loopback.
pub fn liveness_url(config: &ServiceConfig) -> String {
    format!("http://127.0.0.1:{}{}", config.port, config.spec.health.liveness.path)
}

/// GETs `url`; `Ok` when it answers 200, otherwise what it answered or why it did not.
pub async fn probe(url: &str, timeout: Duration) -> Result<(), String> {
    match crate::http_client::get(url, timeout).await {
        Ok(response) if response.status == 200 => Ok(()),
        Ok(response) => Err(format!("{url} answered {}", response.status)),
        Err(error) => Err(format!("{url}: {error}")),
    }
}

/// When the process was started as `<binary> healthcheck [URL]`, probes the liveness
/// endpoint of the spec it would serve (or URL) and returns the exit code: 0 when healthy,
/// 1 when not, 2 when the spec or environment is unusable. `None` for any other command
/// line: the caller goes on to serve.
///
/// ```no_run
/// # mod obs { pub const SPEC: runtime::EmbeddedSpec = runtime::EmbeddedSpec { yaml: "", file: "", component: "app" }; }
/// fn main() -> std::process::ExitCode {
///     if let Some(code) = runtime::healthcheck::from_args(obs::SPEC) {
///         return code;
///     }
///     // … serve
/// #   std::process::ExitCode::SUCCESS
/// }
/// ```
pub fn from_args(embedded: EmbeddedSpec) -> Option<ExitCode> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some(ARG) {
        return None;
    }
    let url = args.next();
    let env = |var: &str| std::env::var(var).ok();
    Some(match run(embedded, url, env) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Unhealthy(reason)) => {
            eprintln!("unhealthy: {reason}");
            ExitCode::FAILURE
        }
        Err(Failure::Unusable(reason)) => {
            eprintln!("healthcheck: {reason}");
            ExitCode::from(2)
        }
    })
}

/// A service binary's whole `main`: `<binary> healthcheck [URL]` probes (see
/// [`from_args`]); any other command line runs `serve`, and an error it returns is printed as
/// `<binary>: <error and its causes>` with exit code 2.
///
/// ```no_run
/// # mod obs { pub const SPEC: runtime::EmbeddedSpec = runtime::EmbeddedSpec { yaml: "", file: "", component: "app" }; }
/// fn main() -> std::process::ExitCode {
///     runtime::healthcheck::or_serve(obs::SPEC, serve)
/// }
///
/// #[tokio::main]
/// async fn serve() -> anyhow::Result<()> {
///     // Observability::from_embedded(obs::SPEC, …), runtime::serve(…)
///     Ok(())
/// }
/// ```
pub fn or_serve(embedded: EmbeddedSpec, serve: impl FnOnce() -> anyhow::Result<()>) -> ExitCode {
    if let Some(code) = from_args(embedded) {
        return code;
    }
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let program = std::env::args().next().unwrap_or_default();
            let name = std::path::Path::new(&program)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "service".into());
            eprintln!("{name}: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Why a healthcheck did not pass.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The service answered badly or not at all.
    Unhealthy(String),
    /// The spec or the environment gives no URL to probe.
    Unusable(String),
}

/// The healthcheck with an explicit environment (tests).
pub fn run(embedded: EmbeddedSpec, url: Option<String>, env: impl Fn(&str) -> Option<String>) -> Result<(), Failure> {
    let url = match url {
        Some(url) => url,
        None => {
            let (spec, resolved) = embedded
                .load_resolved(&env)
                .map_err(|e| Failure::Unusable(e.to_string()))?;
            let config = ServiceConfig::resolve_with(spec, &resolved, Some(embedded.component), &env)
                .map_err(|e| Failure::Unusable(e.to_string()))?;
            liveness_url(&config)
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Unusable(format!("no async runtime: {e}")))?;
    runtime.block_on(probe(&url, TIMEOUT)).map_err(Failure::Unhealthy)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMBEDDED: EmbeddedSpec = EmbeddedSpec {
        yaml: "service: {name: probed, port: 8080, port_env: PORT}\nhealth: {liveness: {path: /live}}\n",
        file: "obs.yaml",
        component: "app",
    };

    fn serve_status(status: u16) -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            if let Ok((mut socket, _)) = listener.accept() {
                let mut request = [0u8; 1024];
                let read = socket.read(&mut request).unwrap_or(0);
                let path_ok = String::from_utf8_lossy(&request[..read]).starts_with("GET /live ");
                let status = if path_ok { status } else { 404 };
                let _ = write!(
                    socket,
                    "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        address
    }

    #[test]
    fn probes_the_liveness_path_on_the_port_the_environment_gives() {
        let healthy = serve_status(200);
        let port = healthy.port().to_string();
        assert_eq!(run(EMBEDDED, None, |v| (v == "PORT").then(|| port.clone())), Ok(()));
        let sick = serve_status(503);
        let port = sick.port().to_string();
        let outcome = run(EMBEDDED, None, |v| (v == "PORT").then(|| port.clone()));
        assert!(
            matches!(&outcome, Err(Failure::Unhealthy(reason)) if reason.contains("503")),
            "{outcome:?}"
        );
    }

    #[test]
    fn nothing_listening_is_unhealthy_and_a_bad_port_is_unusable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        assert!(matches!(
            run(EMBEDDED, None, |v| (v == "PORT").then(|| port.clone())),
            Err(Failure::Unhealthy(_))
        ));
        let outcome = run(EMBEDDED, None, |v| (v == "PORT").then(|| "eighty".to_string()));
        assert!(
            matches!(&outcome, Err(Failure::Unusable(reason)) if reason.contains("PORT")),
            "{outcome:?}"
        );
    }
}

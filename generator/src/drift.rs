//! `generator drift`: fetch a running service's `/metrics` and compare it with the spec —
//! one line per finding, so CI can gate on "every declared signal is exposed, and nothing
//! else".

use std::path::Path;
use std::time::Duration;

use contract::conformance::{compare, likely_component, Finding};
use contract::Resolved;

/// What a drift run found.
#[derive(Debug)]
pub struct DriftReport {
    pub component: String,
    pub families: usize,
    pub findings: Vec<Finding>,
}

/// Why a drift run could not compare anything.
#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error(transparent)]
    Spec(#[from] crate::GenerateError),
    #[error("fetching {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("{url} answered {status}: {body}")]
    Status { url: String, status: u16, body: String },
    #[error("{url} is not a Prometheus exposition: {error}")]
    Parse {
        url: String,
        error: contract::exposition::ParseError,
    },
    #[error("component `{0}` is not declared in the spec")]
    UnknownComponent(String),
}

/// Fetches an exposition (text format requested) within `timeout`; `https://` works.
pub async fn fetch_async(url: &str, timeout: Duration) -> Result<String, DriftError> {
    let fail = |error: &dyn std::error::Error| DriftError::Fetch {
        url: url.to_string(),
        message: crate::error_chain(error),
    };
    let mut builder = reqwest::Client::builder().timeout(timeout).no_proxy();
    // A service behind a private CA: trust the same bundle the runtime does.
    if let Some(path) = std::env::var_os("OBS_CA_FILE").filter(|p| !p.is_empty()) {
        let pem = std::fs::read(&path).map_err(|e| DriftError::Fetch {
            url: url.to_string(),
            message: format!(
                "cannot read the CA bundle {} (OBS_CA_FILE): {e}",
                path.to_string_lossy()
            ),
        })?;
        for certificate in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| fail(&e))? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    let client = builder.build().map_err(|e| fail(&e))?;
    let response = client
        .get(url)
        .header("Accept", "text/plain; version=0.0.4")
        .send()
        .await
        .map_err(|e| fail(&e))?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| fail(&e))?;
    if status != 200 {
        return Err(DriftError::Status {
            url: url.to_string(),
            status,
            body: text.chars().take(200).collect(),
        });
    }
    Ok(text)
}

/// `fetch_async` for callers without a runtime (the CLI).
pub fn fetch(url: &str, timeout: Duration) -> Result<String, DriftError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DriftError::Fetch {
            url: url.to_string(),
            message: e.to_string(),
        })?;
    runtime.block_on(fetch_async(url, timeout))
}

/// Compares an exposition with what a spec resolved to, choosing the component when not given.
pub fn check_text(
    resolved: &Resolved,
    component: Option<&str>,
    text: &str,
    url: &str,
) -> Result<DriftReport, DriftError> {
    let families = contract::exposition::parse(text).map_err(|error| DriftError::Parse {
        url: url.to_string(),
        error,
    })?;
    let catalog = &resolved.catalog;
    let components: Vec<String> = resolved.components.iter().map(|c| c.name.clone()).collect();
    let component = match component {
        Some(name) if components.iter().any(|c| c == name) => name.to_string(),
        Some(name) => return Err(DriftError::UnknownComponent(name.to_string())),
        None => likely_component(catalog, &components, &families).unwrap_or_else(|| components[0].clone()),
    };
    let findings = compare(catalog, &component, &families);
    Ok(DriftReport {
        component,
        families: families.len(),
        findings,
    })
}

/// Loads the spec, fetches `url` and compares.
pub fn run(spec_path: &Path, url: &str, component: Option<&str>, timeout: Duration) -> Result<DriftReport, DriftError> {
    let checked = crate::check(spec_path)?;
    let text = fetch(url, timeout)?;
    check_text(&checked.resolved, component, &text, url)
}

//! The service's obs.yaml, which tells the tools its ports, paths, log keys and defaults:
//! `--spec FILE`, or `obs.yaml` in the current directory.

use std::path::{Path, PathBuf};

/// The spec used when `--spec` is not given.
pub const DEFAULT_SPEC: &str = "obs.yaml";

/// Loads and validates the spec at `path`, or `./obs.yaml` when `None`.
pub fn load(path: Option<&Path>) -> anyhow::Result<contract::Spec> {
    Ok(load_resolved(path)?.0)
}

/// The spec and what it implies (components, instances, the stack's ports).
pub fn load_resolved(path: Option<&Path>) -> anyhow::Result<(contract::Spec, contract::Resolved)> {
    let path: PathBuf = match path {
        Some(path) => path.to_path_buf(),
        None if Path::new(DEFAULT_SPEC).is_file() => PathBuf::from(DEFAULT_SPEC),
        None => anyhow::bail!("no {DEFAULT_SPEC} in the current directory; name the service's spec with --spec FILE"),
    };
    let loaded = contract::load_file(&path)?;
    let contract::Analysis { resolved, report } = contract::analyse(&loaded);
    if report.has_errors() {
        anyhow::bail!("{} is invalid:\n{report}", loaded.file);
    }
    Ok((loaded.spec, resolved))
}

/// `http://127.0.0.1:PORT` of the spec's first component.
pub fn local_base_url(spec: &contract::Spec) -> String {
    let port = contract::topology::components(spec)
        .first()
        .map_or(spec.service.port, |c| c.port);
    format!("http://127.0.0.1:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_invalid_spec_is_a_clear_error() {
        let error = load(Some(Path::new("/nonexistent/obs.yaml"))).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/obs.yaml"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("obs.yaml");
        std::fs::write(
            &bad,
            "service: {name: s}\nmetrics:\n  custom:\n    - {name: requests, type: counter, help: R.}\n",
        )
        .unwrap();
        let error = load(Some(&bad)).unwrap_err().to_string();
        assert!(error.contains("obs.yaml:4:"), "{error}");
    }

    #[test]
    fn the_base_url_uses_the_first_components_port() {
        let spec: contract::Spec = serde_json::from_value(
            serde_json::json!({"service": {"name": "pw", "components": [{"name": "api", "port": 8123}]}}),
        )
        .unwrap();
        assert_eq!(local_base_url(&spec), "http://127.0.0.1:8123");
    }
}

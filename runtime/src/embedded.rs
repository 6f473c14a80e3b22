//! The spec a service was compiled against (embedded by obs-build) and the choice of the
//! spec a process runs with: the file `OBS_SPEC` names when set, the embedded one otherwise.
//! Either way it is validated before anything is served.

use std::path::Path;

/// Names a spec file to run with instead of the embedded one.
pub const SPEC_ENV: &str = "OBS_SPEC";

/// A spec compiled into the binary; obs-build generates one as `obs::SPEC`.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedSpec {
    /// The spec's text.
    pub yaml: &'static str,
    /// The file it was read from, for messages.
    pub file: &'static str,
    /// The component the binary's typed handles are for.
    pub component: &'static str,
}

/// Why no spec could be had.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{0}")]
    Load(#[from] contract::LoadError),
    #[error("{file} is invalid:\n{report}")]
    Invalid { file: String, report: contract::Report },
}

impl EmbeddedSpec {
    /// The spec to run with: the file `OBS_SPEC` names in `env`, else the embedded one.
    pub fn load(&self, env: impl Fn(&str) -> Option<String>) -> Result<contract::Spec, SpecError> {
        Ok(self.load_resolved(env)?.0)
    }

    /// [`EmbeddedSpec::load`] with what the spec resolved to while it was validated.
    pub fn load_resolved(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<(contract::Spec, contract::Resolved), SpecError> {
        let path = env(SPEC_ENV).filter(|p| !p.is_empty());
        self.resolve_from(path.as_deref().map(Path::new))
    }

    /// The spec at `path`, or the embedded one when `None`; validated.
    pub fn load_from(&self, path: Option<&Path>) -> Result<contract::Spec, SpecError> {
        Ok(self.resolve_from(path)?.0)
    }

    fn resolve_from(&self, path: Option<&Path>) -> Result<(contract::Spec, contract::Resolved), SpecError> {
        let loaded = match path {
            Some(path) => contract::load_file(path)?,
            None => contract::load_bytes(self.yaml.as_bytes(), &format!("{} (embedded)", self.file))?,
        };
        let contract::Analysis { resolved, report } = contract::analyse(&loaded);
        if report.has_errors() {
            return Err(SpecError::Invalid {
                file: loaded.file.clone(),
                report,
            });
        }
        Ok((loaded.spec, resolved))
    }
}

/// Includes what obs-build generated for this package: `mod obs { runtime::include_obs!(); }`
/// gives `obs::Metrics`, one module per labelled metric, and `obs::SPEC`. With a file name,
/// what a `Builder::file_name` generation wrote (one module per component of a binary that
/// runs several): `mod worker_obs { runtime::include_obs!("obs_worker.rs"); }`.
#[macro_export]
macro_rules! include_obs {
    () => {
        include!(concat!(env!("OUT_DIR"), "/obs_generated.rs"));
    };
    ($file:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $file));
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMBEDDED: EmbeddedSpec = EmbeddedSpec {
        yaml: "service: {name: embedded-svc}\n",
        file: "obs.yaml",
        component: "app",
    };

    #[test]
    fn runs_with_the_embedded_spec_unless_told_otherwise() {
        assert_eq!(EMBEDDED.load(|_| None).unwrap().service.name, "embedded-svc");
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.yaml");
        std::fs::write(&other, "service: {name: other-svc}\n").unwrap();
        let path = other.display().to_string();
        let spec = EMBEDDED.load(|v| (v == SPEC_ENV).then(|| path.clone())).unwrap();
        assert_eq!(spec.service.name, "other-svc");
    }

    #[test]
    fn an_invalid_override_is_refused_with_its_position() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.yaml");
        std::fs::write(
            &bad,
            "service: {name: svc}\nmetrics:\n  custom:\n    - {name: requests, type: counter, help: R.}\n",
        )
        .unwrap();
        let error = EMBEDDED.load_from(Some(&bad)).unwrap_err().to_string();
        assert!(error.contains("bad.yaml:4:"), "{error}");
    }
}

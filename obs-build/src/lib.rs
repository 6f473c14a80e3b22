//! obs-build: call it from a service's `build.rs` to compile against the service's own
//! obs.yaml (the prost-build / tonic-build pattern). It loads and validates the spec, and
//! writes `$OUT_DIR/obs_generated.rs`: typed handles for every metric the spec declares for
//! the component, and the spec itself embedded so the binary serves what it was built
//! against. `runtime::include_obs!()` includes that file.
//!
//! In `build.rs`, `fn main() { obs_build::Builder::new("obs.yaml").component("api").compile(); }`;
//! in the crate, `mod obs { runtime::include_obs!(); }`.
//!
//! An invalid spec fails the build with every diagnostic at its file:line:column. A metric
//! removed from obs.yaml disappears from `Metrics`, so code that still uses it stops
//! compiling.

pub mod codegen;

use std::path::{Path, PathBuf};

/// The file written into `OUT_DIR`.
pub const OUTPUT_FILE: &str = "obs_generated.rs";

/// Why no code could be generated.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Load(#[from] contract::LoadError),
    #[error("{file} is invalid:\n{report}")]
    Invalid { file: String, report: contract::Report },
    #[error("{file} declares no component `{component}`; components: {known}")]
    UnknownComponent {
        file: String,
        component: String,
        known: String,
    },
    #[error("{0}")]
    Codegen(String),
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
    #[error("{0} is not set; call compile() from a build script, or use generate()")]
    NotInBuildScript(&'static str),
}

/// What one spec generates.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The Rust source of the module.
    pub code: String,
    /// The component the handles are for.
    pub component: String,
    /// Warnings validation reported (errors fail the build instead).
    pub warnings: Vec<String>,
}

/// Configures one generation; the paths are relative to the package's manifest directory
/// when run from a build script.
#[derive(Debug, Clone)]
pub struct Builder {
    spec: PathBuf,
    component: Option<String>,
    runtime_path: String,
    file_name: String,
}

impl Builder {
    /// Generates from the spec at `spec` (e.g. `"obs.yaml"`).
    pub fn new(spec: impl AsRef<Path>) -> Self {
        Self {
            spec: spec.as_ref().to_path_buf(),
            component: None,
            runtime_path: "::runtime".into(),
            file_name: OUTPUT_FILE.into(),
        }
    }

    /// The component whose metrics get handles (default: the spec's first component).
    pub fn component(mut self, name: impl Into<String>) -> Self {
        self.component = Some(name.into());
        self
    }

    /// The file in `OUT_DIR` to write (default `obs_generated.rs`), for a package whose one
    /// binary runs several components: generate each component's handles into its own file
    /// and include it with `runtime::include_obs!("obs_worker.rs")`.
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = name.into();
        self
    }

    /// The path the generated code uses for the runtime crate (default `::runtime`), for
    /// a service that renames the dependency.
    pub fn runtime_path(mut self, path: impl Into<String>) -> Self {
        self.runtime_path = path.into();
        self
    }

    /// Loads, validates and generates, without touching the environment or any file but
    /// the spec.
    pub fn generate(&self) -> Result<Generated, BuildError> {
        self.generate_from(&self.spec)
    }

    fn generate_from(&self, path: &Path) -> Result<Generated, BuildError> {
        // Read once: the same text is validated and embedded.
        let yaml = std::fs::read_to_string(path).map_err(|e| BuildError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let loaded = contract::load_bytes(yaml.as_bytes(), &path.display().to_string())?;
        let contract::Analysis { resolved, report } = contract::analyse(&loaded);
        if report.has_errors() {
            return Err(BuildError::Invalid {
                file: loaded.file.clone(),
                report,
            });
        }
        let component = match &self.component {
            Some(name) if resolved.component(name).is_some() => name.clone(),
            Some(name) => {
                return Err(BuildError::UnknownComponent {
                    file: loaded.file.clone(),
                    component: name.clone(),
                    known: resolved.component_names(),
                })
            }
            None => resolved.components[0].name.clone(),
        };
        let file_name = path
            .file_name()
            .map_or_else(|| loaded.file.clone(), |n| n.to_string_lossy().into_owned());
        let embedded = codegen::Embedded {
            yaml: &yaml,
            file: &file_name,
            component: &component,
            log_fields: &loaded.spec.logging.fields,
        };
        let code = codegen::module(&resolved.catalog, &embedded, &self.runtime_path).map_err(BuildError::Codegen)?;
        let warnings = report.diagnostics.iter().map(|d| d.to_string()).collect();
        Ok(Generated {
            code,
            component,
            warnings,
        })
    }

    /// For `build.rs`: generates into `$OUT_DIR/obs_generated.rs` and tells cargo to rerun
    /// when the spec changes. On failure prints every problem and exits 1, which fails the
    /// build with the message in cargo's output.
    pub fn compile(self) {
        if let Err(error) = self.try_compile() {
            eprintln!("error: obs-build: {error}");
            std::process::exit(1);
        }
    }

    /// [`Builder::compile`] returning the error instead of exiting.
    pub fn try_compile(self) -> Result<PathBuf, BuildError> {
        let (manifest, out_dir) = (std::env::var_os("CARGO_MANIFEST_DIR"), std::env::var_os("OUT_DIR"));
        self.compile_into(manifest, out_dir)
    }

    fn compile_into(
        self,
        manifest: Option<std::ffi::OsString>,
        out_dir: Option<std::ffi::OsString>,
    ) -> Result<PathBuf, BuildError> {
        let manifest = manifest.ok_or(BuildError::NotInBuildScript("CARGO_MANIFEST_DIR"))?;
        let out_dir = out_dir.ok_or(BuildError::NotInBuildScript("OUT_DIR"))?;
        let path = PathBuf::from(manifest).join(&self.spec);
        println!("cargo:rerun-if-changed={}", path.display());
        let generated = self.generate_from(&path)?;
        for warning in &generated.warnings {
            println!("cargo:warning={}", warning.lines().next().unwrap_or_default());
        }
        let out = PathBuf::from(out_dir).join(&self.file_name);
        write_if_changed(&out, &generated.code)?;
        Ok(out)
    }
}

/// Leaves the file (and its mtime) alone when nothing changed, so nothing recompiles.
fn write_if_changed(path: &Path, code: &str) -> Result<(), BuildError> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == code) {
        return Ok(());
    }
    std::fs::write(path, code).map_err(|e| BuildError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_file(yaml: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("obs.yaml");
        std::fs::write(&path, yaml).unwrap();
        (dir, path)
    }

    #[test]
    fn an_invalid_spec_reports_every_problem_with_its_position() {
        let (_dir, path) = spec_file(
            "service: {name: svc}\nmetrics:\n  custom:\n    - {name: requests, type: counter, help: x}\n    - {name: wait_seconds, type: histogram, help: y, unit: seconds, buckets: [1, 0.5]}\n",
        );
        let error = Builder::new(&path).generate().unwrap_err().to_string();
        assert!(error.contains("obs.yaml:4:"), "the first fault, located: {error}");
        assert!(error.contains("obs.yaml:5:"), "the second fault, located: {error}");
    }

    #[test]
    fn an_unknown_component_names_the_known_ones() {
        let (_dir, path) =
            spec_file("service: {name: pw, components: [{name: api, port: 8000}, {name: worker, port: 9091}]}\n");
        let error = Builder::new(&path).component("web").generate().unwrap_err().to_string();
        assert!(error.contains("components: api, worker"), "{error}");
        let generated = Builder::new(&path).component("worker").generate().unwrap();
        assert_eq!(generated.component, "worker");
        assert!(generated.code.contains("pub const COMPONENT: &str = \"worker\";"));
    }

    #[test]
    fn the_spec_text_is_embedded_verbatim() {
        let yaml =
            "service: {name: svc, description: \"quoted \\\"svc\\\"\"}\n# a comment with a \\ backslash and \"#;\n";
        let (_dir, path) = spec_file(yaml);
        let code = Builder::new(&path).generate().unwrap().code;
        let file = syn::parse_file(&code).unwrap();
        let inner = file.items.iter().find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "generated" => m.content.as_ref().map(|(_, items)| items),
            _ => None,
        });
        let embedded = inner.unwrap().iter().find_map(|item| match item {
            syn::Item::Const(c) if c.ident == "SPEC_YAML" => match &*c.expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        });
        assert_eq!(embedded.as_deref(), Some(yaml));
    }

    #[test]
    fn compile_outside_a_build_script_says_so_and_writes_once_inside_one() {
        let error = Builder::new("obs.yaml").compile_into(None, None).unwrap_err();
        assert!(matches!(error, BuildError::NotInBuildScript(_)), "{error}");
        let (dir, _) = spec_file("service: {name: svc}\n");
        let out = tempfile::tempdir().unwrap();
        let written = Builder::new("obs.yaml")
            .compile_into(Some(dir.path().into()), Some(out.path().into()))
            .unwrap();
        assert_eq!(written, out.path().join(OUTPUT_FILE));
        let modified = std::fs::metadata(&written).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        Builder::new("obs.yaml")
            .compile_into(Some(dir.path().into()), Some(out.path().into()))
            .unwrap();
        assert_eq!(
            std::fs::metadata(&written).unwrap().modified().unwrap(),
            modified,
            "an unchanged spec leaves the file alone, so nothing recompiles"
        );
    }

    #[test]
    fn each_component_can_have_its_own_file() {
        let (dir, _) = spec_file(
            "service:\n  name: svc\n  components: [{name: api}, {name: worker, port: 9091}]\nmetrics:\n  builtin:\n    http: {components: [api]}\n",
        );
        let out = tempfile::tempdir().unwrap();
        let compile = |builder: Builder| {
            builder
                .compile_into(Some(dir.path().into()), Some(out.path().into()))
                .unwrap()
        };
        let api = compile(Builder::new("obs.yaml").component("api"));
        let worker = compile(Builder::new("obs.yaml").component("worker").file_name("obs_worker.rs"));
        assert_eq!(worker, out.path().join("obs_worker.rs"));
        let api = std::fs::read_to_string(api).unwrap();
        let worker = std::fs::read_to_string(worker).unwrap();
        let field = "pub http_requests_total:";
        assert!(api.contains(field), "the api's handles include its HTTP metrics");
        assert!(!worker.contains(field), "the worker's do not:\n{worker}");
        assert!(
            worker.contains("COMPONENT: &str = \"worker\""),
            "its embedded spec runs the worker"
        );
    }
}

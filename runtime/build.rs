//! Generates typed metric handles for the demo service from the top-level obs.yaml, so a
//! metric removed from the spec makes the code that uses it fail to compile.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let spec_path = manifest.join("../obs.yaml");
    println!("cargo:rerun-if-changed={}", spec_path.display());
    let loaded = match spec::load_file(&spec_path) {
        Ok(loaded) => loaded,
        Err(error) => panic!("the demo service is built from obs.yaml, which does not load:\n{error}"),
    };
    let report = spec::validate(&loaded);
    if report.has_errors() {
        panic!("the demo service is built from obs.yaml, which is invalid:\n{report}");
    }
    let catalog = spec::Catalog::from_spec(&loaded.spec);
    let component = spec::topology::components(&loaded.spec)[0].name.clone();
    let code = spec::codegen::metrics_module(&catalog, &component, "runtime");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("demo_metrics.rs");
    std::fs::write(&out, code).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

//! The top-level obs.yaml and every examples/*/obs.yaml must validate without errors.

use std::path::PathBuf;

fn specs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut specs = vec![root.join("obs.yaml")];
    let mut examples: Vec<PathBuf> = std::fs::read_dir(root.join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("entry").path().join("obs.yaml"))
        .filter(|p| p.is_file())
        .collect();
    examples.sort();
    assert_eq!(examples.len(), 5, "one example per seed system");
    specs.extend(examples);
    specs
}

#[test]
fn every_shipped_spec_validates() {
    for path in specs() {
        let loaded = contract::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let report = contract::analyse(&loaded).report;
        assert!(!report.has_errors(), "{}:\n{report}", path.display());
    }
}

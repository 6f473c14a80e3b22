//! The generator's shape, enforced: a target module never reaches into another target;
//! whatever two targets must agree on lives in `plan`, decided once.

use std::path::Path;

#[test]
fn no_target_imports_another_target() {
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/targets");
    let names: Vec<String> = std::fs::read_dir(&targets)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs") && !p.ends_with("mod.rs"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 5, "{names:?}");
    let mut crossings = Vec::new();
    for name in &names {
        let text = std::fs::read_to_string(targets.join(format!("{name}.rs"))).unwrap();
        for other in names.iter().filter(|o| *o != name) {
            for pattern in [format!("super::{other}"), format!("targets::{other}")] {
                if text.contains(&pattern) {
                    crossings.push(format!("{name}.rs uses {pattern}"));
                }
            }
        }
    }
    assert!(crossings.is_empty(), "targets importing targets: {crossings:#?}");
}

//! Replays every checked-in fuzz input (`fuzz/corpus/<target>/`, where crashes found by
//! `scripts/fuzz.sh` are kept as regression cases) through its target on stable Rust.

use std::path::PathBuf;

fn corpus_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

#[test]
fn every_checked_in_input_replays_without_a_defect() {
    let mut replayed = 0;
    for (name, target) in obs_fuzz::TARGETS {
        let dir = corpus_root().join(name);
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.is_file())
            .collect();
        inputs.sort();
        assert!(!inputs.is_empty(), "{} has no inputs", dir.display());
        for input in inputs {
            let data = std::fs::read(&input).unwrap();
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} finds a defect again", input.display());
            replayed += 1;
        }
    }
    println!("replayed {replayed} inputs");
}

#[test]
fn every_target_has_a_cargo_fuzz_entry_point() {
    let targets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/fuzz_targets");
    for (name, _) in obs_fuzz::TARGETS {
        let file = targets.join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            text.contains(&format!("obs_fuzz::{name}(")),
            "{} calls another target",
            file.display()
        );
    }
}

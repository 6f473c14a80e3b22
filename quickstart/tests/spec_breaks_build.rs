//! The promise of typed handles, proven with cargo itself: the quickstart copied out as a
//! third-party crate (path dependencies on the runtime and obs-build, nothing else of this
//! workspace) builds from its obs.yaml; with `greetings_total` removed from that spec the
//! same code no longer compiles, and the error names the metric; with an invalid spec the
//! build fails with the spec's file:line:column.
//!
//! It runs `cargo check` on the copy in a target directory of its own under `target/`
//! (kept between runs, so only the first run compiles the dependencies).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const QUICKSTART: &str = env!("CARGO_MANIFEST_DIR");

fn workspace() -> PathBuf {
    Path::new(QUICKSTART).parent().unwrap().to_path_buf()
}

/// The quickstart as a standalone package in `dir`, its spec replaced by `spec`.
fn copy_with_spec(dir: &Path, spec: &str) {
    let root = workspace();
    let manifest = format!(
        "[package]\nname = \"greeter-copy\"\nversion = \"0.1.0\"\nedition = \"2021\"\npublish = false\n\n\
         [[bin]]\nname = \"greeter-copy\"\npath = \"src/main.rs\"\n\n\
         [dependencies]\nruntime = {{ path = {runtime:?} }}\naxum = {{ version = \"0.8\", features = [\"macros\"] }}\ntokio = {{ version = \"1\", features = [\"full\"] }}\nanyhow = \"1\"\n\n\
         [build-dependencies]\nobs-build = {{ path = {build:?} }}\n\n[workspace]\n",
        runtime = root.join("runtime").display().to_string(),
        build = root.join("obs-build").display().to_string(),
    );
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    // The workspace's lock file: the same versions as every other build here, offline.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::copy(Path::new(QUICKSTART).join("build.rs"), dir.join("build.rs")).unwrap();
    std::fs::copy(Path::new(QUICKSTART).join("src/main.rs"), dir.join("src/main.rs")).unwrap();
    std::fs::write(dir.join("obs.yaml"), spec).unwrap();
}

fn cargo_check(dir: &Path) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    Command::new(cargo)
        .args(["check", "--quiet", "--offline", "--message-format", "short"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", workspace().join("target/quickstart-copy"))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn removing_a_metric_from_the_spec_breaks_the_code_that_uses_it() {
    let original = std::fs::read_to_string(Path::new(QUICKSTART).join("obs.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();

    copy_with_spec(dir.path(), &original);
    let built = cargo_check(dir.path());
    assert!(built.status.success(), "the unchanged copy builds:\n{}", stderr(&built));

    // greetings_total replaced by another metric: the spec stays valid, the code does not.
    let start = original
        .find("    - name: greetings_total")
        .expect("the spec declares greetings_total");
    let without = format!(
        "{}    - {{ name: farewells_total, type: counter, help: Farewells. }}\n",
        &original[..start]
    );
    copy_with_spec(dir.path(), &without);
    let broken = cargo_check(dir.path());
    let text = stderr(&broken);
    assert!(!broken.status.success(), "builds without the metric it uses:\n{text}");
    assert!(text.contains("greetings_total"), "the error names the metric:\n{text}");
    assert!(text.contains("src/main.rs"), "the error points at the use:\n{text}");

    let invalid = original.replace("name: greetings_total", "name: greetings");
    copy_with_spec(dir.path(), &invalid);
    let refused = cargo_check(dir.path());
    let text = stderr(&refused);
    assert!(!refused.status.success());
    let line = original
        .lines()
        .position(|l| l.contains("name: greetings_total"))
        .unwrap()
        + 1;
    assert!(
        text.contains(&format!("obs.yaml:{line}:")),
        "the build error locates the fault in the spec (line {line}):\n{text}"
    );
}

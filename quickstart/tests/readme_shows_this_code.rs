//! The README's "Use obs in your service" is this crate: its `src/main.rs` block is the
//! file (less the `//!` header) and its `build.rs` call is the one here, so the README can't
//! drift from code CI builds and runs.

const README: &str = include_str!("../../README.md");
const MAIN_RS: &str = include_str!("../src/main.rs");
const BUILD_RS: &str = include_str!("../build.rs");

/// The first ```rust block after `marker`.
fn block_after<'a>(text: &'a str, marker: &str) -> &'a str {
    let from = text.find(marker).unwrap_or_else(|| panic!("README has {marker}"));
    let rest = &text[from..];
    let start = rest.find("```rust\n").expect("a rust block follows") + "```rust\n".len();
    let end = rest[start..].find("```").unwrap() + start;
    &rest[start..end]
}

#[test]
fn the_readme_main_rs_is_the_quickstart_main_rs() {
    let code: String = MAIN_RS
        .lines()
        .filter(|l| !l.starts_with("//!"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(block_after(README, "`src/main.rs`:"), code.trim_start());
}

#[test]
fn the_readme_build_rs_makes_the_same_call() {
    let call = "obs_build::Builder::new(\"obs.yaml\").compile();";
    assert!(block_after(README, "`build.rs`:").contains(call));
    assert!(BUILD_RS.contains(call));
}

#[test]
fn the_whole_setup_stays_under_forty_lines() {
    let section = &README[README.find("### Use obs in your service").unwrap()..];
    let section = &section[..section.find("with an `obs.yaml` beside").unwrap()];
    let mut lines = 0;
    let mut inside = false;
    for line in section.lines() {
        if line.starts_with("```") {
            inside = !inside;
        } else if inside && !line.trim().is_empty() {
            lines += 1;
        }
    }
    assert!(
        lines < 40,
        "{lines} non-blank lines of Cargo.toml, build.rs and main.rs"
    );
}

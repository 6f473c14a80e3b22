//! README's layout section matches the tree: every path it lists exists, and every top-level
//! entry of the repository (as git tracks it) is listed.

use std::path::Path;
use std::process::Command;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The first word of each unindented line of the fenced block after `## Layout`.
fn layout_paths(readme: &str) -> Vec<String> {
    let section = readme.split("## Layout").nth(1).expect("README has a Layout section");
    let block = section
        .split("```")
        .nth(1)
        .expect("the Layout section has a code block");
    block
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .map(String::from)
        .collect()
}

#[test]
fn the_layout_lists_what_exists_and_everything_at_the_top() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let listed = layout_paths(&readme);
    assert!(listed.len() >= 15, "{listed:?}");
    for path in &listed {
        let concrete = path.split("<").next().unwrap_or(path);
        assert!(
            workspace().join(concrete).exists(),
            "README lists `{path}`, which does not exist"
        );
    }
    let tracked = Command::new("git")
        .args(["ls-files"])
        .current_dir(workspace())
        .output()
        .expect("git runs");
    assert!(tracked.status.success());
    let mut top: Vec<String> = String::from_utf8_lossy(&tracked.stdout)
        .lines()
        .map(|path| match path.split_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => path.to_string(),
        })
        .collect();
    top.sort();
    top.dedup();
    for entry in top
        .iter()
        .filter(|e| !["README.md", ".gitignore"].contains(&e.as_str()))
    {
        let covered = listed
            .iter()
            .any(|path| path == entry || path.starts_with(entry.as_str()) || entry.starts_with(path.as_str()));
        assert!(covered, "`{entry}` is in the repository but not in README's layout");
    }
}

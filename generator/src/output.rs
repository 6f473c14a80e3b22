//! Writing a rendered tree: every file goes to a temporary sibling and is renamed into
//! place, and files an earlier run wrote but this one does not produce are removed. Only
//! files listed in the manifest are ever removed, so a wrong `--out` cannot delete anything
//! obs did not write.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Name of the file listing what the generator wrote into an output directory.
pub const MANIFEST: &str = ".obs-manifest";

/// Rendered files: path relative to the output directory → contents.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tree {
    pub files: BTreeMap<String, String>,
}

impl Tree {
    pub fn add(&mut self, path: impl Into<String>, contents: impl Into<String>) {
        self.files.insert(path.into(), contents.into());
    }

    fn manifest(&self) -> String {
        let mut text = String::from("# Files written by `cargo run -p generator`; do not edit.\n");
        for path in self.files.keys() {
            text.push_str(path);
            text.push('\n');
        }
        text
    }
}

/// How an output directory differs from a rendered tree.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Drift {
    pub missing: Vec<String>,
    pub stale: Vec<String>,
    pub extra: Vec<String>,
}

impl Drift {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.stale.is_empty() && self.extra.is_empty()
    }

    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        lines.extend(self.missing.iter().map(|p| format!("missing: {p}")));
        lines.extend(self.stale.iter().map(|p| format!("stale:   {p}")));
        lines.extend(self.extra.iter().map(|p| format!("extra:   {p} (no longer produced)")));
        lines
    }
}

fn previous_manifest(out: &Path) -> Vec<String> {
    fs::read_to_string(out.join(MANIFEST))
        .map(|text| {
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| l.trim().to_string())
                // A manifest is ours, but never trust a path that climbs out of the tree.
                .filter(|l| !l.split('/').any(|part| part == ".." || part.is_empty()))
                .collect()
        })
        .unwrap_or_default()
}

/// Compares a rendered tree with what is on disk.
pub fn compare(tree: &Tree, out: &Path) -> Drift {
    let mut drift = Drift::default();
    for (path, contents) in &tree.files {
        match fs::read_to_string(out.join(path)) {
            Ok(existing) if existing == *contents => {}
            Ok(_) => drift.stale.push(path.clone()),
            Err(_) => drift.missing.push(path.clone()),
        }
    }
    for path in previous_manifest(out) {
        if !tree.files.contains_key(&path) && out.join(&path).exists() {
            drift.extra.push(path);
        }
    }
    let manifest_current = fs::read_to_string(out.join(MANIFEST)).is_ok_and(|m| m == tree.manifest());
    if !manifest_current && drift.missing.is_empty() && drift.stale.is_empty() {
        drift.stale.push(MANIFEST.into());
    }
    drift
}

/// What a write changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Written {
    pub changed: Vec<String>,
    pub unchanged: usize,
    pub removed: Vec<String>,
}

/// Writes the tree into `out`: unchanged files are left alone, changed ones replaced by
/// rename, files of the previous run no longer produced removed, the manifest last.
pub fn write(tree: &Tree, out: &Path) -> std::io::Result<Written> {
    fs::create_dir_all(out)?;
    let previous = previous_manifest(out);
    let mut written = Written::default();
    for (path, contents) in &tree.files {
        let target = out.join(path);
        if fs::read_to_string(&target).is_ok_and(|existing| existing == *contents) {
            written.unchanged += 1;
            continue;
        }
        write_atomically(&target, contents.as_bytes())?;
        written.changed.push(path.clone());
    }
    for path in previous {
        if tree.files.contains_key(&path) {
            continue;
        }
        let target = out.join(&path);
        if target.is_file() {
            fs::remove_file(&target)?;
            written.removed.push(path.clone());
            remove_empty_parents(&target, out);
        }
    }
    write_atomically(&out.join(MANIFEST), tree.manifest().as_bytes())?;
    Ok(written)
}

fn write_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = target
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    fs::create_dir_all(&dir)?;
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn remove_empty_parents(file: &Path, root: &Path) {
    let mut dir = file.parent();
    while let Some(current) = dir {
        if current == root || !current.starts_with(root) || fs::remove_dir(current).is_err() {
            break;
        }
        dir = current.parent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> Tree {
        let mut tree = Tree::default();
        for (path, contents) in files {
            tree.add(*path, *contents);
        }
        tree
    }

    #[test]
    fn writes_then_reports_clean() {
        let dir = tempfile::tempdir().unwrap();
        let first = tree(&[("a.yml", "1"), ("sub/b.json", "{}")]);
        let written = write(&first, dir.path()).unwrap();
        assert_eq!(written.changed, ["a.yml", "sub/b.json"]);
        assert!(compare(&first, dir.path()).is_clean());
        assert_eq!(write(&first, dir.path()).unwrap().unchanged, 2);
    }

    #[test]
    fn removes_only_files_it_wrote_before() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.txt"), "user file").unwrap();
        write(&tree(&[("a.yml", "1"), ("old/x.yml", "2")]), dir.path()).unwrap();
        let next = tree(&[("a.yml", "1")]);
        let drift = compare(&next, dir.path());
        assert_eq!(drift.extra, ["old/x.yml"]);
        let written = write(&next, dir.path()).unwrap();
        assert_eq!(written.removed, ["old/x.yml"]);
        assert!(!dir.path().join("old").exists(), "emptied directory removed");
        assert!(dir.path().join("mine.txt").exists(), "never touches unlisted files");
    }

    #[test]
    fn reports_stale_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        write(&tree(&[("a.yml", "1")]), dir.path()).unwrap();
        let drift = compare(&tree(&[("a.yml", "2"), ("b.yml", "3")]), dir.path());
        assert_eq!(drift.stale, ["a.yml"]);
        assert_eq!(drift.missing, ["b.yml"]);
    }

    #[test]
    fn ignores_manifest_paths_that_leave_the_tree() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("keep.txt"), "x").unwrap();
        std::fs::write(dir.path().join(MANIFEST), "../keep.txt\n").unwrap();
        write(&tree(&[("a.yml", "1")]), dir.path()).unwrap();
        assert!(outside.path().join("keep.txt").exists());
    }
}

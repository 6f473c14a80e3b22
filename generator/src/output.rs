//! Writing a rendered tree as one transaction: every changed file is first written to a
//! temporary sibling, then all are renamed into place (the old files kept aside until the
//! last rename succeeded), so a failure anywhere leaves the previous tree as it was. Files
//! an earlier run wrote but this one does not produce are removed, but only files listed in
//! the manifest, and never through a symbolic link: nothing outside `--out` is touched.

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
        let Ok(target) = inside(out, path) else {
            // A link or a directory in the way: a write would refuse it, so it is not current.
            drift.stale.push(path.clone());
            continue;
        };
        match fs::read_to_string(target) {
            Ok(existing) if existing == *contents => {}
            Ok(_) => drift.stale.push(path.clone()),
            Err(_) => drift.missing.push(path.clone()),
        }
    }
    for path in previous_manifest(out) {
        if !tree.files.contains_key(&path) && inside(out, &path).is_ok_and(|target| target.is_file()) {
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

/// Why a write failed: the file it was working on and the cause. When this is returned,
/// the output directory holds exactly what it held before.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl WriteError {
    fn new(path: &Path, source: std::io::Error) -> Self {
        Self {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `relative` inside `root`, refusing a path that climbs out, passes through a symbolic
/// link or a file where a directory is needed, or ends at a link or a directory: writing
/// or removing through any of those could touch something outside `root`.
fn inside(root: &Path, relative: &str) -> Result<PathBuf, WriteError> {
    let parts: Vec<&str> = relative.split('/').collect();
    if parts
        .iter()
        .any(|part| part.is_empty() || *part == "." || *part == "..")
    {
        return Err(WriteError::new(
            &root.join(relative),
            std::io::Error::other("not a plain relative path inside the output directory"),
        ));
    }
    let mut current = root.to_path_buf();
    for (index, part) in parts.iter().enumerate() {
        current.push(part);
        let last = index + 1 == parts.len();
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(WriteError::new(
                    &current,
                    std::io::Error::other(
                        "is a symbolic link; obs writes and removes files only inside the output directory",
                    ),
                ))
            }
            Ok(meta) if !last && !meta.is_dir() => {
                return Err(WriteError::new(
                    &current,
                    std::io::Error::other(format!(
                        "is not a directory, so `{relative}` cannot be written under it"
                    )),
                ))
            }
            Ok(meta) if last && !meta.is_file() => {
                return Err(WriteError::new(
                    &current,
                    std::io::Error::other("is not a regular file; remove it so obs can write its file here"),
                ))
            }
            Ok(_) => {}
            // Nothing further down can exist either; the directories are created later.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                current.extend(&parts[index + 1..]);
                break;
            }
            Err(error) => return Err(WriteError::new(&current, error)),
        }
    }
    Ok(current)
}

/// One file on its way in: its new contents already on disk beside it.
struct Staged {
    target: PathBuf,
    temp: PathBuf,
}

/// A step done while committing, kept so a later failure can undo it.
enum Done {
    /// `target` was installed; the file it replaced (if any) waits in `backup`.
    Installed { target: PathBuf, backup: Option<PathBuf> },
    /// `target` was removed; it waits in `backup`.
    Removed { target: PathBuf, backup: PathBuf },
}

/// Everything a write is doing, undone in full unless it commits.
#[derive(Default)]
struct Transaction {
    staged: Vec<Staged>,
    created_dirs: Vec<PathBuf>,
    done: Vec<Done>,
}

impl Transaction {
    /// Creates the missing directories above `target`, one at a time so each is known.
    fn create_parents(&mut self, root: &Path, target: &Path) -> Result<(), WriteError> {
        let Some(parent) = target.parent() else { return Ok(()) };
        let mut missing = Vec::new();
        let mut dir = parent;
        while dir != root && !dir.exists() {
            missing.push(dir.to_path_buf());
            match dir.parent() {
                Some(up) => dir = up,
                None => break,
            }
        }
        for dir in missing.into_iter().rev() {
            fs::create_dir(&dir).map_err(|error| WriteError::new(&dir, error))?;
            self.created_dirs.push(dir);
        }
        Ok(())
    }

    fn stage(&mut self, root: &Path, target: PathBuf, bytes: &[u8]) -> Result<(), WriteError> {
        self.create_parents(root, &target)?;
        let temp = sibling(&target, "tmp");
        let result = (|| {
            // A leftover of a run killed here with this pid (a file or a link) goes first;
            // `create_new` never follows a link someone put in its place meanwhile.
            let _ = fs::remove_file(&temp);
            let mut file = fs::OpenOptions::new().write(true).create_new(true).open(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()
        })();
        if let Err(error) = result {
            let _ = fs::remove_file(&temp);
            return Err(WriteError::new(&target, error));
        }
        self.staged.push(Staged { target, temp });
        Ok(())
    }

    /// Moves every staged file into place and every doomed file aside; `step` runs before
    /// each move (tests use it to fail halfway).
    fn commit(
        &mut self,
        removals: &[PathBuf],
        step: &mut dyn FnMut(&Path) -> std::io::Result<()>,
    ) -> Result<(), WriteError> {
        // One at a time off the front, so a failure leaves the rest for `roll_back` to clean.
        while !self.staged.is_empty() {
            let Staged { target, temp } = self.staged.remove(0);
            let result = (|| {
                step(&target)?;
                let backup = if target.exists() {
                    let backup = sibling(&target, "old");
                    fs::rename(&target, &backup)?;
                    Some(backup)
                } else {
                    None
                };
                if let Err(error) = fs::rename(&temp, &target) {
                    if let Some(backup) = &backup {
                        let _ = fs::rename(backup, &target);
                    }
                    return Err(error);
                }
                self.done.push(Done::Installed {
                    target: target.clone(),
                    backup,
                });
                Ok(())
            })();
            if let Err(error) = result {
                let _ = fs::remove_file(&temp);
                return Err(WriteError::new(&target, error));
            }
        }
        for target in removals {
            let backup = sibling(target, "old");
            step(target)
                .and_then(|()| fs::rename(target, &backup))
                .map_err(|error| WriteError::new(target, error))?;
            self.done.push(Done::Removed {
                target: target.clone(),
                backup,
            });
        }
        Ok(())
    }

    /// After a commit: the set-aside files are no longer needed.
    fn finish(self) {
        for done in self.done {
            match done {
                Done::Installed {
                    backup: Some(backup), ..
                }
                | Done::Removed { backup, .. } => {
                    let _ = fs::remove_file(backup);
                }
                Done::Installed { backup: None, .. } => {}
            }
        }
    }

    /// After a failure: every step undone, newest first, and the staging cleaned away.
    fn roll_back(self) {
        for done in self.done.into_iter().rev() {
            match done {
                Done::Installed {
                    target,
                    backup: Some(backup),
                } => {
                    let _ = fs::rename(backup, target);
                }
                Done::Installed { target, backup: None } => {
                    let _ = fs::remove_file(target);
                }
                Done::Removed { target, backup } => {
                    let _ = fs::rename(backup, target);
                }
            }
        }
        for Staged { temp, .. } in self.staged {
            let _ = fs::remove_file(temp);
        }
        for dir in self.created_dirs.into_iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// A hidden file beside `target` for this process: `.name.<what>-<pid>`.
fn sibling(target: &Path, what: &str) -> PathBuf {
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    target.with_file_name(format!(".{name}.{what}-{}", std::process::id()))
}

/// Writes the tree into `out` as one transaction: unchanged files are left alone, changed
/// ones replaced, files of the previous run no longer produced removed, the manifest last.
/// On an error nothing in `out` has changed and the error names the file that failed.
pub fn write(tree: &Tree, out: &Path) -> Result<Written, WriteError> {
    write_with(tree, out, &mut |_| Ok(()))
}

fn write_with(
    tree: &Tree,
    out: &Path,
    step: &mut dyn FnMut(&Path) -> std::io::Result<()>,
) -> Result<Written, WriteError> {
    fs::create_dir_all(out).map_err(|error| WriteError::new(out, error))?;
    let mut transaction = Transaction::default();
    let result = (|| {
        let mut written = Written::default();
        for (path, contents) in &tree.files {
            let target = inside(out, path)?;
            if fs::read_to_string(&target).is_ok_and(|existing| existing == *contents) {
                written.unchanged += 1;
                continue;
            }
            transaction.stage(out, target, contents.as_bytes())?;
            written.changed.push(path.clone());
        }
        let mut removals = Vec::new();
        for path in previous_manifest(out) {
            if tree.files.contains_key(&path) {
                continue;
            }
            let target = match inside(out, &path) {
                Ok(target) => target,
                // A link on the way would lead outside: refuse. Anything else in the way
                // (a directory now, a file where a directory was) is not ours to remove.
                Err(error) if fs::symlink_metadata(&error.path).is_ok_and(|m| m.file_type().is_symlink()) => {
                    return Err(error)
                }
                Err(_) => continue,
            };
            if target.is_file() {
                removals.push(target);
                written.removed.push(path);
            }
        }
        let manifest = inside(out, MANIFEST)?;
        transaction.stage(out, manifest, tree.manifest().as_bytes())?;
        transaction.commit(&removals, step)?;
        Ok((written, removals))
    })();
    match result {
        Ok((written, removals)) => {
            transaction.finish();
            for target in removals {
                remove_empty_parents(&target, out);
            }
            Ok(written)
        }
        Err(error) => {
            transaction.roll_back();
            Err(error)
        }
    }
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

    /// Every file under `dir` (hidden ones too) with its contents.
    fn snapshot(dir: &Path) -> BTreeMap<String, String> {
        let mut files = BTreeMap::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            for entry in std::fs::read_dir(&current).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                    files.insert(relative, std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
        files
    }

    #[test]
    fn never_removes_through_a_symlinked_directory() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("victim.txt"), "keep me").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        std::fs::write(dir.path().join(MANIFEST), "link/victim.txt\n").unwrap();
        let error = write(&tree(&[("a.yml", "1")]), dir.path()).unwrap_err();
        assert_eq!(error.path, dir.path().join("link"));
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(
            std::fs::read_to_string(outside.path().join("victim.txt")).unwrap(),
            "keep me"
        );
        assert!(!dir.path().join("a.yml").exists(), "nothing written when the run fails");
    }

    #[test]
    fn never_writes_through_a_symlinked_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        write(&tree(&[("a.yml", "1")]), dir.path()).unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("sub")).unwrap();
        let error = write(&tree(&[("a.yml", "2"), ("sub/b.json", "{}")]), dir.path()).unwrap_err();
        assert_eq!(error.path, dir.path().join("sub"));
        assert_eq!(snapshot(outside.path()), BTreeMap::new(), "nothing lands outside --out");
        assert_eq!(std::fs::read_to_string(dir.path().join("a.yml")).unwrap(), "1");
        // A symlinked file is refused the same way, and `compare` calls it stale.
        std::fs::write(outside.path().join("c.yml"), "outside").unwrap();
        std::os::unix::fs::symlink(outside.path().join("c.yml"), dir.path().join("c.yml")).unwrap();
        let wanted = tree(&[("a.yml", "1"), ("c.yml", "3")]);
        assert!(write(&wanted, dir.path()).is_err());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("c.yml")).unwrap(),
            "outside"
        );
        assert_eq!(compare(&wanted, dir.path()).stale, ["c.yml"]);
    }

    #[test]
    fn a_file_that_cannot_be_staged_changes_nothing_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write(&tree(&[("a.yml", "1"), ("b/x.yml", "1"), ("old.yml", "1")]), dir.path()).unwrap();
        // A file where a directory must go: the run fails after `a.yml` was staged.
        std::fs::write(dir.path().join("c"), "in the way").unwrap();
        let before = snapshot(dir.path());
        let next = tree(&[
            ("a.yml", "2"),
            ("b/x.yml", "2"),
            ("c/y.yml", "2"),
            ("new/deep/z.yml", "2"),
        ]);
        let error = write(&next, dir.path()).unwrap_err();
        assert_eq!(error.path, dir.path().join("c"));
        assert!(error.to_string().contains("c/y.yml"), "{error}");
        assert_eq!(snapshot(dir.path()), before, "old files kept, no temporaries left");
        assert!(
            !dir.path().join("new").exists(),
            "directories it created are gone again"
        );
    }

    #[test]
    fn a_failure_while_committing_rolls_every_step_back() {
        let dir = tempfile::tempdir().unwrap();
        write(&tree(&[("a.yml", "1"), ("b/x.yml", "1"), ("old.yml", "1")]), dir.path()).unwrap();
        let before = snapshot(dir.path());
        let next = tree(&[("a.yml", "2"), ("b/x.yml", "2"), ("c.yml", "2")]);
        // Three files staged, the manifest, then the removal of old.yml: five steps.
        for fail_at in 0..5 {
            let mut steps = 0;
            let error = write_with(&next, dir.path(), &mut |_| {
                steps += 1;
                if steps > fail_at {
                    Err(std::io::Error::other("injected"))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
            assert!(error.to_string().contains("injected"));
            assert_eq!(
                snapshot(dir.path()),
                before,
                "failing at step {fail_at} left a change behind"
            );
        }
        let written = write(&next, dir.path()).unwrap();
        assert_eq!(written.removed, ["old.yml"]);
        assert_eq!(
            snapshot(dir.path()).len(),
            4,
            "three files and the manifest, nothing hidden left"
        );
    }
}

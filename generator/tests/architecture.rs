//! The workspace's shape, enforced: a generator target never reaches into another
//! target (what two targets must agree on lives in `plan`, decided once), and no crate has
//! a module cycle, among its top-level modules or inside any module folder.

use std::path::Path;

#[test]
fn no_target_imports_another_target() {
    let targets = top_level_modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src/targets"));
    let names: Vec<String> = targets.iter().map(|(name, _)| name.clone()).collect();
    assert!(names.len() >= 5, "{names:?}");
    let mut crossings = Vec::new();
    for (name, text) in &targets {
        for prefix in ["super::", "crate::targets::"] {
            for other in references(text, prefix, &names, &[]) {
                if other != *name {
                    crossings.push(format!("{name} uses {prefix}{other}"));
                }
            }
        }
    }
    assert!(crossings.is_empty(), "targets importing targets: {crossings:#?}");
}

/// The modules of a directory (`x.rs` or `x/`; a crate's `src/` or a module's folder),
/// each with the text of all its files.
fn top_level_modules(src: &Path) -> Vec<(String, String)> {
    let mut modules = Vec::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if ["lib", "main", "bin", "mod"].contains(&name.as_str()) {
            continue;
        }
        let mut text = String::new();
        let mut stack = vec![path.clone()];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else if p.extension().is_some_and(|x| x == "rs") {
                text.push_str(&std::fs::read_to_string(&p).unwrap());
            }
        }
        if path.is_dir() || path.extension().is_some_and(|x| x == "rs") {
            modules.push((name, text));
        }
    }
    modules.sort();
    modules.dedup_by(|a, b| {
        // `x.rs` beside `x/`: one module.
        if a.0 == b.0 {
            b.1.push_str(&a.1);
            true
        } else {
            false
        }
    });
    modules
}

/// The modules among `names` a text reaches through `prefix` (`crate::`, `crate::plan::`,
/// `super::`), grouped imports included; `aliases` maps re-exported items (`Decimal`) to the
/// module that defines them (`decimal`). Comments do not count.
fn references(text: &str, prefix: &str, names: &[String], aliases: &[(String, String)]) -> Vec<String> {
    let code: String = text
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let text = code.as_str();
    let mut found = Vec::new();
    for (at, _) in text.match_indices(prefix) {
        // `super::x` inside `crate::a::super::x` is not ours; a path starts at a boundary.
        if prefix == "super::" && text[..at].ends_with("::") {
            continue;
        }
        for head in group_heads(&text[at + prefix.len()..]) {
            let ident: String = head.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let module = if names.contains(&ident) {
                Some(ident)
            } else {
                aliases.iter().find(|(item, _)| *item == ident).map(|(_, m)| m.clone())
            };
            if let Some(module) = module.filter(|m| !found.contains(m)) {
                found.push(module);
            }
        }
    }
    found
}

/// The first path segment of each item of `{a::x, b::{y, z}}`, or the path itself.
fn group_heads(rest: &str) -> Vec<&str> {
    let Some(group) = rest.strip_prefix('{') else {
        return vec![rest];
    };
    let mut heads = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.push(group[start..i].trim());
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(group[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    heads
}

/// The items a crate root re-exports by name (`pub use decimal::Decimal;`), with their module.
fn reexports(lib: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in lib.lines().map(str::trim) {
        let Some(path) = line.strip_prefix("pub use ").and_then(|l| l.strip_suffix(';')) else {
            continue;
        };
        let Some((module, items)) = path.split_once("::") else {
            continue;
        };
        let items = items.trim_start_matches('{').trim_end_matches('}');
        for item in items.split(',').map(str::trim) {
            let name = item.rsplit("::").next().unwrap_or(item);
            if !name.is_empty() && name != "*" {
                out.push((name.to_string(), module.to_string()));
            }
        }
    }
    out
}

/// A cycle in a directed graph, as the path around it.
fn find_cycle(edges: &[(String, Vec<String>)]) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &[(String, Vec<String>)],
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.iter().any(|n| n == node) {
            return None;
        }
        path.push(node.to_string());
        let next = edges
            .iter()
            .find(|(n, _)| n == node)
            .map(|(_, to)| to.as_slice())
            .unwrap_or(&[]);
        for to in next {
            if let Some(cycle) = visit(to, edges, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.push(node.to_string());
        None
    }
    let mut done = Vec::new();
    edges
        .iter()
        .find_map(|(node, _)| visit(node, edges, &mut Vec::new(), &mut done))
}

/// The cycles among the modules of `dir` (module path `path`, empty for the crate root),
/// then among the children of each of its folders, recursively.
fn cycles_in(dir: &Path, path: &str, found: &mut Vec<String>, seen: &mut usize) {
    let modules = top_level_modules(dir);
    *seen += modules.len();
    let names: Vec<String> = modules.iter().map(|(n, _)| n.clone()).collect();
    let absolute = if path.is_empty() {
        "crate::".to_string()
    } else {
        format!("crate::{path}::")
    };
    let aliases = if path.is_empty() {
        std::fs::read_to_string(dir.join("lib.rs"))
            .map(|lib| reexports(&lib))
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let edges: Vec<(String, Vec<String>)> = modules
        .iter()
        .map(|(name, text)| {
            let mut to = references(text, &absolute, &names, &aliases);
            if !path.is_empty() {
                to.extend(references(text, "super::", &names, &[]));
            }
            to.retain(|n| n != name);
            to.dedup();
            (name.clone(), to)
        })
        .collect();
    if let Some(cycle) = find_cycle(&edges) {
        found.push(format!("{} in {}: {}", path, dir.display(), cycle.join(" → ")));
    }
    for name in &names {
        let child = dir.join(name);
        if child.is_dir() {
            let child_path = if path.is_empty() {
                name.clone()
            } else {
                format!("{path}::{name}")
            };
            cycles_in(&child, &child_path, found, seen);
        }
    }
}

#[test]
fn no_crate_has_a_module_cycle() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let crates = ["contract", "generator", "runtime", "obs-build", "tools"];
    let mut cycles = Vec::new();
    let mut modules_seen = 0;
    for krate in crates {
        cycles_in(&workspace.join(krate).join("src"), "", &mut cycles, &mut modules_seen);
    }
    assert!(modules_seen >= 50, "only {modules_seen} modules found");
    assert!(cycles.is_empty(), "module cycles: {cycles:#?}");
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let edge = |from: &str, to: &[&str]| (from.to_string(), to.iter().map(|s| s.to_string()).collect());
    let acyclic = [edge("a", &["b", "c"]), edge("b", &["c"]), edge("c", &[])];
    assert_eq!(find_cycle(&acyclic), None);
    let cyclic = [edge("a", &["b"]), edge("b", &["c"]), edge("c", &["a"])];
    assert_eq!(find_cycle(&cyclic).unwrap(), ["a", "b", "c", "a"]);
    let names = ["load".to_string(), "validate".to_string(), "model".to_string()];
    assert_eq!(
        references(
            "use crate::{model::{Spec, Level}, validate};\nlet x = crate::load::f();",
            "crate::",
            &names,
            &[]
        ),
        ["model", "validate", "load"]
    );
    assert_eq!(
        references("use super::load;\nuse contract::super::model;", "super::", &names, &[]),
        ["load"]
    );
    let aliases = reexports("pub use load::{load_file, LoadedSpec};\npub use model::*;\n");
    assert_eq!(
        aliases,
        [
            ("load_file".into(), "load".into()),
            ("LoadedSpec".into(), "load".into())
        ]
    );
    assert_eq!(
        references("use crate::LoadedSpec;", "crate::", &names, &aliases),
        ["load"]
    );
}

//! The import rules, checked: each top-level module may use only the modules below it, so the
//! crate has no import cycles; the engine, the spec and the renderers never touch the SDK; the
//! engine does not see the spec either (kinds lower from views of a `Spec`, which the
//! resources implement for the model); the resource files do not import each other in a cycle. The test reads the sources under `src/` as text.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// What each top-level module may use (`crate::<module>`), lowest first.
const ALLOWED: &[(&str, &[&str])] = &[
    ("text", &[]),
    ("spec", &["text"]),
    ("engine", &["text"]),
    ("aws", &["text"]),
    ("resources", &["aws", "engine", "spec", "text"]),
    ("inspect", &["aws", "engine", "resources", "spec", "text"]),
    ("error", &["aws", "engine", "spec", "text"]),
    ("cli", &[]),
    (
        "render",
        &["cli", "engine", "error", "inspect", "spec", "text"],
    ),
    (
        "commands",
        &[
            "aws",
            "cli",
            "engine",
            "error",
            "inspect",
            "render",
            "resources",
            "spec",
            "text",
        ],
    ),
];

/// Modules that must not name an SDK crate (the commands call `resources` and `inspect`).
const NO_SDK: &[&str] = &[
    "text", "spec", "engine", "error", "cli", "render", "commands",
];

/// Every `.rs` file under `dir`, as (path relative to `src/`, text).
fn sources(dir: &Path, base: &Path, out: &mut Vec<(String, String)>) {
    for e in std::fs::read_dir(dir).expect("src/ is readable") {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

/// The code of `text` without comments (`//` to the end of the line) and string literals, so
/// a path named in prose or a message does not count as an import.
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' && !(prev == '\'' && chars.get(i + 1) == Some(&'\'')) {
                in_str = !in_str;
            } else if !in_str {
                out.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            i += 1;
        }
        out.push('\n');
    }
    out
}

/// The identifiers that follow each `prefix` in `code` (`crate::spec::Model` with prefix
/// `crate::spec::` gives `Model`; a `{A, B}` group gives both).
fn after(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            out.extend(
                group[..end]
                    .split(',')
                    .map(|p| ident(p.trim()))
                    .filter(|s| !s.is_empty()),
            );
        } else {
            let id = ident(rest);
            if !id.is_empty() {
                out.push(id);
            }
        }
    }
    out
}

fn top_module(rel: &str) -> &str {
    rel.split('/').next().unwrap().trim_end_matches(".rs")
}

#[test]
fn every_module_uses_only_the_modules_below_it() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&base, &base, &mut files);
    assert!(files.len() > 50, "read {} files", files.len());
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (rel, text) in &files {
        let top = top_module(rel);
        if matches!(top, "main" | "lib" | "layers") {
            continue;
        }
        let code = code_only(text);
        let may = allowed
            .get(top)
            .unwrap_or_else(|| panic!("{rel}: module {top} is not in ALLOWED"));
        for used in after(&code, "crate::") {
            // Macros exported at the crate root (`vmap!`) are not modules.
            if used == top || used == "vmap" || may.contains(&used.as_str()) {
                continue;
            }
            wrong.push(format!("{rel}: {top} uses crate::{used}"));
        }
        if NO_SDK.contains(&top) {
            for sdk in ["aws_sdk_", "aws_config", "aws_smithy_"] {
                if code.contains(sdk) {
                    wrong.push(format!("{rel}: {top} names {sdk}*"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the rules:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_resource_files_import_each_other_without_cycles() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&base.join("resources"), &base.join("resources"), &mut files);
    let names: BTreeSet<String> = files
        .iter()
        .map(|(rel, _)| rel.trim_end_matches(".rs").to_string())
        .collect();
    let edges: BTreeMap<String, BTreeSet<String>> = files
        .iter()
        .map(|(rel, text)| {
            let me = rel.trim_end_matches(".rs").to_string();
            let used = after(&code_only(text), "super::")
                .into_iter()
                .filter(|u| names.contains(u) && *u != me && me != "mod")
                .collect();
            (me, used)
        })
        .collect();
    // Depth-first search for a cycle, naming it.
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut cycle = path[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, &edges, &mut Vec::new(), &mut done) {
            panic!(
                "resource files import each other in a cycle: {}",
                c.join(" -> ")
            );
        }
    }
    assert!(
        edges["service"].contains("ecs"),
        "the scan sees `super::` imports"
    );
}

#[test]
fn the_scan_reads_imports_not_prose() {
    let code = code_only(
        "use crate::spec::{Model, Names}; // crate::aws is not used\nlet s = \"crate::render\";\n",
    );
    assert_eq!(after(&code, "crate::"), ["spec"]);
    assert_eq!(after(&code, "crate::spec::"), ["Model", "Names"]);
}

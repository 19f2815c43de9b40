//! The docs cannot rot: every page under `docs/` is linked from the README, every relative link
//! in the README, `docs/` and DEVELOPERS.md points at a file (and heading) that exists, and
//! every YAML block in them is a spec that `ballast validate` accepts. A block that shows only
//! some fields is completed with the minimal spec's (`name`, `region`, `service.image`) before
//! it is validated, so a fragment is checked too. No emulator: `validate` makes no AWS call.
//! The emulator README's table of fidelity patches is the shim's patch registry.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, DEVELOPERS.md and every docs/*.md, as (path relative to the root, text).
fn pages() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in ["README.md", "DEVELOPERS.md"] {
        out.push((
            f.to_string(),
            std::fs::read_to_string(root().join(f)).unwrap(),
        ));
    }
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    for p in docs {
        let rel = format!("docs/{}", p.file_name().unwrap().to_string_lossy());
        out.push((rel, std::fs::read_to_string(&p).unwrap()));
    }
    out
}

/// The fenced code blocks of `text` whose info string starts with `lang`: (line, body).
fn blocks(text: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(usize, bool, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut open {
            None => {
                if let Some(info) = line.trim_start().strip_prefix("```") {
                    open = Some((i + 1, info.trim().starts_with(lang), String::new()));
                }
            }
            Some((at, wanted, body)) => {
                if line.trim_start().starts_with("```") {
                    if *wanted {
                        out.push((*at, std::mem::take(body)));
                    }
                    open = None;
                } else {
                    body.push_str(line);
                    body.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "a code block is not closed");
    out
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if !in_code && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// The targets of the Markdown links `](target)` in `text`, outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut in_code = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_string());
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_docs_page_is_linked_from_the_readme() {
    let all = pages();
    let readme = &all[0].1;
    let linked: BTreeSet<String> = links(readme)
        .into_iter()
        .map(|l| l.split('#').next().unwrap().to_string())
        .collect();
    let docs: Vec<&String> = all
        .iter()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with("docs/"))
        .collect();
    assert!(docs.len() >= 5, "{docs:?}");
    for p in docs {
        assert!(linked.contains(p), "README.md does not link {p}");
    }
}

#[test]
fn every_relative_link_points_at_a_file_and_heading_that_exist() {
    let all = pages();
    let mut checked = 0;
    for (page, text) in &all {
        let dir = Path::new(page).parent().unwrap();
        for l in links(text) {
            if l.starts_with("http://") || l.starts_with("https://") || l.starts_with("mailto:") {
                continue;
            }
            let (file, frag) = match l.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (l.as_str(), None),
            };
            let target = if file.is_empty() {
                PathBuf::from(page)
            } else {
                dir.join(file)
            };
            let full = root().join(&target);
            assert!(full.exists(), "{page}: the link {l} points at nothing");
            if let Some(a) = frag {
                let t = std::fs::read_to_string(&full).unwrap();
                assert!(
                    anchors(&t).contains(a),
                    "{page}: the link {l}: {} has no heading #{a}",
                    target.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} links checked");
}

/// `block` with the minimal spec's fields it lacks, and the directory files it names (a
/// fallback or maintenance page) made empty beside it.
fn as_spec(block: &str) -> String {
    let top = |k: &str| block.lines().any(|l| l.starts_with(&format!("{k}:")));
    let mut s = String::new();
    if !top("name") {
        s.push_str("name: docs\n");
    }
    if !top("region") && !top("regions") {
        s.push_str("region: us-east-1\n");
    }
    if top("services") {
        s.push_str(block);
    } else if !top("service") {
        s.push_str("service:\n  image: public.ecr.aws/nginx/nginx:1.27\n");
        s.push_str(block);
    } else if block.lines().any(|l| l.starts_with("  image:")) {
        s.push_str(block);
    } else {
        for line in block.lines() {
            s.push_str(line);
            s.push('\n');
            if line.starts_with("service:") {
                s.push_str("  image: public.ecr.aws/nginx/nginx:1.27\n");
            }
        }
    }
    s
}

#[test]
fn every_yaml_block_in_the_docs_is_a_valid_spec() {
    let mut checked = 0;
    for (page, text) in pages() {
        for (line, block) in blocks(&text, "yaml") {
            let dir = tempfile::tempdir().unwrap();
            for l in block.lines() {
                if let Some(v) = l.trim().strip_prefix("page:") {
                    let v = v.split('#').next().unwrap().trim().trim_matches('"');
                    if !v.is_empty() && v != "null" {
                        std::fs::write(dir.path().join(v), "<!doctype html><p>Back soon.</p>\n")
                            .unwrap();
                    }
                }
            }
            let path = dir.path().join("stack.yaml");
            let spec = as_spec(&block);
            std::fs::write(&path, &spec).unwrap();
            let (code, stderr) = common::validate_file(&path);
            assert_eq!(
                code, 0,
                "{page}:{line}: this block does not validate:\n{spec}\n{stderr}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} YAML blocks checked");
}

/// `tests/emulator/shim/catalog.py --check`: the table between the `patches:begin`/`end`
/// markers of tests/emulator/README.md is what the `@patch` registrations in
/// tests/emulator/shim/patches/ say. Needs `.venv` (`scripts/emulator start` makes it), not a
/// running emulator.
#[test]
fn the_emulator_readme_table_is_the_patch_registry() {
    let out = std::process::Command::new(root().join(".venv/bin/python"))
        .args(["tests/emulator/shim/catalog.py", "--check"])
        .current_dir(root())
        .output()
        .expect(".venv/bin/python runs (scripts/emulator start makes .venv)");
    assert!(
        out.status.success(),
        "the patch table of tests/emulator/README.md is not the registry; fix the texts in \
         tests/emulator/shim/patches/ and run .venv/bin/python tests/emulator/shim/catalog.py\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn headings_become_github_anchors() {
    assert_eq!(anchor(" While AWS propagates"), "while-aws-propagates");
    assert_eq!(
        anchor(" Two regions with Route 53 failover"),
        "two-regions-with-route-53-failover"
    );
    assert_eq!(
        anchor(" `ballast unlock`, the lock"),
        "ballast-unlock-the-lock"
    );
}

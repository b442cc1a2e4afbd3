//! The shape of the code, read from its source: no import circles between modules, no vendor
//! named in the vendor-blind code, and short functions where every poll, render and scrape runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use consumption_exporter::sources;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The source with comments, string and character literals blanked out (same length, so line
/// numbers stay), leaving only code to search.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && is_raw_string(&chars, i) {
            let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
            let end: String = std::iter::once('"')
                .chain("#".repeat(hashes).chars())
                .collect();
            out.push_str(&" ".repeat(hashes + 2));
            i += hashes + 2;
            while i < chars.len() && !chars[i..].iter().collect::<String>().starts_with(&end) {
                out.push(blank(chars[i]));
                i += 1;
            }
            out.push_str(&" ".repeat(end.len()));
            i += end.len();
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                let step = if chars[i] == '\\' { 2 } else { 1 };
                for _ in 0..step.min(chars.len() - i) {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            let len = if next == Some('\\') {
                chars[i + 2..].iter().position(|&c| c == '\'').unwrap_or(0) + 3
            } else {
                3
            };
            out.push_str(&" ".repeat(len));
            i += len;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_raw_string(chars: &[char], i: usize) -> bool {
    let before_is_ident = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let hashes = chars[i + 1..].iter().take_while(|&&c| c == '#').count();
    !before_is_ident && chars.get(i + 1 + hashes) == Some(&'"')
}

fn is_char_literal(chars: &[char], i: usize) -> bool {
    matches!(
        (chars.get(i + 1), chars.get(i + 2)),
        (Some('\\'), _) | (Some(_), Some('\''))
    )
}

/// The top-level module a file under `src/` belongs to (`src/http/auth.rs` → `http`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (!matches!(name, "lib" | "main")).then(|| name.to_string())
}

/// Module → the modules its code names with `crate::`.
fn module_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = root().join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let Some(module) = module_of(&src, &file) else {
            continue;
        };
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        let imports = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let is_module = src.join(format!("{name}.rs")).exists() || src.join(&name).is_dir();
            if is_module && name != module {
                imports.insert(name);
            }
        }
    }
    graph
}

/// A path of imports that leads from a module back to itself, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let graph = module_imports();
    assert!(graph.len() > 10, "the modules were found: {graph:?}");
    assert!(
        graph["poller"].contains("store"),
        "imports are read: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "an import circle: {}\nmove the shared item to a module both can import",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_circle_finder_finds_long_circles_and_not_shared_imports() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            g.entry(from.to_string())
                .or_default()
                .insert(to.to_string());
            g.entry(to.to_string()).or_default();
        }
        g
    };
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("a", "c"), ("b", "c")])),
        None
    );
    let code = code_only("use crate::a; // crate::b\nlet s = \"crate::c\"; let c = '{';");
    assert!(code.contains("crate::a") && !code.contains("crate::b") && !code.contains("crate::c"));
    assert!(!code.contains('{'));
}

#[test]
fn the_vendor_blind_code_names_no_vendor() {
    let vendor_blind = [
        "src/demo.rs",
        "src/app.rs",
        "src/poller.rs",
        "src/store.rs",
        "src/render.rs",
        "src/server.rs",
        "src/listen.rs",
        "src/openmetrics.rs",
        "src/process.rs",
        "src/gzip.rs",
        "src/logging.rs",
        "src/shard.rs",
        "src/poll_slots.rs",
        "src/web_config/mod.rs",
        "src/web_config/tls.rs",
        "tests/it/faults.rs",
        "tests/it/incremental.rs",
        "src/settled.rs",
        "src/backfill.rs",
        "src/sources/windows.rs",
        "tests/it/secrets.rs",
        "tests/it/cli.rs",
        "examples/performance/vendors.rs",
    ];
    for file in vendor_blind {
        let text = std::fs::read_to_string(root().join(file))
            .unwrap()
            .to_lowercase();
        for name in sources::type_names() {
            assert!(
                !text.contains(name),
                "{file} names the vendor {name}: go through simulator::kit::VENDORS or sources::TYPES"
            );
        }
    }
}

/// Functions longer than `limit` lines in `file`, as (name, lines).
fn long_functions(file: &Path, limit: usize) -> Vec<(String, usize)> {
    let code = code_only(&std::fs::read_to_string(file).unwrap());
    // Tests are not on any path.
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    let lines: Vec<&str> = code.lines().collect();
    let mut long = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let Some(at) = line.find("fn ") else {
            continue;
        };
        let before = &line[..at];
        if !before.trim().is_empty()
            && !before.trim_end().ends_with("pub")
            && !before.contains("async")
            && !before.contains("pub(")
        {
            continue;
        }
        let name: String = line[at + 3..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth = 0i32;
        let mut opened = false;
        for (offset, body_line) in lines[start..].iter().enumerate() {
            for c in body_line.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    ';' if !opened && depth == 0 => break,
                    _ => {}
                }
            }
            if opened && depth == 0 {
                if offset + 1 > limit {
                    long.push((name.clone(), offset + 1));
                }
                break;
            }
            if !opened && body_line.trim_end().ends_with(';') {
                break;
            }
        }
    }
    long
}

#[test]
fn functions_on_the_poll_render_and_serve_path_are_short() {
    let src = root().join("src");
    let mut files = vec![
        src.join("poller.rs"),
        src.join("store.rs"),
        src.join("render.rs"),
        src.join("snapshot.rs"),
        src.join("server.rs"),
        src.join("listen.rs"),
        src.join("openmetrics.rs"),
        src.join("process.rs"),
        src.join("gzip.rs"),
    ];
    files.extend(rust_files(&src.join("http")));
    files.extend(rust_files(&src.join("sources")));
    let mut found = Vec::new();
    for file in &files {
        for (name, lines) in long_functions(file, 60) {
            found.push(format!("{}: fn {name} has {lines} lines", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "split these (at most 60 lines):\n{}",
        found.join("\n")
    );
}

#[test]
fn every_vendor_has_a_test_file_and_a_readme_section() {
    let main = std::fs::read_to_string(root().join("tests/it/main.rs")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for name in sources::type_names() {
        assert!(
            root().join(format!("tests/it/{name}.rs")).exists()
                && main.lines().any(|l| l == format!("mod {name};")),
            "{name}: add tests/it/{name}.rs and `mod {name};` in tests/it/main.rs"
        );
        assert!(
            root().join(format!("src/simulator/{name}.rs")).exists(),
            "{name}: add its simulator, src/simulator/{name}.rs"
        );
        assert!(
            readme.contains(&format!("### `type: {name}`")),
            "{name}: README needs a \"### `type: {name}`\" section"
        );
    }
}

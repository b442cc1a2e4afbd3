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
    blanked(text, true)
}

/// The source with comments blanked out, strings kept: what the program does and says.
fn without_comments(text: &str) -> String {
    blanked(text, false)
}

fn blanked(text: &str, strings_too: bool) -> String {
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
                out.push(if strings_too {
                    blank(chars[i])
                } else {
                    chars[i]
                });
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
                    out.push(if strings_too {
                        blank(chars[i])
                    } else {
                        chars[i]
                    });
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

/// The wing a file under `src/` belongs to (`src/http/auth.rs` → `http`, `src/app.rs` →
/// `app`, `src/main.rs` → `main`); `lib.rs` declares the wings and belongs to none.
fn wing_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_string())
}

/// The wings and their ranks, lowest first, from the one table of them (CONTRIBUTING.md's
/// layout): a wing may import only wings of a lower rank. `model` is what every wing passes
/// around; `main` only dispatches.
fn ranks() -> Vec<(String, u32)> {
    let text = std::fs::read_to_string(root().join("CONTRIBUTING.md")).unwrap();
    let table = text
        .split("| rank | wing | what it holds |")
        .nth(1)
        .expect("CONTRIBUTING.md has the wing table");
    table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            let wing = cells[2].trim_matches('`').trim_end_matches('/');
            let wing = wing.strip_suffix(".rs").unwrap_or(wing);
            (
                wing.to_string(),
                cells[1].parse().expect("a rank is a number"),
            )
        })
        .collect()
}

/// One `crate::` (or, in `main.rs`, `consumption_exporter::`) path in a file: the file, its
/// wing, the wing it names, and the line.
struct Import {
    file: String,
    wing: String,
    imported: String,
    line: usize,
}

/// Every import of a wing in the code (comments and strings aside) of the files under `src/`.
fn wing_imports() -> Vec<Import> {
    let src = root().join("src");
    let mut imports = Vec::new();
    for file in rust_files(&src) {
        let Some(wing) = wing_of(&src, &file) else {
            continue;
        };
        let code = code_only(&std::fs::read_to_string(&file).unwrap());
        for prefix in ["crate::", "consumption_exporter::"] {
            for (at, _) in code.match_indices(prefix) {
                let rest = &code[at + prefix.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                let is_wing = !name.is_empty()
                    && (src.join(format!("{name}.rs")).exists() || src.join(&name).is_dir());
                if is_wing && name != wing {
                    imports.push(Import {
                        file: file.strip_prefix(root()).unwrap().display().to_string(),
                        wing: wing.clone(),
                        imported: name,
                        line: code[..at].lines().count().max(1),
                    });
                }
            }
        }
    }
    imports
}

/// Module → the modules its code names with `crate::`.
fn module_imports() -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for import in wing_imports() {
        graph.entry(import.imported.clone()).or_default();
        graph
            .entry(import.wing)
            .or_default()
            .insert(import.imported);
    }
    graph
}

/// The imports that run up or across the ranks, and the wings without a rank, as lines for
/// the user.
fn direction_breaches(imports: &[Import], ranks: &[(&str, u32)]) -> Vec<String> {
    let rank = |wing: &str| ranks.iter().find(|(w, _)| *w == wing).map(|(_, r)| *r);
    let mut breaches = Vec::new();
    for import in imports {
        match (rank(&import.wing), rank(&import.imported)) {
            (Some(from), Some(to)) if to < from => {}
            (Some(from), Some(to)) => breaches.push(format!(
                "{}:{}: {} (rank {from}) imports {} (rank {to}); a wing imports only wings ranked below it",
                import.file, import.line, import.wing, import.imported
            )),
            (None, _) => breaches.push(format!("{}: the wing {} has no rank in the wing table", import.file, import.wing)),
            (_, None) => breaches.push(format!("{}: the wing {} has no rank in the wing table", import.file, import.imported)),
        }
    }
    breaches.sort();
    breaches.dedup();
    breaches
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
        graph["engine"].contains("exposition"),
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
fn every_wing_imports_only_wings_ranked_below_it() {
    let src = root().join("src");
    let wings: BTreeSet<String> = rust_files(&src)
        .iter()
        .filter_map(|file| wing_of(&src, file))
        .collect();
    let ranked: BTreeSet<String> = ranks().into_iter().map(|(w, _)| w).collect();
    assert_eq!(
        wings, ranked,
        "every wing under src/ has a rank, and every rank a wing"
    );
    let imports = wing_imports();
    assert!(imports.len() > 50, "imports are read: {}", imports.len());
    let ranks = ranks();
    let ranks: Vec<(&str, u32)> = ranks.iter().map(|(w, r)| (w.as_str(), *r)).collect();
    let breaches = direction_breaches(&imports, &ranks);
    assert!(breaches.is_empty(), "{}", breaches.join("\n"));
}

#[test]
fn the_direction_rule_catches_an_import_up_or_across_and_a_wing_without_rank() {
    let import = |wing: &str, imported: &str| Import {
        file: format!("src/{wing}/x.rs"),
        wing: wing.into(),
        imported: imported.into(),
        line: 3,
    };
    let ranks = [("low", 0), ("mid", 1), ("twin", 1), ("high", 2)];
    assert!(direction_breaches(&[import("high", "low"), import("mid", "low")], &ranks).is_empty());
    assert_eq!(
        direction_breaches(&[import("low", "high")], &ranks),
        ["src/low/x.rs:3: low (rank 0) imports high (rank 2); a wing imports only wings ranked below it"]
    );
    assert_eq!(
        direction_breaches(&[import("mid", "twin")], &ranks).len(),
        1,
        "across a rank"
    );
    assert_eq!(
        direction_breaches(&[import("new", "low")], &ranks),
        ["src/new/x.rs: the wing new has no rank in the wing table"]
    );
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

/// The wings that know no vendor: they go through `sources::TYPES` and
/// `simulator::kit::VENDORS`. `sources` and `simulator` hold one file per vendor (and
/// `sources/windows.rs`, which is vendor-blind too).
const VENDOR_BLIND_WINGS: &[&str] = &[
    "model",
    "http",
    "budgets",
    "showback",
    "focus",
    "seats",
    "exposition",
    "settings",
    "config",
    "engine",
    "serve",
    "app",
    "commands",
    "main",
];

/// The files outside those wings that must name no vendor either. (`sources/mod.rs` and
/// `simulator/kit.rs` hold the two lists of vendors, one line each.)
const VENDOR_BLIND_FILES: &[&str] = &[
    "src/sources/windows.rs",
    "src/sources/strict.rs",
    "tests/it/faults.rs",
    "tests/it/focus.rs",
    "tests/it/hostile.rs",
    "tests/it/incremental.rs",
    "tests/it/secrets.rs",
    "tests/it/cli.rs",
    "examples/performance/vendors.rs",
    "examples/performance/fleet.rs",
];

/// The vendors a file's code and messages name (comments and tests aside).
fn vendors_named(text: &str, vendors: &[&str]) -> Vec<String> {
    let text = without_comments(text);
    let product = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .to_lowercase();
    vendors
        .iter()
        .filter(|vendor| product.contains(*vendor))
        .map(|vendor| vendor.to_string())
        .collect()
}

#[test]
fn the_vendor_blind_code_names_no_vendor() {
    let src = root().join("src");
    let mut files: Vec<PathBuf> = rust_files(&src)
        .into_iter()
        .filter(|file| {
            wing_of(&src, file).is_some_and(|w| VENDOR_BLIND_WINGS.contains(&w.as_str()))
        })
        .collect();
    assert!(files.len() > 30, "the wings' files were found: {files:?}");
    files.extend(VENDOR_BLIND_FILES.iter().map(|file| root().join(file)));
    let vendors = sources::type_names();
    let mut found = Vec::new();
    for file in files {
        for vendor in vendors_named(&std::fs::read_to_string(&file).unwrap(), &vendors) {
            found.push(format!("{} names the vendor {vendor}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "go through simulator::kit::VENDORS or sources::TYPES:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_vendor_rule_reads_code_and_messages_but_not_comments_or_tests() {
    let vendors = ["acme", "globex"];
    let text = "// acme's docs say so\nlet x = \"Globex\";\n#[cfg(test)]\nmod tests { acme() }";
    assert_eq!(vendors_named(text, &vendors), ["globex"]);
    assert!(vendors_named("fn f() {} /// acme", &vendors).is_empty());
}

#[test]
fn only_config_and_settings_call_the_yaml_library() {
    let src = root().join("src");
    let callers: Vec<String> = rust_files(&src)
        .iter()
        .filter(|file| !file.starts_with(src.join("config")) && !file.ends_with("src/settings.rs"))
        .filter(|file| code_only(&std::fs::read_to_string(file).unwrap()).contains("serde_yaml"))
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        callers.is_empty(),
        "go through config or settings (swapping the deprecated serde_yaml should touch those two only): {callers:?}"
    );
}

/// Functions longer than `limit` lines in a file's text, as (name, lines).
fn long_functions(text: &str, limit: usize) -> Vec<(String, usize)> {
    let code = code_only(text);
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
fn every_product_function_is_at_most_60_lines() {
    let mut found = Vec::new();
    let files = rust_files(&root().join("src"));
    assert!(files.iter().any(|f| f.ends_with("src/main.rs")));
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (name, lines) in long_functions(&text, 60) {
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
fn the_length_rule_counts_a_function_to_its_closing_brace_and_skips_tests() {
    let body = |n: usize| "    let x = 1;\n".repeat(n);
    let text = format!(
        "pub async fn long() {{\n{}}}\nfn short() {{\n{}}}\nfn declared();\n#[cfg(test)]\nfn test_only() {{\n{}}}\n",
        body(61),
        body(10),
        body(100)
    );
    assert_eq!(long_functions(&text, 60), [("long".to_string(), 63)]);
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
        let page = format!("docs/vendors/{name}.md");
        assert!(
            root().join(&page).exists() && readme.contains(&format!("]({page})")),
            "{name}: add {page} and link it from README"
        );
    }
}

/// The Markdown pages: README, CONTRIBUTING, CHANGELOG and every page under docs/.
fn markdown_pages() -> Vec<PathBuf> {
    let mut pages = vec![
        root().join("README.md"),
        root().join("CONTRIBUTING.md"),
        root().join("CHANGELOG.md"),
    ];
    let mut pending = vec![root().join("docs")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                pages.push(path);
            }
        }
    }
    pages.sort();
    pages
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation dropped.
fn anchor_of(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The links of a page that lead nowhere: a missing file, or an anchor no heading has.
fn broken_links(page: &Path, text: &str) -> Vec<String> {
    let mut broken = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let end = after.find(')').unwrap_or(after.len());
        let target = &after[..end];
        rest = &after[end..];
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
        let linked = match file.is_empty() {
            true => page.to_path_buf(),
            false => page.parent().unwrap().join(file),
        };
        let Ok(linked_text) = std::fs::read_to_string(&linked) else {
            broken.push(format!("{}: {target}: no such file", page.display()));
            continue;
        };
        let headings: Vec<String> = linked_text
            .lines()
            .filter_map(|l| l.strip_prefix('#'))
            .map(|h| anchor_of(h.trim_start_matches('#')))
            .collect();
        if !anchor.is_empty() && !headings.iter().any(|h| h == anchor) {
            broken.push(format!(
                "{}: {target}: no heading #{anchor}",
                page.display()
            ));
        }
    }
    broken
}

/// Tables that would render as plain text: a row block whose second line is not a
/// `|---|` separator, that does not follow a blank line, or whose rows have another number of
/// cells than its header.
fn broken_tables(text: &str) -> Vec<String> {
    let cells = |line: &str| line.replace("\\|", "").matches('|').count();
    let lines: Vec<&str> = text.lines().collect();
    let mut broken = Vec::new();
    let mut in_code = false;
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("```") {
            in_code = !in_code;
        }
        if in_code || !lines[i].starts_with('|') {
            i += 1;
            continue;
        }
        let start = i;
        while i < lines.len() && lines[i].starts_with('|') {
            i += 1;
        }
        let rows = &lines[start..i];
        let separator = rows.get(1).is_some_and(|l| {
            l.trim_matches('|').split('|').all(|cell| {
                cell.trim().trim_matches(':').chars().all(|c| c == '-') && cell.contains('-')
            })
        });
        let after_blank = start == 0 || lines[start - 1].trim().is_empty();
        let same_width = rows.iter().all(|row| cells(row) == cells(rows[0]));
        if !(separator && after_blank && same_width) {
            broken.push(format!("line {}: {}", start + 1, rows[0]));
        }
    }
    broken
}

#[test]
fn every_link_in_the_docs_resolves_and_every_table_renders() {
    let mut problems = Vec::new();
    for page in markdown_pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        problems.extend(broken_links(&page, &text));
        for table in broken_tables(&text) {
            problems.push(format!(
                "{}: a table that renders as text at {table}",
                page.display()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README has {lines} lines; the reference goes to docs/"
    );
}

#[test]
fn the_docs_checks_catch_a_dead_link_a_missing_anchor_and_a_headerless_table() {
    let page = root().join("README.md");
    let broken = broken_links(
        &page,
        "[a](docs/nothing.md) [b](docs/metrics.md#nowhere) [c](#documentation)",
    );
    assert_eq!(broken.len(), 2, "{broken:?}");
    assert_eq!(
        anchor_of(" `type: qlik`: Qlik Cloud"),
        "type-qlik-qlik-cloud"
    );
    assert_eq!(
        broken_tables("| a | b |\n|---|---|\n| 1 | 2 |\n"),
        Vec::<String>::new()
    );
    assert_eq!(
        broken_tables("text\n| 1 | 2 |\n| 3 | 4 |\n").len(),
        1,
        "no header separator"
    );
    assert_eq!(
        broken_tables("| a | b |\n|---|---|\n| 1 |\n").len(),
        1,
        "a short row"
    );
}

/// The trait's body: the text between its opening brace and the brace that closes it.
fn trait_body<'a>(code: &'a str, declaration: &str) -> &'a str {
    let start = code.find(declaration).expect("the trait is declared");
    let open = start + code[start..].find('{').unwrap();
    let mut depth = 0;
    for (at, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => return &code[open + 1..open + at],
            '}' => depth -= 1,
            _ => {}
        }
    }
    panic!("{declaration} is not closed")
}

/// A vendor is a poll plus facts: a feature adds a field to `Facts`, never a method every
/// vendor must write.
#[test]
fn the_source_trait_is_a_poll_its_probes_its_billing_and_its_facts() {
    let code = code_only(&std::fs::read_to_string(root().join("src/sources/mod.rs")).unwrap());
    let body = trait_body(&code, "pub trait Source:");
    let methods: Vec<&str> = body
        .match_indices("fn ")
        .map(|(at, _)| body[at + 3..].split('(').next().unwrap_or("").trim())
        .collect();
    assert!(methods.contains(&"poll"), "{methods:?}");
    assert!(
        methods.len() <= 4,
        "trait Source has {} methods ({methods:?}); put a new fact in sources::facts::Facts",
        methods.len()
    );
}

/// The number of lines of a file before its tests (`#[cfg(test)]`).
fn lines_before_tests(text: &str) -> usize {
    let code = text.find("#[cfg(test)]").map_or(text, |at| &text[..at]);
    code.lines().count()
}

#[test]
fn no_product_file_is_over_700_lines_before_its_tests() {
    let src = root().join("src");
    let long: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|file| !file.starts_with(src.join("simulator")))
        .filter_map(|file| {
            let lines = lines_before_tests(&std::fs::read_to_string(&file).unwrap());
            (lines > 700).then(|| format!("{}: {lines} lines", file.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these by the jobs they do (at most 700 lines before the tests):\n{}",
        long.join("\n")
    );
}

/// One module-file style: a module with files of its own is a directory with `mod.rs`, never
/// `name.rs` beside `name/`, so `ls` shows each module once.
#[test]
fn every_module_with_files_of_its_own_is_a_directory_with_mod_rs() {
    let src = root().join("src");
    let beside: Vec<String> = rust_files(&src)
        .into_iter()
        .filter(|file| file.with_extension("").is_dir())
        .map(|file| file.display().to_string())
        .collect();
    assert!(
        beside.is_empty(),
        "move these into their directory as mod.rs:\n{}",
        beside.join("\n")
    );
}

/// A file's module path under `src/` (`http/session.rs` → `http::session`, `http/mod.rs` →
/// `http`); none for `lib.rs` and `main.rs`.
fn module_of(src: &Path, file: &Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(src).ok()?.with_extension("");
    let mut path: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if path.last().is_some_and(|last| last == "mod") {
        path.pop();
    }
    (!path.is_empty() && path != ["lib"] && path != ["main"]).then_some(path)
}

/// The deepest module of `modules` that `path` (a module path, then perhaps an item) names.
fn deepest_module(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| modules.contains(prefix))
}

/// The modules a file's code (before its tests) names through `crate::`, `super::` and
/// `self::` paths, braced groups included, and, in a `mod.rs`, its child modules by name.
fn file_imports(
    code: &str,
    me: &[String],
    modules: &BTreeSet<Vec<String>>,
) -> BTreeSet<Vec<String>> {
    let code = code.split("#[cfg(test)]").next().unwrap_or("");
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = BTreeSet::new();
    let mut add = |base: Vec<String>, rest: &str| {
        let mut path = base;
        path.extend(
            rest.split("::")
                .map(|s| s.trim().to_string())
                .take_while(|s| !s.is_empty() && s.chars().all(word)),
        );
        if let Some(module) = deepest_module(modules, &path) {
            if module != me {
                found.insert(module);
            }
        }
    };
    let parent = me[..me.len() - 1].to_vec();
    for (head, base) in [
        ("crate::", Vec::new()),
        ("super::", parent),
        ("self::", me.to_vec()),
    ] {
        for (at, _) in code.match_indices(head) {
            if code[..at].chars().next_back().is_some_and(word) {
                continue;
            }
            let rest = &code[at + head.len()..];
            let path: String = rest.chars().take_while(|c| word(*c) || *c == ':').collect();
            let path = path.trim_end_matches(':');
            let after = &rest[path.len()..];
            match after.trim_start_matches(':').strip_prefix('{') {
                Some(group) => {
                    let group = group.split('}').next().unwrap_or("");
                    let mut prefix = base.clone();
                    prefix.extend(path.split("::").filter(|s| !s.is_empty()).map(String::from));
                    for item in group.split(',') {
                        add(prefix.clone(), item);
                    }
                }
                None => add(base.clone(), path),
            }
        }
    }
    found
}

/// Every module under `src/` → the modules of its own wing it imports.
fn file_graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let src = root().join("src");
    let files: Vec<(Vec<String>, PathBuf)> = rust_files(&src)
        .into_iter()
        .filter_map(|file| Some((module_of(&src, &file)?, file)))
        .collect();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &files {
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let mut imports = file_imports(&code, module, &modules);
        if file.ends_with("mod.rs") {
            for child in modules
                .iter()
                .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            {
                let name = format!("{}::", child[child.len() - 1]);
                if code.match_indices(&name).any(|(at, _)| {
                    !code[..at].ends_with(':')
                        && !code[..at]
                            .chars()
                            .next_back()
                            .is_some_and(|c| c.is_alphanumeric() || c == '_')
                }) {
                    imports.insert(child.clone());
                }
            }
        }
        imports.retain(|imported| imported[0] == module[0]);
        graph.insert(module.clone(), imports);
    }
    graph
}

/// The two registries: the wings whose list of vendors (`sources::TYPES`, `simulator::kit`)
/// names each vendor's file while each vendor's file uses what the wing shares.
const REGISTRIES: [&str; 2] = ["sources", "simulator"];

#[test]
fn no_file_imports_a_file_of_its_wing_that_imports_it_back() {
    let graph = file_graph();
    let http = vec!["http".to_string()];
    assert!(
        graph[&http].contains(&vec!["http".to_string(), "session".to_string()]),
        "a mod.rs's use of its children is read: {:?}",
        graph[&http]
    );
    let joined = |m: &Vec<String>| m.join("::");
    let mut circles = Vec::new();
    let mut rest: BTreeMap<String, BTreeSet<String>> = graph
        .iter()
        .filter(|(m, _)| !REGISTRIES.contains(&m[0].as_str()))
        .map(|(m, imports)| (joined(m), imports.iter().map(joined).collect()))
        .collect();
    while let Some(cycle) = find_cycle(&rest) {
        circles.push(cycle.join(" → "));
        let first = cycle[0].clone();
        rest.remove(&first);
    }
    assert!(
        circles.is_empty(),
        "files that import each other (move what both need into a file both import):\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_file_circle_finder_sees_groups_super_and_crate_paths() {
    let modules: BTreeSet<Vec<String>> = [
        vec!["config"],
        vec!["config", "decode"],
        vec!["config", "context"],
        vec!["config", "raw"],
    ]
    .into_iter()
    .map(|m| m.into_iter().map(String::from).collect())
    .collect();
    let me: Vec<String> = vec!["config".into(), "decode".into()];
    let code = "use super::{context::Context, raw::*};\nfn f() { crate::config::POLL; }";
    let found = file_imports(code, &me, &modules);
    let names: Vec<String> = found.iter().map(|m| m.join("::")).collect();
    assert_eq!(names, ["config", "config::context", "config::raw"]);
}

#[test]
fn the_wing_table_is_in_rank_order() {
    let ranks = ranks();
    assert!(ranks.len() > 10, "the table was read: {ranks:?}");
    let order: Vec<u32> = ranks.iter().map(|(_, r)| *r).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(
        order, sorted,
        "CONTRIBUTING.md's wing table, lowest rank first: {ranks:?}"
    );
}

/// `lib.rs` declares the wings and nothing else, so that every item sits in a wing the
/// direction rule sees.
#[test]
fn lib_rs_holds_only_the_wings() {
    let code = code_only(&std::fs::read_to_string(root().join("src/lib.rs")).unwrap());
    let other: Vec<&str> = code
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("pub mod "))
        .collect();
    assert!(other.is_empty(), "move these into a wing: {other:?}");
}

//! Every YAML example of the docs and the README passes `check`, as a user would copy it: a
//! whole config as it is, a source entry under `sources:`, a web config through the web
//! config's own reader. The files an example names are made in a directory of the test's,
//! with what their key wants (a certificate, a key, a secret, a rates file).

use std::path::{Path, PathBuf};

use consumption_exporter::config;

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The ```yaml blocks of one Markdown file, with the line each starts on.
fn yaml_blocks(text: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match (&mut current, line.trim_start()) {
            (None, "```yaml") => current = Some((i + 2, String::new())),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some((_, block)), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repository().join("README.md")];
    for dir in ["docs", "docs/vendors"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(repository().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// `block` with each `<key>_file: <path>` (block or flow style) pointing at a file made in
/// `dir` with what the key wants.
fn with_files_made(block: &str, dir: &Path) -> String {
    let mut out = String::new();
    let mut rest = block;
    let mut made = 0;
    while let Some(at) = rest.find("_file: ") {
        let key_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let key = &rest[key_start..at + "_file".len()];
        let value_start = at + "_file: ".len();
        let value_len = rest[value_start..]
            .find(|c: char| c.is_whitespace() || c == ',' || c == '}')
            .unwrap_or(rest.len() - value_start);
        made += 1;
        let file = dir.join(format!("{made}-{key}"));
        make_file(key, &file);
        out.push_str(&rest[..value_start]);
        out.push_str(&file.display().to_string());
        rest = &rest[value_start + value_len..];
    }
    out.push_str(rest);
    out
}

/// A file with what `key` wants: a certificate, a private key, a rates file or a secret.
fn make_file(key: &str, file: &Path) {
    let fixtures = repository().join("tests/fixtures/client-certificate");
    match key {
        "cert_file" | "ca_file" | "client_ca_file" => {
            std::fs::copy(fixtures.join("app.pem"), file).unwrap();
        }
        "key_file" => {
            std::fs::copy(fixtures.join("app.key"), file).unwrap();
        }
        "rates_file" => std::fs::write(file, "Date,USD,CHF,\n2026-12-01,1.05,0.93,\n").unwrap(),
        _ => std::fs::write(file, "a-secret\n").unwrap(),
    }
}

#[test]
fn every_yaml_example_in_the_docs_passes_check() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, block) in yaml_blocks(&text) {
            let at = format!(
                "{}:{line}",
                file.strip_prefix(repository()).unwrap().display()
            );
            let dir = tempfile::tempdir().unwrap();
            let yaml = with_files_made(&block, dir.path());
            let first = yaml
                .lines()
                .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
            let first = first.unwrap_or_default();
            let outcome = if first.starts_with("tls_server_config")
                || first.starts_with("basic_auth_users")
                || first.starts_with("http_server_config")
            {
                let path = dir.path().join("web.yml");
                std::fs::write(&path, &yaml).unwrap();
                consumption_exporter::serve::web_config::WebConfig::load(&path)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            } else if first.starts_with("  - ") {
                parsed(&format!("sources:\n{yaml}"), dir.path())
            } else if first.starts_with(' ') {
                Err("an indented fragment: write it as a whole config or a source entry".into())
            } else {
                parsed(&yaml, dir.path())
            };
            checked += 1;
            if let Err(error) = outcome {
                failures.push(format!("{at}:\n{error}"));
            }
        }
    }
    assert!(checked >= 15, "the examples were found: {checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn parsed(yaml: &str, dir: &Path) -> Result<(), String> {
    config::parse(yaml, "example.yml", dir)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

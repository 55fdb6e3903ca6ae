//! The import rule, checked: every module may use only modules of a lower layer, so there is no
//! import circle and no upward arrow. The layers, bottom up, are [`LAYERS`]; a new top-level
//! module must be placed in one (the test fails until it is). Test code is exempt: this reads
//! each non-test source file up to its first `#[cfg(test)]`.
//!
//! Unit tests follow one of two conventions, also checked here: a small module keeps them
//! inline (`#[cfg(test)] mod tests { ... }` at its end); a large one declares
//! `#[cfg(test)] mod tests;` and keeps them in a file beside it, `tests.rs` or `tests/mod.rs`
//! (with submodules in that `tests/` directory). Those files are the test files exempt above.

/// Top-level modules by layer, bottom first. A module may import from lower layers only.
pub const LAYERS: &[&[&str]] = &[
    &["label", "secret", "xml", "tls", "clock"],
    &["keys", "keytab", "endpoint", "request"],
    &["config"],
    &["metrics"],
    &["events"],
    &["directory", "cache", "state", "session", "kerberos"],
    &["resolve", "lockout", "health", "account_check"],
    &["signin"],
    &["tokens"],
    &["preflight"],
    &["protocols"],
    &["app"],
    &["http"],
    &["cli", "fuzzing", "catalogue"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// A test file: `tests.rs`, or anything in a `tests/` directory.
fn is_test_file(rel: &std::path::Path) -> bool {
    rel.file_name().is_some_and(|n| n == "tests.rs")
        || rel.components().any(|c| c.as_os_str() == "tests")
}

/// Every `.rs` file under `src/`, relative to it.
fn source_files() -> Vec<std::path::PathBuf> {
    use std::path::{Path, PathBuf};
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read src") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files
        .into_iter()
        .map(|f| f.strip_prefix(&src).expect("under src").to_path_buf())
        .collect()
}

#[test]
fn unit_tests_are_inline_or_in_tests_rs_or_a_tests_directory() {
    let strays: Vec<String> = source_files()
        .iter()
        .filter(|rel| !is_test_file(rel))
        .filter(|rel| {
            rel.file_stem()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains("test"))
        })
        .map(|rel| rel.display().to_string())
        .collect();
    assert!(
        strays.is_empty(),
        "test files outside the two conventions (move them to the module's tests.rs or tests/): {strays:?}"
    );
}

#[test]
fn no_module_imports_from_its_own_layer_or_above() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for rel in source_files() {
        let rel = rel.as_path();
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .unwrap_or_default();
        if matches!(top.as_str(), "lib" | "main" | "layering") || is_test_file(rel) {
            continue;
        }
        let Some(from) = layer(&top) else {
            problems.push(format!("{top}: not placed in a layer (src/layering.rs)"));
            continue;
        };
        let text = std::fs::read_to_string(src.join(rel)).expect("read");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        for (i, _) in code.match_indices("crate::") {
            let name: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // Items `lib.rs` re-exports at the crate root.
            let name = match name.as_str() {
                "run" => "http".to_string(),
                "App" | "StartError" => "app".to_string(),
                _ => name,
            };
            if name == top || name == "event" {
                continue;
            }
            match layer(&name) {
                Some(to) if to < from => {}
                Some(_) => problems.push(format!("{}: {top} imports {name}", rel.display())),
                None => problems.push(format!("{}: unknown module crate::{name}", rel.display())),
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "layering violations:\n{}",
        problems.join("\n")
    );
}

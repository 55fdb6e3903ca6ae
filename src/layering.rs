//! The import rule, checked: every module may use only modules of a lower layer, so there is no
//! import circle and no upward arrow. The layers, bottom up, are [`LAYERS`]; a new top-level
//! module must be placed in one (the test fails until it is). Test code is exempt: this reads
//! each non-test source file up to its first `#[cfg(test)]` (test files: `tests.rs`,
//! `*_tests.rs`, anything in a `tests/` directory).

/// Top-level modules by layer, bottom first. A module may import from lower layers only.
pub const LAYERS: &[&[&str]] = &[
    &["label", "secret", "xml", "tls", "clock"],
    &["keys", "endpoint", "request"],
    &["config"],
    &["metrics"],
    &["events"],
    &["directory", "cache", "state", "session"],
    &["resolve", "lockout"],
    &["signin"],
    &["tokens"],
    &["audit"],
    &["protocols"],
    &["app"],
    &["http"],
    &["cli", "fuzzing", "catalogue"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[test]
fn no_module_imports_from_its_own_layer_or_above() {
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
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("under src");
        let top = rel
            .components()
            .next()
            .and_then(|c| c.as_os_str().to_str())
            .map(|s| s.trim_end_matches(".rs").to_string())
            .unwrap_or_default();
        if matches!(top.as_str(), "lib" | "main" | "layering")
            || rel
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == "tests.rs" || n.ends_with("_tests.rs"))
            || rel.components().any(|c| c.as_os_str() == "tests")
        {
            continue;
        }
        let Some(from) = layer(&top) else {
            problems.push(format!("{top}: not placed in a layer (src/layering.rs)"));
            continue;
        };
        let text = std::fs::read_to_string(&file).expect("read");
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

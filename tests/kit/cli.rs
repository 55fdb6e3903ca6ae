//! The `altgate` binary as a process, as an administrator runs it: `RUST_LOG` unset, started in
//! the repository (so the shipped `config/altgate.yaml` is the default configuration) or in a
//! given directory.

use super::files::repo;
use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;

/// `altgate args...` started in the repository; waits for it to end.
pub fn altgate(args: &[&str]) -> Output {
    altgate_in(&repo(), args)
}

/// `altgate args...` started in `dir`; waits for it to end.
pub fn altgate_in(dir: &Path, args: &[&str]) -> Output {
    shipped_demo_signing_pair();
    std::process::Command::new(env!("CARGO_BIN_EXE_altgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run altgate")
}

/// [`altgate`] for async tests: the runtime keeps running while the process does.
pub async fn altgate_async(args: &[&str]) -> Output {
    shipped_demo_signing_pair();
    tokio::process::Command::new(env!("CARGO_BIN_EXE_altgate"))
        .args(args)
        .current_dir(repo())
        .env_remove("RUST_LOG")
        .output()
        .await
        .expect("run altgate")
}

/// The token-signing pair the shipped demo configuration generates on first use (into the
/// repository's `certs/`), generated once here before any `altgate` process starts: processes
/// started concurrently on a fresh checkout would otherwise each generate a pair into the same
/// two files, and the last certificate written need not belong to the last key written.
pub fn shipped_demo_signing_pair() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let config = altgate::config::Config::load(&repo().join("config/altgate.yaml"))
            .expect("the shipped configuration");
        if let Some(ts) = config
            .token_signing
            .as_ref()
            .filter(|t| t.generate_dev_certificate)
        {
            // Relative paths are taken from the directory altgate starts in: the repository.
            altgate::keys::ensure_dev_signing_pair(
                &repo().join(&ts.cert_file),
                &repo().join(&ts.key_file),
                "altgate development token signing",
                altgate::clock::system_clock()(),
            )
            .expect("the demo token-signing pair");
        }
    });
}

/// The one JSON object a `--json` command printed on stdout (exactly one line).
pub fn json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one JSON object on stdout: {stdout}"
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

//! Records the git commit for `altgate_build_info{commit}` (or `ALTGATE_GIT_COMMIT` when set,
//! for builds outside a git checkout).

fn main() {
    println!("cargo:rerun-if-env-changed=ALTGATE_GIT_COMMIT");
    let mut watched = false;
    for path in [".git/HEAD", ".git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
            watched = true;
        }
    }
    if !watched {
        println!("cargo:rerun-if-changed=build.rs");
    }
    let commit = std::env::var("ALTGATE_GIT_COMMIT").ok().or_else(|| {
        std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    println!(
        "cargo:rustc-env=ALTGATE_GIT_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
}

//! Files: the repository, this run's private directory, and the secret and configuration files
//! tests write there.

use std::path::{Path, PathBuf};

/// The repository (the crate's root).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This test binary's directory for secrets and keys: mode 0700 under the temp folder (which
/// `scripts/test.sh` points at a private directory it removes after the run).
pub fn private_dir() -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!("altgate-tests-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .expect("temp dir");
    dir
}

/// Writes `bytes` to a new file readable only by its owner (0600).
pub fn write_private(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .expect("create private file");
    f.write_all(bytes).expect("write private file");
}

/// A file holding `secret`, for `password_file`. Tests run concurrently, so each write goes to
/// a fresh temporary name and is renamed into place: a reader never sees a half-written file.
pub fn secret_file(name: &str, secret: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let dir = private_dir();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let p = dir.join(format!("{n}-{name}"));
    let tmp = dir.join(format!(".{n}-{name}.tmp"));
    write_private(&tmp, secret.as_bytes());
    std::fs::rename(&tmp, &p).expect("rename secret");
    p
}

/// A configuration file holding `yaml` (a fresh file per call, like [`secret_file`]).
pub fn write_config(name: &str, yaml: &str) -> PathBuf {
    secret_file(name, yaml)
}

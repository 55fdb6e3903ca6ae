//! The Debian package, installed for real on this machine and removed again: built by
//! `scripts/build-deb.sh` from the binary under test, its dependencies are Debian's names for
//! what the binary links; `dpkg -i` creates the service account and directories with their
//! modes; `systemd-analyze verify` accepts the unit and `systemd-analyze security` rates its
//! exposure at most 2.0 ("OK"); the installed binary's `check-config` on the shipped
//! `/etc/altgate/altgate.yaml` names exactly the site files an admin must add, and passes as
//! the service account once they are there; the installed binary speaks systemd's readiness
//! protocol through start, reload and stop; an upgrade keeps the edited configuration; removing
//! keeps it; purging removes it and the account.

use crate::harness;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const CONFIG: &str = "/etc/altgate/altgate.yaml";
/// Highest `systemd-analyze security` exposure the unit may have (0 best, 10 worst; up to 2.0
/// systemd calls "OK").
const MAX_EXPOSURE: f64 = 2.0;

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| harness::unprepared(&format!("{program} cannot run: {e}")))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(program: &str, args: &[&str]) -> Output {
    let out = run(program, args);
    assert!(out.status.success(), "{program} {args:?}: {}", text(&out));
    out
}

fn purge() {
    let _ = run("dpkg", &["--purge", "altgate"]);
}

/// Purges the package however the test ends.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        purge();
    }
}

/// Puts a site file in place as the admin would: root-owned, group altgate, `mode`.
fn site_file(path: &str, bytes: &[u8], mode: u32) {
    let p = Path::new(path);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
    std::fs::write(p, bytes).expect("write");
    ok("chown", &["root:altgate", path]);
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("mode");
}

fn openssl_pair(dir: &Path, name: &str) -> (Vec<u8>, Vec<u8>) {
    let (cert, key) = harness::openssl_pair(dir, name, name, 365);
    (
        std::fs::read(cert).expect("cert"),
        std::fs::read(key).expect("key"),
    )
}

#[test]
fn the_debian_package_installs_a_hardened_service_and_purges_cleanly() {
    if run("id", &["-u"]).stdout != b"0\n" {
        harness::unprepared("installing the package needs root (scripts/test.sh runs as root)");
    }
    let dir = harness::private_dir().join("package");
    std::fs::create_dir_all(&dir).expect("dir");
    let build = ok(
        "bash",
        &[
            harness::repo()
                .join("scripts/build-deb.sh")
                .to_str()
                .expect("path"),
            "--binary",
            env!("CARGO_BIN_EXE_altgate"),
            "--out",
            dir.to_str().expect("path"),
        ],
    );
    let deb = PathBuf::from(String::from_utf8_lossy(&build.stdout).trim());
    let deb = deb.to_str().expect("path");

    // Depends: what the binary links, by Debian's names, and adduser for the account.
    let depends =
        String::from_utf8_lossy(&ok("dpkg-deb", &["-f", deb, "Depends"]).stdout).into_owned();
    for package in ["libc6", "libgssapi-krb5-2", "adduser"] {
        assert!(depends.contains(package), "Depends: {depends}");
    }
    let conffiles = text(&ok("dpkg-deb", &["-I", deb, "conffiles"]));
    assert_eq!(conffiles.trim(), CONFIG, "the configuration is a conffile");

    purge();
    let _installed = Installed;
    ok("dpkg", &["-i", deb]);

    // The account, the directories and the modes.
    let passwd = String::from_utf8_lossy(&ok("getent", &["passwd", "altgate"]).stdout).into_owned();
    assert!(
        passwd.contains("/var/lib/altgate") && passwd.contains("nologin"),
        "{passwd}"
    );
    let gid = |name: &str| -> u32 {
        String::from_utf8_lossy(&ok("getent", &["group", name]).stdout)
            .split(':')
            .nth(2)
            .and_then(|g| g.parse().ok())
            .expect("gid")
    };
    let altgate_gid = gid("altgate");
    for (path, mode, owner_is_root) in [
        ("/etc/altgate", 0o750, true),
        ("/etc/altgate/tls", 0o750, true),
        (CONFIG, 0o640, true),
        ("/var/lib/altgate", 0o750, false),
    ] {
        let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(m.mode() & 0o7777, mode, "{path}");
        assert_eq!(m.gid(), altgate_gid, "{path} group");
        assert_eq!(m.uid() == 0, owner_is_root, "{path} owner");
    }
    assert!(Path::new("/usr/bin/altgate").is_file());

    // The unit: valid, and hardened.
    let unit = "/lib/systemd/system/altgate.service";
    let verify = run("systemd-analyze", &["verify", "--man=no", unit]);
    assert!(
        verify.status.success(),
        "systemd-analyze verify: {}",
        text(&verify)
    );
    let security = ok(
        "systemd-analyze",
        &["security", "--offline=true", "--no-pager", unit],
    );
    let report = text(&security);
    let exposure: f64 = report
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for altgate.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}"));
    assert!(exposure <= MAX_EXPOSURE, "exposure {exposure}:\n{report}");

    // The shipped configuration names exactly the files a site adds.
    let check = run("/usr/bin/altgate", &["check-config", "--config", CONFIG]);
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));
    let problems = text(&check);
    let site_files = [
        "/etc/altgate/tls/server.crt",
        "/etc/altgate/tls/server.key",
        "/etc/altgate/contoso-service-password",
        "/etc/altgate/contoso-ca.pem",
        "/etc/altgate/token-signing.crt",
        "/etc/altgate/token-signing.key",
        "/etc/altgate/admin-token",
    ];
    for f in site_files {
        assert!(problems.contains(f), "{f} not named:\n{problems}");
    }
    assert!(
        problems.contains("7 configuration problem(s)"),
        "{problems}"
    );

    // With them in place (root:altgate, keys 0640), the service account's check passes.
    let (tls_cert, tls_key) = openssl_pair(&dir, "server");
    let (sign_cert, sign_key) = openssl_pair(&dir, "signing");
    let ca = std::fs::read(&harness::forests().get("contoso.com").ca_file).expect("forest CA");
    site_file(site_files[0], &tls_cert, 0o644);
    site_file(site_files[1], &tls_key, 0o640);
    site_file(site_files[2], b"service-account-password", 0o640);
    site_file(site_files[3], &ca, 0o644);
    site_file(site_files[4], &sign_cert, 0o644);
    site_file(site_files[5], &sign_key, 0o640);
    site_file(site_files[6], b"admin-token-for-the-package-test", 0o640);
    check_as_service_account();

    // A rollover made as root gives the next pair the current pair's owner, group and mode:
    // the service account still reads the whole configuration.
    ok(
        "/usr/bin/altgate",
        &["certs", "rollover", "--config", CONFIG],
    );
    let next_key = std::fs::metadata("/etc/altgate/token-signing-next.key").expect("next key");
    assert_eq!(
        (next_key.mode() & 0o777, next_key.gid()),
        (0o640, altgate_gid)
    );
    check_as_service_account();

    // The installed binary tells systemd it is ready, reloading, ready again, stopping.
    notify_protocol(&dir);

    // An upgrade (the same package again) keeps the edited configuration.
    let edited = std::fs::read_to_string(CONFIG).expect("config") + "# edited by the admin\n";
    std::fs::write(CONFIG, &edited).expect("edit");
    ok("dpkg", &["-i", deb]);
    assert_eq!(std::fs::read_to_string(CONFIG).expect("config"), edited);

    // Removing keeps the configuration; purging removes it, the state and the account.
    ok("dpkg", &["--remove", "altgate"]);
    assert!(!Path::new("/usr/bin/altgate").exists());
    assert!(Path::new(CONFIG).exists());
    ok("dpkg", &["--purge", "altgate"]);
    assert!(!Path::new("/etc/altgate").exists());
    assert!(!Path::new("/var/lib/altgate").exists());
    assert!(!run("getent", &["passwd", "altgate"]).status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `check-config` on the shipped file as the service account (what the unit's ExecStartPre
/// runs) passes.
fn check_as_service_account() {
    let check = run(
        "runuser",
        &[
            "-u",
            "altgate",
            "--",
            "/usr/bin/altgate",
            "check-config",
            "--config",
            CONFIG,
        ],
    );
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
}

/// Runs the installed binary on the shipped configuration (on free loopback ports) with a
/// notification socket, as systemd would, and reads what it says through a SIGHUP and a
/// SIGTERM.
fn notify_protocol(dir: &Path) {
    use std::os::unix::net::UnixDatagram;
    let (port, admin) = (harness::free_port(), harness::free_port());
    let config = dir.join("notify.yaml");
    let yaml = std::fs::read_to_string(CONFIG)
        .expect("config")
        .replace("listen: 0.0.0.0:443", &format!("listen: 127.0.0.1:{port}"))
        .replace(
            "listen: 127.0.0.1:9464",
            &format!("listen: 127.0.0.1:{admin}"),
        );
    std::fs::write(&config, yaml).expect("write");
    let socket_path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&socket_path);
    let socket = UnixDatagram::bind(&socket_path).expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut child = Command::new("/usr/bin/altgate")
        .args(["serve", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket_path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the installed altgate");
    let next = || {
        let mut buf = [0u8; 512];
        let len = socket.recv(&mut buf).expect("a notification within 20 s");
        String::from_utf8_lossy(&buf[..len]).into_owned()
    };
    let ready = next();
    assert!(ready.starts_with("READY=1"), "{ready}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "listening when READY=1"
    );
    ok("kill", &["-HUP", &child.id().to_string()]);
    let reloading = next();
    assert!(
        reloading.starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{reloading}"
    );
    let ready = next();
    assert!(
        ready.starts_with("READY=1") && ready.contains("reloaded"),
        "{ready}"
    );
    ok("kill", &["-TERM", &child.id().to_string()]);
    let stopping = next();
    assert!(stopping.starts_with("STOPPING=1"), "{stopping}");
    let status = child.wait().expect("exit");
    assert!(status.success(), "{status}");
}

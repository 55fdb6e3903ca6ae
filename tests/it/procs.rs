//! Processes the tests start beside the in-process servers (a real `redis-server`, `altgate serve`
//! nodes) that must never outlive the test binary, however it ends (a failed assertion, exit(2),
//! SIGKILL): each runs under a small bash watchdog that kills it within half a second of the test
//! binary's exit, and writes its pid to a `*.pid` file in the run's private directory, which
//! `scripts/test.sh` also kills on exit. No `prctl`, no unsafe code.
//!
//! [`redis`] is one Redis for the whole test binary (tests keep apart by key prefix);
//! [`Redis::start`] gives a test its own, to stop and restart.

#![allow(dead_code)]

use crate::harness;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Runs `"$@"` in the background, records its pid, and kills it when the test binary (`$1`)
/// is gone; exits when it exits.
const WATCHDOG: &str = r#"parent=$1 pidfile=$2; shift 2
"$@" </dev/null &
child=$!
echo "$child" >"$pidfile"
trap 'kill "$child" 2>/dev/null; exit 0' TERM
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5; done
kill "$child" 2>/dev/null
wait "$child" 2>/dev/null
exit 0"#;

/// A process under the watchdog.
pub struct Watched {
    watchdog: Child,
    pid: u32,
    pidfile: PathBuf,
}

impl Watched {
    /// Starts `program args` with stdout and stderr appended to `log`; its pid goes to
    /// `pidfile`.
    pub fn spawn<I, S>(program: &Path, args: I, pidfile: &Path, log: &Path) -> Watched
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let _ = std::fs::remove_file(pidfile);
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let err = out.try_clone().expect("log handle");
        let watchdog = Command::new("bash")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("watchdog")
            .arg(std::process::id().to_string())
            .arg(pidfile)
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start bash");
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
            {
                break pid;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start",
                program.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        Watched {
            watchdog,
            pid,
            pidfile: pidfile.to_path_buf(),
        }
    }

    /// The process's own pid (for /proc).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// True while the process runs.
    pub fn alive(&mut self) -> bool {
        matches!(self.watchdog.try_wait(), Ok(None))
    }

    /// SIGTERM, then waits until the watchdog has reaped it.
    pub fn stop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.pid.to_string())
            .stderr(Stdio::null())
            .status();
        let _ = self.watchdog.wait();
        let _ = std::fs::remove_file(&self.pidfile);
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop();
    }
}

fn redis_server_binary() -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join("redis-server"))
        .find(|c| c.is_file());
    found.unwrap_or_else(|| {
        harness::unprepared("redis-server is not installed, so the farm-state tests cannot run.")
    })
}

/// A real `redis-server` on a loopback port: no persistence, its own directory under the run's
/// private directory.
pub struct Redis {
    /// Its port (kept across restarts).
    pub port: u16,
    dir: PathBuf,
    process: Mutex<Option<Watched>>,
}

impl Redis {
    /// A server of one's own (`name` names its directory).
    pub fn start(name: &str) -> Redis {
        let dir = harness::private_dir().join(format!("redis-{name}"));
        std::fs::create_dir_all(&dir).expect("redis dir");
        for _ in 0..5 {
            let r = Redis {
                port: harness::free_port(),
                dir: dir.clone(),
                process: Mutex::new(None),
            };
            if r.spawn() {
                return r;
            }
        }
        panic!(
            "redis-server did not start; see {}",
            dir.join("redis.log").display()
        );
    }

    /// `redis://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&self) -> bool {
        let port = self.port.to_string();
        let dir = self.dir.display().to_string();
        let pidfile = self.dir.join("redis.pid").display().to_string();
        let logfile = self.dir.join("redis.log").display().to_string();
        let mut p = Watched::spawn(
            &redis_server_binary(),
            [
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                &dir,
                "--pidfile",
                &pidfile,
                "--logfile",
                &logfile,
            ],
            &self.dir.join("watched.pid"),
            &self.dir.join("stdout.log"),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !p.alive() {
                return false; // the port was taken, most likely
            }
            if self.ping() {
                *self.process.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// True when the server answers `PING`.
    pub fn ping(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 7];
        s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// Stops the server (SIGTERM; it keeps nothing) and waits until its port is closed.
    pub fn stop(&self) {
        let Some(mut p) = self
            .process
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        p.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "redis-server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts it again on the same port (empty).
    pub fn restart(&self) {
        for _ in 0..50 {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The test binary's shared Redis, started on first use (tests keep apart by key prefix).
pub fn redis() -> &'static Redis {
    static REDIS: OnceLock<Redis> = OnceLock::new();
    REDIS.get_or_init(|| Redis::start("shared"))
}

/// A key prefix no other test (and no earlier run) uses.
pub fn key_prefix(test: &str) -> String {
    format!("it-{}-{test}:", std::process::id())
}

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
        self.signal("TERM");
    }

    /// SIGKILL (`kill -9`: no chance to flush or say goodbye), then waits until the watchdog
    /// has reaped it.
    pub fn kill(&mut self) {
        self.signal("KILL");
    }

    fn signal(&mut self, signal: &str) {
        let _ = Command::new("kill")
            .arg(format!("-{signal}"))
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
    extra: Vec<String>,
    process: Mutex<Option<Watched>>,
}

impl Redis {
    /// A server of one's own (`name` names its directory).
    pub fn start(name: &str) -> Redis {
        Redis::start_with(name, &[])
    }

    /// A server of one's own with extra options (`--replicaof`, `--enable-debug-command`...).
    pub fn start_with(name: &str, extra: &[&str]) -> Redis {
        let dir = harness::private_dir().join(format!("redis-{name}"));
        std::fs::create_dir_all(&dir).expect("redis dir");
        for _ in 0..5 {
            let r = Redis {
                port: harness::free_port(),
                dir: dir.clone(),
                extra: extra.iter().map(|s| s.to_string()).collect(),
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
        let mut args: Vec<&str> = vec![
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
        ];
        args.extend(self.extra.iter().map(String::as_str));
        let mut p = Watched::spawn(
            &redis_server_binary(),
            args,
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
        self.end(Watched::stop);
    }

    /// `kill -9`, and waits until its port is closed.
    pub fn kill(&self) {
        self.end(Watched::kill);
    }

    /// Ends the process with `how` and waits until its port is closed.
    fn end(&self, how: fn(&mut Watched)) {
        let Some(mut p) = self
            .process
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        how(&mut p);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(Instant::now() < deadline, "redis-server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends one command (RESP, inline) and returns the raw reply.
    pub fn command(&self, line: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
        s.write_all(format!("{line}\r\n").as_bytes()).expect("send");
        let mut buf = vec![0u8; 64 * 1024];
        let n = s.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).into_owned()
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

/// Debian's `redis-sentinel` (redis-server in sentinel mode).
fn sentinel_binary() -> (PathBuf, bool) {
    let sentinel = redis_server_binary().with_file_name("redis-sentinel");
    if sentinel.is_file() {
        (sentinel, false)
    } else {
        (redis_server_binary(), true)
    }
}

/// A master, two replicas and three sentinels watching them (`sentinel monitor altgate`,
/// quorum 2, down after 1 s), all on loopback.
pub struct SentinelFarm {
    /// The data nodes, master first (as started).
    pub nodes: Vec<Redis>,
    /// The sentinels' ports.
    pub sentinel_ports: Vec<u16>,
    _sentinels: Vec<Watched>,
}

/// The master name the sentinels monitor.
pub const MASTER_NAME: &str = "altgate";

impl SentinelFarm {
    /// Starts the farm and waits until both replicas are in sync.
    pub fn start(name: &str) -> SentinelFarm {
        let master = Redis::start(&format!("{name}-0"));
        let port = master.port.to_string();
        let replicas: Vec<Redis> = (1..3)
            .map(|i| {
                Redis::start_with(&format!("{name}-{i}"), &["--replicaof", "127.0.0.1", &port])
            })
            .collect();
        let mut nodes = vec![master];
        nodes.extend(replicas);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !nodes[0]
            .command("INFO replication")
            .matches("state=online")
            .count()
            .eq(&2)
        {
            assert!(Instant::now() < deadline, "the replicas never came online");
            std::thread::sleep(Duration::from_millis(50));
        }
        let (program, mode_flag) = sentinel_binary();
        let mut sentinel_ports = Vec::new();
        let mut sentinels = Vec::new();
        for i in 0..3 {
            let dir = harness::private_dir().join(format!("sentinel-{name}-{i}"));
            std::fs::create_dir_all(&dir).expect("sentinel dir");
            let sport = harness::free_port();
            let conf = dir.join("sentinel.conf");
            std::fs::write(
                &conf,
                format!(
                    "port {sport}\nbind 127.0.0.1\ndir {}\nlogfile {}\n\
                     sentinel monitor {MASTER_NAME} 127.0.0.1 {port} 2\n\
                     sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
                     sentinel failover-timeout {MASTER_NAME} 5000\n\
                     sentinel parallel-syncs {MASTER_NAME} 1\n",
                    dir.display(),
                    dir.join("sentinel.log").display()
                ),
            )
            .expect("sentinel.conf");
            let mut args = vec![conf.display().to_string()];
            if mode_flag {
                args.push("--sentinel".into());
            }
            let w = Watched::spawn(
                &program,
                &args,
                &dir.join("watched.pid"),
                &dir.join("stdout.log"),
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", sport)).is_err() {
                assert!(Instant::now() < deadline, "redis-sentinel did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            sentinel_ports.push(sport);
            sentinels.push(w);
        }
        SentinelFarm {
            nodes,
            sentinel_ports,
            _sentinels: sentinels,
        }
    }

    /// `host:port` of the master the sentinels name now.
    pub fn master(&self) -> String {
        let mut s =
            std::net::TcpStream::connect(("127.0.0.1", self.sentinel_ports[0])).expect("sentinel");
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        s.write_all(format!("SENTINEL get-master-addr-by-name {MASTER_NAME}\r\n").as_bytes())
            .expect("ask");
        let mut buf = vec![0u8; 1024];
        let n = s.read(&mut buf).unwrap_or(0);
        // *2\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n
        let reply = String::from_utf8_lossy(&buf[..n]).into_owned();
        let parts: Vec<&str> = reply.split("\r\n").collect();
        format!(
            "{}:{}",
            parts.get(2).copied().unwrap_or(""),
            parts.get(4).copied().unwrap_or("")
        )
    }

    /// The `state:` section of a node using these sentinels.
    pub fn state_yaml(&self, prefix: &str, more: &str) -> String {
        let addresses: Vec<String> = self
            .sentinel_ports
            .iter()
            .map(|p| format!("'127.0.0.1:{p}'"))
            .collect();
        format!(
            "state: {{ sentinel: {{ master_name: {MASTER_NAME}, addresses: [{}], check_interval: 200ms }}, key_prefix: '{prefix}'{more} }}\n",
            addresses.join(", ")
        )
    }
}

/// A running `altgate serve` node of a test: its files, addresses and process.
pub struct Altgate {
    /// The configuration file (rewrite it, then reload).
    pub config: PathBuf,
    /// Its standard output and error.
    pub log: PathBuf,
    /// The public listener.
    pub https: std::net::SocketAddr,
    /// The admin listener.
    pub admin: std::net::SocketAddr,
    /// The process.
    pub process: Watched,
}

impl Altgate {
    /// Writes `yaml` to `dir/altgate.yaml` and starts `altgate serve` on it (output in
    /// `dir/altgate.log`); returns once the public port `https` and the admin port `admin` on
    /// loopback accept and `ready()` holds, or fails with the log after 30 s or if the process
    /// ends.
    pub async fn start(
        name: &str,
        dir: &Path,
        yaml: &str,
        (https, admin): (u16, u16),
        ready: impl Fn() -> bool,
    ) -> Altgate {
        let config = dir.join("altgate.yaml");
        harness::write_private(&config, yaml.as_bytes());
        let log = dir.join("altgate.log");
        let mut process = Watched::spawn(
            Path::new(env!("CARGO_BIN_EXE_altgate")),
            [
                OsStr::new("serve"),
                OsStr::new("--config"),
                config.as_os_str(),
            ],
            &dir.join("altgate.pid"),
            &log,
        );
        let (https, admin) = (
            std::net::SocketAddr::from(([127, 0, 0, 1], https)),
            std::net::SocketAddr::from(([127, 0, 0, 1], admin)),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ready()
            || tokio::net::TcpStream::connect(https).await.is_err()
            || tokio::net::TcpStream::connect(admin).await.is_err()
        {
            assert!(
                process.alive() && Instant::now() < deadline,
                "node {name} did not start:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Altgate {
            config,
            log,
            https,
            admin,
            process,
        }
    }
}

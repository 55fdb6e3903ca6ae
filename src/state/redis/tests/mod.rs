//! The Redis store against a real `redis-server` started per test on a free loopback port
//! (no persistence, in a temporary directory): the shared conformance suite, plus what only a
//! networked store can get wrong (several nodes, key layout and TTLs, reconnection, timeouts,
//! authentication, TLS verification).
//!
//! The tests that start a `redis-server` are `#[ignore = "needs redis-server; ..."]`, so a plain
//! `cargo test` on a machine without Redis lists them as ignored (never as passed);
//! `scripts/test.sh` installs `redis-server` and runs them with `--include-ignored`, where a
//! missing `redis-server` fails them.

use super::*;
use crate::config::state::{RedisConfig, RedisTarget};

/// A store with its own metrics and events (as `state::open` would give it).
pub(crate) fn open_store(
    config: &RedisConfig,
    prefix: &str,
    timeout: Duration,
) -> Result<RedisStore, StateError> {
    let metrics = crate::metrics::Metrics::standalone().expect("metrics");
    let events = crate::events::Events::new(metrics.events.clone());
    RedisStore::new(config, prefix, timeout, events, metrics.state)
}
use crate::secret::Secret;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

fn redis_server_binary() -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|d| d.join("redis-server"));
    for c in candidates {
        if c.is_file() {
            return c;
        }
    }
    panic!(
        "redis-server is not installed, and the Redis state-store tests need it: run \
         scripts/test.sh (it installs redis-server) or `apt-get install -y redis-server`"
    );
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A `redis-server` child process, killed on drop.
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
    extra: Vec<String>,
    dir: tempfile::TempDir,
}

impl RedisServer {
    /// A plain server on a free port.
    pub(crate) fn start() -> Self {
        Self::start_with(Vec::new())
    }

    /// A server with extra command-line options (`--requirepass`, TLS...).
    pub(crate) fn start_with(extra: Vec<String>) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = RedisServer {
            child: None,
            port: 0,
            extra,
            dir,
        };
        for _ in 0..5 {
            s.port = free_port();
            if s.spawn() {
                return s;
            }
        }
        panic!(
            "redis-server did not start; see its log in {}",
            s.dir.path().display()
        );
    }

    fn tls(&self) -> bool {
        self.extra.iter().any(|a| a == "--tls-port")
    }

    /// Starts the process on `self.port`; true once it answers.
    fn spawn(&mut self) -> bool {
        let mut cmd = Command::new(redis_server_binary());
        let port = self.port.to_string();
        if self.tls() {
            cmd.args(["--port", "0", "--tls-port", &port]);
        } else {
            cmd.args(["--port", &port]);
        }
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--logfile", "redis.log"])
            .args(self.extra.iter().filter(|a| *a != "--tls-port"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn redis-server");
        for _ in 0..200 {
            if let Ok(Some(_)) = child.try_wait() {
                return false; // port taken, most likely
            }
            if self.answers() {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        if self.tls() {
            return true; // listening is enough; the TLS handshake is the test's business
        }
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 64];
        // Any answer (PONG, or NOAUTH with --requirepass) means it is up.
        s.write_all(b"PING\r\n").is_ok() && s.read(&mut buf).map(|n| n > 0).unwrap_or(false)
    }

    /// Kills the process (the port stays this server's for [`RedisServer::restart`]).
    pub(crate) fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the process again on the same port.
    pub(crate) fn restart(&mut self) {
        for _ in 0..20 {
            if self.spawn() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("redis-server did not restart on port {}", self.port);
    }

    pub(crate) fn url(&self) -> String {
        if self.tls() {
            format!("rediss://localhost:{}/0", self.port)
        } else {
            format!("redis://127.0.0.1:{}/0", self.port)
        }
    }

    pub(crate) fn config(&self) -> RedisConfig {
        RedisConfig {
            target: RedisTarget::Url(self.url()),
            tls: self.tls(),
            ca_file: None,
            username: None,
            password: None,
            database: 0,
            replica_acks: 0,
        }
    }

    pub(crate) fn store(&self, prefix: &str) -> RedisStore {
        open_store(&self.config(), prefix, Duration::from_secs(5)).expect("store")
    }

    /// A raw command through a fresh connection (for inspecting keys).
    async fn raw<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let client = redis::Client::open(self.url()).expect("client");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect");
        cmd.query_async(&mut conn).await.expect("raw command")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

conformance_tests!(
    async {
        let server = tokio::task::spawn_blocking(RedisServer::start)
            .await
            .expect("join");
        let store = server
            .store("altgate-test:")
            .with_replay_max(crate::state::conformance::REPLAY_MAX);
        (Arc::new(store) as Arc<dyn StateStore>, server)
    },
    #[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
);

fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

async fn server() -> RedisServer {
    tokio::task::spawn_blocking(RedisServer::start)
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn the_farm_replay_cache_is_one_bounded_set_whose_size_never_passes_the_cap() {
    let server = server().await;
    let nodes: Vec<Arc<RedisStore>> = (0..4)
        .map(|_| Arc::new(server.store("farm:").with_replay_max(100)))
        .collect();
    // Four nodes flood 1000 fresh ids at once: 100 are stored, the rest refused.
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let node = Arc::clone(&nodes[i % nodes.len()]);
            tokio::spawn(async move {
                node.first_use(&format!("flood-{i}"), Duration::from_secs(600))
                    .await
            })
        })
        .collect();
    let (mut stored, mut full) = (0, 0);
    for t in tasks {
        match t.await.expect("join") {
            Ok(true) => stored += 1,
            Err(StateError::ReplayCacheFull(100)) => full += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((stored, full), (100, 900));
    let size: i64 = server.raw(redis::cmd("ZCARD").arg("farm:replay")).await;
    assert_eq!(size, 100);
    let n: i64 = server.raw(&redis::cmd("DBSIZE")).await;
    assert_eq!(n, 1, "one key for the whole replay cache");
    let ttl: i64 = server.raw(redis::cmd("PTTL").arg("farm:replay")).await;
    assert!(ttl > 590_000 && ttl <= 600_000, "{ttl}");
    // An id stored through one node is a replay on every other.
    let members: Vec<String> = server
        .raw(redis::cmd("ZRANGE").arg("farm:replay").arg(0).arg(-1))
        .await;
    let stored_id = (0..1000)
        .map(|i| format!("flood-{i}"))
        .find(|id| members.contains(&digest(id)))
        .expect("a stored id");
    for node in &nodes {
        assert!(!node
            .first_use(&stored_id, Duration::from_secs(600))
            .await
            .expect("held"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn nodes_sharing_a_server_share_the_threshold() {
    let server = server().await;
    let nodes: Vec<Arc<RedisStore>> = (0..4).map(|_| Arc::new(server.store("farm:"))).collect();
    let policy = LockoutPolicy::default();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let node = Arc::clone(&nodes[i % nodes.len()]);
            tokio::spawn(async move {
                node.attempt("acct", &[], t0(), &policy)
                    .await
                    .expect("attempt")
                    .verdict
                    .lets_through()
            })
        })
        .collect();
    let mut through = 0;
    for t in tasks {
        if t.await.expect("join") {
            through += 1;
        }
    }
    assert_eq!(through, policy.threshold);
    // A success on one node is seen by the others.
    nodes[0]
        .succeeded("acct", LocationClass::Unfamiliar, &[], t0(), &policy)
        .await
        .expect("succeeded");
    let a = nodes[3]
        .status("acct", t0(), &policy)
        .await
        .expect("status");
    assert_eq!(a.unfamiliar.count, 0);
}

#[tokio::test]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn keys_are_prefixed_hashed_and_expire() {
    let server = server().await;
    let store = server.store("pfx:");
    let policy = LockoutPolicy::default();
    let account = "contoso.com:CN=Dana Doe,OU=Users\r\nDEL *";
    let ip: IpAddr = "192.0.2.7".parse().expect("ip");
    store
        .attempt(account, &[ip], t0(), &policy)
        .await
        .expect("attempt");
    store
        .succeeded(account, LocationClass::Unfamiliar, &[ip], t0(), &policy)
        .await
        .expect("succeeded");
    store
        .first_use("assertion-id", Duration::from_secs(60))
        .await
        .expect("first_use");
    store
        .revoke("session-id", Duration::from_secs(60))
        .await
        .expect("revoke");
    let mut keys: Vec<String> = server.raw(redis::cmd("KEYS").arg("*")).await;
    keys.sort();
    // The counted attempt's record, named by its random id, kept for ATTEMPT_RECORD_TTL.
    let record = keys.remove(0);
    assert!(record.starts_with("pfx:attempt:"), "{record}");
    assert_eq!(record.len(), "pfx:attempt:".len() + 32, "{record}");
    let ttl: i64 = server.raw(redis::cmd("PTTL").arg(&record)).await;
    assert!(ttl > 0 && ttl <= 120_000, "{ttl}");
    assert_eq!(
        keys,
        vec![
            format!("pfx:lockout:{}", digest(account)),
            "pfx:replay".to_string(),
            format!("pfx:revoked:{}", digest("session-id")),
        ]
    );
    let members: Vec<String> = server
        .raw(redis::cmd("ZRANGE").arg("pfx:replay").arg(0).arg(-1))
        .await;
    assert_eq!(
        members,
        vec![digest("assertion-id")],
        "ids are stored hashed"
    );
    for key in &keys {
        let ttl: i64 = server.raw(redis::cmd("PTTL").arg(key)).await;
        assert!(ttl > 0, "{key} has no TTL ({ttl})");
    }
    let lockout_ttl: i64 = server.raw(redis::cmd("PTTL").arg(&keys[0])).await;
    let lifetime = i64::try_from(policy.record_lifetime().as_millis()).expect("ms");
    assert!(lockout_ttl > lifetime - 60_000 && lockout_ttl <= lifetime);
    let fields: Vec<(String, String)> = server.raw(redis::cmd("HGETALL").arg(&keys[0])).await;
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"ip:192.0.2.7"), "{names:?}");
    // A refused attempt and a take-back never create a key.
    store.reset("other", ResetScope::Both).await.expect("reset");
    let counted = Counted {
        class: LocationClass::Unfamiliar,
        at_ms: 1,
        previous_last_bad_ms: None,
    };
    store
        .not_counted("other", &counted)
        .await
        .expect("not_counted");
    let n: i64 = server.raw(&redis::cmd("DBSIZE")).await;
    assert_eq!(n, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn reconnects_after_the_server_restarts() {
    let mut server = server().await;
    let store = open_store(&server.config(), "r:", Duration::from_millis(500)).expect("store");
    store.ping().await.expect("first ping");
    server = tokio::task::spawn_blocking(move || {
        server.stop();
        server
    })
    .await
    .expect("join");
    let e = store.ping().await.expect_err("server down");
    assert!(
        matches!(e.code(), "state_unavailable" | "state_timeout"),
        "{e}"
    );
    let _server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .expect("join");
    let mut ok = false;
    for _ in 0..50 {
        if store.ping().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the store did not reconnect");
    // Scripts are loaded again on the fresh server (NOSCRIPT is handled).
    store
        .attempt("a", &[], t0(), &LockoutPolicy::default())
        .await
        .expect("attempt after restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_while_the_server_is_down() {
    let port = free_port();
    let config = RedisConfig {
        target: RedisTarget::Url(format!("redis://127.0.0.1:{port}")),
        tls: false,
        ca_file: None,
        username: None,
        password: None,
        database: 0,
        replica_acks: 0,
    };
    let store = open_store(&config, "d:", Duration::from_millis(300)).expect("lazy store");
    let e = store.ping().await.expect_err("nothing listens");
    assert!(
        matches!(e.code(), "state_unavailable" | "state_timeout"),
        "{e}"
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s); // accept, never answer
        }
    });
    let config = RedisConfig {
        target: RedisTarget::Url(format!("redis://127.0.0.1:{port}")),
        tls: false,
        ca_file: None,
        username: None,
        password: None,
        database: 0,
        replica_acks: 0,
    };
    let timeout = Duration::from_millis(200);
    let store = open_store(&config, "t:", timeout).expect("store");
    let started = std::time::Instant::now();
    let e = store
        .attempt("a", &[], t0(), &LockoutPolicy::default())
        .await
        .expect_err("silent server");
    assert!(
        matches!(e.code(), "state_timeout" | "state_unavailable"),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    hold.abort();
}

#[tokio::test]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn passwords_are_sent() {
    let server = tokio::task::spawn_blocking(|| {
        RedisServer::start_with(vec!["--requirepass".into(), "s3cret-pw".into()])
    })
    .await
    .expect("join");
    let without = server.store("p:");
    let e = without.ping().await.expect_err("no password");
    assert!(!e.to_string().contains("s3cret-pw"));
    let mut config = server.config();
    config.password = Some(Secret::new("s3cret-pw".into()));
    let with = open_store(&config, "p:", Duration::from_secs(5)).expect("store");
    with.ping().await.expect("authenticated");
    assert!(with
        .first_use("x", Duration::from_secs(5))
        .await
        .expect("first_use"));
}

/// A CA and a `localhost` server certificate it signed, written as PEM files into `dir`.
fn tls_material(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    tls_material_for(dir, &["localhost"])
}

/// A CA and a server certificate for `names` (DNS names or IP addresses), as PEM files in
/// `dir`: (CA, certificate, key).
pub(crate) fn tls_material_for(dir: &Path, names: &[&str]) -> (PathBuf, PathBuf, PathBuf) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().expect("key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        .expect("params")
        .signed_by(&key, &ca, &ca_key)
        .expect("leaf");
    let (ca_file, cert_file, key_file) = (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    );
    std::fs::write(&ca_file, ca.pem()).expect("write");
    std::fs::write(&cert_file, cert.pem()).expect("write");
    std::fs::write(&key_file, key.serialize_pem()).expect("write");
    (ca_file, cert_file, key_file)
}

#[tokio::test]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn tls_verifies_the_server_certificate() {
    let pki = tempfile::tempdir().expect("tempdir");
    let (ca_file, cert_file, key_file) = tls_material(pki.path());
    let server = {
        let extra = vec![
            "--tls-port".to_string(),
            "--tls-cert-file".into(),
            cert_file.display().to_string(),
            "--tls-key-file".into(),
            key_file.display().to_string(),
            "--tls-ca-cert-file".into(),
            ca_file.display().to_string(),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        tokio::task::spawn_blocking(move || RedisServer::start_with(extra))
            .await
            .expect("join")
    };
    let mut config = server.config();
    assert!(matches!(&config.target, RedisTarget::Url(u) if u.starts_with("rediss://localhost:")));
    // The system roots do not know the test CA: refused.
    let untrusting = open_store(&config, "tls:", Duration::from_secs(5)).expect("store");
    let e = untrusting
        .ping()
        .await
        .expect_err("unknown CA must be refused");
    assert_eq!(e.code(), "state_unavailable", "{e}");
    // With the CA: verified and working.
    config.ca_file = Some(ca_file);
    let store = open_store(&config, "tls:", Duration::from_secs(5)).expect("store");
    store.ping().await.expect("TLS ping");
    let d = store
        .attempt("a", &[], t0(), &LockoutPolicy::default())
        .await
        .expect("attempt over TLS");
    assert_eq!(d.count, 1);
    // The certificate names localhost, not 127.0.0.1: a name mismatch is refused too.
    if let RedisTarget::Url(u) = &mut config.target {
        *u = u.replace("localhost", "127.0.0.1");
    }
    let mismatch = open_store(&config, "tls:", Duration::from_secs(5)).expect("store");
    assert!(
        mismatch.ping().await.is_err(),
        "name mismatch must be refused"
    );
}

#[test]
fn an_unreadable_ca_file_is_a_setup_error() {
    let config = RedisConfig {
        target: RedisTarget::Url("rediss://localhost:6380".into()),
        tls: true,
        ca_file: Some(PathBuf::from("/nonexistent/ca.pem")),
        username: None,
        password: None,
        database: 0,
        replica_acks: 0,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let e = rt
        .block_on(async { open_store(&config, "x:", Duration::from_secs(1)).err() })
        .expect("must fail");
    assert_eq!(e.code(), "state_setup");
}

#[test]
fn records_parse_and_ignore_stray_fields() {
    let r = parse_record(vec![
        ("fc".into(), "2".into()),
        ("ub".into(), "1700000000000".into()),
        ("ip:192.0.2.1".into(), "5".into()),
        ("ip:not-an-ip".into(), "5".into()),
        ("zz".into(), "x".into()),
    ])
    .expect("parse");
    assert_eq!(r.familiar_count, 2);
    assert_eq!(r.unfamiliar_last_bad, Some(1_700_000_000_000));
    assert_eq!(r.ips.len(), 1);
    assert!(parse_record(vec![("fc".into(), "two".into())]).is_err());
}

mod failures;
mod sentinel;

//! Redis Sentinel: three `redis-server`s (a master and two replicas) and three sentinels on
//! loopback, the store following the master the sentinels name through `kill -9`, revocations
//! confirmed by a replica surviving the failover, the killed master, restarted still calling
//! itself master, never used, separate credentials for sentinels and data nodes, and verified
//! TLS to both; plus a
//! demotion answered `READONLY` (with a stand-in sentinel: real ones kill a demoted master's
//! clients, so only a demotion made otherwise leaves them connected to meet `READONLY`).

use super::*;
use crate::config::state::SentinelConfig;

const MASTER: &str = "altgate";

fn sentinel_binary() -> (PathBuf, bool) {
    let sentinel = redis_server_binary().with_file_name("redis-sentinel");
    if sentinel.is_file() {
        (sentinel, false)
    } else {
        // Debian's redis-sentinel is redis-server in sentinel mode.
        (redis_server_binary(), true)
    }
}

/// One sentinel process with its own (writable) configuration file.
struct Sentinel {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    /// A sentinel with extra configuration lines (`requirepass`, `sentinel auth-pass`).
    fn start_with(master_port: u16, extra: &str) -> Sentinel {
        Sentinel::start_listening(master_port, extra, |port| format!("port {port}\n"))
    }

    /// A sentinel whose listening lines `listen(port)` writes (`port`, or `tls-port`).
    fn start_listening(master_port: u16, extra: &str, listen: impl Fn(u16) -> String) -> Sentinel {
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let port = free_port();
            let conf = dir.path().join("sentinel.conf");
            std::fs::write(
                &conf,
                format!(
                    "{}bind 127.0.0.1\ndir {}\nlogfile sentinel.log\n\
                     sentinel monitor {MASTER} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {MASTER} 1000\n\
                     sentinel failover-timeout {MASTER} 5000\n\
                     sentinel parallel-syncs {MASTER} 1\n{extra}",
                    listen(port),
                    dir.path().display()
                ),
            )
            .expect("sentinel.conf");
            let (program, mode_flag) = sentinel_binary();
            let mut cmd = Command::new(program);
            cmd.arg(&conf);
            if mode_flag {
                cmd.arg("--sentinel");
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-sentinel");
            for _ in 0..200 {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sentinel {
                        child,
                        port,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-sentinel did not start");
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A master, two replicas, three sentinels.
struct Farm {
    nodes: Vec<RedisServer>,
    sentinels: Vec<Sentinel>,
}

impl Farm {
    fn start() -> Farm {
        Farm::start_with(&[], "")
    }

    /// Data nodes with `data_args` each, sentinels with `sentinel_conf` lines.
    fn start_with(data_args: &[&str], sentinel_conf: &str) -> Farm {
        let args = |more: Vec<String>| -> Vec<String> {
            data_args
                .iter()
                .map(|a| a.to_string())
                .chain(more)
                .collect()
        };
        let master = RedisServer::start_with(args(Vec::new()));
        let replicas: Vec<RedisServer> = (0..2)
            .map(|_| {
                RedisServer::start_with(args(vec![
                    "--replicaof".into(),
                    "127.0.0.1".into(),
                    master.port.to_string(),
                ]))
            })
            .collect();
        let mut nodes = vec![master];
        nodes.extend(replicas);
        let sentinels = (0..3)
            .map(|_| Sentinel::start_with(nodes[0].port, sentinel_conf))
            .collect();
        Farm { nodes, sentinels }
    }

    fn config(&self, replica_acks: u32) -> RedisConfig {
        RedisConfig {
            target: RedisTarget::Sentinel(SentinelConfig {
                master_name: MASTER.into(),
                addresses: self
                    .sentinels
                    .iter()
                    .map(|s| ("127.0.0.1".to_string(), s.port))
                    .collect(),
                username: None,
                password: None,
                tls: false,
                ca_file: None,
                check_interval: Duration::from_millis(200),
            }),
            tls: false,
            ca_file: None,
            username: None,
            password: None,
            database: 0,
            replica_acks,
        }
    }

    fn address(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.nodes[i].port)
    }

    /// Waits until both replicas are attached (so `WAIT` can be answered).
    async fn replicas_attached(&self) {
        for _ in 0..200 {
            let info: String = self.nodes[0]
                .raw(redis::cmd("INFO").arg("replication"))
                .await;
            if info.contains("connected_slaves:2") && info.matches("state=online").count() == 2 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the replicas never attached");
    }
}

async fn node_becomes(store: &RedisStore, address: &str) {
    for _ in 0..300 {
        if store.node().as_deref() == Some(address) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the store uses {:?}, not {address}", store.node());
}

/// Attempts until one is answered; returns how long that took and how many failed.
async fn until_answered(store: &RedisStore, account: &str) -> (Duration, u32) {
    let started = std::time::Instant::now();
    let mut failed = 0;
    while started.elapsed() < Duration::from_secs(30) {
        match store
            .attempt(account, &[], t0(), &LockoutPolicy::default())
            .await
        {
            Ok(_) => return (started.elapsed(), failed),
            Err(e) => {
                eprintln!("attempt failed: {e}");
                failed += 1
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no attempt answered within 30 s of the failover");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn follows_a_killed_master_and_never_uses_it_again() {
    let mut farm = tokio::task::spawn_blocking(Farm::start)
        .await
        .expect("farm");
    farm.replicas_attached().await;
    let store = open_store(&farm.config(1), "ha:", Duration::from_millis(250)).expect("store");
    node_becomes(&store, &farm.address(0)).await;
    store
        .revoke("signed-out-before", Duration::from_secs(3600))
        .await
        .expect("a replica confirms the revocation");

    let old = farm.address(0);
    let mut killed = farm.nodes.remove(0);
    killed.stop(); // SIGKILL
    let (took, failed) = until_answered(&store, "during").await;
    let now = store.node().expect("connected");
    assert_ne!(now, old, "a replica was promoted");
    assert!(
        farm.nodes
            .iter()
            .any(|n| format!("127.0.0.1:{}", n.port) == now),
        "{now}"
    );
    eprintln!("sentinel failover followed in {took:?} ({failed} failed attempts)");
    assert!(
        store
            .is_revoked("signed-out-before")
            .await
            .expect("new master"),
        "the confirmed revocation survived the failover"
    );

    // The killed master comes back calling itself master (it has no --replicaof) until the
    // sentinels demote it: the store keeps to the node the sentinels name.
    let killed = tokio::task::spawn_blocking(move || {
        killed.restart();
        killed
    })
    .await
    .expect("join");
    for _ in 0..20 {
        store
            .attempt("after", &[], t0(), &LockoutPolicy::default())
            .await
            .expect("writes go on");
        assert_eq!(store.node().as_deref(), Some(now.as_str()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(killed);
}

/// A stand-in sentinel that names whichever port the test sets: real sentinels kill the
/// clients of a master they demote, so a `READONLY` answer (a master demoted by anything else,
/// its clients still connected) is only reproducible with the naming under the test's control.
/// It answers `SENTINEL get-master-addr-by-name` with the current port and `+OK` to anything
/// else (the client's connection set-up).
struct NamingSentinel {
    port: u16,
    master: Arc<std::sync::atomic::AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl NamingSentinel {
    async fn start(master: u16) -> NamingSentinel {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let named = Arc::new(std::sync::atomic::AtomicU16::new(master));
        let shared = named.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let named = shared.clone();
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let mut r = BufReader::new(r);
                    loop {
                        // One RESP array of bulk strings per command.
                        let mut line = String::new();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let n: usize = line.trim().trim_start_matches('*').parse().unwrap_or(0);
                        let mut args = Vec::new();
                        for _ in 0..n {
                            let mut len = String::new();
                            let _ = r.read_line(&mut len).await;
                            let len: usize =
                                len.trim().trim_start_matches('$').parse().unwrap_or(0);
                            let mut buf = vec![0u8; len + 2];
                            if r.read_exact(&mut buf).await.is_err() {
                                return;
                            }
                            buf.truncate(len);
                            args.push(String::from_utf8_lossy(&buf).to_uppercase());
                        }
                        let reply = if args.first().map(String::as_str) == Some("SENTINEL") {
                            let p = named.load(std::sync::atomic::Ordering::SeqCst).to_string();
                            format!("*2\r\n$9\r\n127.0.0.1\r\n${}\r\n{p}\r\n", p.len())
                        } else {
                            "+OK\r\n".to_string()
                        };
                        if w.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        NamingSentinel {
            port,
            master: named,
            task,
        }
    }
}

impl Drop for NamingSentinel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn a_demoted_master_answering_readonly_sends_the_store_to_the_new_one() {
    let (old, new) = tokio::task::spawn_blocking(|| (RedisServer::start(), RedisServer::start()))
        .await
        .expect("servers");
    let sentinel = NamingSentinel::start(old.port).await;
    let metrics = crate::metrics::Metrics::standalone().expect("metrics");
    let events = crate::events::Events::new(metrics.events.clone());
    let config = RedisConfig {
        target: RedisTarget::Sentinel(SentinelConfig {
            master_name: MASTER.into(),
            addresses: vec![("127.0.0.1".into(), sentinel.port)],
            username: None,
            password: None,
            tls: false,
            ca_file: None,
            // Slow checks: the READONLY answer, not the periodic check, must move the store.
            check_interval: Duration::from_secs(60),
        }),
        tls: false,
        ca_file: None,
        username: None,
        password: None,
        database: 0,
        replica_acks: 0,
    };
    let store = RedisStore::new(
        &config,
        "ro:",
        Duration::from_millis(250),
        events,
        metrics.state.clone(),
    )
    .expect("store");
    let old_address = format!("127.0.0.1:{}", old.port);
    let new_address = format!("127.0.0.1:{}", new.port);
    node_becomes(&store, &old_address).await;
    store
        .attempt("before", &[], t0(), &LockoutPolicy::default())
        .await
        .expect("written on the old master");

    // A failover the way an operator or another orchestrator does it: the old master becomes a
    // replica of the new one (its clients stay connected), and the naming moves.
    let _: String = new.raw(redis::cmd("REPLICAOF").arg("NO").arg("ONE")).await;
    let _: String = old
        .raw(redis::cmd("REPLICAOF").arg("127.0.0.1").arg(new.port))
        .await;
    sentinel
        .master
        .store(new.port, std::sync::atomic::Ordering::SeqCst);
    let e = store
        .attempt("after", &[], t0(), &LockoutPolicy::default())
        .await
        .expect_err("the demoted master refuses the write");
    assert!(e.to_string().contains("read only replica"), "{e}");
    let (_, failed) = until_answered(&store, "after").await;
    assert!(
        failed <= 3,
        "{failed} more writes failed before the store moved"
    );
    assert_eq!(store.node(), Some(new_address));
    assert_eq!(metrics.state.master_changes.get(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn sentinels_and_data_nodes_have_their_own_credentials() {
    let farm = tokio::task::spawn_blocking(|| {
        Farm::start_with(
            &["--requirepass", "data-pw", "--masterauth", "data-pw"],
            &format!("requirepass sentinel-pw\nsentinel auth-pass {MASTER} data-pw\n"),
        )
    })
    .await
    .expect("farm");
    let with = |sentinel_pw: &str, data_pw: &str| {
        let mut config = farm.config(0);
        if let RedisTarget::Sentinel(s) = &mut config.target {
            s.password = Some(Secret::new(sentinel_pw.to_string()));
        }
        config.password = Some(Secret::new(data_pw.to_string()));
        open_store(&config, "auth:", Duration::from_millis(250)).expect("store")
    };
    let store = with("sentinel-pw", "data-pw");
    node_becomes(&store, &farm.address(0)).await;
    store
        .ping()
        .await
        .expect("the master answers with the data password");
    // Each password is checked where it belongs: a wrong one never gets a connection.
    for (sentinel_pw, data_pw) in [("data-pw", "data-pw"), ("sentinel-pw", "sentinel-pw")] {
        let s = with(sentinel_pw, data_pw);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(s.node(), None, "{sentinel_pw}/{data_pw}");
        assert!(s.ping().await.is_err());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn sentinels_and_data_nodes_over_verified_tls() {
    let pki = tempfile::tempdir().expect("tempdir");
    // The sentinels announce the master by address: its certificate names 127.0.0.1.
    let (ca, cert, key) = super::tls_material_for(pki.path(), &["localhost", "127.0.0.1"]);
    let files = [&cert, &key, &ca].map(|p| p.display().to_string());
    let master = {
        let extra = vec![
            "--tls-port".to_string(),
            "--tls-cert-file".into(),
            files[0].clone(),
            "--tls-key-file".into(),
            files[1].clone(),
            "--tls-ca-cert-file".into(),
            files[2].clone(),
            "--tls-auth-clients".into(),
            "no".into(),
        ];
        tokio::task::spawn_blocking(move || RedisServer::start_with(extra))
            .await
            .expect("master")
    };
    let master_port = master.port;
    let tls_conf = format!(
        "tls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\ntls-auth-clients no\ntls-replication yes\n",
        files[0], files[1], files[2]
    );
    let sentinels: Vec<Sentinel> = tokio::task::spawn_blocking(move || {
        (0..3)
            .map(|_| {
                Sentinel::start_listening(master_port, &tls_conf, |port| {
                    format!("port 0\ntls-port {port}\n")
                })
            })
            .collect()
    })
    .await
    .expect("sentinels");
    let config = |sentinel_ca: Option<PathBuf>| RedisConfig {
        target: RedisTarget::Sentinel(SentinelConfig {
            master_name: MASTER.into(),
            addresses: sentinels
                .iter()
                .map(|s| ("127.0.0.1".to_string(), s.port))
                .collect(),
            username: None,
            password: None,
            tls: true,
            ca_file: sentinel_ca,
            check_interval: Duration::from_millis(200),
        }),
        tls: true,
        ca_file: Some(ca.clone()),
        username: None,
        password: None,
        database: 0,
        replica_acks: 0,
    };
    let store =
        open_store(&config(Some(ca.clone())), "tls:", Duration::from_secs(2)).expect("store");
    node_becomes(&store, &format!("127.0.0.1:{master_port}")).await;
    store.ping().await.expect("the master over TLS");
    // The sentinels' certificate is verified too: without their CA nothing is connected.
    let untrusting = open_store(&config(None), "tls:", Duration::from_secs(2)).expect("store");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(untrusting.node(), None);
    assert!(untrusting.ping().await.is_err());
}

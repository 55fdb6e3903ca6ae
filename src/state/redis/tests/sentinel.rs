//! Redis Sentinel: three `redis-server`s (a master and two replicas) and three sentinels on
//! loopback, the store following the master the sentinels name through `kill -9` and through a
//! demotion (`READONLY`), revocations confirmed by a replica surviving the failover, and the
//! killed master, restarted still calling itself master, never used.

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
    fn start(master_port: u16) -> Sentinel {
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("tempdir");
            let port = free_port();
            let conf = dir.path().join("sentinel.conf");
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\nlogfile sentinel.log\n\
                     sentinel monitor {MASTER} 127.0.0.1 {master_port} 2\n\
                     sentinel down-after-milliseconds {MASTER} 1000\n\
                     sentinel failover-timeout {MASTER} 5000\n\
                     sentinel parallel-syncs {MASTER} 1\n",
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
        let master = RedisServer::start();
        let replicas: Vec<RedisServer> = (0..2)
            .map(|_| {
                RedisServer::start_with(vec![
                    "--replicaof".into(),
                    "127.0.0.1".into(),
                    master.port.to_string(),
                ])
            })
            .collect();
        let mut nodes = vec![master];
        nodes.extend(replicas);
        let sentinels = (0..3).map(|_| Sentinel::start(nodes[0].port)).collect();
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
            Err(_) => failed += 1,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn a_demoted_master_answering_readonly_sends_the_store_to_the_new_one() {
    let farm = tokio::task::spawn_blocking(Farm::start)
        .await
        .expect("farm");
    farm.replicas_attached().await;
    let metrics = crate::metrics::Metrics::standalone().expect("metrics");
    let events = crate::events::Events::new(metrics.events.clone());
    let mut config = farm.config(0);
    // Slow checks: the READONLY answer, not the periodic check, must move the store.
    if let RedisTarget::Sentinel(s) = &mut config.target {
        s.check_interval = Duration::from_secs(60);
    }
    let store = RedisStore::new(
        &config,
        "ro:",
        Duration::from_millis(250),
        events,
        metrics.state.clone(),
    )
    .expect("store");
    node_becomes(&store, &farm.address(0)).await;
    // A failover with the old master alive: it becomes a replica and answers READONLY.
    let sentinel = format!("redis://127.0.0.1:{}", farm.sentinels[0].port);
    let client = redis::Client::open(sentinel).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("sentinel");
    let _: String = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg(MASTER)
        .query_async(&mut conn)
        .await
        .expect("SENTINEL FAILOVER");
    // Wait until the old master is a replica, then write.
    for _ in 0..200 {
        let role: redis::Value = farm.nodes[0].raw(&redis::cmd("ROLE")).await;
        if format!("{role:?}").contains("slave") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("before the write the store uses {:?}", store.node());
    let (_, failed) = until_answered(&store, "after-demotion").await;
    assert!(failed >= 1, "the first write met READONLY");
    assert_ne!(store.node(), Some(farm.address(0)));
    assert_eq!(metrics.state.master_changes.get(), 1);
}

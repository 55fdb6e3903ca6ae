//! What a failed or stalled store must not do: count an attempt nobody waits for any more,
//! forget a sign-out, or cost a caller more than its timeout.

use super::*;

/// A TCP proxy in front of a server that can stop forwarding (holding what clients send, as a
/// congested or stalled network path does) and resume.
struct StallProxy {
    port: u16,
    stalled: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl StallProxy {
    async fn start(upstream: u16) -> StallProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (stalled, rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            // While stalled, nothing is read from the client: its bytes wait.
                            let mut rx = rx.clone();
                            let _ = rx.wait_for(|s| !*s).await;
                            use tokio::io::{AsyncReadExt, AsyncWriteExt};
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => {
                                    // Forward what was held, then the close.
                                    let _ = sw.shutdown().await;
                                    return;
                                }
                                Ok(n) => n,
                            };
                            let _ = rx.wait_for(|s| !*s).await;
                            if sw.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut sr, &mut cw).await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        StallProxy {
            port,
            stalled,
            task,
        }
    }

    fn stall(&self, on: bool) {
        let _ = self.stalled.send(on);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn via(port: u16) -> RedisConfig {
    RedisConfig {
        target: RedisTarget::Url(format!("redis://127.0.0.1:{port}")),
        tls: false,
        ca_file: None,
        username: None,
        password: None,
        database: 0,
        replica_acks: 0,
    }
}

async fn drained(store: &RedisStore) {
    for _ in 0..200 {
        if store.deferred_writes() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} deferred writes never written", store.deferred_writes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn attempts_that_timed_out_in_a_stall_never_count() {
    let server = server().await;
    let proxy = StallProxy::start(server.port).await;
    let timeout = Duration::from_millis(200);
    let store = open_store(&via(proxy.port), "stall:", timeout).expect("store");
    let policy = LockoutPolicy::default();
    store.ping().await.expect("ping through the proxy");

    // A counted attempt before the stall, then many during it: every one of those times out
    // within its budget, and the script runs in Redis when the stall ends.
    store
        .attempt("before", &[], t0(), &policy)
        .await
        .expect("attempt before the stall");
    proxy.stall(true);
    for i in 0..20 {
        let started = std::time::Instant::now();
        let e = store
            .attempt(&format!("user{}", i % 5), &[], t0(), &policy)
            .await
            .expect_err("stalled");
        assert!(
            matches!(e.code(), "state_timeout" | "state_unavailable"),
            "{e}"
        );
        // The budget, plus scheduling slack; never a second call's worth more.
        assert!(started.elapsed() < timeout * 2, "{:?}", started.elapsed());
    }
    assert!(store.deferred_writes() > 0, "the cancellations wait");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.stall(false);
    drained(&store).await;

    // The held scripts ran (their records say cancelled), and counted nothing.
    let fresh = server.store("stall:");
    for i in 0..5 {
        let a = fresh
            .status(&format!("user{i}"), t0(), &policy)
            .await
            .expect("status");
        assert_eq!(
            (a.familiar.count, a.unfamiliar.count),
            (0, 0),
            "user{i} was counted after a timed-out attempt: {a:?}"
        );
    }
    let records: Vec<String> = server.raw(redis::cmd("KEYS").arg("stall:attempt:*")).await;
    assert!(records.len() >= 20, "{records:?}");
    // The attempt answered before the stall still counts.
    let before = fresh.status("before", t0(), &policy).await.expect("status");
    assert_eq!(before.unfamiliar.count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn a_cancellation_that_arrives_first_stops_the_attempt() {
    let server = server().await;
    let store = server.store("first:");
    let policy = LockoutPolicy::default();
    // The node gave up on attempt X and its cancellation was written before X's script ran.
    store
        .core
        .cancel_attempt("acct", "x")
        .await
        .expect("cancel");
    let mut call = store.core.attempt.prepare_invoke();
    call.key(store.core.key("lockout", "acct"))
        .key(store.core.attempt_key("x"))
        .arg(to_ms(t0()))
        .arg(duration_ms(policy.observation_window))
        .arg(policy.threshold)
        .arg(policy.familiar_threshold)
        .arg(duration_ms(policy.familiar_location_lifetime))
        .arg(duration_ms(policy.record_lifetime()))
        .arg(duration_ms(ATTEMPT_RECORD_TTL));
    let reply: Vec<i64> = store.core.invoke(&call).await.expect("late script");
    assert_eq!(reply.get(1), Some(&3), "cancelled: {reply:?}");
    let a = store.status("acct", t0(), &policy).await.expect("status");
    assert_eq!(a.unfamiliar.count, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn a_sign_out_during_an_outage_holds_here_and_everywhere_after_recovery() {
    let mut server = server().await;
    let node1 = open_store(&server.config(), "out:", Duration::from_millis(200)).expect("store");
    let node2 = server.store("out:");
    node1.ping().await.expect("ping");
    server = tokio::task::spawn_blocking(move || {
        server.stop();
        server
    })
    .await
    .expect("join");
    let e = node1
        .revoke("session-1", Duration::from_secs(3600))
        .await
        .expect_err("server down");
    assert!(
        matches!(e.code(), "state_unavailable" | "state_timeout"),
        "{e}"
    );
    // This node never honours it again, store or not.
    assert!(node1.is_revoked("session-1").await.expect("answered here"));
    let _server = tokio::task::spawn_blocking(move || {
        server.restart();
        server
    })
    .await
    .expect("join");
    drained(&node1).await;
    assert!(
        node2.is_revoked("session-1").await.expect("node 2"),
        "the sign-out was written once the store came back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server; scripts/test.sh runs it (--include-ignored)"]
async fn a_revocation_no_replica_confirms_is_kept_and_written_again() {
    let server = server().await;
    let mut config = server.config();
    config.replica_acks = 1;
    let store = open_store(&config, "acks:", Duration::from_millis(200)).expect("store");
    let e = store
        .revoke("s", Duration::from_secs(60))
        .await
        .expect_err("no replica to confirm");
    assert_eq!(e.code(), "state_not_replicated", "{e}");
    assert!(store.is_revoked("s").await.expect("here"));
    assert_eq!(store.deferred_writes(), 1);
    // The master has it (WAIT does not undo); it is the confirmation that is missing.
    let other = server.store("acks:");
    assert!(other.is_revoked("s").await.expect("other"));
}

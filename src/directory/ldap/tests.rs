//! Unit tests of the LDAP client against loopback servers: a closed port (a domain controller
//! that is down) and a minimal plain-LDAP responder that answers binds and base-scope searches
//! (one that is up).

use super::*;
use crate::config::LdapUrl;
use crate::metrics::Metrics;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const FOREST: &str = "contoso.com";

fn tuning() -> DirectoryConfig {
    DirectoryConfig {
        connect_timeout: Duration::from_secs(2),
        operation_timeout: Duration::from_secs(2),
        pool_size: 2,
        retry_backoff: Duration::from_millis(50),
        max_concurrent_binds_per_dc: 2,
        bind_queue_timeout: Duration::from_secs(2),
        health_check_interval: Duration::from_secs(10),
    }
}

/// A plain `ldap://` URL on loopback (the test servers speak no TLS).
fn url(port: u16) -> LdapUrl {
    LdapUrl {
        url: format!("ldap://127.0.0.1:{port}"),
        host: "127.0.0.1".into(),
        port,
    }
}

/// A port nothing listens on (yet).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A directory whose domain `contoso.com` has one domain controller at `port`.
fn directory(port: u16, tuning: DirectoryConfig) -> (LdapDirectory, Metrics) {
    directory_of(&[port], tuning)
}

/// A directory whose domain `contoso.com` has domain controllers at `ports`, in failover order.
fn directory_of(ports: &[u16], tuning: DirectoryConfig) -> (LdapDirectory, Metrics) {
    let metrics = Metrics::standalone().expect("metrics");
    let events = Events::new(metrics.events.clone());
    let tls = crate::tls::client_config(None).expect("tls");
    let account = crate::config::ServiceAccount {
        user: "svc@contoso.com".into(),
        password: crate::secret::Secret::new("svc-pw".into()),
    };
    let (mut binds, mut reads) = (Vec::new(), Vec::new());
    for port in ports {
        let server = Arc::new(Server::new(
            FOREST,
            &url(*port),
            &tls,
            tuning,
            tuning.max_concurrent_binds_per_dc,
            &metrics.directory,
            &events,
        ));
        binds.push(BindPool::new(server.clone()));
        reads.push(SearchPool::new(server, account.clone()));
    }
    let key = (FOREST.to_string(), FOREST.to_string());
    let mut binders = HashMap::new();
    binders.insert(key.clone(), binds);
    let mut readers = HashMap::new();
    readers.insert(key, reads);
    let directory = LdapDirectory {
        forests: HashMap::new(),
        binders,
        readers,
        service_accounts: HashMap::new(),
        metrics: metrics.directory.clone(),
    };
    (directory, metrics)
}

fn events(m: &Metrics, name: &str) -> u64 {
    m.events
        .events
        .with_label_values(&[name, "operational"])
        .get()
}

fn server_up(m: &Metrics, port: u16) -> i64 {
    m.directory
        .server_up
        .with_label_values(&[FOREST, &url(port).url])
        .get()
}

/// BER length at the start of `b`: (length, bytes used).
fn ber_len(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.first()?;
    if first < 0x80 {
        return Some((usize::from(first), 1));
    }
    let n = usize::from(first & 0x7f);
    let bytes = b.get(1..=n)?;
    Some((
        bytes.iter().fold(0, |acc, x| acc << 8 | usize::from(*x)),
        n + 1,
    ))
}

/// The first complete LDAPMessage in `buf`: (message ID bytes, operation tag, its length).
fn message(buf: &[u8]) -> Option<(Vec<u8>, u8, usize)> {
    assert_eq!(*buf.first()?, 0x30, "LDAPMessage is a SEQUENCE");
    let (len, used) = ber_len(&buf[1..])?;
    let total = 1 + used + len;
    let body = buf.get(1 + used..total)?;
    assert_eq!(body[0], 0x02, "messageID is an INTEGER");
    let id_len = usize::from(body[1]);
    let id = body[2..2 + id_len].to_vec();
    Some((id, body[2 + id_len], total))
}

/// Answers every simple bind on every connection with result `rc`.
async fn answer_binds(listener: TcpListener, rc: u8) {
    while let Ok((mut stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            loop {
                while let Some((id, op, used)) = message(&buf) {
                    buf.drain(..used);
                    if op == 0x60 {
                        // BindResponse: resultCode rc, empty matchedDN and diagnostic.
                        let mut reply = vec![0x30, (2 + id.len() + 9) as u8, 0x02, id.len() as u8];
                        reply.extend_from_slice(&id);
                        reply.extend_from_slice(&[
                            0x61, 0x07, 0x0a, 0x01, rc, 0x04, 0x00, 0x04, 0x00,
                        ]);
                        if stream.write_all(&reply).await.is_err() {
                            return;
                        }
                    }
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
    }
}

/// One BER element: tag, definite length, content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// An LDAPMessage answering message `id` with `op`.
fn ldap_message(id: &[u8], op: Vec<u8>) -> Vec<u8> {
    let mut content = tlv(0x02, id);
    content.extend(op);
    tlv(0x30, &content)
}

/// An LDAPResult-shaped response (`tag`: 0x61 BindResponse, 0x65 SearchResultDone).
fn result_op(tag: u8, rc: u8) -> Vec<u8> {
    let mut content = tlv(0x0a, &[rc]);
    content.extend(tlv(0x04, b""));
    content.extend(tlv(0x04, b""));
    tlv(tag, &content)
}

/// A SearchResultEntry for `dn` with single-valued `attrs`.
fn entry_op(dn: &str, attrs: &[(&str, &str)]) -> Vec<u8> {
    let mut list = Vec::new();
    for (name, value) in attrs {
        let mut a = tlv(0x04, name.as_bytes());
        a.extend(tlv(0x31, &tlv(0x04, value.as_bytes())));
        list.extend(tlv(0x30, &a));
    }
    let mut content = tlv(0x04, dn.as_bytes());
    content.extend(tlv(0x30, &list));
    tlv(0x64, &content)
}

/// How the test DC answers a search.
#[derive(Clone)]
enum SearchAnswer {
    /// One entry with these attributes, then success.
    Entry(Vec<(&'static str, &'static str)>),
    /// No entry, this result code.
    Done(u8),
}

/// Answers every bind with success and every search with `answer`, on every connection.
async fn answer_searches(listener: TcpListener, dn: &'static str, answer: SearchAnswer) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let answer = answer.clone();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            loop {
                while let Some((id, op, used)) = message(&buf) {
                    buf.drain(..used);
                    let mut reply = Vec::new();
                    match (op, &answer) {
                        (0x60, _) => reply.extend(ldap_message(&id, result_op(0x61, 0))),
                        (0x63, SearchAnswer::Entry(attrs)) => {
                            reply.extend(ldap_message(&id, entry_op(dn, attrs)));
                            reply.extend(ldap_message(&id, result_op(0x65, 0)));
                        }
                        (0x63, SearchAnswer::Done(rc)) => {
                            reply.extend(ldap_message(&id, result_op(0x65, *rc)))
                        }
                        _ => {}
                    }
                    if stream.write_all(&reply).await.is_err() {
                        return;
                    }
                }
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        });
    }
}

#[tokio::test]
async fn account_state_is_read_fresh_from_the_accounts_domain_controller() {
    const DN: &str = "CN=John Doe,CN=Users,DC=contoso,DC=com";
    let cases: Vec<(SearchAnswer, Result<Option<AccountState>, &str>)> = vec![
        (
            SearchAnswer::Entry(vec![
                ("userAccountControl", "514"),
                ("pwdLastSet", "133497846000000000"),
            ]),
            Ok(Some(AccountState {
                enabled: false,
                pwd_last_set: Some(133_497_846_000_000_000),
            })),
        ),
        (
            SearchAnswer::Entry(vec![("pwdLastSet", "0"), ("userAccountControl", "66048")]),
            Ok(Some(AccountState {
                enabled: true,
                pwd_last_set: Some(0),
            })),
        ),
        // Attributes the service account may not read: an error, never a guess.
        (
            SearchAnswer::Entry(vec![("userAccountControl", "512")]),
            Err("search_failed"),
        ),
        (
            SearchAnswer::Entry(vec![("userAccountControl", "512"), ("pwdLastSet", "soon")]),
            Err("search_failed"),
        ),
        // The DN is gone (deleted, moved, renamed), or holds no user.
        (SearchAnswer::Done(32), Ok(None)),
        (SearchAnswer::Done(0), Ok(None)),
        // insufficientAccessRights: the DC answered, the answer is unknown.
        (SearchAnswer::Done(50), Err("search_failed")),
    ];
    for (answer, expected) in cases {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
        let port = listener.local_addr().expect("addr").port();
        let dc = tokio::spawn(answer_searches(listener, DN, answer));
        let (dir, m) = directory(port, tuning());
        let r = dir
            .account_state(AccountRef::new(FOREST, "Contoso.COM", DN))
            .await;
        match expected {
            Ok(state) => assert_eq!(r.expect("state"), state),
            Err(code) => assert_eq!(r.map_err(|e| e.code()), Err(code)),
        }
        assert_eq!(server_up(&m, port), 1, "the DC answered");
        assert_eq!(events(&m, "directory_server_down"), 0);
        dc.abort();
    }
}

#[tokio::test]
async fn account_state_reads_share_the_domain_controllers_health_with_binds() {
    let port = closed_port();
    let (dir, m) = directory(port, tuning());
    let dn = "CN=John Doe,CN=Users,DC=contoso,DC=com";
    let r = dir.account_state(AccountRef::new(FOREST, FOREST, dn)).await;
    assert!(
        matches!(r, Err(DirectoryError::Unreachable { .. })),
        "{r:?}"
    );
    // The bind path skips the DC the read found down: one connect attempt, one event.
    let r = dir.bind(AccountRef::new(FOREST, FOREST, dn), "pw").await;
    assert!(
        matches!(r, Err(DirectoryError::Unreachable { .. })),
        "{r:?}"
    );
    assert_eq!(events(&m, "directory_server_down"), 1);
    assert_eq!(
        m.directory
            .connects
            .with_label_values(&[FOREST, &url(port).url, "error"])
            .get(),
        1
    );
    assert_eq!(
        m.directory
            .searches
            .with_label_values(&[FOREST, "account_state", "unreachable"])
            .get(),
        1
    );
    // A domain without configured DCs cannot be read at all.
    let r = dir
        .account_state(AccountRef::new(FOREST, "child.contoso.com", dn))
        .await;
    assert_eq!(r.map_err(|e| e.code()), Err("no_domain_controller"));
}

#[tokio::test]
async fn a_domain_controller_going_down_and_up_on_the_bind_path_is_announced_once_each() {
    let port = closed_port();
    let (dir, m) = directory(port, tuning());
    let dn = "CN=John Doe,CN=Users,DC=contoso,DC=com";

    // Down: connection refused. One event, the gauge at 0, the sign-in unavailable.
    let r = dir.bind(AccountRef::new(FOREST, FOREST, dn), "pw").await;
    assert!(
        matches!(r, Err(DirectoryError::Unreachable { .. })),
        "{r:?}"
    );
    assert_eq!(events(&m, "directory_server_down"), 1);
    assert_eq!(server_up(&m, port), 0);
    // Skipped while backing off, then failing again after it: still one event.
    let r = dir.bind(AccountRef::new(FOREST, FOREST, dn), "pw").await;
    assert!(
        matches!(r, Err(DirectoryError::Unreachable { .. })),
        "{r:?}"
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    let r = dir.bind(AccountRef::new(FOREST, FOREST, dn), "pw").await;
    assert!(
        matches!(r, Err(DirectoryError::Unreachable { .. })),
        "{r:?}"
    );
    assert_eq!(events(&m, "directory_server_down"), 1);
    assert_eq!(events(&m, "directory_server_up"), 0);
    assert_eq!(
        m.directory
            .binds
            .with_label_values(&[FOREST, "unavailable"])
            .get(),
        3
    );

    // Up: the DC answers binds. One event, the gauge at 1.
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("listen");
    let dc = tokio::spawn(answer_binds(listener, 0));
    tokio::time::sleep(Duration::from_millis(80)).await;
    let r = dir.bind(AccountRef::new(FOREST, FOREST, dn), "pw").await;
    assert!(matches!(r, Ok(Ok(()))), "{r:?}");
    let r = dir.bind(AccountRef::new(FOREST, FOREST, dn), "pw").await;
    assert!(matches!(r, Ok(Ok(()))), "{r:?}");
    assert_eq!(events(&m, "directory_server_up"), 1);
    assert_eq!(events(&m, "directory_server_down"), 1);
    assert_eq!(server_up(&m, port), 1);
    assert_eq!(
        m.directory.binds.with_label_values(&[FOREST, "ok"]).get(),
        2
    );
    dc.abort();
}

#[tokio::test]
async fn a_wrong_password_is_an_answer_not_a_server_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let dc = tokio::spawn(answer_binds(listener, 49));
    let (dir, m) = directory(port, tuning());
    let r = dir
        .bind(AccountRef::new(FOREST, FOREST, "CN=x"), "wrong")
        .await;
    assert!(
        matches!(r, Ok(Err(BindRejection::InvalidCredentials))),
        "{r:?}"
    );
    assert_eq!(events(&m, "directory_server_down"), 0);
    assert_eq!(server_up(&m, port), 1);
    dc.abort();
}

#[tokio::test(start_paused = true)]
async fn binds_beyond_the_cap_wait_at_most_the_queue_timeout_then_fail_as_infrastructure() {
    let port = closed_port();
    let (dir, m) = directory(port, tuning());
    let pool = dir
        .binders
        .values()
        .next()
        .and_then(|p| p.first())
        .expect("one DC");
    let server_url = url(port).url;
    let labels = [FOREST, server_url.as_str()];
    let dn = "CN=John Doe,CN=Users,DC=contoso,DC=com";

    // Two binds in flight fill the DC's two slots.
    let first = pool.admit().await.expect("slot");
    let _second = pool.admit().await.expect("slot");

    // The third waits exactly bind_queue_timeout, then fails: not a wrong password, not a
    // server failure, and the password was never sent.
    let start = Instant::now();
    let r = dir.bind(AccountRef::new(FOREST, FOREST, dn), "pw").await;
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    let Err(e) = r else {
        panic!("a full queue is an error, not an answer: {r:?}");
    };
    assert_eq!(e.code(), "bind_queue_full");
    assert!(
        matches!(&e, DirectoryError::BindQueueFull { server, waited, .. }
            if server == &server_url && *waited == Duration::from_secs(2)),
        "{e:?}"
    );
    assert_eq!(
        m.directory
            .bind_queue_timeouts
            .with_label_values(&labels)
            .get(),
        1
    );
    assert_eq!(
        m.directory
            .binds
            .with_label_values(&[FOREST, "bind_queue_full"])
            .get(),
        1
    );
    assert!(!pool.server.backing_off(), "a busy DC is not a down DC");
    assert_eq!(events(&m, "directory_server_down"), 0);
    assert_eq!(
        m.directory
            .connects
            .with_label_values(&[FOREST, &server_url, "error"])
            .get(),
        0
    );

    // A slot freed while a bind waits lets it through: it goes on to the DC (here a closed
    // port, so unreachable), no longer a queue failure.
    let start = Instant::now();
    let release = async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(first);
    };
    let (r, ()) = tokio::join!(dir.bind(AccountRef::new(FOREST, FOREST, dn), "pw"), release);
    assert!(
        matches!(r, Err(DirectoryError::Unreachable { .. })),
        "{r:?}"
    );
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(
        m.directory
            .bind_queue_timeouts
            .with_label_values(&labels)
            .get(),
        1
    );
    assert_eq!(m.directory.pool_waits.with_label_values(&labels).get(), 2);
    // Every admission observed its wait: 0, 0, 2 s (timed out), 1 s.
    let wait = m.directory.bind_queue_wait.with_label_values(&labels);
    assert_eq!(wait.get_sample_count(), 4);
    assert!(
        (wait.get_sample_sum() - 3.0).abs() < 0.01,
        "{}",
        wait.get_sample_sum()
    );
}

#[test]
fn a_bind_is_classified_for_the_failover_policy() {
    use super::bind_pool::{bind_attempt, BindFailure};
    use super::failover::Attempt;
    let account = AccountRef::new(FOREST, FOREST, "CN=x");
    let server = url(636).url;
    let diagnostic =
        "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 775, v1db1";
    let classify = |result| bind_attempt(account, &server, result);
    assert!(matches!(
        classify(Ok((0, String::new()))),
        Attempt::Answer(Ok(Ok(())))
    ));
    // 49 is AD's answer about the credentials: final, never a server failure.
    assert!(matches!(
        classify(Ok((49, diagnostic.into()))),
        Attempt::Answer(Ok(Err(BindRejection::LockedOut)))
    ));
    assert!(matches!(
        classify(Ok((49, String::new()))),
        Attempt::Answer(Ok(Err(BindRejection::InvalidCredentials)))
    ));
    // Another result: the DC is up but said nothing about the password.
    assert!(matches!(
        classify(Ok((53, "unwilling".into()))),
        Attempt::Declined(reason) if reason == "LDAP result 53 unwilling"
    ));
    assert!(matches!(
        classify(Err(BindFailure::Unavailable("connection refused".into()))),
        Attempt::ServerFailed(reason) if reason == "connection refused"
    ));
    assert!(matches!(
        classify(Err(BindFailure::QueueFull { waited: Duration::from_secs(2) })),
        Attempt::Settled(Err(DirectoryError::BindQueueFull { server: s, .. })) if s == server
    ));
}

#[tokio::test]
async fn a_wrong_password_on_the_first_domain_controller_is_never_tried_on_the_next() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let first = listener.local_addr().expect("addr").port();
    let dc = tokio::spawn(answer_binds(listener, 49));
    let second = closed_port();
    let (dir, m) = directory_of(&[first, second], tuning());
    let r = dir
        .bind(AccountRef::new(FOREST, FOREST, "CN=x"), "wrong")
        .await;
    assert!(
        matches!(r, Ok(Err(BindRejection::InvalidCredentials))),
        "{r:?}"
    );
    for result in ["ok", "error"] {
        assert_eq!(
            m.directory
                .connects
                .with_label_values(&[FOREST, &url(second).url, result])
                .get(),
            0,
            "the second DC is never asked"
        );
    }
    assert_eq!(events(&m, "directory_server_down"), 0);
    assert_eq!(server_up(&m, first), 1);
    dc.abort();
}

#[tokio::test]
async fn another_bind_result_moves_on_to_the_next_domain_controller_without_marking_it_down() {
    let (l1, l2) = (
        TcpListener::bind("127.0.0.1:0").await.expect("listen"),
        TcpListener::bind("127.0.0.1:0").await.expect("listen"),
    );
    let (first, second) = (
        l1.local_addr().expect("addr").port(),
        l2.local_addr().expect("addr").port(),
    );
    // 53 unwillingToPerform on the first DC, success on the second.
    let dcs = [
        tokio::spawn(answer_binds(l1, 53)),
        tokio::spawn(answer_binds(l2, 0)),
    ];
    let (dir, m) = directory_of(&[first, second], tuning());
    let r = dir
        .bind(AccountRef::new(FOREST, FOREST, "CN=x"), "pw")
        .await;
    assert!(matches!(r, Ok(Ok(()))), "{r:?}");
    assert_eq!((server_up(&m, first), server_up(&m, second)), (1, 1));
    assert_eq!(events(&m, "directory_server_down"), 0);
    assert_eq!(
        m.directory.failovers.with_label_values(&[FOREST]).get(),
        0,
        "domain controller failovers are not counted as the forest's"
    );
    for dc in dcs {
        dc.abort();
    }
}

#[tokio::test]
async fn an_account_state_read_fails_over_to_the_next_domain_controller() {
    const DN: &str = "CN=John Doe,CN=Users,DC=contoso,DC=com";
    let first = closed_port();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listen");
    let second = listener.local_addr().expect("addr").port();
    let dc = tokio::spawn(answer_searches(
        listener,
        DN,
        SearchAnswer::Entry(vec![("userAccountControl", "512"), ("pwdLastSet", "1")]),
    ));
    let (dir, m) = directory_of(&[first, second], tuning());
    let r = dir
        .account_state(AccountRef::new(FOREST, FOREST, DN))
        .await
        .expect("state");
    assert_eq!(
        r,
        Some(AccountState {
            enabled: true,
            pwd_last_set: Some(1)
        })
    );
    assert_eq!((server_up(&m, first), server_up(&m, second)), (0, 1));
    assert_eq!(events(&m, "directory_server_down"), 1);
    dc.abort();
}

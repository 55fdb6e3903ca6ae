//! What extranet smart lockout costs and what it protects, against the AD test forests.
//!
//! Run `scripts/ad-forests.sh up`, then `cargo bench --bench lockout` (needs `redis-server`).
//! One run starts the release `altgate serve` binary as its own process three times, with
//! extranet lockout `off`, `enforce` on the in-process store and `enforce` on a local Redis, and
//! for each:
//! 1. drives WS-Trust 1.3 sign-ins (the right password, keep-alive HTTPS) at several
//!    concurrencies: sign-ins/s, p50/p99 and altgate's CPU time per sign-in (from /proc);
//! 2. reads the state store's own time per operation from altgate's metrics;
//! 3. measures one real user's latency signing in alone, then while 64 attackers (each from its
//!    own forwarded address) spray wrong passwords at 16 other accounts, and how many of the
//!    spray's binds reached the domain controller.

#[path = "common/mod.rs"]
mod common;

use bytes::Bytes;
use common::{client_config, cpu_seconds, forests, signing_pair, Forests, Stats};
use http_body_util::{BodyExt, Full};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(4);
const USER: &str = "jdoe@contoso.com";
const USER_ADDRESS: &str = "198.51.100.7";
const ATTACKERS: usize = 64;
const TARGETS: usize = 16;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server(dir: &Path) -> (Proc, u16) {
    let port = free_port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            eprintln!(
                "lockout bench: cannot start redis-server ({e}); apt-get install redis-server"
            );
            std::process::exit(2)
        });
    let p = Proc(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (p, port);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("redis-server did not start");
}

fn rst(login: &str, password: &str) -> String {
    let now = altgate::clock::system_clock()();
    let fmt = time::format_description::well_known::Rfc3339;
    let created = now.format(&fmt).expect("time");
    let expires = (now + time::Duration::hours(1)).format(&fmt).expect("time");
    let esc = altgate::xml::escape_text;
    format!(
        "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:wsa='http://www.w3.org/2005/08/addressing' xmlns:wsu='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd'><s:Header><wsa:Action s:mustUnderstand='1'>http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</wsa:Action><wsa:MessageID>urn:uuid:1</wsa:MessageID><wsse:Security s:mustUnderstand='1' xmlns:wsse='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd'><wsu:Timestamp wsu:Id='_0'><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp><wsse:UsernameToken wsu:Id='u'><wsse:Username>{}</wsse:Username><wsse:Password>{}</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body><wst:RequestSecurityToken xmlns:wst='http://docs.oasis-open.org/ws-sx/ws-trust/200512'><wsp:AppliesTo xmlns:wsp='http://schemas.xmlsoap.org/ws/2004/09/policy'><wsa:EndpointReference><wsa:Address>urn:federation:MicrosoftOnline</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType><wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType></wst:RequestSecurityToken></s:Body></s:Envelope>",
        esc(login),
        esc(password)
    )
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(port: u16, config: Arc<rustls::ClientConfig>) -> Sender {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").expect("name"),
            tcp,
        )
        .await
        .expect("tls");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// One WS-Trust request from `xff`: the status, `None` when the connection failed.
async fn try_post(sender: &mut Sender, body: &Bytes, xff: &str) -> Option<u16> {
    let req = hyper::Request::post("/adfs/services/trust/13/usernamemixed")
        .header("host", "localhost")
        .header("content-type", "application/soap+xml; charset=utf-8")
        .header("x-forwarded-for", xff)
        .body(Full::new(body.clone()))
        .expect("request");
    // hyper's client refuses a request until the connection has finished the previous one.
    sender.ready().await.ok()?;
    let res = sender.send_request(req).await.ok()?;
    let status = res.status().as_u16();
    res.into_body().collect().await.ok()?;
    Some(status)
}

/// [`try_post`] on a connection that is reopened when it fails (counted in `dropped`).
async fn post_reconnecting(
    sender: &mut Sender,
    port: u16,
    config: &Arc<rustls::ClientConfig>,
    body: &Bytes,
    xff: &str,
    dropped: &AtomicU64,
) -> u16 {
    loop {
        if let Some(status) = try_post(sender, body, xff).await {
            return status;
        }
        dropped.fetch_add(1, Ordering::Relaxed);
        *sender = connect(port, config.clone()).await;
    }
}

async fn post(sender: &mut Sender, body: &Bytes, xff: &str) -> u16 {
    try_post(sender, body, xff).await.expect("response")
}

/// `concurrency` clients signing the user in for `RUN` (failures are reported).
async fn sign_in_load(port: u16, ca: &Path, concurrency: usize, password: &str) -> Stats {
    let config = client_config(ca);
    let body = Bytes::from(rst(USER, password));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (config, body) = (config.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(port, config).await;
            let mut lat = Vec::new();
            let mut failed = 0u64;
            while start.elapsed() < RUN {
                let t = Instant::now();
                if post(&mut sender, &body, USER_ADDRESS).await != 200 {
                    failed += 1;
                }
                lat.push(t.elapsed());
            }
            (lat, failed)
        }));
    }
    let (mut latencies, mut failed) = (Vec::new(), 0);
    for t in tasks {
        let (lat, f) = t.await.expect("join");
        latencies.extend(lat);
        failed += f;
    }
    if failed > 0 {
        println!(
            "  ({failed} of {} sign-ins failed: the forests are shared with other work)",
            latencies.len()
        );
    }
    Stats {
        latencies,
        elapsed: start.elapsed(),
    }
}

/// What [`user_under_spray`] saw.
struct SprayRun {
    /// The user's sign-ins.
    user: Stats,
    /// The user's sign-ins that did not get a token.
    user_failed: u64,
    /// The attackers' attempts.
    attempts: u64,
    /// Connections the server closed under the client (reopened and retried).
    dropped: u64,
}

/// The user alone (one client), optionally beside `ATTACKERS` spraying wrong passwords.
async fn user_under_spray(port: u16, ca: &Path, password: &str, spray: bool) -> SprayRun {
    let config = client_config(ca);
    let attempts = Arc::new(AtomicU64::new(0));
    let dropped = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut attackers = Vec::new();
    if spray {
        for a in 0..ATTACKERS {
            let (config, attempts, dropped) = (config.clone(), attempts.clone(), dropped.clone());
            attackers.push(tokio::spawn(async move {
                let mut sender = connect(port, config.clone()).await;
                let xff = format!("203.0.113.{}", a + 1);
                let bodies: Vec<Bytes> = (0..TARGETS)
                    .map(|t| {
                        let target = format!("lock-atk{:02}@contoso.com", (a + t) % TARGETS + 1);
                        Bytes::from(rst(&target, &format!("Spray-{a}-{t}!")))
                    })
                    .collect();
                let mut n = 0;
                while start.elapsed() < RUN + Duration::from_millis(500) {
                    let status = post_reconnecting(
                        &mut sender,
                        port,
                        &config,
                        &bodies[n % TARGETS],
                        &xff,
                        &dropped,
                    )
                    .await;
                    assert_eq!(status, 500, "a wrong password must fail");
                    attempts.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            }));
        }
        // Let the spray get going before the user arrives.
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut sender = connect(port, config.clone()).await;
    let body = Bytes::from(rst(USER, password));
    let (mut latencies, mut failed) = (Vec::new(), 0u64);
    let t0 = Instant::now();
    while t0.elapsed() < RUN - Duration::from_millis(250) {
        let t = Instant::now();
        let status =
            post_reconnecting(&mut sender, port, &config, &body, USER_ADDRESS, &dropped).await;
        if status != 200 {
            failed += 1;
        }
        latencies.push(t.elapsed());
    }
    let elapsed = t0.elapsed();
    for a in attackers {
        a.await.expect("attacker");
    }
    SprayRun {
        user: Stats { latencies, elapsed },
        user_failed: failed,
        attempts: attempts.load(Ordering::Relaxed),
        dropped: dropped.load(Ordering::Relaxed),
    }
}

/// The admin listener's exposition.
async fn scrape(admin_port: u16) -> String {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", admin_port))
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get("/metrics")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .expect("req");
    let body = sender
        .send_request(req)
        .await
        .expect("metrics")
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

struct Mode {
    name: &'static str,
    yaml: String,
}

/// The server's configuration for one mode.
fn config(t: &Path, f: &Forests, port: u16, admin_port: u16, mode: &str) -> PathBuf {
    let (sign_crt, sign_key) = signing_pair();
    let mut forests_yaml = String::new();
    for f in &f.forests {
        let pw = t.join(format!("{}.pw", f.name));
        std::fs::write(&pw, &f.service_password).expect("pw");
        forests_yaml.push_str(&format!(
            "  - name: {}\n    global_catalogs: [{}]\n    domain_controllers: {{ {}: [{}] }}\n    service_account: {{ user: {}, password_file: {} }}\n    ca_file: {}\n",
            f.name, f.gc_url, f.name, f.dc_url, f.service_user, pw.display(), f.ca_file
        ));
    }
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:{port}, public_url: 'https://localhost:{port}', tls: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }}, limits: {{ max_connections_per_ip: 4096 }}, trusted_proxies: ['127.0.0.1/32'] }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         forests:\n{forests_yaml}\
         directory: {{ pool_size: 8 }}\n\
         token_signing: {{ cert_file: {}, key_file: {} }}\n\
         relying_parties: [{{ identifier: 'urn:federation:MicrosoftOnline', token_type: saml11 }}]\n\
         federation: {{ federated_domains: [contoso.com, fabrikam.com] }}\n\
         logging: {{ level: error }}\n\
         admin: {{ listen: '127.0.0.1:{admin_port}' }}\n{mode}",
        t.join("server.crt").display(),
        t.join("server.key").display(),
        sign_crt.display(),
        sign_key.display()
    );
    let cfg = t.join(format!("altgate-{port}.yaml"));
    std::fs::write(&cfg, yaml).expect("config");
    cfg
}

fn main() {
    let forests = forests("lockout bench");
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (_redis, redis_port) = redis_server(t);
    let pw = forests.user_password.clone();
    let modes = [
        Mode {
            name: "off",
            yaml: String::new(),
        },
        Mode {
            name: "enforce, in-process store",
            yaml: "extranet_lockout: { mode: enforce, threshold: 5 }\n".into(),
        },
        Mode {
            name: "enforce, Redis on loopback",
            yaml: format!(
                "extranet_lockout: {{ mode: enforce, threshold: 5 }}\nstate: {{ url: 'redis://127.0.0.1:{redis_port}', key_prefix: 'bench-{}:' }}\n",
                std::process::id()
            ),
        },
    ];
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut p50_c1 = Vec::new();
    let mut spray_rows = Vec::new();
    println!("WS-Trust 1.3 sign-ins for {USER} (right password, cache on), {RUN:?} per row; 2 vCPUs shared with Samba and the client");
    for mode in &modes {
        let (port, admin_port) = (free_port(), free_port());
        let cfg = config(t, &forests, port, admin_port, &mode.yaml);
        let bin: PathBuf = env!("CARGO_BIN_EXE_altgate").into();
        let server = Proc(
            Command::new(bin)
                .args(["serve", "--config"])
                .arg(&cfg)
                .spawn()
                .expect("start altgate"),
        );
        let pid = server.0.id();
        let ca = t.join("server.crt");
        rt.block_on(async {
            for _ in 0..200 {
                if ca.exists()
                    && tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .is_ok()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = sign_in_load(port, &ca, 1, &pw).await; // warm-up
            println!("lockout {}:", mode.name);
            for c in [1usize, 4, 8] {
                let cpu0 = cpu_seconds(pid);
                let mut st = sign_in_load(port, &ca, c, &pw).await;
                let cpu1 = cpu_seconds(pid);
                let n = st.latencies.len() as f64;
                let cpu = ((cpu1.0 - cpu0.0) + (cpu1.1 - cpu0.1)) / n;
                println!(
                    "  c={c:<2} {:>6.0} sign-ins/s  p50 {:>6.2} ms  p99 {:>6.2} ms  altgate CPU {:.3} ms/sign-in",
                    st.rate(),
                    st.pct_ms(0.5),
                    st.pct_ms(0.99),
                    cpu * 1e3
                );
                if c == 1 {
                    p50_c1.push(st.pct_ms(0.5));
                }
            }
            let m = scrape(admin_port).await;
            for op in ["attempt", "succeeded"] {
                let sum = sample(
                    &m,
                    &format!("altgate_state_operation_duration_seconds_sum{{op=\"{op}\"}}"),
                );
                let count = sample(
                    &m,
                    &format!("altgate_state_operation_duration_seconds_count{{op=\"{op}\"}}"),
                );
                if count > 0.0 {
                    println!(
                        "  state store {op}: {:.3} ms mean over {count:.0} operations",
                        sum / count * 1e3
                    );
                }
            }
            if mode.name != "enforce, in-process store" {
                let binds = "altgate_binds_total{domain=\"contoso.com\",result=\"wrong_password\"}";
                let before = sample(&scrape(admin_port).await, binds);
                let mut quiet = user_under_spray(port, &ca, &pw, false).await;
                let mut spray = user_under_spray(port, &ca, &pw, true).await;
                let m = scrape(admin_port).await;
                let reached = sample(&m, binds) - before;
                let queue_full = sample(
                    &m,
                    "altgate_binds_total{domain=\"contoso.com\",result=\"bind_queue_full\"}",
                );
                spray_rows.push(format!(
                    "  lockout {:<27} quiet p50 {:>6.2} ms p99 {:>6.2} ms ({} failed) | under spray p50 {:>6.2} ms p99 {:>7.2} ms ({} failed) | {} wrong passwords, {reached:.0} reached the DC, {queue_full:.0} bind_queue_full, {} connections dropped",
                    mode.name,
                    quiet.user.pct_ms(0.5),
                    quiet.user.pct_ms(0.99),
                    quiet.user_failed,
                    spray.user.pct_ms(0.5),
                    spray.user.pct_ms(0.99),
                    spray.user_failed,
                    spray.attempts,
                    spray.dropped + quiet.dropped,
                ));
            }
        });
        drop(server);
    }
    if let [off, _, redis] = p50_c1.as_slice() {
        println!(
            "added p50 per sign-in with enforce on Redis (loopback), c=1: {:+.2} ms",
            redis - off
        );
    }
    println!(
        "A real user (one client) alone for {RUN:?}, then while {ATTACKERS} attackers (own addresses) spray wrong passwords at {TARGETS} other accounts:"
    );
    for row in spray_rows {
        println!("{row}");
    }
}

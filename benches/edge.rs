//! altgate's edge under attack (a load harness): a real user's WS-Trust sign-in latency while
//! 1,000 slowloris connections and 200 HTTP/2 connections with every stream stalled mid-body
//! are held, and altgate's memory before, during and after.
//!
//! Run `scripts/ad-forests.sh up`, then `cargo bench --bench edge`. In one run it starts the
//! release `altgate serve` binary as its own process (default `server.limits`, so the attack
//! meets the deadlines an operator gets), measures sequential sign-ins of jdoe@contoso.com
//! (each on a fresh TLS connection, as a client signing in would) while quiet and while the
//! attack is held, reads altgate's RSS from /proc, and prints a table.

#[path = "../tests/kit/attack.rs"]
mod attack;
#[path = "common/mod.rs"]
mod common;

use attack::Dribble;
use bytes::Bytes;
use common::{forests, signing_pair, Stats};
use http_body_util::{BodyExt, Full};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const LOGIN: &str = "jdoe@contoso.com";
const SLOWLORIS: usize = 1000;
const SLOWLORIS_ADDRESSES: u8 = 10;
const H2_CONNECTIONS: usize = 200;
const H2_ADDRESSES: u8 = 4;
/// Sign-ins are measured for this long in each phase.
const MEASURE: Duration = Duration::from_secs(20);
/// The attack is established for this long before sign-ins are measured under it.
const RAMP_UP: Duration = Duration::from_secs(10);

fn rst(password: &str) -> String {
    let now = altgate::clock::system_clock()();
    let fmt = time::format_description::well_known::Rfc3339;
    let created = now.format(&fmt).expect("time");
    let expires = (now + time::Duration::hours(1)).format(&fmt).expect("time");
    format!(
        "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:wsa='http://www.w3.org/2005/08/addressing' xmlns:wsu='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd'><s:Header><wsa:Action s:mustUnderstand='1'>http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</wsa:Action><wsa:MessageID>urn:uuid:1</wsa:MessageID><wsse:Security s:mustUnderstand='1' xmlns:wsse='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd'><wsu:Timestamp wsu:Id='_0'><wsu:Created>{created}</wsu:Created><wsu:Expires>{expires}</wsu:Expires></wsu:Timestamp><wsse:UsernameToken wsu:Id='u'><wsse:Username>{LOGIN}</wsse:Username><wsse:Password>{}</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body><wst:RequestSecurityToken xmlns:wst='http://docs.oasis-open.org/ws-sx/ws-trust/200512'><wsp:AppliesTo xmlns:wsp='http://schemas.xmlsoap.org/ws/2004/09/policy'><wsa:EndpointReference><wsa:Address>urn:federation:MicrosoftOnline</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType><wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType></wst:RequestSecurityToken></s:Body></s:Envelope>",
        altgate::xml::escape_text(password)
    )
}

/// One sign-in on a fresh TLS connection from 127.0.0.1; panics unless a token comes back.
async fn sign_in(addr: SocketAddr, tls: Arc<rustls::ClientConfig>, body: Bytes) -> Duration {
    let t = Instant::now();
    let stream = attack::tls_from(IpAddr::from([127, 0, 0, 1]), addr, tls)
        .await
        .expect("tls");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::post("/adfs/services/trust/13/usernamemixed")
        .header("host", "localhost")
        .header("content-type", "application/soap+xml; charset=utf-8")
        .body(Full::new(body))
        .expect("request");
    let res = sender.send_request(req).await.expect("response");
    let status = res.status();
    let rstr = res.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&rstr));
    t.elapsed()
}

/// Sequential sign-ins for `MEASURE`.
async fn sign_ins(addr: SocketAddr, tls: &Arc<rustls::ClientConfig>, body: &Bytes) -> Stats {
    let start = Instant::now();
    let mut latencies = Vec::new();
    while start.elapsed() < MEASURE {
        latencies.push(sign_in(addr, tls.clone(), body.clone()).await);
    }
    Stats {
        latencies,
        elapsed: start.elapsed(),
    }
}

/// A sample from the admin listener (no token in this configuration).
async fn scrape(admin: SocketAddr) -> String {
    let tcp = tokio::net::TcpStream::connect(admin)
        .await
        .expect("connect admin");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let req = hyper::Request::get("/metrics")
        .header("host", "localhost")
        .body(Full::new(Bytes::new()))
        .expect("request");
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

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let forests = forests("edge bench");
    let fd_limit = attack::raise_fd_limit();
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    let (sign_crt, sign_key) = signing_pair();
    let free = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port")
    };
    let (port, admin_port) = (free(), free());
    let mut forests_yaml = String::new();
    for f in &forests.forests {
        let pw = t.join(format!("{}.pw", f.name));
        std::fs::write(&pw, &f.service_password).expect("pw");
        forests_yaml.push_str(&format!(
            "  - name: {}\n    global_catalogs: [{}]\n    domain_controllers: {{ {}: [{}] }}\n    service_account: {{ user: {}, password_file: {} }}\n    ca_file: {}\n",
            f.name, f.gc_url, f.name, f.dc_url, f.service_user, pw.display(), f.ca_file
        ));
    }
    let server_crt = t.join("server.crt");
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:{port}, public_url: 'https://localhost:{port}', tls: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }} }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com, fabrikam.com] }}\n\
         forests:\n{forests_yaml}\
         token_signing: {{ cert_file: {}, key_file: {} }}\n\
         relying_parties: [{{ identifier: 'urn:federation:MicrosoftOnline', token_type: saml11 }}]\n\
         federation: {{ federated_domains: [contoso.com, fabrikam.com] }}\n\
         logging: {{ level: error }}\n\
         admin: {{ listen: '127.0.0.1:{admin_port}' }}\n",
        server_crt.display(),
        t.join("server.key").display(),
        sign_crt.display(),
        sign_key.display()
    );
    let cfg = t.join("altgate.yaml");
    std::fs::write(&cfg, yaml).expect("config");
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_altgate"));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let altgate = attack::Process::start(&bin, &cfg, port, &server_crt).await;
        let pid = altgate.pid();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let admin = SocketAddr::from(([127, 0, 0, 1], admin_port));
        let h1 = attack::client_tls(&server_crt, &[b"http/1.1"]);
        let h2 = attack::client_tls(&server_crt, &[b"h2"]);
        let body = Bytes::from(rst(&forests.user_password));
        for _ in 0..20 {
            sign_in(addr, h1.clone(), body.clone()).await; // warm-up
        }
        let mut quiet = sign_ins(addr, &h1, &body).await;
        let rss_before = attack::rss_bytes(pid);

        let (stop, stopped) = tokio::sync::oneshot::channel();
        let sampler = tokio::spawn(attack::rss_peak(pid, stopped));
        let until = Instant::now() + RAMP_UP + MEASURE + Duration::from_secs(2);
        let mut slots = Vec::new();
        let per_address = SLOWLORIS / usize::from(SLOWLORIS_ADDRESSES);
        for src in attack::sources(50, SLOWLORIS_ADDRESSES) {
            for i in 0..per_address {
                let kind = Dribble::ALL[i % Dribble::ALL.len()];
                let tls = if kind == Dribble::Http2Idle { &h2 } else { &h1 };
                slots.push(tokio::spawn(attack::slowloris_slot(
                    addr,
                    src,
                    tls.clone(),
                    kind,
                    Duration::from_secs(1),
                    Duration::from_secs(300),
                    Duration::ZERO,
                    until,
                )));
            }
        }
        let h2_sources = attack::sources(60, H2_ADDRESSES);
        let stalls: Vec<_> = (0..H2_CONNECTIONS)
            .map(|i| {
                tokio::spawn(attack::h2_stall(
                    addr,
                    h2_sources[i % h2_sources.len()],
                    h2.clone(),
                    "/adfs/services/trust/13/usernamemixed",
                    64 * 1024,
                    64 * 1024 - 1,
                    until,
                ))
            })
            .collect();
        tokio::time::sleep(RAMP_UP).await;
        let held = sample(&scrape(admin).await, "altgate_http_open_connections");
        let cpu0 = attack::cpu_seconds(pid);
        let mut attacked = sign_ins(addr, &h1, &body).await;
        let cpu = attack::cpu_seconds(pid) - cpu0;
        let held_end = sample(&scrape(admin).await, "altgate_http_open_connections");
        let mut closed = 0usize;
        let mut longest = Duration::ZERO;
        for s in slots {
            for fate in s.await.expect("join") {
                if let attack::Fate::Closed(d) = fate {
                    closed += 1;
                    longest = longest.max(d);
                }
            }
        }
        let mut streams = 0;
        let mut timeouts = 0;
        for s in stalls {
            let r = s.await.expect("join").expect("h2 attacker");
            streams += r.opened;
            timeouts += r.statuses.get(&408).copied().unwrap_or(0);
        }
        let _ = stop.send(());
        let rss_peak = sampler.await.expect("join");
        for _ in 0..300 {
            if sample(&scrape(admin).await, "altgate_http_open_connections") < 1.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss_after = attack::rss_bytes(pid);
        // Past the default request_timeout (30 s): nothing of the attack can still be running.
        tokio::time::sleep(Duration::from_secs(33)).await;
        let rss_later = attack::rss_bytes(pid);
        let metrics = scrape(admin).await;

        println!(
            "altgate edge under attack: release build, {} vCPUs (shared by altgate, the attackers and the directory), fd limit {fd_limit}, default server.limits",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        println!(
            "attack: {SLOWLORIS} slowloris slots from {SLOWLORIS_ADDRESSES} addresses (silent / dribbled HTTP/1 head / dribbled HTTP/2 preface / idle HTTP/2, reconnecting at once) + {H2_CONNECTIONS} HTTP/2 connections from {H2_ADDRESSES} addresses, every stream a 64 KiB POST that never finishes"
        );
        println!(
            "held at altgate: {held} connections after {RAMP_UP:?}, {held_end} at the end; slowloris connections closed by altgate: {closed} (longest {longest:.1?}); HTTP/2 streams opened {streams}, answered 408 {timeouts}"
        );
        println!(
            "refused at accept: max_connections_per_ip {}, max_connections {}",
            sample(
                &metrics,
                "altgate_http_connections_refused_total{reason=\"max_connections_per_ip\"}"
            ),
            sample(
                &metrics,
                "altgate_http_connections_refused_total{reason=\"max_connections\"}"
            )
        );
        println!();
        println!("| phase          | sign-ins | per s | p50 ms | p99 ms | max ms |");
        println!("|----------------|---------:|------:|-------:|-------:|-------:|");
        for (label, st) in [("quiet", &mut quiet), ("under attack", &mut attacked)] {
            let n = st.latencies.len();
            let rate = st.rate();
            let max = st
                .latencies
                .iter()
                .max()
                .map_or(0.0, |d| d.as_secs_f64() * 1e3);
            println!(
                "| {label:<14} | {n:>8} | {rate:>5.0} | {:>6.1} | {:>6.1} | {max:>6.1} |",
                st.pct_ms(0.5),
                st.pct_ms(0.99)
            );
        }
        println!();
        println!("| altgate RSS    | MiB    |");
        println!("|----------------|-------:|");
        println!("| before         | {:>6.1} |", mib(rss_before));
        println!("| peak (attack)  | {:>6.1} |", mib(rss_peak));
        println!("| after (2 s)    | {:>6.1} |", mib(rss_after));
        println!("| after (35 s)   | {:>6.1} |", mib(rss_later));
        println!("altgate CPU while attacked: {:.2} cores", cpu / MEASURE.as_secs_f64());
        drop(altgate);
    });
}

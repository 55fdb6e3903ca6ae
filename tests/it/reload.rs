//! Reload without a restart, through the real binary over both real forests: `altgate serve`
//! under SIGHUP (what `systemctl reload altgate` sends) and `POST /api/v1/reload` keeps its
//! open HTTP/1.1 and HTTP/2 connections working while new handshakes get the re-read server
//! certificate (its serial checked), serves a relying party added to the file, and refuses an
//! invalid file as a whole, listing every problem, while the running configuration serves on.
//! The token-signing rollover (`altgate certs rollover`, then `promote`) is followed through
//! metadata, `altgate m365 federation-settings` and tokens xmlsec1 verifies.

use crate::harness;
use crate::kit::attack;
use crate::kit::cli::altgate;
use crate::kit::http::admin_request;
use crate::procs::Altgate;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const NEW_RP: &str = "urn:altgate:reload-test";
const SOAP: &str = "application/soap+xml; charset=utf-8";
const USERNAMEMIXED: &str = "/adfs/services/trust/13/usernamemixed";
const ID11: (&str, &str) = (
    "AssertionID",
    "urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
);

/// A running `altgate serve` with its files.
struct Node(Altgate);

impl std::ops::Deref for Node {
    type Target = Altgate;
    fn deref(&self) -> &Altgate {
        &self.0
    }
}

impl Node {
    async fn start(name: &str, yaml: &str, dir: PathBuf, https: u16, admin: u16) -> Node {
        Node(Altgate::start(name, &dir, yaml, (https, admin), || true).await)
    }

    fn rewrite(&self, yaml: &str) {
        harness::write_private(&self.config, yaml.as_bytes());
    }

    fn sighup(&self) {
        let out = std::process::Command::new("kill")
            .args(["-HUP", &self.process.pid().to_string()])
            .output()
            .expect("kill");
        assert!(out.status.success(), "kill -HUP failed");
    }

    async fn metrics(&self) -> String {
        let (status, _, body) =
            harness::admin_get(self.admin, "/metrics", Some(harness::ADMIN_TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Waits (bounded) until `altgate_config_reloads_total{result}` reaches `count`.
    async fn reloads(&self, result: &str, count: f64) {
        let series = format!("altgate_config_reloads_total{{result=\"{result}\"}}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = crate::kit::config::sample(&self.metrics().await, &series).unwrap_or(0.0);
            if seen >= count {
                assert_eq!(seen, count, "{series}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{series} stayed at {seen}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The federation metadata it serves (TLS verified with `ca`).
    async fn metadata(&self, ca: &Path) -> String {
        let (status, md) = harness::https(
            self.https,
            ca,
            "GET",
            "/FederationMetadata/2007-06/FederationMetadata.xml",
            None,
            Vec::new(),
        )
        .await;
        assert_eq!(status, 200);
        md
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A TLS server certificate for `localhost` (the development generator, into `dir/name.*`).
fn server_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    altgate::tls::ensure_dev_certificate(
        &cert,
        &key,
        "localhost",
        altgate::clock::system_clock()(),
    )
    .expect("server certificate");
    (cert, key)
}

use harness::pem_body;

fn serial_of(der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("certificate");
    cert.raw_serial_as_string()
}

fn serial_of_file(path: &Path) -> String {
    serial_of(&altgate::keys::read_cert_der(path).expect("certificate"))
}

/// A verified TLS connection offering `alpn`; the server certificate's serial.
async fn connect(
    addr: SocketAddr,
    ca: &Path,
    alpn: &[u8],
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    String,
) {
    let tls = attack::tls_from([127, 0, 0, 1].into(), addr, attack::client_tls(ca, &[alpn]))
        .await
        .expect("verified TLS handshake");
    let serial = serial_of(
        tls.get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .expect("server certificate"),
    );
    (tls, serial)
}

/// A request for an HTTP/1.1 connection (path and `Host`) or, with `h2`, an HTTP/2 one
/// (absolute URI, which becomes `:authority`).
fn request(
    h2: bool,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> hyper::Request<Full<Bytes>> {
    let mut r = hyper::Request::builder().method(method);
    r = if h2 {
        r.uri(format!("https://localhost{path}"))
    } else {
        r.uri(path).header("host", "localhost")
    };
    if let Some(ct) = content_type {
        r = r.header("content-type", ct);
    }
    r.body(Full::new(Bytes::from(body.to_string())))
        .expect("request")
}

/// The two long-lived connections kept open across reloads: HTTP/1.1 keep-alive and HTTP/2.
struct Kept {
    h1: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    h2: hyper::client::conn::http2::SendRequest<Full<Bytes>>,
    tasks: [tokio::task::JoinHandle<hyper::Result<()>>; 2],
}

impl Kept {
    /// Opens both to `addr`, each on a verified TLS connection; the serial each was shown.
    async fn open(addr: SocketAddr, ca: &Path) -> (Kept, [String; 2]) {
        let (tls1, serial1) = connect(addr, ca, b"http/1.1").await;
        let (h1, conn1) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls1))
            .await
            .expect("http/1.1");
        let (tls2, serial2) = connect(addr, ca, b"h2").await;
        assert_eq!(tls2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (h2, conn2) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tls2),
        )
        .await
        .expect("http/2");
        let tasks = [tokio::spawn(conn1), tokio::spawn(conn2)];
        (Kept { h1, h2, tasks }, [serial1, serial2])
    }

    /// One request on the HTTP/2 connection (`h2`) or the HTTP/1.1 one, once it is ready.
    async fn send(
        &mut self,
        h2: bool,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> (u16, String) {
        let req = request(h2, method, path, content_type, body);
        let res = if h2 {
            self.h2.ready().await.expect("h2 ready");
            self.h2.send_request(req).await.expect("h2")
        } else {
            self.h1.ready().await.expect("h1 ready");
            self.h1.send_request(req).await.expect("h1")
        };
        answer(res).await
    }

    async fn probe(&mut self, h2: bool) -> u16 {
        self.send(h2, "GET", "/adfs/probe", None, "").await.0
    }

    /// A WS-Trust token request for `applies_to`.
    async fn token(&mut self, h2: bool, applies_to: &str) -> (u16, String) {
        self.send(h2, "POST", USERNAMEMIXED, Some(SOAP), &rst(applies_to))
            .await
    }

    /// Neither connection has ended.
    fn open_still(&self) -> bool {
        self.tasks.iter().all(|t| !t.is_finished())
    }
}

async fn answer(res: hyper::Response<hyper::body::Incoming>) -> (u16, String) {
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The WS-Trust 1.3 request MSAL sends, for `applies_to`.
fn rst(applies_to: &str) -> String {
    crate::kit::wstrust::rst13("jdoe@contoso.com", &harness::forests().user_password)
        .replace("urn:federation:MicrosoftOnline", applies_to)
}

/// A Microsoft 365 token over WS-Trust from `addr` (TLS verified with `ca`), which xmlsec1
/// verifies with the signing certificate `signing`; the response.
async fn signed_token(node: &Node, ca: &Path, signing: &Path) -> String {
    let (status, body) = harness::https(
        node.https,
        ca,
        "POST",
        USERNAMEMIXED,
        Some(SOAP),
        rst("urn:federation:MicrosoftOnline").into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{body}\n{}", node.log_text());
    assert!(
        harness::xmlsec_verify(&body, signing, ID11.0, ID11.1),
        "{body}"
    );
    body
}

/// `altgate certs status --json`: its exit code and `(certificate, running)` of each entry.
fn certs_status(cfg: &str) -> (Option<i32>, Vec<(String, String)>) {
    let out = altgate(&["certs", "status", "--json", "--config", cfg]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let list = v["certificates"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| {
            (
                c["certificate"].as_str().unwrap_or("").to_string(),
                c["running"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    (out.status.code(), list)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// The files of a rollover test in `dir`: a TLS pair, OpenSSL's current signing pair (`CN=cn`,
/// valid `days`), where the next pair goes, and the token sections naming them all (`extra` goes
/// after the key files).
struct SigningFiles {
    tls_cert: PathBuf,
    tls_key: PathBuf,
    cert: PathBuf,
    next_cert: PathBuf,
    next_key: PathBuf,
    /// The current certificate's PEM body as written.
    original: String,
    tokens: String,
}

fn signing_files(dir: &Path, cn: &str, days: u32, extra: &str) -> SigningFiles {
    std::fs::create_dir_all(dir).expect("dir");
    let (tls_cert, tls_key) = server_pair(dir, "server");
    let (cert, key) = harness::openssl_pair(dir, "signing", cn, days);
    let (next_cert, next_key) = (dir.join("signing-next.crt"), dir.join("signing-next.key"));
    let (openssl_cert, openssl_key) = harness::signing_pair();
    let tokens = harness::token_yaml()
        .replace(
            &openssl_cert.display().to_string(),
            &cert.display().to_string(),
        )
        .replace(
            &format!("key_file: {}", openssl_key.display()),
            &format!(
                "key_file: {}, next_cert_file: {}, next_key_file: {}{extra}",
                key.display(),
                next_cert.display(),
                next_key.display()
            ),
        );
    assert!(tokens.contains("next_key_file"), "{tokens}");
    SigningFiles {
        original: pem_body(&cert),
        tls_cert,
        tls_key,
        cert,
        next_cert,
        next_key,
        tokens,
    }
}

/// Server and admin sections for `port`/`admin_port` with TLS from `cert`/`key`.
fn node_yaml(
    port: u16,
    admin_port: u16,
    cert: &Path,
    key: &Path,
    tokens: &str,
    public_host: &str,
) -> String {
    let token_file = harness::secret_file("admin-token", harness::ADMIN_TOKEN);
    harness::both_forests_yaml(&format!(
        "{tokens}admin: {{ listen: '127.0.0.1:{admin_port}', bearer_token_file: '{}' }}\nlogging: {{ level: info }}\n",
        token_file.display()
    ))
    .replace(
        "server: { listen: 127.0.0.1:0, public_url: https://sts.altgate.test }",
        &format!(
            "server: {{ listen: 127.0.0.1:{port}, public_url: 'https://{public_host}:{port}', tls: {{ cert_file: {}, key_file: {} }} }}",
            cert.display(),
            key.display()
        ),
    )
}

fn with_rp(tokens: &str) -> String {
    tokens.replacen(
        "relying_parties:\n",
        &format!("relying_parties:\n  - {{ identifier: '{NEW_RP}', token_type: saml11 }}\n"),
        1,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_swaps_the_certificate_and_relying_parties_without_dropping_connections() {
    // Both forests up: the test that stops a DC waits for this one.
    let _g = harness::shared().await;
    let dir = harness::private_dir().join("reload-sighup");
    std::fs::create_dir_all(&dir).expect("dir");
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let (a_cert, a_key) = server_pair(&dir, "a");
    let (b_cert, b_key) = server_pair(&dir, "b");
    std::fs::copy(&a_cert, &cert).expect("copy");
    std::fs::copy(&a_key, &key).expect("copy");
    // The client trusts both certificates; which one it is shown is read from the handshake.
    let ca = dir.join("ca.pem");
    let both = [
        std::fs::read(&a_cert).expect("a"),
        std::fs::read(&b_cert).expect("b"),
    ]
    .concat();
    std::fs::write(&ca, both).expect("ca");
    let (a_serial, b_serial) = (serial_of_file(&a_cert), serial_of_file(&b_cert));
    assert_ne!(a_serial, b_serial);

    let (port, admin_port) = (harness::free_port(), harness::free_port());
    let tokens = harness::token_yaml();
    let yaml = node_yaml(port, admin_port, &cert, &key, &tokens, "localhost");
    let node = Node::start("sighup", &yaml, dir.clone(), port, admin_port).await;

    // Two long-lived connections, HTTP/1.1 keep-alive and HTTP/2, both on certificate A.
    let (mut kept, serials) = Kept::open(node.https, &ca).await;
    assert_eq!(serials, [a_serial.clone(), a_serial.clone()]);
    for h2 in [false, true] {
        assert_eq!(kept.probe(h2).await, 200);
    }
    // The new relying party is unknown before the reload.
    let (status, body) = kept.token(false, NEW_RP).await;
    assert_ne!(status, 200, "{body}");

    // New certificate (rename over the files, as a renewal tool does) and a new relying party.
    std::fs::copy(&b_key, dir.join("next.key")).expect("copy");
    std::fs::copy(&b_cert, dir.join("next.crt")).expect("copy");
    std::fs::rename(dir.join("next.key"), &key).expect("rename");
    std::fs::rename(dir.join("next.crt"), &cert).expect("rename");
    node.rewrite(&node_yaml(
        port,
        admin_port,
        &cert,
        &key,
        &with_rp(&tokens),
        "localhost",
    ));
    node.sighup();
    node.reloads("applied", 1.0).await;
    let log = node.log_text();
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(log.contains("relying_parties"), "{log}");
    assert!(log.contains("server.tls (certificate)"), "{log}");

    // The open connections carry on, on certificate A; the relying party works on both.
    for _ in 0..3 {
        for h2 in [false, true] {
            assert_eq!(kept.probe(h2).await, 200, "h2: {h2}");
        }
    }
    for h2 in [false, true] {
        let (status, body) = kept.token(h2, NEW_RP).await;
        assert_eq!(status, 200, "{body}\n{}", node.log_text());
        assert!(body.contains(NEW_RP), "{body}");
    }
    assert!(kept.open_still(), "a connection closed");

    // A new connection is shown certificate B, and its expiry is exported.
    let (_, serial) = connect(node.https, &ca, b"http/1.1").await;
    assert_eq!(serial, b_serial);
    let (_, b_expiry) =
        altgate::keys::cert_info(&altgate::keys::read_cert_der(&b_cert).expect("b"))
            .expect("b expiry");
    let metrics = node.metrics().await;
    assert_eq!(
        crate::kit::config::sample(
            &metrics,
            "altgate_tls_certificate_expiry_timestamp_seconds{listener=\"public\"}"
        ),
        Some(b_expiry.unix_timestamp() as f64)
    );
    assert_eq!(
        crate::kit::config::sample(&metrics, "altgate_config_last_reload_successful"),
        Some(1.0)
    );

    // An invalid file is refused as a whole, every problem logged; the running one serves on.
    node.rewrite(
        &(node_yaml(port, admin_port, &cert, &key, &tokens, "localhost").replace(
            "logging: { level: info }",
            "logging: { level: info, colour: always }",
        ) + "cache: { ttl: forever }\n"),
    );
    node.sighup();
    node.reloads("invalid", 1.0).await;
    let log = node.log_text();
    assert!(log.contains("configuration reload refused"), "{log}");
    assert!(log.contains("logging.colour"), "{log}");
    assert!(log.contains("cache.ttl"), "{log}");
    assert_eq!(
        crate::kit::config::sample(
            &node.metrics().await,
            "altgate_config_last_reload_successful"
        ),
        Some(0.0)
    );
    let (status, body) = kept.token(true, NEW_RP).await;
    assert_eq!(
        status, 200,
        "the running configuration (with the new relying party) stays: {body}"
    );
    let (_, serial) = connect(node.https, &ca, b"h2").await;
    assert_eq!(serial, b_serial);

    // The admin API reloads too, and says what it did; a change needs the bearer token.
    let (status, _, body) = admin_request(node.admin, "POST", "/api/v1/reload", None).await;
    assert_eq!(status, 401, "{body}");
    let (status, _, body) = admin_request(
        node.admin,
        "POST",
        "/api/v1/reload",
        Some(harness::ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["result"], "invalid");
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(2), "{body}");
    node.rewrite(&node_yaml(
        port,
        admin_port,
        &cert,
        &key,
        &tokens,
        "localhost",
    ));
    let (status, _, body) = admin_request(
        node.admin,
        "POST",
        "/api/v1/reload",
        Some(harness::ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["result"], "applied");
    assert_eq!(
        v["changed"],
        serde_json::json!(["relying_parties"]),
        "{body}"
    );
    assert_eq!(v["directory_kept"], true, "{body}");
    let (status, _) = kept.token(false, NEW_RP).await;
    assert_ne!(
        status, 200,
        "the relying party removed from the file is gone"
    );
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signing_rollover_is_published_then_promoted_by_reloads() {
    // Both forests up: the test that stops a DC waits for this one.
    let _g = harness::shared().await;
    let dir = harness::private_dir().join("reload-rollover");
    // The current pair: OpenSSL's (a year, so Entra would take it), where promote may move it.
    let SigningFiles {
        tls_cert,
        tls_key,
        cert,
        next_cert,
        next_key,
        original,
        tokens,
    } = signing_files(&dir, "altgate reload test signing", 365, "");
    let (port, admin_port) = (harness::free_port(), harness::free_port());
    // A public name (`/etc/hosts` points it at loopback): Entra is never handed localhost.
    let yaml = node_yaml(
        port,
        admin_port,
        &tls_cert,
        &tls_key,
        &tokens,
        "sts.contoso.com",
    );
    let node = Node::start("rollover", &yaml, dir.clone(), port, admin_port).await;
    let cfg = node.config.to_str().expect("utf-8").to_string();
    assert!(!node.metadata(&tls_cert).await.contains("signing-next"));

    // Rollover: the next pair is written; a reload publishes it.
    let out = altgate(&["certs", "rollover", "--config", &cfg]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(next_cert.exists() && next_key.exists());
    let out = altgate(&["certs", "rollover", "--config", &cfg]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a second rollover needs --force"
    );
    // Written, not yet loaded: `certs status` says so (and exits 1) until a reload.
    assert_eq!(
        certs_status(&cfg),
        (
            Some(1),
            pairs(&[
                ("server_tls", "same"),
                ("token_signing_current", "same"),
                ("token_signing_next", "not_loaded"),
            ])
        )
    );
    let (status, _, body) = admin_request(
        node.admin,
        "POST",
        "/api/v1/reload",
        Some(harness::ADMIN_TOKEN),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let md = node.metadata(&tls_cert).await;
    assert!(md.contains(&pem_body(&cert)), "current still published");
    assert!(md.contains(&pem_body(&next_cert)), "next published: {md}");
    let metrics = node.metrics().await;
    assert!(
        crate::kit::config::sample(
            &metrics,
            "altgate_token_signing_certificate_expiry_timestamp_seconds{certificate=\"next\"}"
        )
        .is_some(),
        "next certificate's expiry exported"
    );
    let out = altgate(&[
        "m365",
        "federation-settings",
        "--config",
        &cfg,
        "--format",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["contoso.com"]["signingCertificate"], pem_body(&cert));
    assert_eq!(
        v["contoso.com"]["nextSigningCertificate"],
        pem_body(&next_cert)
    );

    // Promote: refused while the next certificate is new, then forced; a SIGHUP applies it.
    let out = altgate(&["certs", "promote", "--config", &cfg]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("5 days"));
    let promoted = pem_body(&next_cert);
    let out = altgate(&["certs", "promote", "--force", "--config", &cfg]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(pem_body(&cert), promoted);
    assert!(!next_cert.exists() && !next_key.exists());
    let previous = dir.join("signing.crt.previous");
    assert_eq!(pem_body(&previous), original);
    // Promoted on disk, not yet in the service.
    assert_eq!(
        certs_status(&cfg),
        (
            Some(1),
            pairs(&[
                ("server_tls", "same"),
                ("token_signing_current", "different"),
                ("token_signing_next", "only_running"),
            ])
        )
    );
    node.sighup();
    node.reloads("applied", 2.0).await;

    // Tokens are signed with the promoted key: xmlsec1 verifies them with it, not the old one.
    let body = signed_token(&node, &tls_cert, &cert).await;
    assert!(!harness::xmlsec_verify(&body, &previous, ID11.0, ID11.1));
    let md = node.metadata(&tls_cert).await;
    assert!(md.contains(&promoted) && !md.contains(&pem_body(&previous)));
    let metrics = node.metrics().await;
    assert!(
        crate::kit::config::sample(
            &metrics,
            "altgate_token_signing_certificate_expiry_timestamp_seconds{certificate=\"next\"}"
        )
        .is_none(),
        "no next certificate after the promotion"
    );
    assert_eq!(
        certs_status(&cfg),
        (
            Some(0),
            pairs(&[("server_tls", "same"), ("token_signing_current", "same")])
        )
    );
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_rollover_on_shared_files_is_followed_by_both_nodes() {
    // Both forests up: the test that stops a DC waits for this one.
    let _g = harness::shared().await;
    let dir = harness::private_dir().join("reload-auto");
    // The current pair expires in 10 days: inside AD FS's 20-day generation threshold.
    let SigningFiles {
        tls_cert,
        tls_key,
        cert,
        next_cert,
        original,
        tokens,
        ..
    } = signing_files(
        &dir,
        "altgate auto rollover test",
        10,
        ", auto_rollover: { promote_after: 6s, check_interval: 1s }",
    );
    let mut nodes = Vec::new();
    for name in ["auto-a", "auto-b"] {
        let node_dir = dir.join(name);
        std::fs::create_dir_all(&node_dir).expect("dir");
        let (port, admin_port) = (harness::free_port(), harness::free_port());
        let yaml = node_yaml(port, admin_port, &tls_cert, &tls_key, &tokens, "localhost");
        nodes.push(Node::start(name, &yaml, node_dir, port, admin_port).await);
    }
    // Within a few rounds one node writes the next pair and both publish it beside the current.
    let deadline = Instant::now() + Duration::from_secs(30);
    let next_body = loop {
        if next_cert.exists() {
            let body = pem_body(&next_cert);
            let mut published = 0;
            for n in &nodes {
                let md = n.metadata(&tls_cert).await;
                if md.contains(&body) && md.contains(&original) {
                    published += 1;
                }
            }
            if published == nodes.len() {
                break body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the next pair was not published by both nodes:\n{}",
            nodes[0].log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // Six seconds later one node promotes it and both sign with it.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let mut signing = 0;
        for n in &nodes {
            let md = n.metadata(&tls_cert).await;
            if md.contains(&next_body) && !md.contains(&original) {
                signing += 1;
            }
        }
        if signing == nodes.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the promotion was not followed by both nodes:\n{}",
            nodes[1].log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(pem_body(&cert), next_body);
    assert_eq!(pem_body(&dir.join("signing.crt.previous")), original);
    for n in &nodes {
        signed_token(n, &tls_cert, &cert).await;
    }
    // Each step was taken once, by one node, under the lock.
    let mut steps = 0.0;
    for n in &nodes {
        steps += crate::kit::config::sample(
            &n.metrics().await,
            "altgate_events_total{category=\"operational\",event=\"token_signing_rollover\"}",
        )
        .unwrap_or(0.0);
    }
    assert_eq!(steps, 2.0, "one generation and one promotion in all");
    drop(nodes);
    let _ = std::fs::remove_dir_all(&dir);
}

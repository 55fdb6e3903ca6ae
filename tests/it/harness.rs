//! Shared test harness: the AD test forests (started once per test binary), configurations
//! pointing at them, and a lock that lets the one test that stops a domain controller run alone.

#![allow(dead_code)]

use altgate::config::Config;
use altgate::metrics::Metrics;
use altgate::App;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// One forest as `scripts/ad-forests.sh` describes it in `forests.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Forest {
    pub name: String,
    pub netbios: String,
    pub ip: String,
    pub base_dn: String,
    pub gc_url: String,
    pub dc_url: String,
    pub ca_file: String,
    pub service_user: String,
    pub service_password: String,
    /// The domain Administrator, for tests that manage their own throwaway users
    /// (`ad_users`); empty in a `forests.json` written before it was added.
    #[serde(default)]
    pub admin_dn: String,
    #[serde(default)]
    pub admin_password: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Forests {
    pub forests: Vec<Forest>,
    pub user_password: String,
}

impl Forests {
    pub fn get(&self, name: &str) -> &Forest {
        self.forests
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("forest {name} missing from forests.json"))
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn state_dir() -> PathBuf {
    std::env::var_os("ALTGATE_AD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/altgate-ad"))
}

/// What to run when the machine lacks the test forests and tools.
const HOW_TO_RUN: &str = "altgate's integration tests need two Samba AD test forests, Redis, \
xmlsec1, Prometheus, Chromium and a Python venv, which `bash scripts/test.sh` installs and starts \
(as root) before running `cargo test`; run that instead (README: Testing). Unit tests alone: \
`cargo test --lib`.";

/// Stops the test binary with `why` and [`HOW_TO_RUN`] when the environment is not prepared.
pub fn unprepared(why: &str) -> ! {
    eprintln!("\n{why}\n\n{HOW_TO_RUN}\n");
    std::process::exit(2);
}

fn script(args: &[&str]) {
    if Command::new("samba-tool")
        .arg("--version")
        .output()
        .is_err()
    {
        unprepared("samba-tool is not installed, so the AD test forests cannot start.");
    }
    let out = Command::new("bash")
        .arg(repo().join("scripts/ad-forests.sh"))
        .args(args)
        .output()
        .unwrap_or_else(|e| unprepared(&format!("cannot run scripts/ad-forests.sh: {e}")));
    assert!(
        out.status.success(),
        "scripts/ad-forests.sh {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The forests, provisioned and running (idempotent; once per test binary).
pub fn forests() -> &'static Forests {
    static FORESTS: OnceLock<Forests> = OnceLock::new();
    FORESTS.get_or_init(|| {
        script(&["up"]);
        let path = state_dir().join("forests.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        serde_json::from_str(&text).expect("parse forests.json")
    })
}

fn lock() -> &'static RwLock<()> {
    static LOCK: OnceLock<RwLock<()>> = OnceLock::new();
    LOCK.get_or_init(|| RwLock::new(()))
}

/// Tests that need both forests up hold this while they run.
pub async fn shared() -> RwLockReadGuard<'static, ()> {
    forests();
    lock().read().await
}

/// The test that stops a domain controller holds this: nobody else runs meanwhile.
pub async fn exclusive() -> RwLockWriteGuard<'static, ()> {
    forests();
    lock().write().await
}

pub fn stop_forest(short: &str) {
    script(&["stop", short]);
}

pub fn start_forest(short: &str) {
    script(&["start", short]);
}

/// A file holding `secret`, for `password_file`. Tests run concurrently, so each write goes to
/// a fresh temporary name and is renamed into place: a reader never sees a half-written file.
pub fn secret_file(name: &str, secret: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let dir = private_dir();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let p = dir.join(format!("{n}-{name}"));
    let tmp = dir.join(format!(".{n}-{name}.tmp"));
    write_private(&tmp, secret.as_bytes());
    std::fs::rename(&tmp, &p).expect("rename secret");
    p
}

/// This test run's directory for secrets and keys: mode 0700 under the temp folder (which
/// `scripts/test.sh` points at a private directory it removes after the run).
pub fn private_dir() -> PathBuf {
    use std::os::unix::fs::DirBuilderExt;
    let dir = std::env::temp_dir().join(format!("altgate-it-{}", std::process::id()));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .expect("temp dir");
    dir
}

/// Writes `bytes` to a new file readable only by its owner (0600).
pub fn write_private(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .expect("create private file");
    f.write_all(bytes).expect("write private file");
}

/// How a test wants a forest configured.
#[derive(Debug, Clone)]
pub struct ForestSpec {
    pub name: String,
    pub global_catalogs: Vec<String>,
    pub ca_file: String,
    pub password: String,
    pub domain_controllers: Vec<String>,
}

impl ForestSpec {
    pub fn real(name: &str) -> Self {
        let f = forests().get(name);
        ForestSpec {
            name: f.name.clone(),
            global_catalogs: vec![f.gc_url.clone()],
            ca_file: f.ca_file.clone(),
            password: f.service_password.clone(),
            domain_controllers: vec![f.dc_url.clone()],
        }
    }
}

/// YAML for a configuration over `specs`, alternate ID `mail` in `lookup` forests.
pub fn config_yaml(specs: &[ForestSpec], lookup: &[&str], extra: &str) -> String {
    let mut y =
        String::from("server: { listen: 127.0.0.1:0, public_url: https://sts.altgate.test }\n");
    if !lookup.is_empty() {
        y.push_str(&format!(
            "alternate_login_id: {{ attribute: mail, lookup_forests: [{}] }}\n",
            lookup.join(", ")
        ));
    }
    y.push_str("forests:\n");
    for s in specs {
        let f = forests().get(&s.name);
        let pw = secret_file(&format!("{}-{}.pw", s.name, s.password.len()), &s.password);
        y.push_str(&format!(
            "  - name: {}\n    global_catalogs: [{}]\n    domain_controllers: {{ {}: [{}] }}\n    service_account: {{ user: {}, password_file: {} }}\n    ca_file: {}\n",
            s.name,
            s.global_catalogs.join(", "),
            s.name,
            s.domain_controllers.join(", "),
            f.service_user,
            pw.display(),
            s.ca_file
        ));
    }
    y.push_str(extra);
    y
}

pub fn parse(yaml: &str) -> Config {
    Config::parse(yaml, "test").unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// The standard configuration: both real forests, alternate ID in both.
pub fn both_forests_yaml(extra: &str) -> String {
    config_yaml(
        &[
            ForestSpec::real("contoso.com"),
            ForestSpec::real("fabrikam.com"),
        ],
        &["contoso.com", "fabrikam.com"],
        extra,
    )
}

pub fn app(yaml: &str) -> Arc<App> {
    App::new(parse(yaml)).expect("build app")
}

/// Reads one sample of a metric from the text exposition, e.g.
/// `metric(&m, "altgate_forest_up{forest=\"contoso.com\"}")`.
/// Label names must be written in the exposition's (alphabetical) order, or the series would
/// silently never match; that is checked here.
pub fn metric(m: &Metrics, series: &str) -> f64 {
    if let Some((_, labels)) = series.split_once('{') {
        let names: Vec<&str> = labels
            .trim_end_matches('}')
            .split(',')
            .filter_map(|kv| kv.split_once('=').map(|(k, _)| k))
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(
            names, sorted,
            "write the labels of {series} in alphabetical order"
        );
    }
    let text = m.render();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
}

pub fn write_config(name: &str, yaml: &str) -> PathBuf {
    secret_file(name, yaml)
}

pub fn exists(p: &str) -> bool {
    Path::new(p).exists()
}

/// A token-signing pair made once per test binary with OpenSSL (an independent generator).
pub fn signing_pair() -> &'static (PathBuf, PathBuf) {
    static PAIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PAIR.get_or_init(|| {
        let dir = private_dir();
        let (cert, key) = (dir.join("token-signing.crt"), dir.join("token-signing.key"));
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=altgate test token signing",
                "-keyout",
            ])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (cert, key)
    })
}

/// The token-related configuration sections tests use.
pub fn token_yaml() -> String {
    let (cert, key) = signing_pair();
    format!(
        "token_signing: {{ cert_file: {}, key_file: {} }}\n\
         relying_parties:\n\
         \x20 - identifier: urn:federation:MicrosoftOnline\n\
         \x20   token_type: saml11\n\
         \x20   claims: [upn, immutable_id, alternate_login_id, inside_corporate_network, issuer_id, name]\n\
         \x20 - identifier: https://saml2.altgate.test/\n\
         \x20   token_type: saml20\n\
         federation:\n\
         \x20 federated_domains: [contoso.com, fabrikam.com]\n\
         \x20 internal_networks: [127.0.0.0/8]\n\
         \x20 display_name_order: family_given\n",
        cert.display(),
        key.display()
    )
}

/// A running altgate over TLS on port 0, with both real forests, token signing and relying
/// parties; stopped when dropped.
pub struct TestServer {
    pub app: Arc<App>,
    pub addr: std::net::SocketAddr,
    /// The admin listener (plain HTTP on loopback, bearer token required).
    pub admin: std::net::SocketAddr,
    /// The file holding the admin bearer token.
    pub admin_token_file: PathBuf,
    pub ca: PathBuf,
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start(extra: &str) -> TestServer {
        TestServer::start_with(
            &[
                ForestSpec::real("contoso.com"),
                ForestSpec::real("fabrikam.com"),
            ],
            extra,
        )
        .await
    }

    /// A server over the given forest variants (alternate ID in both forests).
    pub async fn start_with(specs: &[ForestSpec], extra: &str) -> TestServer {
        TestServer::start_with_token_yaml(specs, &token_yaml(), "", extra).await
    }

    /// A server whose inline `server:` mapping also gets `server_extra` (e.g.
    /// `, limits: { idle_timeout: 3s }`), with `tokens` as the token sections.
    pub async fn start_with_server_yaml(
        specs: &[ForestSpec],
        server_extra: &str,
        tokens: &str,
        extra: &str,
    ) -> TestServer {
        let keys = server_extra
            .trim_start()
            .trim_start_matches(',')
            .trim_start();
        TestServer::start_with_token_yaml(specs, tokens, keys, extra).await
    }

    /// A server with more `server:` keys (`server_keys` is flow-mapping entries, e.g.
    /// `trusted_proxies: ['127.0.0.1/32']`) and relying parties `rp_yaml` added to the usual
    /// ones (list items, indented two spaces).
    pub async fn start_with_server(server_keys: &str, rp_yaml: &str, extra: &str) -> TestServer {
        TestServer::start_with_token_yaml(
            &[
                ForestSpec::real("contoso.com"),
                ForestSpec::real("fabrikam.com"),
            ],
            &token_yaml().replacen(
                "relying_parties:\n",
                &format!("relying_parties:\n{rp_yaml}"),
                1,
            ),
            server_keys,
            extra,
        )
        .await
    }

    async fn start_with_token_yaml(
        specs: &[ForestSpec],
        tokens: &str,
        server_keys: &str,
        extra: &str,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("https://localhost:{}", addr.port());
        let admin_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind admin");
        let admin = admin_listener.local_addr().expect("admin addr");
        let admin_token_file = secret_file("admin-token", ADMIN_TOKEN);
        let extra = format!(
            "{extra}admin: {{ listen: '{admin}', bearer_token_file: '{}' }}\n",
            admin_token_file.display()
        );
        let yaml = config_yaml(specs, &["contoso.com", "fabrikam.com"], &format!("{tokens}{extra}")).replace(
            "server: { listen: 127.0.0.1:0, public_url: https://sts.altgate.test }",
            &format!(
                "server: {{ listen: 127.0.0.1:0, public_url: '{base}', tls: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }}{}{server_keys} }}",
                cert.display(),
                key.display(),
                if server_keys.is_empty() { "" } else { ", " }
            ),
        );
        let app = app(&yaml);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(altgate::http::serve_with_admin(
            app.clone(),
            listener,
            Some(admin_listener),
            async {
                let _ = stopped.await;
            },
        ));
        for _ in 0..250 {
            if cert.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        TestServer {
            app,
            addr,
            admin,
            admin_token_file,
            ca: cert,
            base,
            stop: Some(stop),
            _dir: dir,
        }
    }

    /// A server whose relying parties include `rp_yaml` (list items, indented two spaces).
    pub async fn start_with_relying_parties(rp_yaml: &str) -> TestServer {
        TestServer::start_with_token_yaml(
            &[
                ForestSpec::real("contoso.com"),
                ForestSpec::real("fabrikam.com"),
            ],
            &token_yaml().replacen(
                "relying_parties:\n",
                &format!("relying_parties:\n{rp_yaml}"),
                1,
            ),
            "",
            "",
        )
        .await
    }

    /// One browser-like HTTPS request: returns status, lower-cased headers and body.
    pub async fn browse(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        body: Option<Vec<u8>>,
    ) -> (u16, Vec<(String, String)>, String) {
        browse(self.addr, &self.ca, method, path, cookie, body).await
    }

    /// `GET path` on the admin listener with the bearer token (`None`: without).
    pub async fn admin_get(&self, path: &str, token: Option<&str>) -> (u16, String) {
        let (status, _, body) = admin_get(self.admin, path, token).await;
        (status, body)
    }

    /// The metrics exposition, scraped from the admin listener as Prometheus would.
    pub async fn scrape(&self) -> String {
        let (status, body) = self.admin_get("/metrics", Some(ADMIN_TOKEN)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// One HTTPS request over a verified TLS connection.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, String) {
        https(self.addr, &self.ca, method, path, content_type, body).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// One HTTPS/1.1 request to `addr`, verifying the server against `ca` as `localhost`.
pub async fn https(
    addr: std::net::SocketAddr,
    ca: &Path,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, String) {
    let headers: Vec<(&str, &str)> = content_type
        .map(|ct| ("content-type", ct))
        .into_iter()
        .collect();
    let (status, _, body) = send(
        tls_sender(addr, ca).await,
        method,
        path,
        "localhost",
        &headers,
        body,
    )
    .await;
    (status, body)
}

/// The Python interpreter of the venv holding Microsoft's MSAL (scripts/setup-python-clients.sh).
pub fn msal_python() -> &'static PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join("scripts/setup-python-clients.sh"))
            .output()
            .expect("run setup-python-clients.sh");
        assert!(
            out.status.success(),
            "setup-python-clients.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        PathBuf::from(
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .lines()
                .last()
                .unwrap_or_default(),
        )
    })
}

/// `xmlsec1 --verify` of `xml` with `cert`, the ID attribute given as `attr` of `node`
/// (`AssertionID urn:oasis:names:tc:SAML:1.0:assertion:Assertion`). True when it verifies.
pub fn xmlsec_verify(xml: &str, cert: &Path, id_attr: &str, node: &str) -> bool {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("signed.xml");
    std::fs::write(&file, xml).expect("write");
    let out = Command::new("xmlsec1")
        .arg("--verify")
        .arg(format!("--id-attr:{id_attr}"))
        .arg(node)
        .arg("--pubkey-cert-pem")
        .arg(cert)
        .arg(&file)
        .output()
        .expect("xmlsec1 must be installed (scripts/test.sh installs it)");
    out.status.success()
}

/// Signs `login` in through the library (resolution, then a bind on the account's DC).
pub async fn sign_in(
    app: &App,
    login: &str,
    password: &str,
) -> Result<altgate::signin::SignedIn, altgate::signin::SignInFailure> {
    let request = altgate::request::RequestContext::local([127, 0, 0, 1].into(), "test");
    let ctx =
        altgate::signin::SignInContext::new(altgate::signin::Protocol::Wstrust13, None, &request);
    app.sign_in
        .sign_in(
            login,
            &altgate::secret::Secret::new(password.to_string()),
            &ctx,
        )
        .await
}

/// The `name=value` of a `Set-Cookie` header named `name`.
pub fn set_cookie(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .filter_map(|(_, v)| v.split(';').next())
        .find(|c| c.starts_with(&format!("{name}=")) && !c.ends_with('='))
        .map(str::to_string)
}

/// A browser-like HTTPS request (form bodies, cookies, no redirect following).
pub async fn browse(
    addr: std::net::SocketAddr,
    ca: &Path,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<Vec<u8>>,
) -> (u16, Vec<(String, String)>, String) {
    let mut headers = vec![("accept-language", "en-US")];
    if !cookie.is_empty() {
        headers.push(("cookie", cookie));
    }
    if body.is_some() {
        headers.push(("content-type", "application/x-www-form-urlencoded"));
    }
    let sender = tls_sender(addr, ca).await;
    send(
        sender,
        method,
        path,
        "localhost",
        &headers,
        body.unwrap_or_default(),
    )
    .await
}

/// The bearer token test servers' admin listeners require.
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";

/// `GET path` on an admin listener (plain HTTP), with `Authorization: Bearer token` if given.
pub async fn admin_get(
    addr: std::net::SocketAddr,
    path: &str,
    token: Option<&str>,
) -> (u16, Vec<(String, String)>, String) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .expect("http handshake");
    tokio::spawn(conn);
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth
        .as_deref()
        .map(|a| ("authorization", a))
        .into_iter()
        .collect();
    send(sender, "GET", path, "localhost", &headers, Vec::new()).await
}

/// A plain-HTTP request to a local test service (the SAML SP): status, lower-cased headers, body.
pub async fn http_plain(
    port: u16,
    method: &str,
    path: &str,
    form_body: Option<Vec<u8>>,
) -> (u16, Vec<(String, String)>, String) {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
        .await
        .expect("http handshake");
    tokio::spawn(conn);
    let headers: Vec<(&str, &str)> = form_body
        .as_ref()
        .map(|_| ("content-type", "application/x-www-form-urlencoded"))
        .into_iter()
        .collect();
    let host = format!("localhost:{port}");
    send(
        sender,
        method,
        path,
        &host,
        &headers,
        form_body.unwrap_or_default(),
    )
    .await
}

/// Sends one request on `sender`: status, lower-cased response headers, body.
async fn send(
    mut sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    method: &str,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (u16, Vec<(String, String)>, String) {
    use http_body_util::{BodyExt, Full};
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body)))
        .expect("request");
    let res = sender.send_request(req).await.expect("response");
    let status = res.status().as_u16();
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// An HTTP/1.1 connection to `addr` over TLS verified against `ca` for the name `localhost`.
pub async fn tls_sender(
    addr: std::net::SocketAddr,
    ca: &Path,
) -> hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>> {
    let roots = altgate::tls::load_ca_bundle(ca).expect("ca");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").expect("name"),
            tcp,
        )
        .await
        .expect("verified TLS handshake");
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
        .await
        .expect("http handshake");
    tokio::spawn(conn);
    sender
}

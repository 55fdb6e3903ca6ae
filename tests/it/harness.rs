//! The real-component harness: the AD test forests (brought up once per test binary), the
//! configurations pointing at them, a lock that lets the one test that stops a domain controller
//! run alone, TLS test servers over both forests, and the third-party verifiers (MSAL, xmlsec1).
//! The generic fixtures are the kit's (`tests/kit/`), re-exported here for this binary's tests.
//!
//! Whether this binary runs at all is decided here ([`unprepared`]): without the forests (or
//! another component a test needs) it is skipped as a whole, saying so, unless
//! `ALTGATE_REAL_COMPONENTS=1` (set by `scripts/test.sh`), where a missing component fails.

#![allow(dead_code)]

use crate::kit;
use altgate::App;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use kit::certs::wait_for_certificate;
pub use kit::config::{app, metric, parse};
pub use kit::files::{private_dir, repo, secret_file, write_config, write_private};
pub use kit::forests::Forests;
pub use kit::http::{
    admin_get, browse, free_port, http_plain, https, request_from, set_cookie, tls_sender,
};

/// The environment variable that makes a missing component a failure instead of a skip.
/// `scripts/test.sh` sets it to `1`: there, a test that cannot run must not look like a pass.
pub const REQUIRE_REAL_COMPONENTS: &str = "ALTGATE_REAL_COMPONENTS";

/// What to run when the machine lacks the test forests and tools.
const HOW_TO_RUN: &str = "altgate's real-component tests (tests/it) need two Samba AD test \
forests, Redis, xmlsec1, Prometheus, Chromium and a Python venv, which `bash scripts/test.sh` \
installs and starts (as root) before running every test binary, with ALTGATE_REAL_COMPONENTS=1 \
(README: Tests). The tests that need nothing installed are in tests/hermetic (`cargo test \
--test hermetic`).";

fn real_components_required() -> bool {
    std::env::var_os(REQUIRE_REAL_COMPONENTS).is_some_and(|v| v == "1")
}

/// This machine lacks a component (`why`). With `ALTGATE_REAL_COMPONENTS=1` the calling test
/// fails with `why`. Without it, the whole binary is skipped: it says so on stderr (past the
/// test harness's output capture) and exits 0 before any further test of it completes, so no
/// test of it is reported as passed that did not run.
pub fn unprepared(why: &str) -> ! {
    if real_components_required() {
        panic!(
            "{why}\n\n{REQUIRE_REAL_COMPONENTS}=1: a missing component is a failure. {HOW_TO_RUN}"
        );
    }
    // Only the first test to get here speaks and exits; the others wait for the exit.
    static SKIPPING: Mutex<()> = Mutex::new(());
    let _alone = SKIPPING.lock().unwrap_or_else(|e| e.into_inner());
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\n==== SKIPPED, NOT PASSED: tests/it (altgate's real-component tests) did not run ====\n\
         Why: {why}\n\n{HOW_TO_RUN}\n\
         Set {REQUIRE_REAL_COMPONENTS}=1 to make this a failure instead.\n"
    );
    let _ = err.flush();
    std::process::exit(0);
}

/// Runs `scripts/ad-forests.sh args...`; why not, when it cannot.
fn script(args: &[&str]) -> Result<(), String> {
    if Command::new("samba-tool")
        .arg("--version")
        .output()
        .is_err()
    {
        return Err("samba-tool is not installed, so the AD test forests cannot start.".into());
    }
    let out = Command::new("bash")
        .arg(repo().join("scripts/ad-forests.sh"))
        .args(args)
        .output()
        .map_err(|e| format!("cannot run scripts/ad-forests.sh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "scripts/ad-forests.sh {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The forests, provisioned and running (idempotent; once per test binary). When they cannot
/// be brought up, the binary is [`unprepared`].
pub fn forests() -> &'static Forests {
    static FORESTS: OnceLock<Result<Forests, String>> = OnceLock::new();
    match FORESTS.get_or_init(|| {
        script(&["up"])?;
        kit::forests::read()
    }) {
        Ok(f) => f,
        Err(why) => unprepared(why),
    }
}

/// Skips (or, under `scripts/test.sh`, fails) the binary unless this machine has the real
/// components: the AD test forests up, which `scripts/test.sh` brings up with the rest. Every
/// test here calls it first, directly or through [`shared`] / [`exclusive`].
pub fn prepared() {
    forests();
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
    script(&["stop", short]).unwrap_or_else(|e| panic!("{e}"));
}

pub fn start_forest(short: &str) {
    script(&["start", short]).unwrap_or_else(|e| panic!("{e}"));
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

/// A self-signed RSA-2048 certificate (`CN=cn`, also valid for `localhost`) and its key, made
/// by OpenSSL (an independent generator) as `dir/name.crt` and `dir/name.key`, valid for
/// `days` from now.
pub fn openssl_pair(dir: &Path, name: &str, cn: &str, days: u32) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days"])
        .arg(days.to_string())
        .args(["-subj", &format!("/CN={cn}")])
        .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap_or_else(|e| unprepared(&format!("openssl cannot run ({e})")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// The base64 body of a PEM certificate file, as metadata and Entra ID carry it.
pub fn pem_body(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

/// A token-signing pair made once per test binary with OpenSSL (an independent generator).
pub fn signing_pair() -> &'static (PathBuf, PathBuf) {
    static PAIR: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    PAIR.get_or_init(|| {
        openssl_pair(
            &private_dir(),
            "token-signing",
            "altgate test token signing",
            30,
        )
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
        TestServer::start_at("localhost", specs, tokens, server_keys, extra).await
    }

    /// A server whose `public_url` names `host` (which must resolve to 127.0.0.1: `localhost`,
    /// or `sts.contoso.com`, which `scripts/ad-forests.sh` puts in `/etc/hosts`), with `tokens`
    /// as the token sections.
    pub async fn start_at_host(host: &str, specs: &[ForestSpec], tokens: &str) -> TestServer {
        TestServer::start_at(host, specs, tokens, "", "").await
    }

    async fn start_at(
        host: &str,
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
        let base = format!("https://{host}:{}", addr.port());
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
        wait_for_certificate(&cert).await;
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

/// The Python interpreter of the venv holding Microsoft's MSAL (scripts/setup-python-clients.sh).
pub fn msal_python() -> &'static PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("bash")
            .arg(repo().join("scripts/setup-python-clients.sh"))
            .output()
            .unwrap_or_else(|e| unprepared(&format!("cannot run setup-python-clients.sh: {e}")));
        if !out.status.success() {
            unprepared(&format!(
                "setup-python-clients.sh failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
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
        .unwrap_or_else(|e| {
            unprepared(&format!(
                "xmlsec1 cannot run ({e}); scripts/test.sh installs it"
            ))
        });
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

/// The bearer token test servers' admin listeners require.
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";

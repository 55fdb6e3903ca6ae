//! Windows integrated sign-in beside the password path, in one run, against the contoso test
//! forest's KDC and DC (a load harness; needs the `kerberos` feature).
//!
//! Run `scripts/ad-forests.sh up`, then `cargo bench --features kerberos --bench windows`. It:
//! 1. starts the `altgate serve` binary as its own process (its CPU time is read from /proc)
//!    with the contoso forest, the test keytab and the Microsoft 365 relying party;
//! 2. `kinit`s the test user and makes one fresh AP-REQ per request with MIT's GSS-API (the
//!    replay cache refuses a token twice), before any row runs, so the client's Kerberos work is
//!    not in altgate's figures;
//! 3. drives WS-Trust 1.3 windowstransport (Kerberos) and usernamemixed (the same user's
//!    password) over keep-alive HTTPS at concurrency 1 and 4: tokens/s, p50/p99, altgate's CPU
//!    per token, and that CPU in units of one RSA-2048 signature (measured here with the same key).

#[path = "common/mod.rs"]
mod common;

use bytes::Bytes;
use common::{client_config, cpu_seconds, forests, signing_pair, Stats};
use http_body_util::{BodyExt, Full};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(4);
const USER: &str = "krb-user";
const LOGIN: &str = "krb-user@contoso.com";

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rst(to: &str, security: &str) -> String {
    format!(
        "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:wsa='http://www.w3.org/2005/08/addressing' xmlns:wsu='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd'><s:Header><wsa:Action s:mustUnderstand='1'>http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</wsa:Action><wsa:MessageID>urn:uuid:1</wsa:MessageID><wsa:To s:mustUnderstand='1'>{to}</wsa:To>{security}</s:Header><s:Body><wst:RequestSecurityToken xmlns:wst='http://docs.oasis-open.org/ws-sx/ws-trust/200512'><wsp:AppliesTo xmlns:wsp='http://schemas.xmlsoap.org/ws/2004/09/policy'><wsa:EndpointReference><wsa:Address>urn:federation:MicrosoftOnline</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType><wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType></wst:RequestSecurityToken></s:Body></s:Envelope>"
    )
}

fn password_security(password: &str) -> String {
    format!(
        "<wsse:Security s:mustUnderstand='1' xmlns:wsse='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd'><wsse:UsernameToken wsu:Id='u'><wsse:Username>{LOGIN}</wsse:Username><wsse:Password>{}</wsse:Password></wsse:UsernameToken></wsse:Security>",
        altgate::xml::escape_text(password)
    )
}

/// `n` fresh SPNEGO initial tokens for `HTTP@host` from the credential cache in KRB5CCNAME.
fn tokens(host: &str, n: usize) -> Vec<String> {
    use base64::Engine;
    use libgssapi::context::{ClientCtx, CtxFlags};
    use libgssapi::name::Name;
    use libgssapi::oid::{GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE};
    (0..n)
        .map(|_| {
            let target = Name::new(
                format!("HTTP@{host}").as_bytes(),
                Some(GSS_NT_HOSTBASED_SERVICE),
            )
            .expect("name");
            let mut ctx = ClientCtx::new(
                None,
                target,
                CtxFlags::GSS_C_MUTUAL_FLAG,
                Some(GSS_MECH_SPNEGO),
            );
            let token = ctx.step(None, None).expect("initiate").expect("a token");
            base64::engine::general_purpose::STANDARD.encode(&*token)
        })
        .collect()
}

/// One row: `c` keep-alive connections posting to `path` for [`RUN`]; each request takes the
/// next Negotiate token from `negotiate` when given.
async fn load(
    port: u16,
    host: &str,
    ca: &std::path::Path,
    c: usize,
    path: &str,
    body: Bytes,
    negotiate: Option<Arc<Mutex<Vec<String>>>>,
) -> Stats {
    let config = client_config(ca);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (config, body, negotiate) = (config.clone(), body.clone(), negotiate.clone());
        let (host, path) = (host.to_string(), path.to_string());
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(
                    rustls::pki_types::ServerName::try_from(host.clone()).expect("name"),
                    tcp,
                )
                .await
                .expect("tls");
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                    .await
                    .expect("handshake");
            tokio::spawn(conn);
            let mut lat = Vec::new();
            while start.elapsed() < RUN {
                let mut req = hyper::Request::post(path.as_str())
                    .header("host", host.as_str())
                    .header("content-type", "application/soap+xml; charset=utf-8");
                if let Some(n) = &negotiate {
                    let token = n
                        .lock()
                        .expect("tokens")
                        .pop()
                        .expect("enough tokens made up front");
                    req = req.header("authorization", format!("Negotiate {token}"));
                }
                let t = Instant::now();
                let res = sender
                    .send_request(req.body(Full::new(body.clone())).expect("request"))
                    .await
                    .expect("response");
                let status = res.status();
                let _ = res.into_body().collect().await.expect("body");
                assert_eq!(status, 200, "token request failed");
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    Stats::join(tasks, start).await
}

fn main() {
    let forests = forests("windows bench");
    let state = PathBuf::from(
        std::env::var("ALTGATE_AD_DIR").unwrap_or_else(|_| "/var/tmp/altgate-ad".into()),
    );
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.join("forests.json")).expect("forests.json"),
    )
    .expect("json");
    let k = json["forests"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "contoso.com"))
        .map(|f| f["kerberos"].clone())
        .expect("Kerberos fixtures (scripts/ad-forests.sh up)");
    let (krb5_conf, keytab, host) = (
        k["krb5_conf"].as_str().expect("krb5_conf").to_string(),
        k["keytab"].as_str().expect("keytab").to_string(),
        k["host"].as_str().expect("host").to_string(),
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = tmp.path();
    // The bench is the Kerberos client: its own cache, set before any thread starts.
    let cache = t.join("cc");
    std::env::set_var("KRB5_CONFIG", &krb5_conf);
    std::env::set_var("KRB5CCNAME", format!("FILE:{}", cache.display()));
    let mut kinit = Command::new("kinit")
        .arg(format!("{USER}@CONTOSO.COM"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("kinit");
    {
        use std::io::Write;
        writeln!(
            kinit.stdin.take().expect("stdin"),
            "{}",
            forests.user_password
        )
        .expect("password");
    }
    assert!(kinit.wait().expect("kinit").success(), "kinit failed");

    let (sign_crt, sign_key) = signing_pair();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let f = forests.get("contoso.com");
    let pw = t.join("svc.pw");
    std::fs::write(&pw, &f.service_password).expect("pw");
    let server_crt = t.join("server.crt");
    let yaml = format!(
        "server: {{ listen: 127.0.0.1:{port}, public_url: 'https://{host}:{port}', tls: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }}, limits: {{ max_connections_per_ip: 4096 }} }}\n\
         alternate_login_id: {{ attribute: mail, lookup_forests: [contoso.com] }}\n\
         forests:\n  - name: contoso.com\n    global_catalogs: [{}]\n    domain_controllers: {{ contoso.com: [{}] }}\n    service_account: {{ user: {}, password_file: {} }}\n    ca_file: {}\n\
         directory: {{ pool_size: 8 }}\n\
         token_signing: {{ cert_file: {}, key_file: {} }}\n\
         relying_parties: [{{ identifier: 'urn:federation:MicrosoftOnline', token_type: saml11 }}]\n\
         federation: {{ federated_domains: [contoso.com], internal_networks: [127.0.0.0/8] }}\n\
         kerberos: {{ keytab_file: {keytab}, service_principal: 'HTTP/{host}' }}\n\
         logging: {{ level: error }}\n",
        server_crt.display(),
        t.join("server.key").display(),
        f.gc_url,
        f.dc_url,
        f.service_user,
        pw.display(),
        f.ca_file,
        sign_crt.display(),
        sign_key.display()
    );
    let cfg = t.join("altgate.yaml");
    std::fs::write(&cfg, yaml).expect("config");
    let child = Command::new(env!("CARGO_BIN_EXE_altgate"))
        .args(["serve", "--config"])
        .arg(&cfg)
        .spawn()
        .expect("start altgate");
    let server = Server { child };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        for _ in 0..200 {
            if server_crt.exists() && tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // RSA-2048 signature cost with the same key, single thread.
        let rsa = common::rsa_signature_seconds();
        let made = Instant::now();
        let pool = Arc::new(Mutex::new(tokens(&host, 14000)));
        println!("14000 AP-REQs made up front in {:.1} s (client side, not measured below)", made.elapsed().as_secs_f64());
        let base = format!("https://{host}:{port}");
        let windows = Bytes::from(rst(&format!("{base}/adfs/services/trust/13/windowstransport"), ""));
        let password = Bytes::from(rst(
            &format!("{base}/adfs/services/trust/13/usernamemixed"),
            &password_security(&forests.user_password),
        ));
        // Warm-up: the resolution cache, the DC pools.
        let _ = load(port, &host, &server_crt, 1, "/adfs/services/trust/13/usernamemixed", password.clone(), None).await;
        let rows: [(&str, &str, &Bytes, bool); 2] = [
            ("Kerberos (windowstransport 1.3)", "/adfs/services/trust/13/windowstransport", &windows, true),
            ("password (usernamemixed 1.3)", "/adfs/services/trust/13/usernamemixed", &password, false),
        ];
        for c in [1usize, 4] {
            for (label, path, body, negotiate) in rows.iter() {
                let cpu0 = cpu_seconds(server.child.id());
                let mut st = load(
                    port,
                    &host,
                    &server_crt,
                    c,
                    path,
                    (*body).clone(),
                    negotiate.then(|| pool.clone()),
                )
                .await;
                let cpu1 = cpu_seconds(server.child.id());
                let per = ((cpu1.0 - cpu0.0) + (cpu1.1 - cpu0.1)) / st.latencies.len() as f64;
                println!(
                    "c={c:<2} {label:<33} {:>6.0} tokens/s  p50 {:>6.2} ms  p99 {:>6.2} ms  altgate CPU {:.3} ms/token ({:.2}x one RSA signature)",
                    st.rate(),
                    st.pct_ms(0.5),
                    st.pct_ms(0.99),
                    per * 1e3,
                    per / rsa
                );
            }
        }
    });
}

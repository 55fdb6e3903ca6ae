//! Windows integrated sign-in against the real contoso forest's KDC: MIT `kinit` gets tickets
//! (users, a domain-joined computer), python-gssapi / requests-gssapi (an independent client,
//! mutual authentication required) present them to an `altgate serve` process built with the
//! `kerberos` feature, over WS-Federation at `/adfs/ls/` and WS-Trust windowstransport. Tokens
//! are verified with xmlsec1; device claims are compared with what LDAP holds.

use crate::harness;
use crate::procs::Watched;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
const LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const MSO: &str = "urn:federation:MicrosoftOnline";
/// The trusted load balancer's address.
const LB: &str = "127.0.0.5";

/// The forests' Kerberos fixtures (`scripts/ad-forests.sh`, `forests.json`).
struct Kdc {
    krb5_conf: String,
    keytab: String,
    host: String,
    computer_password: String,
    user_password: String,
    sam_ldb: PathBuf,
}

fn kdc() -> Kdc {
    let dir = kit::forests::state_dir();
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("forests.json")).expect("forests.json"),
    )
    .expect("json");
    let k = json["forests"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "contoso.com"))
        .map(|f| f["kerberos"].clone())
        .filter(|k| k.is_object())
        .unwrap_or_else(|| {
            harness::unprepared("forests.json has no Kerberos fixtures for contoso.com")
        });
    Kdc {
        krb5_conf: k["krb5_conf"].as_str().unwrap_or_default().into(),
        keytab: k["keytab"].as_str().unwrap_or_default().into(),
        host: k["host"].as_str().unwrap_or_default().into(),
        computer_password: k["computer_password"].as_str().unwrap_or_default().into(),
        user_password: json["user_password"].as_str().unwrap_or_default().into(),
        sam_ldb: dir.join("contoso/private/sam.ldb"),
    }
}

use crate::kit;

/// A credential cache of `principal`, private to the test.
fn kinit(kdc: &Kdc, dir: &Path, principal: &str, password: &str) -> PathBuf {
    kinit_with(kdc, dir, &[principal], password)
}

/// `kinit args...` (the principal last) into a credential cache private to the test.
fn kinit_with(kdc: &Kdc, dir: &Path, args: &[&str], password: &str) -> PathBuf {
    let name = args.join("-").replace(['$', '@', '\\', ' '], "_");
    let cache = dir.join(format!("cc-{name}"));
    let mut child = Command::new("kinit")
        .args(args)
        .env("KRB5_CONFIG", &kdc.krb5_conf)
        .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| harness::unprepared(&format!("kinit: {e}")));
    use std::io::Write;
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("password");
    let out = child.wait_with_output().expect("kinit");
    assert!(
        out.status.success(),
        "kinit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cache
}

/// The WS-Fed sign-in request from an internal Edge, with `authorization` if given, sent by
/// hand (no Negotiate dance): the client's JSON answer.
fn edge_get(
    kdc: &Kdc,
    cache: &Path,
    node: &Node,
    ca: &str,
    authorization: Option<&str>,
) -> serde_json::Value {
    let url = wsfed(node);
    let header = authorization.map(|a| format!("Authorization: {a}"));
    let mut args = vec!["plain", "GET", url.as_str(), "--ua", EDGE, "--cacert", ca];
    if let Some(h) = &header {
        args.extend(["--header", h.as_str()]);
    }
    client(kdc, cache, &args)
}

/// `negotiate_client.py` with `cache`.
fn client(kdc: &Kdc, cache: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(harness::msal_python())
        .arg(kit::files::repo().join("scripts/negotiate_client.py"))
        .args(args)
        .env("KRB5_CONFIG", &kdc.krb5_conf)
        .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    if args.first() == Some(&"token") {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return serde_json::Value::String(stdout.trim().to_string());
    }
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "client said: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Sets `userAccountControl` of a contoso account directly in the DC's database.
fn set_uac(kdc: &Kdc, dn: &str, uac: u32) {
    let ldif = format!(
        "dn: {dn}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {uac}\n"
    );
    let dir = tempfile::tempdir().expect("dir");
    let f = dir.path().join("m.ldif");
    std::fs::write(&f, ldif).expect("ldif");
    let out = Command::new("ldbmodify")
        .arg("-H")
        .arg(&kdc.sam_ldb)
        .arg(&f)
        .output()
        .expect("ldbmodify");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One attribute of a contoso object, as `ldbsearch` prints it.
fn ldb_attr(kdc: &Kdc, filter: &str, attr: &str) -> String {
    let out = Command::new("ldbsearch")
        .arg("-H")
        .arg(&kdc.sam_ldb)
        .arg(filter)
        .arg(attr)
        .output()
        .expect("ldbsearch");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{attr}: ")).map(str::to_string))
        .unwrap_or_default()
}

/// An `altgate serve` built with Kerberos, at `https://sts.contoso.com:<port>`.
struct Node {
    base: String,
    ca: PathBuf,
    log: PathBuf,
    _process: Watched,
}

/// Starts the node; `rps` are more relying parties (list items), `extra` more sections.
async fn start(kdc: &Kdc, dir: &Path, rps: &str, extra: &str) -> Node {
    let port = kit::http::free_port();
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let base = format!("https://{}:{port}", kdc.host);
    // Microsoft 365 with its reply URL; the load balancer is 127.0.0.5 (requests from it name
    // their client in X-Forwarded-For), every other loopback client is internal.
    let tokens = harness::token_yaml().replacen(
        "  - identifier: urn:federation:MicrosoftOnline\n",
        &format!("{rps}  - identifier: urn:federation:MicrosoftOnline\n    reply_urls: ['https://login.microsoftonline.com/login.srf']\n"),
        1,
    );
    let yaml = harness::both_forests_yaml(&format!(
        "{tokens}kerberos: {{ keytab_file: {}, service_principal: 'HTTP/{}' }}\n\
         windows_integrated: {{ device_issuer_domain: contoso.com }}\n\
         logging: {{ level: info, format: json }}\n{extra}",
        kdc.keytab,
        kdc.host
    ))
    .replace(
        "server: { listen: 127.0.0.1:0, public_url: https://sts.altgate.test }",
        &format!(
            "server: {{ listen: 127.0.0.1:{port}, public_url: '{base}', tls: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }}, trusted_proxies: ['{LB}/32'] }}",
            cert.display(),
            key.display()
        ),
    );
    let cfg = dir.join("altgate.yaml");
    kit::files::write_private(&cfg, yaml.as_bytes());
    let check = Command::new(env!("CARGO_BIN_EXE_altgate"))
        .args([
            OsStr::new("check-config"),
            OsStr::new("--config"),
            cfg.as_os_str(),
        ])
        .output()
        .expect("check-config");
    let said = String::from_utf8_lossy(&check.stdout).to_string();
    assert!(
        check.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        said.contains(&format!("HTTP/{}@CONTOSO.COM kvno ", kdc.host))
            && said.contains("aes256-cts-hmac-sha1-96"),
        "check-config lists the keytab: {said}"
    );
    let log = dir.join("altgate.log");
    let mut process = Watched::spawn(
        Path::new(env!("CARGO_BIN_EXE_altgate")),
        [OsStr::new("serve"), OsStr::new("--config"), cfg.as_os_str()],
        &dir.join("altgate.pid"),
        &log,
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(cert.exists() && tokio::net::TcpStream::connect(addr).await.is_ok()) {
        assert!(
            process.alive() && Instant::now() < deadline,
            "altgate did not start:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Node {
        base,
        ca: cert,
        log,
        _process: process,
    }
}

fn wsfed(node: &Node) -> String {
    format!("{}/adfs/ls/?wa=wsignin1.0&wtrealm={MSO}", node.base)
}

fn rst13(node: &Node, dir: &Path) -> PathBuf {
    let to = format!("{}/adfs/services/trust/13/windowstransport", node.base);
    let body = format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header><wsa:Action s:mustUnderstand="1">http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</wsa:Action><wsa:MessageID>urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e</wsa:MessageID><wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo><wsa:To s:mustUnderstand="1">{to}</wsa:To></s:Header><s:Body><wst:RequestSecurityToken xmlns:wst="http://docs.oasis-open.org/ws-sx/ws-trust/200512"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference><wsa:Address>{MSO}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wst:KeyType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Bearer</wst:KeyType><wst:RequestType>http://docs.oasis-open.org/ws-sx/ws-trust/200512/Issue</wst:RequestType></wst:RequestSecurityToken></s:Body></s:Envelope>"#
    );
    let f = dir.join("rst13.xml");
    std::fs::write(&f, body).expect("rst");
    f
}

fn rst2005(node: &Node, dir: &Path) -> PathBuf {
    let to = format!("{}/adfs/services/trust/2005/windowstransport", node.base);
    let body = format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header><wsa:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue</wsa:Action><wsa:MessageID>urn:uuid:1f8fad5b-d9cb-469f-a165-70867728950e</wsa:MessageID><wsa:To s:mustUnderstand="1">{to}</wsa:To></s:Header><s:Body><wst:RequestSecurityToken xmlns:wst="http://schemas.xmlsoap.org/ws/2005/02/trust"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><wsa:EndpointReference><wsa:Address>{MSO}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><wst:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</wst:KeyType><wst:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</wst:RequestType></wst:RequestSecurityToken></s:Body></s:Envelope>"#
    );
    let f = dir.join("rst2005.xml");
    std::fs::write(&f, body).expect("rst");
    f
}

/// The value of claim `name` (SAML 1.1 AttributeName) in `xml`.
fn claim(xml: &str, name: &str) -> Option<String> {
    let at = xml.find(&format!("AttributeName=\"{name}\""))?;
    let rest = &xml[at..];
    let v = rest.find("<saml:AttributeValue>")? + "<saml:AttributeValue>".len();
    let end = rest[v..].find("</saml:AttributeValue>")?;
    Some(rest[v..v + end].to_string())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The `wresult` of a WS-Fed token page, unescaped.
fn wresult(page: &str) -> String {
    let at = page.find("name=\"wresult\" value=\"").expect("wresult") + 22;
    let end = page[at..].find('"').expect("end");
    unescape(&page[at..at + end])
}

fn reasons_of(node: &Node) -> Vec<String> {
    events(node, "windows_sign_in_failed")
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn events(node: &Node, name: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(&node.log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kerberos_signs_users_and_devices_in_with_the_password_claims_and_refuses_what_it_must() {
    let _guard = harness::shared().await;
    let kdc = kdc();
    let dir = tempfile::tempdir().expect("dir");
    let node = start(&kdc, dir.path(), "", "").await;
    let ca = node.ca.display().to_string();
    let cert = harness::signing_pair().0.clone();

    // A user with the alternate ID: WS-Fed, no form, mutual authentication verified.
    let user = kinit(&kdc, dir.path(), "krb-user@CONTOSO.COM", &kdc.user_password);
    let r = client(
        &kdc,
        &user,
        &[
            "request",
            "GET",
            &wsfed(&node),
            "--ua",
            EDGE,
            "--cacert",
            &ca,
        ],
    );
    assert_eq!(r["status"], 200, "{r}");
    assert_eq!(
        r["mutual"], "verified",
        "the acceptor's reply token verified: {r}"
    );
    let body = r["body"].as_str().unwrap_or_default();
    assert!(
        body.contains("wresult"),
        "a token page, not the form: {body}"
    );
    let token = wresult(body);
    assert!(harness::xmlsec_verify(
        &token,
        &cert,
        "AssertionID",
        "urn:oasis:names:tc:SAML:1.0:assertion:Assertion"
    ));
    assert_eq!(
        claim(&token, "UPN").as_deref(),
        Some("krb-user@contoso.com"),
        "the alternate ID is the cloud UPN"
    );
    assert_eq!(
        claim(&token, "insidecorporatenetwork").as_deref(),
        Some("true")
    );
    assert_eq!(claim(&token, "accounttype").as_deref(), Some("User"));
    assert!(token.contains("AuthenticationMethod=\"urn:federation:authentication:windows\""));
    assert_eq!(
        claim(&token, "authnmethodsreferences").as_deref(),
        Some("http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows")
    );
    // The same user by password: the same claims but the method.
    let s = harness::TestServer::start("").await;
    let (status, pw_token) = {
        let body =
            crate::wstrust::rst("13", "krb-user@contoso.com", &kdc.user_password, MSO, "", 0);
        let a = s
            .app
            .wstrust()
            .handle(
                altgate::tokens::rstr::Version::Trust13,
                body.as_bytes(),
                &altgate::request::RequestContext::local([127, 0, 0, 1].into(), "test"),
            )
            .await;
        (a.status.as_u16(), a.body)
    };
    assert_eq!(status, 200, "{pw_token}");
    for c in [
        "UPN",
        "ImmutableID",
        "alternateloginid",
        "name",
        "issuerid",
        "accounttype",
    ] {
        assert_eq!(claim(&token, c), claim(&pw_token, c), "claim {c}");
    }
    assert!(claim(&pw_token, "authnmethodsreferences").is_none());

    // A user without mail: the on-premises UPN.
    let nomail = kinit(
        &kdc,
        dir.path(),
        "krb-nomail@CONTOSO.COM",
        &kdc.user_password,
    );
    let r = client(
        &kdc,
        &nomail,
        &[
            "request",
            "GET",
            &wsfed(&node),
            "--ua",
            EDGE,
            "--cacert",
            &ca,
        ],
    );
    assert_eq!(
        claim(&wresult(r["body"].as_str().unwrap_or_default()), "UPN").as_deref(),
        Some("krb-nomail@corp.contoso.local")
    );

    // 300 groups: a large PAC gets in.
    let groups = kinit(
        &kdc,
        dir.path(),
        "krb-groups@CONTOSO.COM",
        &kdc.user_password,
    );
    let r = client(
        &kdc,
        &groups,
        &[
            "request",
            "GET",
            &wsfed(&node),
            "--ua",
            EDGE,
            "--cacert",
            &ca,
        ],
    );
    assert_eq!(
        claim(&wresult(r["body"].as_str().unwrap_or_default()), "UPN").as_deref(),
        Some("krb-groups@contoso.com")
    );

    // An unlisted User-Agent and an extranet client get the form, never a challenge.
    for extra in [
        vec!["--ua", LINUX],
        vec![
            "--ua",
            EDGE,
            "--source",
            LB,
            "--header",
            "X-Forwarded-For: 203.0.113.9",
        ],
    ] {
        let url = wsfed(&node);
        let mut args = vec!["plain", "GET", url.as_str(), "--cacert", &ca];
        args.extend(extra.iter().copied());
        let r = client(&kdc, &user, &args);
        assert_eq!(r["status"], 200, "{r}");
        assert!(
            r["body"].as_str().unwrap_or_default().contains("Password"),
            "the form: {r}"
        );
        assert!(
            r["headers"].get("www-authenticate").is_none(),
            "no challenge: {r}"
        );
    }

    // Raw: the challenge's body is the form; NTLM and a ticket for another SPN get the form
    // (200, no challenge: no loop); a replayed token is refused.
    let raw = |auth: Option<String>| {
        let r = edge_get(&kdc, &user, &node, &ca, auth.as_deref());
        let www = r["headers"]
            .get("www-authenticate")
            .and_then(|v| v.as_str())
            .map(str::to_string);
        (
            r["status"].as_u64().unwrap_or(0),
            www,
            r["body"].as_str().unwrap_or_default().to_string(),
        )
    };
    let (status, www, body) = raw(None);
    assert_eq!(status, 401);
    assert_eq!(www.as_deref(), Some("Negotiate"));
    assert!(
        body.contains("Password"),
        "the 401's body is the sign-in form"
    );
    let ntlm = "Negotiate TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==".to_string();
    let (status, www, body) = raw(Some(ntlm));
    assert_eq!((status, www), (200, None));
    assert!(body.contains("Password"));
    let other = client(&kdc, &user, &["token", "HTTP@other.contoso.com"]);
    let (status, www, _) = raw(Some(format!(
        "Negotiate {}",
        other.as_str().unwrap_or_default()
    )));
    assert_eq!((status, www), (200, None), "a ticket for another SPN");
    let once = client(&kdc, &user, &["token", "HTTP@sts.contoso.com"]);
    let once = format!("Negotiate {}", once.as_str().unwrap_or_default());
    let (_, _, first) = raw(Some(once.clone()));
    assert!(first.contains("wresult"), "the token's first use signs in");
    let (status, _, again) = raw(Some(once));
    assert_eq!(status, 200);
    assert!(
        !again.contains("wresult") && again.contains("Password"),
        "a replay gets the form"
    );

    // A user disabled after kinit is refused (state read fresh on a DC).
    // Its service ticket is taken first (the KDC would refuse one to a disabled account): the
    // ticket stays valid, the account does not.
    let victim = kinit(
        &kdc,
        dir.path(),
        "krb-disable1@CONTOSO.COM",
        &kdc.user_password,
    );
    let ticket = client(&kdc, &victim, &["token", "HTTP@sts.contoso.com"]);
    let dn = ldb_attr(&kdc, "(sAMAccountName=krb-disable1)", "dn");
    set_uac(&kdc, &dn, 514);
    let ticket = format!("Negotiate {}", ticket.as_str().unwrap_or_default());
    let r = edge_get(&kdc, &victim, &node, &ca, Some(&ticket));
    set_uac(&kdc, &dn, 512);
    assert_eq!(r["status"], 200, "{r}");
    let body = r["body"].as_str().unwrap_or_default();
    assert!(
        !body.contains("wresult") && body.contains("Password"),
        "disabled: the form: {r}"
    );

    // A domain-joined computer over windowstransport 1.3 and 2005: the device claims, as LDAP
    // holds them.
    let ws01 = kinit(
        &kdc,
        dir.path(),
        "WS01$@CONTOSO.COM",
        &kdc.computer_password,
    );
    let guid = ldb_attr(&kdc, "(sAMAccountName=WS01$)", "objectGUID");
    let sid = ldb_attr(&kdc, "(sAMAccountName=WS01$)", "objectSid");
    for (path, rst) in [
        ("13", rst13(&node, dir.path())),
        ("2005", rst2005(&node, dir.path())),
    ] {
        let url = format!("{}/adfs/services/trust/{path}/windowstransport", node.base);
        let rst = rst.display().to_string();
        let r = client(
            &kdc,
            &ws01,
            &[
                "request",
                "POST",
                &url,
                "--data",
                &rst,
                "--content-type",
                "application/soap+xml; charset=utf-8",
                "--cacert",
                &ca,
            ],
        );
        assert_eq!(r["status"], 200, "{r}");
        let body = r["body"].as_str().unwrap_or_default().to_string();
        assert!(
            harness::xmlsec_verify(
                &body,
                &cert,
                "AssertionID",
                "urn:oasis:names:tc:SAML:1.0:assertion:Assertion"
            ),
            "{path}"
        );
        assert_eq!(claim(&body, "accounttype").as_deref(), Some("DJ"));
        assert_eq!(claim(&body, "primarysid"), Some(sid.clone()));
        let onprem = claim(&body, "onpremobjectguid").unwrap_or_default();
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&onprem)
            .expect("b64");
        assert_eq!(bytes.len(), 16);
        // ldbsearch prints the GUID in its text form: the first three groups little-endian.
        let text = format!(
            "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{}",
            bytes[3],
            bytes[2],
            bytes[1],
            bytes[0],
            bytes[5],
            bytes[4],
            bytes[7],
            bytes[6],
            bytes[8],
            bytes[9],
            bytes[10..]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        assert_eq!(text, guid, "onpremobjectguid is the objectGUID");
        assert_eq!(claim(&body, "ImmutableID"), Some(onprem.clone()));
        assert_eq!(
            claim(&body, "issuerid").as_deref(),
            Some("http://contoso.com/adfs/services/trust/")
        );
    }
    // A computer disabled after its ticket was issued is refused (state read fresh).
    let ws02 = kinit(
        &kdc,
        dir.path(),
        "WS02$@CONTOSO.COM",
        &kdc.computer_password,
    );
    let ticket = client(&kdc, &ws02, &["token", "HTTP@sts.contoso.com"]);
    let ws02_dn = ldb_attr(&kdc, "(sAMAccountName=WS02$)", "dn");
    set_uac(&kdc, &ws02_dn, 4096 | 2);
    let url = format!("{}/adfs/services/trust/13/windowstransport", node.base);
    let rst = rst13(&node, dir.path()).display().to_string();
    let auth = format!(
        "Authorization: Negotiate {}",
        ticket.as_str().unwrap_or_default()
    );
    let r = client(
        &kdc,
        &ws02,
        &[
            "plain",
            "POST",
            &url,
            "--data",
            &rst,
            "--content-type",
            "application/soap+xml",
            "--cacert",
            &ca,
            "--header",
            &auth,
        ],
    );
    set_uac(&kdc, &ws02_dn, 4096);
    assert_eq!(r["status"], 500, "{r}");
    assert!(
        r["body"]
            .as_str()
            .unwrap_or_default()
            .contains("FailedAuthentication"),
        "{r}"
    );
    assert!(
        r["headers"].get("www-authenticate").is_none(),
        "no new challenge: {r}"
    );
    // An enterprise principal (kinit -E: the UPN, not canonicalised) names the same user.
    let enterprise = kinit_with(
        &kdc,
        dir.path(),
        &["-E", "krb-user@corp.contoso.local"],
        &kdc.user_password,
    );
    let r = client(
        &kdc,
        &enterprise,
        &[
            "request",
            "GET",
            &wsfed(&node),
            "--ua",
            EDGE,
            "--cacert",
            &ca,
        ],
    );
    assert_eq!(
        claim(&wresult(r["body"].as_str().unwrap_or_default()), "UPN").as_deref(),
        Some("krb-user@contoso.com"),
        "{r}"
    );
    // Mex advertises both windowstransport bindings.
    let r = client(
        &kdc,
        &ws01,
        &[
            "plain",
            "GET",
            &format!("{}/adfs/services/trust/mex", node.base),
            "--cacert",
            &ca,
        ],
    );
    assert_eq!(r["status"], 200);
    let mex = r["body"].as_str().unwrap_or_default();
    assert_eq!(mex.matches("NegotiateAuthentication").count(), 2);
    assert!(
        mex.contains("/adfs/services/trust/13/windowstransport")
            && mex.contains("/adfs/services/trust/2005/windowstransport")
    );
    // Extranet: windowstransport is not there.
    let url = format!("{}/adfs/services/trust/13/windowstransport", node.base);
    let rst = rst13(&node, dir.path()).display().to_string();
    let r = client(
        &kdc,
        &ws01,
        &[
            "request",
            "POST",
            &url,
            "--data",
            &rst,
            "--content-type",
            "application/soap+xml",
            "--cacert",
            &ca,
            "--source",
            LB,
            "--header",
            "X-Forwarded-For: 203.0.113.9",
        ],
    );
    assert_eq!(r["status"], 404, "{r}");
    // A computer on the browser endpoint is not a user.
    let r = client(
        &kdc,
        &ws01,
        &[
            "request",
            "GET",
            &wsfed(&node),
            "--ua",
            EDGE,
            "--cacert",
            &ca,
        ],
    );
    assert!(!r["body"].as_str().unwrap_or_default().contains("wresult"));

    // The audit trail: successes with the method, failures with their reasons.
    let ok = events(&node, "windows_sign_in_succeeded");
    assert!(ok.len() >= 7, "{ok:?}");
    assert_eq!(
        reasons_of(&node)
            .iter()
            .filter(|r| *r == "account_disabled")
            .count(),
        2,
        "the disabled user and the disabled computer"
    );
    let failed = events(&node, "windows_sign_in_failed");
    let reasons: Vec<String> = failed
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
        .collect();
    let reasons_and_details: Vec<String> = failed
        .iter()
        .map(|e| format!("{}: {}", e["reason"], e["detail"]))
        .collect();
    for r in [
        "ntlm_offered",
        "wrong_service",
        "replay",
        "account_disabled",
        "not_a_device",
    ] {
        assert!(
            reasons
                .iter()
                .any(|x| x == r || (r == "replay" && x == "farm_replay")),
            "{r} in {reasons_and_details:?}"
        );
    }
    // Kerberos never touches extranet lockout.
    assert!(events(&node, "sign_in_failed").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_chromium_signs_in_to_a_pysaml2_sp_with_kerberos_and_no_form() {
    let _guard = harness::shared().await;
    let kdc = kdc();
    let dir = tempfile::tempdir().expect("dir");
    tokio::task::spawn_blocking(harness::msal_python)
        .await
        .expect("venv");
    let sp_port = kit::http::free_port();
    let md = crate::passive::sp_metadata(sp_port, "SP K", dir.path());
    let rp = format!(
        "  - {{ identifier: 'http://localhost:{sp_port}/metadata', token_type: saml20, metadata_file: '{}', claims: [upn, immutable_id, alternate_login_id, name] }}\n",
        md.display()
    );
    let node = start(&kdc, dir.path(), &rp, "").await;
    let ca = node.ca.display().to_string();
    let idp_md = dir.path().join("idp.xml");
    let r = client(
        &kdc,
        &kinit(&kdc, dir.path(), "krb-user@CONTOSO.COM", &kdc.user_password),
        &[
            "plain",
            "GET",
            &format!(
                "{}/FederationMetadata/2007-06/FederationMetadata.xml",
                node.base
            ),
            "--cacert",
            &ca,
        ],
    );
    std::fs::write(&idp_md, r["body"].as_str().unwrap_or_default()).expect("metadata");
    let _sp = crate::passive::start_sp(sp_port, "SP K", &idp_md, &[]).await;
    let cache = kinit(&kdc, dir.path(), "krb-user@CONTOSO.COM", &kdc.user_password);
    let out = tokio::process::Command::new(harness::msal_python())
        .arg(kit::files::repo().join("scripts/browser_kerberos.py"))
        .args([
            "--ca",
            &ca,
            "--idp-host",
            &kdc.host,
            "--sp",
            &format!("http://localhost:{sp_port}"),
        ])
        .args(["--user-agent", EDGE])
        .env("KRB5_CONFIG", &kdc.krb5_conf)
        .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
        .output()
        .await
        .expect("run the browser");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert!(out.status.success() && v["ok"] == true, "{v:#}");
    assert_eq!(v["sign_in_form_shown"], false, "{v:#}");
    let attrs = &v["sp"]["attributes"];
    assert_eq!(
        attrs["http://schemas.xmlsoap.org/claims/UPN"][0], "krb-user@contoso.com",
        "{v:#}"
    );
    assert_eq!(
        attrs["http://schemas.microsoft.com/claims/authnmethodsreferences"][0],
        "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows"
    );
    // pysaml2 verified the Response; its AuthnContext says Windows.
    let (_, _, last) = harness::http_plain(sp_port, "GET", "/last-response", None).await;
    assert!(
        last.contains("urn:federation:authentication:windows"),
        "{last}"
    );
    // Chromium's default Linux User-Agent is not in the list: the form, no challenge.
    let r = client(
        &kdc,
        &cache,
        &[
            "plain",
            "GET",
            &wsfed(&node),
            "--ua",
            LINUX,
            "--cacert",
            &ca,
        ],
    );
    assert_eq!(
        (r["status"].as_u64(), r["headers"].get("www-authenticate")),
        (Some(200), None)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kerberos_is_neither_counted_nor_blocked_by_extranet_lockout_and_prompts_for_a_password_show_the_form(
) {
    let _guard = harness::shared().await;
    let kdc = kdc();
    let dir = tempfile::tempdir().expect("dir");
    let node = start(
        &kdc,
        dir.path(),
        "",
        "extranet_lockout: { mode: enforce, threshold: 3, observation_window: 30m, ip_failures_per_minute: 0 }\n",
    )
    .await;
    let ca = node.ca.display().to_string();
    let cache = kinit(
        &kdc,
        dir.path(),
        "krb-disable2@CONTOSO.COM",
        &kdc.user_password,
    );
    let login = "krb-disable2@corp.contoso.local";
    // An attacker outside locks the account out of the extranet with wrong passwords.
    let post = |password: &str, n: usize| {
        let f = dir.path().join(format!("rst-{n}.xml"));
        std::fs::write(&f, crate::wstrust::rst("13", login, password, MSO, "", 0)).expect("rst");
        let url = format!("{}/adfs/services/trust/13/usernamemixed", node.base);
        let f = f.display().to_string();
        let r = client(
            &kdc,
            &cache,
            &[
                "plain",
                "POST",
                &url,
                "--data",
                &f,
                "--content-type",
                "application/soap+xml",
                "--cacert",
                &ca,
                "--source",
                LB,
                "--header",
                "X-Forwarded-For: 203.0.113.50",
            ],
        );
        r["status"].as_u64().unwrap_or(0)
    };
    for n in 0..4 {
        assert_eq!(post("Wrong-Guess-1", n), 500);
    }
    assert_eq!(
        post(&kdc.user_password, 10),
        500,
        "locked out of the extranet"
    );
    assert!(!events(&node, "extranet_lockout_refused").is_empty());
    let decisions_before = events(&node, "extranet_lockout_refused").len();
    // Inside, the user's ticket still signs in, and counts nothing.
    for _ in 0..3 {
        let r = client(
            &kdc,
            &cache,
            &[
                "request",
                "GET",
                &wsfed(&node),
                "--ua",
                EDGE,
                "--cacert",
                &ca,
            ],
        );
        assert!(
            r["body"].as_str().unwrap_or_default().contains("wresult"),
            "{r}"
        );
    }
    assert_eq!(
        post(&kdc.user_password, 11),
        500,
        "the extranet lock stands"
    );
    assert_eq!(
        events(&node, "extranet_lockout_refused").len(),
        decisions_before + 1
    );
    // Prompts that demand a password: the form, never a challenge.
    for q in [
        "&wfresh=0",
        "&prompt=login",
        "&wauth=urn:oasis:names:tc:SAML:1.0:am:password",
    ] {
        let url = format!("{}{q}", wsfed(&node));
        let r = client(
            &kdc,
            &cache,
            &["plain", "GET", &url, "--ua", EDGE, "--cacert", &ca],
        );
        assert_eq!(
            (r["status"].as_u64(), r["headers"].get("www-authenticate")),
            (Some(200), None),
            "{q}"
        );
        assert!(
            r["body"].as_str().unwrap_or_default().contains("Password"),
            "{q}"
        );
    }
    // The Kerberos sign-in's SSO session signs in again without a ticket, still as Windows.
    let r = client(
        &kdc,
        &cache,
        &[
            "request",
            "GET",
            &wsfed(&node),
            "--ua",
            EDGE,
            "--cacert",
            &ca,
        ],
    );
    let cookie = r["headers"]["set-cookie"].as_str().unwrap_or_default();
    let session = cookie
        .split(", ")
        .find(|c| c.starts_with("__Host-altgate-sso="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("an SSO cookie: {cookie}"))
        .to_string();
    let r = client(
        &kdc,
        &cache,
        &[
            "plain",
            "GET",
            &wsfed(&node),
            "--ua",
            LINUX,
            "--cacert",
            &ca,
            "--header",
            &format!("Cookie: {session}"),
        ],
    );
    let token = wresult(r["body"].as_str().unwrap_or_default());
    assert!(
        token.contains("AuthenticationMethod=\"urn:federation:authentication:windows\""),
        "{token}"
    );
}

#[tokio::test]
async fn oidc_authorization_signs_a_kerberos_user_in_without_the_form() {
    let _guard = harness::shared().await;
    let kdc = kdc();
    let dir = tempfile::tempdir().expect("dir");
    let native = kit::http::free_port();
    let node = start(
        &kdc,
        dir.path(),
        "",
        &crate::oauth::oauth_yaml(kit::http::free_port(), native),
    )
    .await;
    let ca = node.ca.display().to_string();
    let user = kinit(&kdc, dir.path(), "krb-user@CONTOSO.COM", &kdc.user_password);
    let redirect = format!("http://localhost:{native}/callback");
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", "native-app")
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", "openid profile")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .finish();
    let url = format!("{}/adfs/oauth2/authorize/?{q}", node.base);
    let r = client(
        &kdc,
        &user,
        &["request", "GET", &url, "--ua", EDGE, "--cacert", &ca],
    );
    assert_eq!(r["status"], 302, "the code, no form: {r}");
    let location = r["headers"]["Location"]
        .as_str()
        .or_else(|| r["headers"]["location"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(location.starts_with(&redirect), "{r}");
    let code = form_urlencoded::parse(location.split_once('?').map_or("", |(_, q)| q).as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let body = dir.path().join("token.form");
    std::fs::write(
        &body,
        form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("client_id", "native-app")
            .append_pair("code", &code)
            .append_pair("redirect_uri", &redirect)
            .append_pair(
                "code_verifier",
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            )
            .finish(),
    )
    .expect("form");
    let token_url = format!("{}/adfs/oauth2/token/", node.base);
    let body_arg = body.display().to_string();
    let r = client(
        &kdc,
        &user,
        &[
            "plain",
            "POST",
            &token_url,
            "--cacert",
            &ca,
            "--content-type",
            "application/x-www-form-urlencoded",
            "--data",
            &body_arg,
        ],
    );
    assert_eq!(r["status"], 200, "{r}");
    let tokens: serde_json::Value =
        serde_json::from_str(r["body"].as_str().unwrap_or_default()).expect("json");
    let id = tokens["id_token"].as_str().expect("id_token");
    let claims = altgate::tokens::jwt::verify(
        id,
        &[&altgate::keys::read_cert_der(&harness::signing_pair().0).expect("cert")],
        &altgate::tokens::jwt::Expect {
            issuers: &[&format!("{}/adfs", node.base)],
            audiences: &["native-app"],
            expiry: Some(60),
            required: &["exp"],
        },
    )
    .expect("an ID token altgate signed");
    assert_eq!(claims["upn"], "krb-user@contoso.com", "the alternate ID");
    assert_eq!(
        claims["authmethod"], "urn:federation:authentication:windows",
        "{claims}"
    );
}

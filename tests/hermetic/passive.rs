//! What an unsigned browser request may cost and do, over HTTPS in demo mode (no directory
//! needed, none of these requests signs anyone in): IsPassive AuthnRequests and LogoutRequests
//! are answered without a signature, an unsigned LogoutRequest from an SP that must sign is
//! refused, WS-Federation and IdP-initiated sign-on cannot reach a relying party that requires
//! signed requests, and check-config knows the keys that say so. (The same against the real
//! forests, with a sign-in and the signing key's own count, is `tests/it/passive.rs`.)

use crate::kit::certs::wait_for_certificate;
use crate::kit::cli::altgate;
use crate::kit::config::parse;
use crate::kit::demo::{self, Served};
use crate::kit::files::{repo, write_config};
use crate::kit::html::{enc, hidden};
use crate::kit::http::{admin_get, browse, free_port};
use base64::Engine;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

const SIGNED_SP: &str = "https://signed.example.test/metadata";
const PLAIN_SP: &str = "https://plain.example.test/metadata";
const OPEN_SP: &str = "https://open.example.test/metadata";

/// Demo mode with token signing and three SAML SPs that all want signed responses: one that
/// requires signed requests, one without a certificate (its LogoutRequests must be signed, the
/// default) and one that may send unsigned LogoutRequests; IdP-initiated sign-on on, the admin
/// listener on `admin`.
fn yaml(cert: &Path, key: &Path, admin: SocketAddr) -> String {
    let fixture = |f: &str| repo().join("tests/fixtures").join(f).display().to_string();
    let (crt, signing_key) = (
        fixture("test-token-signing.crt"),
        fixture("test-token-signing.key"),
    );
    format!(
        "{}token_signing: {{ cert_file: {crt}, key_file: {signing_key} }}\n\
         passive: {{ idp_initiated_sign_on: true }}\n\
         admin: {{ listen: '{admin}' }}\n\
         relying_parties:\n\
         \x20 - {{ identifier: '{SIGNED_SP}', token_type: saml20, sign: both, reply_urls: ['https://signed.example.test/acs'], logout_url: 'https://signed.example.test/slo', require_signed_requests: true, signing_cert_file: {crt} }}\n\
         \x20 - {{ identifier: '{PLAIN_SP}', token_type: saml20, sign: both, reply_urls: ['https://plain.example.test/acs'], logout_url: 'https://plain.example.test/slo' }}\n\
         \x20 - {{ identifier: '{OPEN_SP}', token_type: saml20, sign: both, reply_urls: ['https://open.example.test/acs'], logout_url: 'https://open.example.test/slo', logout_requests: accept_unsigned }}\n",
        demo::config_yaml(cert, key, "")
    )
}

/// A deflated, base64'd, URL-encoded SAML request (HTTP-Redirect binding).
fn redirect(xml: &str) -> String {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    enc(&base64::engine::general_purpose::STANDARD.encode(e.finish().expect("deflate")))
}

fn instant() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time")
}

fn is_passive(id: &str) -> String {
    redirect(&format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\" AssertionConsumerServiceURL=\"https://plain.example.test/acs\" IsPassive=\"true\"><saml:Issuer>{PLAIN_SP}</saml:Issuer></samlp:AuthnRequest>",
        instant()
    ))
}

fn logout(id: &str, issuer: &str) -> String {
    redirect(&format!(
        "<samlp:LogoutRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{}\"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID>someone</saml:NameID></samlp:LogoutRequest>",
        instant()
    ))
}

/// The SAML message an auto-post page carries, decoded.
fn posted(page: &str) -> String {
    let b64 = hidden(page, "SAMLResponse").unwrap_or_else(|| panic!("no SAMLResponse: {page}"));
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("b64"),
    )
    .expect("utf-8")
}

/// One sample of the metrics the admin listener exposes.
async fn metric(admin: SocketAddr, series: &str) -> f64 {
    let (status, _, body) = admin_get(admin, "/metrics", None).await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

struct Server {
    served: Served,
    ca: std::path::PathBuf,
    admin: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("s.crt"), dir.path().join("s.key"));
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let served = Served::start(parse(&yaml(&cert, &key, admin))).await;
        wait_for_certificate(&cert).await;
        Server {
            served,
            ca: cert,
            admin,
            _dir: dir,
        }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = browse(self.served.addr, &self.ca, "GET", path, "", None).await;
        (status, body)
    }
}

#[tokio::test]
async fn is_passive_and_logout_request_floods_are_answered_without_a_signature() {
    let s = Server::start().await;
    let n = 40;
    for i in 0..n {
        let (status, page) = s
            .get(&format!(
                "/adfs/ls/?SAMLRequest={}",
                is_passive(&format!("_p{i}"))
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        let xml = posted(&page);
        assert!(xml.contains("status:NoPassive"), "{xml}");
        assert!(
            !xml.contains("Signature"),
            "an RSA signature for anyone: {xml}"
        );

        let (status, page) = s
            .get(&format!(
                "/adfs/ls/?SAMLRequest={}",
                logout(&format!("_o{i}"), OPEN_SP)
            ))
            .await;
        assert_eq!(status, 200, "{page}");
        let xml = posted(&page);
        assert!(xml.starts_with("<samlp:LogoutResponse"), "{xml}");
        assert!(
            !xml.contains("Signature"),
            "an RSA signature for anyone: {xml}"
        );

        for sp in [SIGNED_SP, PLAIN_SP] {
            let (status, page) = s
                .get(&format!(
                    "/adfs/ls/?SAMLRequest={}",
                    logout(&format!("_l{i}"), sp)
                ))
                .await;
            assert_eq!(status, 400, "{sp}: {page}");
            assert!(!page.contains("SAMLResponse"));
        }
    }
    assert_eq!(
        metric(
            s.admin,
            "altgate_passive_requests_total{outcome=\"no_passive\",protocol=\"saml\"}"
        )
        .await,
        f64::from(n)
    );
    assert_eq!(
        metric(s.admin, "altgate_token_signing_duration_seconds_count").await,
        0.0
    );
    s.served.stop().await;
}

#[tokio::test]
async fn wsfed_and_idp_initiated_sign_on_to_a_relying_party_requiring_signed_requests_are_refused()
{
    let s = Server::start().await;
    for path in [
        format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(SIGNED_SP)),
        format!(
            "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp={}",
            enc(SIGNED_SP)
        ),
    ] {
        let (status, page) = s.get(&path).await;
        assert_eq!(status, 400, "{path}: {page}");
        assert!(page.contains("id=\"errorText\""), "{path}");
        assert!(!page.contains("userNameInput"), "{path}: no sign-in form");
    }
    for protocol in ["idp_initiated", "wsfed"] {
        assert_eq!(
            metric(
                s.admin,
                &format!("altgate_token_failures_total{{protocol=\"{protocol}\",reason=\"signed_requests_required\",relying_party=\"{SIGNED_SP}\"}}")
            )
            .await,
            1.0,
            "{protocol}"
        );
    }
    // Another relying party keeps both.
    let (status, page) = s
        .get(&format!(
            "/adfs/ls/?wa=wsignin1.0&wtrealm={}",
            enc(PLAIN_SP)
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("userNameInput"));
    s.served.stop().await;
}

#[test]
fn check_config_knows_the_logout_and_replay_cache_keys_and_their_bounds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("s.crt"), dir.path().join("s.key"));
    let admin: SocketAddr = "127.0.0.1:9".parse().expect("addr");
    let base = yaml(&cert, &key, admin);
    let run = |name: &str, text: &str| {
        let path = write_config(name, text);
        let out = altgate(&["check-config", "--config", path.to_str().expect("utf-8")]);
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    for (max, ok) in [
        ("100", true),
        ("10000000", true),
        ("99", false),
        ("10000001", false),
    ] {
        let (code, out) = run(
            &format!("replay-cap-{max}.yaml"),
            &format!("{base}state: {{ replay_cache_max_entries: {max} }}\n"),
        );
        if ok {
            assert_eq!(code, Some(0), "{max}: {out}");
        } else {
            assert_eq!(code, Some(2), "{max}: {out}");
            assert!(
                out.contains("state.replay_cache_max_entries: must be between 100 and 10000000"),
                "{out}"
            );
        }
    }
    let (code, out) = run(
        "logout-requests-contradiction.yaml",
        &base.replace(
            "require_signed_requests: true,",
            "require_signed_requests: true, logout_requests: accept_unsigned,",
        ),
    );
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("relying_parties[0].logout_requests: accept_unsigned contradicts"),
        "{out}"
    );
}

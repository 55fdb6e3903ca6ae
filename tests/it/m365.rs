//! `altgate m365 federation-settings` through the real binary: the JSON it prints for Entra ID
//! equals what the running server publishes in its federation metadata and the configured
//! certificate files; MSAL (Microsoft's client) signs in at the printed endpoints and the token's
//! issuer is the printed `issuerUri`; every refusal exits non-zero with its reason.

use crate::harness::{self, ForestSpec, TestServer};
use crate::kit::cli::altgate;
use altgate::xml::parse::{parse, Limits, XmlNode};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const FED: &str = "http://docs.oasis-open.org/wsfed/federation/200706";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const WSA: &str = "http://www.w3.org/2005/08/addressing";
const SAML1: &str = "urn:oasis:names:tc:SAML:1.0:assertion";
const ID11: (&str, &str) = (
    "AssertionID",
    "urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
);

fn limits() -> Limits {
    Limits {
        max_depth: 32,
        max_elements: 4096,
        max_attributes: 32,
    }
}

/// A certificate (and key) made by OpenSSL, valid for `days` from now.
fn openssl_cert(name: &str, days: u32) -> (PathBuf, PathBuf) {
    harness::openssl_pair(
        &harness::private_dir(),
        name,
        &format!("altgate m365 {name}"),
        days,
    )
}

use harness::pem_body;

/// The token sections with `cert`/`key` (and a rollover `next` certificate).
fn tokens_yaml(cert: &Path, key: &Path, next: Option<&Path>) -> String {
    let next = next
        .map(|n| format!(", next_cert_file: {}", n.display()))
        .unwrap_or_default();
    format!(
        "token_signing: {{ cert_file: {}, key_file: {}{next} }}\n\
         relying_parties:\n\
         \x20 - identifier: urn:federation:MicrosoftOnline\n\
         \x20   token_type: saml11\n\
         \x20   claims: [upn, immutable_id, issuer_id]\n\
         federation:\n\
         \x20 federated_domains: [contoso.com, fabrikam.com]\n",
        cert.display(),
        key.display()
    )
}

/// A configuration file for the binary: both real forests, `public_url`, `tokens`.
fn config_file(name: &str, public_url: &str, tokens: &str) -> String {
    let yaml = harness::both_forests_yaml(tokens).replace(
        "public_url: https://sts.altgate.test",
        &format!("public_url: '{public_url}'"),
    );
    harness::write_config(name, &yaml)
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn endpoint_address<'a>(role: &'a XmlNode, name: &str) -> &'a str {
    role.child(FED, name)
        .and_then(|e| e.child(WSA, "EndpointReference"))
        .and_then(|r| r.child(WSA, "Address"))
        .map(XmlNode::text)
        .unwrap_or_else(|| panic!("{name} address"))
}

fn certificates(role: &XmlNode) -> Vec<String> {
    role.children
        .iter()
        .filter(|k| k.is(MD, "KeyDescriptor"))
        .filter_map(|k| k.child(DSIG, "KeyInfo"))
        .filter_map(|i| i.child(DSIG, "X509Data"))
        .filter_map(|d| d.child(DSIG, "X509Certificate"))
        .map(|c| c.text().to_string())
        .collect()
}

fn locations(idp: &XmlNode, name: &str) -> Vec<String> {
    idp.children
        .iter()
        .filter(|s| s.is(MD, name))
        .filter_map(|s| s.attr("", "Location"))
        .map(str::to_string)
        .collect()
}

/// MSAL's WS-Trust client: endpoints discovered from `mex`, one token for `username`.
async fn msal(mex: &str, ca: &Path, username: &str, password: &str) -> Value {
    let python = tokio::task::spawn_blocking(harness::msal_python)
        .await
        .expect("setup");
    let out = tokio::process::Command::new(python)
        .arg(harness::repo().join("scripts/wstrust_client.py"))
        .args(["--mex", mex])
        .arg("--ca")
        .arg(ca)
        .args(["--username", username, "--password", password])
        .args(["--prefer", "2005"])
        .output()
        .await
        .expect("run the MSAL client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn settings_equal_the_served_metadata_and_tokens_carry_the_printed_issuer() {
    let _g = harness::shared().await;
    let (cert, key) = openssl_cert("m365-current", 365);
    let (next, _) = openssl_cert("m365-next", 730);
    let tokens = tokens_yaml(&cert, &key, Some(&next));
    let specs = [
        ForestSpec::real("contoso.com"),
        ForestSpec::real("fabrikam.com"),
    ];
    // A public name (`/etc/hosts` points it at loopback here): Entra is never handed localhost.
    let server = TestServer::start_at_host("sts.contoso.com", &specs, &tokens).await;
    let cfg = config_file("m365-settings.yaml", &server.base, &tokens);

    let out = altgate(&[
        "m365",
        "federation-settings",
        "--config",
        &cfg,
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let domains: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(domains, ["contoso.com", "fabrikam.com"]);

    let (status, md) = server
        .request(
            "GET",
            "/FederationMetadata/2007-06/FederationMetadata.xml",
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(status, 200);
    let root = parse(md.as_bytes(), limits()).expect("metadata parses");
    let sts = root.child(MD, "RoleDescriptor").expect("STS role");
    let idp = root.child(MD, "IDPSSODescriptor").expect("IdP role");
    let published = certificates(sts);
    assert_eq!(published, certificates(idp));
    assert_eq!(published, [pem_body(&cert), pem_body(&next)]);

    for domain in ["contoso.com", "fabrikam.com"] {
        let s = &v[domain];
        assert_eq!(s["displayName"], domain);
        assert_eq!(
            s["issuerUri"],
            format!("http://{domain}/adfs/services/trust/")
        );
        assert_eq!(s["signingCertificate"], published[0], "{domain}");
        assert_eq!(s["nextSigningCertificate"], published[1], "{domain}");
        assert_eq!(
            s["activeSignInUri"],
            endpoint_address(sts, "SecurityTokenServiceEndpoint")
        );
        assert_eq!(
            s["passiveSignInUri"],
            endpoint_address(sts, "PassiveRequestorEndpoint")
        );
        for sso in locations(idp, "SingleSignOnService") {
            assert_eq!(s["passiveSignInUri"], sso);
        }
        let slo = locations(idp, "SingleLogoutService");
        assert!(!slo.is_empty());
        for l in slo {
            assert_eq!(s["signOutUri"], l);
        }
        assert_eq!(
            s["metadataExchangeUri"],
            format!("{}/adfs/services/trust/mex", server.base)
        );
        assert_eq!(s["preferredAuthenticationProtocol"], "wsFed");
        assert_eq!(
            s["promptLoginBehavior"],
            "translateToFreshPasswordAuthentication"
        );
        assert_eq!(s["federatedIdpMfaBehavior"], "rejectMfaByFederatedIdp");
    }

    // Microsoft's client, pointed at the printed mex, signs in at the printed active endpoint
    // and gets a token whose issuer is the printed issuerUri, signed with the printed cert.
    let pw = harness::forests().user_password.clone();
    for (login, domain) in [
        ("jdoe@contoso.com", "contoso.com"),
        ("fuser@fabrikam.com", "fabrikam.com"),
    ] {
        let s = &v[domain];
        let mex = s["metadataExchangeUri"].as_str().expect("mex");
        let t = msal(mex, &server.ca, login, &pw).await;
        assert!(t.get("error").is_none(), "{login}: {t}");
        assert_eq!(t["endpoint"], s["activeSignInUri"], "{login}: {t}");
        let token = t["token"].as_str().expect("token");
        assert!(harness::xmlsec_verify(token, &cert, ID11.0, ID11.1));
        let a = parse(token.as_bytes(), limits()).expect("assertion parses");
        assert!(a.is(SAML1, "Assertion"));
        assert_eq!(a.attr("", "Issuer"), s["issuerUri"].as_str(), "{login}");
    }

    // The other formats come from the same settings.
    let out = altgate(&[
        "m365",
        "federation-settings",
        "--config",
        &cfg,
        "--format",
        "powershell",
        "--domain",
        "fabrikam.com",
        "--protocol",
        "saml",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let ps = String::from_utf8_lossy(&out.stdout);
    assert!(ps.contains(&format!("    signingCertificate = '{}'\n", published[0])));
    assert!(ps.contains("    preferredAuthenticationProtocol = 'saml'\n"));
    assert!(ps.contains(
        "New-MgDomainFederationConfiguration -DomainId 'fabrikam.com' -BodyParameter $body"
    ));
    assert!(!ps.contains("'contoso.com'"), "only the domain asked for");
    let out = altgate(&["m365", "federation-settings", "--config", &cfg]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("federate the parent first"), "{text}");
    assert!(text.contains(&format!(
        "  activeSignInUri                   {}/adfs/services/trust/2005/usernamemixed\n",
        server.base
    )));
}

#[tokio::test]
async fn unknown_domains_and_an_expiring_certificate_are_refused_together() {
    let _g = harness::shared().await;
    // The harness's OpenSSL pair is valid for 30 days only: within the 30-day margin.
    let (cert, key) = harness::signing_pair();
    let cfg = config_file(
        "m365-expiring.yaml",
        "https://sts.contoso.com",
        &tokens_yaml(cert, key, None),
    );
    let out = altgate(&[
        "m365",
        "federation-settings",
        "--config",
        &cfg,
        "--format",
        "json",
        "--domain",
        "contoso.com",
        "--domain",
        "example.org",
        "--domain",
        "sales.contoso.com",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing to apply is printed");
    let err = stderr(&out);
    for expected in [
        "refused (unknown_domain): example.org is not in federation.federated_domains (contoso.com, fabrikam.com)",
        "refused (sub_domain): sales.contoso.com is not in federation.federated_domains but is a sub-domain of contoso.com",
        "refused (certificate_expires_soon): the token-signing certificate expires on ",
        "fix the 3 problem(s) above",
    ] {
        assert!(err.contains(expected), "{expected}\n{err}");
    }
}

#[tokio::test]
async fn a_good_configuration_with_an_unknown_domain_is_refused() {
    let _g = harness::shared().await;
    let (cert, key) = openssl_cert("m365-unknown", 365);
    let cfg = config_file(
        "m365-unknown.yaml",
        "https://sts.contoso.com",
        &tokens_yaml(&cert, &key, None),
    );
    let ok = altgate(&[
        "m365",
        "federation-settings",
        "--config",
        &cfg,
        "--domain",
        "Contoso.com",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let out = altgate(&[
        "m365",
        "federation-settings",
        "--config",
        &cfg,
        "--domain",
        "contoso.org",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("refused (unknown_domain): contoso.org"));
}

#[tokio::test]
async fn a_plain_http_public_url_is_refused() {
    let _g = harness::shared().await;
    let (cert, key) = openssl_cert("m365-http", 365);
    let cfg = config_file(
        "m365-http.yaml",
        "http://sts.contoso.com",
        &tokens_yaml(&cert, &key, None),
    );
    let out = altgate(&["m365", "federation-settings", "--config", &cfg]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "the configuration itself is refused"
    );
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(err.contains("server.public_url"), "{err}");
    assert!(err.contains("must be an https:// URL"), "{err}");
}

#[tokio::test]
async fn no_token_signing_is_refused() {
    let _g = harness::shared().await;
    let cfg = config_file(
        "m365-unsigned.yaml",
        "https://sts.contoso.com",
        "federation: { federated_domains: [contoso.com] }\n",
    );
    let out = altgate(&["m365", "federation-settings", "--config", &cfg]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("refused (no_signing_certificate)"));
}

/// What tree-sitter's PowerShell grammar reads in `script` (scripts/ps_parse.py): syntax
/// errors, every `@{...}` literal, every command with its arguments.
fn ps_parse(script: &str) -> Value {
    use std::io::Write;
    let mut child = Command::new(harness::msal_python())
        .arg(harness::repo().join("scripts/ps_parse.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run scripts/ps_parse.py");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the script");
    let out = child.wait_with_output().expect("ps_parse.py");
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("ps_parse.py prints JSON")
}

#[tokio::test]
async fn the_powershell_script_parses_and_sets_exactly_what_the_json_says() {
    let _g = harness::shared().await;
    let (cert, key) = openssl_cert("m365-ps-current", 365);
    let (next, _) = openssl_cert("m365-ps-next", 730);
    let tokens = tokens_yaml(&cert, &key, Some(&next));
    let cfg = config_file("m365-ps.yaml", "https://sts.contoso.com", &tokens);
    let run = |format: &str| {
        let out = altgate(&[
            "m365",
            "federation-settings",
            "--config",
            &cfg,
            "--format",
            format,
            "--protocol",
            "saml",
            "--prompt-login-behavior",
            "nativeSupport",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let json: Value = serde_json::from_str(&run("json")).expect("JSON");
    let script = run("powershell");
    let parsed = ps_parse(&script);
    assert_eq!(parsed["errors"], serde_json::json!([]), "{script}");

    // One `$body` per domain, parents first, each exactly the Graph body the JSON holds.
    let bodies = parsed["hashes"].as_array().expect("hashes");
    let domains = json.as_object().expect("object");
    assert_eq!(bodies.len(), domains.len(), "{parsed}");
    for (body, (domain, graph)) in bodies.iter().zip(domains) {
        assert_eq!(body, graph, "{domain}");
    }
    // Each domain is updated in place when federated, else federated anew: by its own id.
    let commands = parsed["commands"].as_array().expect("commands");
    for domain in domains.keys() {
        for verb in ["Get", "Update", "New"] {
            let name = format!("{verb}-MgDomainFederationConfiguration");
            assert!(
                commands.iter().any(|c| c[0] == name.as_str()
                    && c[1].as_array().is_some_and(|a| a
                        .windows(2)
                        .any(|w| w[0] == "-DomainId" && w[1] == domain.as_str()))),
                "{name} -DomainId {domain}: {parsed}"
            );
        }
    }

    // The check catches a broken script: a lost closing quote, and a value that changed.
    let broken = script.replacen(
        "displayName = 'contoso.com'",
        "displayName = 'contoso.com",
        1,
    );
    assert_ne!(ps_parse(&broken)["errors"], serde_json::json!([]));
    let changed = script.replacen(
        "issuerUri = 'http://contoso.com",
        "issuerUri = 'http://evil.com",
        1,
    );
    let first = &ps_parse(&changed)["hashes"][0];
    assert_ne!(first, &domains["contoso.com"]);
}

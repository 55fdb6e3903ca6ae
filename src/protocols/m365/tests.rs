use super::render::{json, powershell, ps_quote, text};
use super::*;
use crate::config::NameOrder;
use std::sync::Arc;
use std::time::Duration;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-24 12:00 UTC);

fn clock() -> Clock {
    Arc::new(|| NOW)
}

fn federation(domains: &[&str]) -> Federation {
    Federation {
        issuer: "http://sts.contoso.com/adfs/services/trust".into(),
        federated_domains: domains.iter().map(|d| d.to_string()).collect(),
        internal_networks: Vec::new(),
        display_name_order: NameOrder::default(),
        max_clock_skew: Duration::from_secs(300),
        password_expiry_notice: Duration::from_secs(14 * 86_400),
    }
}

/// A self-signed certificate valid from `not_before` to `not_after`, DER.
fn cert(cn: &str, not_before: OffsetDateTime, not_after: OffsetDateTime) -> Vec<u8> {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    params.not_before = not_before;
    params.not_after = not_after;
    params.self_signed(&key).expect("cert").der().to_vec()
}

fn good_cert() -> Vec<u8> {
    cert(
        "current",
        NOW - time::Duration::days(10),
        NOW + time::Duration::days(365),
    )
}

struct Case {
    url: String,
    fed: Federation,
    signing: Option<Vec<u8>>,
    next: Option<Vec<u8>>,
    domains: Vec<String>,
    demo: bool,
}

impl Case {
    fn new(domains: &[&str]) -> Case {
        Case {
            url: "https://sts.contoso.com".into(),
            fed: federation(domains),
            signing: Some(good_cert()),
            next: None,
            domains: Vec::new(),
            demo: false,
        }
    }

    fn run(&self) -> Result<Vec<DomainFederation>, Vec<SettingsRefusal>> {
        let clock = clock();
        generate(&Input {
            public_url: &self.url,
            federation: &self.fed,
            signing_cert: self.signing.as_deref(),
            next_cert: self.next.as_deref(),
            domains: &self.domains,
            protocol: PreferredProtocol::default(),
            prompt_login: PromptLogin::default(),
            clock: &clock,
            demo: self.demo,
        })
    }
}

fn codes(r: Result<Vec<DomainFederation>, Vec<SettingsRefusal>>) -> Vec<&'static str> {
    r.expect_err("refused")
        .iter()
        .map(SettingsRefusal::code)
        .collect()
}

#[test]
fn every_federated_domain_gets_its_issuer_endpoints_and_certificate() {
    let case = Case::new(&["contoso.com", "fabrikam.com"]);
    let out = case.run().expect("settings");
    let v = json(&out);
    let c = &v["contoso.com"];
    assert_eq!(
        c["@odata.type"],
        "#microsoft.graph.internalDomainFederation"
    );
    assert_eq!(c["displayName"], "contoso.com");
    assert_eq!(c["issuerUri"], "http://contoso.com/adfs/services/trust/");
    assert_eq!(c["passiveSignInUri"], "https://sts.contoso.com/adfs/ls/");
    assert_eq!(
        c["activeSignInUri"],
        "https://sts.contoso.com/adfs/services/trust/2005/usernamemixed"
    );
    assert_eq!(
        c["metadataExchangeUri"],
        "https://sts.contoso.com/adfs/services/trust/mex"
    );
    assert_eq!(c["signOutUri"], "https://sts.contoso.com/adfs/ls/");
    assert_eq!(c["preferredAuthenticationProtocol"], "wsFed");
    assert_eq!(
        c["promptLoginBehavior"],
        "translateToFreshPasswordAuthentication"
    );
    assert_eq!(c["federatedIdpMfaBehavior"], "rejectMfaByFederatedIdp");
    let b64 = c["signingCertificate"].as_str().expect("string");
    assert!(!b64.contains("-----") && !b64.contains('\n'));
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert_eq!(Some(der), case.signing);
    assert!(c.get("nextSigningCertificate").is_none(), "no rollover");
    assert_eq!(
        v["fabrikam.com"]["issuerUri"],
        "http://fabrikam.com/adfs/services/trust/"
    );
}

#[test]
fn the_issuer_is_the_one_tokens_carry_for_the_domains_users() {
    let case = Case::new(&["contoso.com", "sales.contoso.com", "fabrikam.com"]);
    for d in case.run().expect("settings") {
        let upn = format!("someone@{}", d.domain);
        assert_eq!(
            Some(d.issuer_uri.clone()),
            issuer_for_upn(&upn, &case.fed.federated_domains),
            "{upn}"
        );
    }
}

#[test]
fn options_choose_protocol_and_prompt_behaviour() {
    let case = Case::new(&["contoso.com"]);
    let clock = clock();
    let out = generate(&Input {
        public_url: &case.url,
        federation: &case.fed,
        signing_cert: case.signing.as_deref(),
        next_cert: None,
        domains: &[],
        protocol: PreferredProtocol::Saml,
        prompt_login: PromptLogin::NativeSupport,
        clock: &clock,
        demo: false,
    })
    .expect("settings");
    let v = json(&out);
    assert_eq!(v["contoso.com"]["preferredAuthenticationProtocol"], "saml");
    assert_eq!(v["contoso.com"]["promptLoginBehavior"], "nativeSupport");
    assert_eq!(PromptLogin::Disabled.graph(), "disabled");
}

#[test]
fn a_rollover_hands_entra_the_next_certificate_too() {
    let mut case = Case::new(&["contoso.com"]);
    let next = cert(
        "next",
        NOW + time::Duration::days(5),
        NOW + time::Duration::days(700),
    );
    case.next = Some(next.clone());
    let out = case.run().expect("settings");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&next);
    assert_eq!(json(&out)["contoso.com"]["nextSigningCertificate"], b64);
    assert!(powershell(&out).contains(&format!("nextSigningCertificate = '{b64}'")));
    assert!(text(&out).contains("CN=next (valid 2026-11-29T12:00:00Z"));
}

#[test]
fn parents_come_before_their_sub_domains_which_are_flagged() {
    let mut case = Case::new(&["sales.contoso.com", "fabrikam.com", "contoso.com"]);
    let order: Vec<String> = case
        .run()
        .expect("settings")
        .into_iter()
        .map(|d| d.domain)
        .collect();
    assert_eq!(order, ["fabrikam.com", "contoso.com", "sales.contoso.com"]);
    case.domains = vec!["SALES.contoso.com".into(), "Contoso.com.".into()];
    let out = case.run().expect("settings");
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].parent, None);
    assert_eq!(out[1].parent.as_deref(), Some("contoso.com"));
    assert_eq!(
        out[1].issuer_uri,
        "http://sales.contoso.com/adfs/services/trust/"
    );
    assert!(powershell(&out).contains("# Invoke-MgPromoteDomain -DomainId 'sales.contoso.com'"));
    assert!(text(&out).contains("Invoke-MgPromoteDomain"));
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut case = Case::new(&["contoso.com", "fabrikam.com"]);
    case.url = "http://sts.contoso.com".into();
    case.signing = Some(cert(
        "soon",
        NOW - time::Duration::days(300),
        NOW + time::Duration::days(29),
    ));
    case.domains = vec![
        "contoso.com".into(),
        "example.org".into(),
        "eu.sales.fabrikam.com".into(),
    ];
    let refusals = case.run().expect_err("refused");
    let codes: Vec<&str> = refusals.iter().map(SettingsRefusal::code).collect();
    assert_eq!(
        codes,
        [
            "unknown_domain",
            "sub_domain",
            "not_https",
            "certificate_expires_soon"
        ]
    );
    let messages: Vec<String> = refusals.iter().map(ToString::to_string).collect();
    assert!(messages[0].starts_with(
        "example.org is not in federation.federated_domains (contoso.com, fabrikam.com)"
    ));
    assert!(messages[1].contains("sub-domain of fabrikam.com"));
    assert!(messages[1].contains("http://fabrikam.com/adfs/services/trust/"));
    assert!(messages[3].contains("in 29 days"), "{}", messages[3]);
}

#[test]
fn the_signing_certificate_must_be_valid_for_thirty_days_more() {
    let mut case = Case::new(&["contoso.com"]);
    let from = NOW - time::Duration::days(1);
    case.signing = Some(cert("a", from, NOW + time::Duration::days(31)));
    assert!(case.run().is_ok());
    case.signing = Some(cert(
        "b",
        from,
        NOW + time::Duration::days(30) - time::Duration::minutes(1),
    ));
    assert_eq!(codes(case.run()), ["certificate_expires_soon"]);
    case.signing = Some(cert(
        "c",
        NOW - time::Duration::days(400),
        NOW - time::Duration::days(1),
    ));
    assert_eq!(codes(case.run()), ["certificate_expired"]);
    case.signing = Some(cert(
        "d",
        NOW + time::Duration::days(1),
        NOW + time::Duration::days(400),
    ));
    assert_eq!(codes(case.run()), ["certificate_not_yet_valid"]);
    case.signing = Some(b"not a certificate".to_vec());
    assert_eq!(codes(case.run()), ["bad_certificate"]);
    case.signing = None;
    assert_eq!(codes(case.run()), ["no_signing_certificate"]);
}

#[test]
fn an_expired_next_certificate_is_refused_a_future_one_is_not() {
    let mut case = Case::new(&["contoso.com"]);
    case.next = Some(cert(
        "old",
        NOW - time::Duration::days(400),
        NOW - time::Duration::days(2),
    ));
    assert_eq!(codes(case.run()), ["certificate_expired"]);
    case.next = Some(cert(
        "future",
        NOW + time::Duration::days(20),
        NOW + time::Duration::days(400),
    ));
    assert!(case.run().is_ok());
}

#[test]
fn no_federated_domains_is_refused() {
    assert_eq!(codes(Case::new(&[]).run()), ["no_federated_domains"]);
}

#[test]
fn powershell_single_quotes_double_every_quote_character() {
    assert_eq!(ps_quote("plain"), "'plain'");
    assert_eq!(ps_quote("O'Brien"), "'O''Brien'");
    assert_eq!(ps_quote("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
    assert_eq!(ps_quote("$env:x `n \"q\""), "'$env:x `n \"q\"'");
}

/// Reads a PowerShell single-quoted string at the start of `s`: its value and the rest.
/// PowerShell's rules: a quote (any of ' and U+2018 to U+201B) followed by another quote stands
/// for the second; a lone quote ends the string; nothing else is special.
fn read_single_quoted(s: &str) -> Option<(String, &str)> {
    let is_quote = |c: char| matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}');
    let mut chars = s.char_indices();
    let (_, first) = chars.next()?;
    if !is_quote(first) {
        return None;
    }
    let mut value = String::new();
    let mut chars = chars.peekable();
    while let Some((i, c)) = chars.next() {
        if is_quote(c) {
            match chars.peek() {
                Some(&(_, n)) if is_quote(n) => {
                    value.push(n);
                    chars.next();
                }
                _ => return Some((value, &s[i + c.len_utf8()..])),
            }
        } else {
            value.push(c);
        }
    }
    None
}

#[test]
fn every_powershell_value_reads_back_as_the_graph_value() {
    let mut case = Case::new(&["contoso.com"]);
    // Characters that would break or be interpreted in a double-quoted or unquoted string.
    case.url = "https://sts.contoso.com/o'k/$env:USERPROFILE/`t/\u{2018}x\u{2019}/\"q\"".into();
    case.next = Some(good_cert());
    let out = case.run().expect("settings");
    let script = powershell(&out);
    let body = &json(&out)["contoso.com"];
    let mut seen = 0;
    let mut in_body = false;
    for line in script.lines() {
        if line == "$body = @{" {
            in_body = true;
            continue;
        }
        if line == "}" {
            in_body = false;
            continue;
        }
        if in_body {
            let (key, rest) = line.trim().split_once(" = ").expect("key = value");
            let (value, after) = read_single_quoted(rest).expect("one quoted string");
            assert_eq!(after, "", "nothing after the value: {line}");
            assert_eq!(body[key.trim_matches('\'')], value, "{key}");
            seen += 1;
        } else if let Some(at) = line.find("-DomainId ") {
            let (value, _) = read_single_quoted(&line[at + 10..]).expect("quoted domain");
            assert_eq!(value, "contoso.com");
        }
    }
    assert_eq!(seen, body.as_object().expect("object").len());
    assert!(script.contains(
        "New-MgDomainFederationConfiguration -DomainId 'contoso.com' -BodyParameter $body"
    ));
    assert!(script.contains("Update-MgDomainFederationConfiguration -DomainId 'contoso.com' -InternalDomainFederationId $current.Id -BodyParameter $body"));
}

#[test]
fn the_text_explains_the_sub_domain_rule_and_mfa() {
    let out = Case::new(&["contoso.com"]).run().expect("settings");
    let t = text(&out);
    assert!(t.starts_with("contoso.com\n  issuerUri"));
    assert!(t.contains("federate the parent first; its sub-domains need no settings of their own"));
    assert!(t.contains("altgate performs no multi-factor authentication"));
    assert!(t.contains("https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml"));
}

#[test]
fn demo_mode_and_the_generated_development_certificate_are_refused() {
    let mut case = Case::new(&["contoso.com"]);
    case.demo = true;
    assert_eq!(codes(case.run()), ["demo_mode"]);
    let now = clock()();
    let mut case = Case::new(&["contoso.com"]);
    case.signing = Some(cert(
        crate::keys::DEV_SIGNING_SUBJECT,
        now - time::Duration::days(1),
        now + time::Duration::days(365),
    ));
    let refused = case.run().expect_err("a development certificate");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0].code(), "development_certificate");
    assert!(refused[0]
        .to_string()
        .contains(crate::keys::DEV_SIGNING_SUBJECT));
}

#[test]
fn a_public_url_the_internet_cannot_reach_is_refused() {
    for (url, refused) in [
        ("https://sts.contoso.com", false),
        ("https://sts.contoso.com:8443/", false),
        ("https://203.0.113.10", false),
        ("https://localhost:8443", true),
        ("https://sts.localhost", true),
        ("https://127.0.0.1:8443", true),
        ("https://10.1.2.3", true),
        ("https://192.168.1.10", true),
        ("https://172.16.0.1", true),
        ("https://100.64.0.1", true),
        ("https://[::1]:8443", true),
        ("https://[fd00::1]", true),
        ("https://adfs", true),
        ("https://sts.corp.local", true),
        ("https://sts.contoso.test", true),
        ("https://sts.contoso.internal", true),
    ] {
        assert_eq!(not_public(url).is_some(), refused, "{url}");
        let mut case = Case::new(&["contoso.com"]);
        case.url = url.to_string();
        if refused {
            assert_eq!(codes(case.run()), ["public_url_not_public"], "{url}");
        } else {
            assert!(case.run().is_ok(), "{url}");
        }
    }
}

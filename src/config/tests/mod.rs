//! Configuration tests: defaults, every problem at once with its key path, each section's
//! checks, SP metadata and secrets kept out of `Debug`; the bounds of every duration and size
//! key are in `bounds`.

mod bounds;
mod kerberos;
mod oauth;

use super::sp_metadata::sp_metadata;
use super::url::is_reply_url;
use super::*;

const MINIMAL: &str = "
server: { listen: 127.0.0.1:0, public_url: https://sts.example.test }
demo_directory: config/demo-directory.yaml
forests:
  - name: contoso.com
";

fn issues(text: &str) -> Vec<String> {
    match Config::parse(text, "test.yaml") {
        Ok(_) => Vec::new(),
        Err(e) => e.issues.iter().map(|i| i.to_string()).collect(),
    }
}

#[test]
fn minimal_demo_config_parses_with_defaults() {
    let c = Config::parse(MINIMAL, "t").expect("valid");
    assert_eq!(c.cache.positive_ttl, Duration::from_secs(300));
    assert_eq!(c.cache.negative_ttl, Duration::from_secs(30));
    assert_eq!(c.directory.pool_size, 4);
    assert!(c.alternate_login_id.is_none());
    assert_eq!(c.server.public_url, "https://sts.example.test");
}

#[test]
fn every_problem_is_reported_at_once_with_its_path() {
    let text = "
server: { listen: nowhere, public_url: http://plain }
bogus: 1
alternate_login_id: { attribute: 'mail)(x=*' , lookup_forests: [contoso.com, nowhere.com] }
forests:
  - name: contoso.com
    global_catalogs: [ldap://dc1.contoso.com:3268, 'ldaps://:99999']
    service_account: { user: svc, password_env: ALTGATE_TEST_SURELY_UNSET_VAR }
  - name: fabrikam.com
    global_catalogs: [ldaps://dc1.fabrikam.com]
    unknown_key: true
cache: { positive_ttl: 5 parsecs, max_entries: 10 }
directory: { pool_size: 0 }
";
    let found = issues(text);
    let expect = [
            "bogus: unknown section",
            "server.listen:",
            "server.public_url:",
            "forests[0].global_catalogs[0]: \"ldap://dc1.contoso.com:3268\" must be an ldaps:// URL",
            "forests[0].global_catalogs[1]:",
            "forests[0].service_account.password_env: environment variable ALTGATE_TEST_SURELY_UNSET_VAR",
            "forests[1].unknown_key: unknown field `unknown_key`",
            // The unknown key no longer hides the rest of the entry.
            "forests[1].service_account: required",
            "alternate_login_id.attribute:",
            "alternate_login_id.lookup_forests[1]: nowhere.com is not listed under forests",
            "cache.positive_ttl:",
            "directory.pool_size:",
        ];
    for e in expect {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn both_alternate_keys_are_required() {
    let text = format!("{MINIMAL}alternate_login_id: {{ attribute: mail }}\n");
    assert_eq!(
            issues(&text),
            vec!["alternate_login_id.lookup_forests: required with attribute: both keys enable the feature"]
        );
}

#[test]
fn structural_errors_carry_nested_paths() {
    let text = format!("{MINIMAL}cache: {{ max_entries: lots }}\n");
    let found = issues(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("cache.max_entries:"), "{found:?}");
}

#[test]
fn a_mistake_inside_server_limits_is_reported_only_where_it_is() {
    let text = MINIMAL.replace(
        "public_url: https://sts.example.test }",
        "public_url: https://sts.example.test, limits: { max_conections: 5 } }",
    );
    let found = issues(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("server.limits"), "{found:?}");
    assert!(found[0].contains("max_conections"), "{found:?}");
    // A mistake elsewhere in `server:` is still reported beside one inside `limits`.
    let text = MINIMAL.replace(
        "public_url: https://sts.example.test }",
        "public_url: https://sts.example.test, max_body_bytes: huge, limits: { idle_timeout: 5m, max_connections: many } }",
    );
    let found = issues(&text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("server.max_body_bytes:")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("server.limits.max_connections:")),
        "{found:?}"
    );
}

#[test]
fn ldap_urls_default_to_636_and_keep_ipv6_hosts() {
    let mut v = Validator::default();
    let u = v.ldap_url("p", "ldaps://dc1.contoso.com").expect("valid");
    assert_eq!((u.host.as_str(), u.port), ("dc1.contoso.com", 636));
    let u = v.ldap_url("p", "ldaps://[::1]:3269").expect("valid");
    assert_eq!((u.host.as_str(), u.port), ("::1", 3269));
    assert!(v.ldap_url("p", "ldaps://host:0").is_none());
    assert!(v.issues.len() == 1);
}

#[test]
fn attribute_names_that_could_inject_a_filter_are_refused() {
    assert!(is_ldap_attribute_name("mail"));
    assert!(is_ldap_attribute_name("extensionAttribute10"));
    assert!(is_ldap_attribute_name("msDS-cloudExtensionAttribute1"));
    for bad in ["", "1mail", "mail)(objectClass=*", "ma il", "mail*"] {
        assert!(!is_ldap_attribute_name(bad), "{bad}");
    }
}

#[test]
fn reply_urls_must_be_https_or_loopback_http() {
    for ok in [
        "https://sp.example.org/acs",
        "http://localhost:8301/acs",
        "http://127.0.0.1/acs",
    ] {
        assert!(is_reply_url(ok), "{ok}");
    }
    for bad in [
        "http://sp.example.org/acs",
        "https://",
        "javascript:alert(1)",
        "//evil.example/",
        "https://user@evil.example/",
        "/relative",
        "http://localhost.evil.example/acs",
    ] {
        assert!(!is_reply_url(bad), "{bad}");
    }
}

#[test]
fn sp_metadata_gives_acs_logout_and_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = std::fs::read_to_string("tests/fixtures/test-token-signing.crt").expect("cert");
    let b64: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
    let md = format!(
            "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"https://sp.example.org/metadata\">\
             <md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
             <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
             <md:SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"https://sp.example.org/slo\"/>\
             <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact\" Location=\"https://sp.example.org/artifact\" index=\"0\"/>\
             <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"https://sp.example.org/acs\" index=\"1\"/>\
             </md:SPSSODescriptor></md:EntityDescriptor>"
        );
    let path = dir.path().join("sp.xml");
    std::fs::write(&path, md).expect("write");
    let parsed = sp_metadata(&path).expect("parse");
    assert_eq!(parsed.entity_id, "https://sp.example.org/metadata");
    assert_eq!(parsed.acs, vec!["https://sp.example.org/acs".to_string()]);
    assert_eq!(parsed.logout.as_deref(), Some("https://sp.example.org/slo"));
    assert!(parsed.signing_cert.is_some());
    let text = format!(
            "{MINIMAL}relying_parties:\n  - {{ identifier: 'https://other.example/metadata', token_type: saml20, metadata_file: '{}' }}\n",
            path.display()
        );
    let found = issues(&text);
    assert!(
        found
            .iter()
            .any(|i| i.contains("does not match identifier")),
        "{found:?}"
    );
}

#[test]
fn logout_requests_must_be_signed_unless_a_relying_party_accepts_unsigned_ones() {
    let crt = "tests/fixtures/test-token-signing.crt";
    let rp = |extra: &str| {
        format!(
            "{MINIMAL}relying_parties:\n  - {{ identifier: 'https://sp.example.test/', reply_urls: ['https://sp.example.test/acs']{extra} }}\n"
        )
    };
    let parsed =
        |extra: &str| Config::parse(&rp(extra), "t").map(|c| c.relying_parties[0].logout_requests);
    // Required by default, even without a certificate (then no LogoutRequest is accepted).
    assert_eq!(parsed("").expect("valid"), LogoutRequests::RequireSigned);
    assert_eq!(
        parsed(", logout_requests: accept_unsigned").expect("valid"),
        LogoutRequests::AcceptUnsigned
    );
    assert_eq!(
        parsed(&format!(
            ", logout_requests: require_signed, signing_cert_file: {crt}"
        ))
        .expect("valid"),
        LogoutRequests::RequireSigned
    );
    assert_eq!(
        parsed(&format!(
            ", require_signed_requests: true, signing_cert_file: {crt}"
        ))
        .expect("valid"),
        LogoutRequests::RequireSigned
    );
    for (extra, says) in [
        (", logout_requests: sometimes".to_string(), "is not one of: require_signed, accept_unsigned"),
        (", logout_requests: require_signed".to_string(), "require_signed needs signing_cert_file"),
        (
            format!(", logout_requests: accept_unsigned, require_signed_requests: true, signing_cert_file: {crt}"),
            "contradicts require_signed_requests",
        ),
    ] {
        let found = issues(&rp(&extra));
        assert_eq!(found.len(), 1, "{extra}: {found:?}");
        assert!(
            found[0].starts_with("relying_parties[0].logout_requests: ") && found[0].contains(says),
            "{extra}: {found:?}"
        );
    }
}

#[test]
fn secrets_do_not_appear_in_debug_output() {
    std::env::set_var("ALTGATE_TEST_DEBUG_PW", "do-not-print-me");
    let text = "
server: { listen: 127.0.0.1:0, public_url: https://sts.example.test }
forests:
  - name: contoso.com
    global_catalogs: [ldaps://127.0.0.1:3269]
    service_account: { user: svc@contoso.com, password_env: ALTGATE_TEST_DEBUG_PW }
";
    let c = Config::parse(text, "t").expect("valid");
    assert!(!format!("{c:?}").contains("do-not-print-me"));
}

#[test]
fn bind_limits_default_to_the_pool_size_and_are_validated() {
    let c =
        Config::parse(&format!("{MINIMAL}directory: {{ pool_size: 8 }}\n"), "t").expect("valid");
    assert_eq!(c.directory.max_concurrent_binds_per_dc, 8);
    assert_eq!(c.directory.bind_queue_timeout, Duration::from_secs(2));
    let c = Config::parse(
            &format!(
                "{MINIMAL}directory: {{ max_concurrent_binds_per_dc: 16, bind_queue_timeout: 500ms }}\n"
            ),
            "t",
        )
        .expect("valid");
    assert_eq!(c.directory.max_concurrent_binds_per_dc, 16);
    assert_eq!(c.directory.bind_queue_timeout, Duration::from_millis(500));
    let found = issues(&format!(
        "{MINIMAL}directory: {{ max_concurrent_binds_per_dc: 0, bind_queue_timeout: 0s }}\n"
    ));
    assert!(
        found
            .iter()
            .any(|i| i.starts_with("directory.max_concurrent_binds_per_dc:")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|i| i.starts_with("directory.bind_queue_timeout:")),
        "{found:?}"
    );
}

#[test]
fn bad_enum_values_name_the_key_and_the_allowed_values_and_the_rest_is_still_checked() {
    let text = format!(
        "{MINIMAL}logging: {{ format: xml }}\n\
         federation: {{ display_name_order: surname_first, max_clock_skew: 300 }}\n\
         relying_parties:\n  - {{ identifier: 'urn:a', token_type: saml3, name_id_format: guid, sign: nothing, claims: [upn, shoe_size], reply_urls: ['http://evil.example/'], token_lifetime: 5 parsecs }}\n"
    );
    let found = issues(&text);
    let expect = [
        "logging.format: unknown variant `xml`, expected `text` or `json`",
        "federation.display_name_order: unknown variant `surname_first`, expected `given_family` or `family_given`",
        "federation.max_clock_skew: invalid type: integer `300`, expected a duration such as `30s`, `5m` or `1h 30m`",
        "relying_parties[0].token_type: unknown variant `saml3`, expected `saml11` or `saml20`",
        "relying_parties[0].token_lifetime: invalid duration \"5 parsecs\": unknown time unit \"parsecs\"",
        "relying_parties[0].claims[1]: unknown variant `shoe_size`, expected one of `upn`, `immutable_id`, `alternate_login_id`, `name`, `given_name`, `surname`, `inside_corporate_network`, `issuer_id`",
        "relying_parties[0].reply_urls[0]:",
        "relying_parties[0].name_id_format: unknown variant `guid`, expected one of `persistent`, `email`, `unspecified`",
        "relying_parties[0].sign: unknown variant `nothing`, expected one of `assertion`, `response`, `both`",
    ];
    for e in expect {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn every_shipped_configuration_file_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir("config").expect("config/") {
        let path = entry.expect("entry").path();
        let name = path.display().to_string();
        if !name.ends_with(".yaml") || name.ends_with("demo-directory.yaml") {
            continue;
        }
        seen += 1;
        if let Err(e) = Config::load(&path) {
            // Example deployments name files and variables that exist only on real servers;
            // anything else (a typo, a bound, a structural mistake) fails.
            for issue in &e.issues {
                let m = &issue.message;
                assert!(
                    m.starts_with("file not found")
                        || m.starts_with("cannot read")
                        || m.starts_with("environment variable"),
                    "{name}: {issue}"
                );
            }
        }
    }
    assert!(seen >= 2, "config/ holds the default and the example");
}

#[test]
fn password_expiry_notice_defaults_to_ad_fs_14_days_zero_disables_and_90_days_at_most() {
    let day = Duration::from_secs(86_400);
    let notice = |v: &str| {
        Config::parse(
            &format!("{MINIMAL}federation: {{ password_expiry_notice: {v} }}\n"),
            "t.yaml",
        )
        .map(|c| c.federation.password_expiry_notice)
    };
    let default = Config::parse(MINIMAL, "t.yaml").expect("minimal");
    assert_eq!(default.federation.password_expiry_notice, 14 * day);
    assert_eq!(notice("0").expect("0 disables"), Duration::ZERO);
    assert_eq!(notice("3d").expect("3d"), 3 * day);
    assert_eq!(notice("90d").expect("90d"), 90 * day);
    let too_long = format!("{MINIMAL}federation: {{ password_expiry_notice: 91d }}\n");
    assert_eq!(
        issues(&too_long),
        vec![
            "federation.password_expiry_notice: must be at most 90d (0 disables the claims)"
                .to_string()
        ]
    );
    assert!(ClaimKind::microsoft_online_defaults().contains(&ClaimKind::PasswordExpiry));
}

#[test]
fn password_expiry_notice_errors_name_the_key() {
    let text = format!("{MINIMAL}federation: {{ password_expiry_notice: soon }}\n");
    let found = issues(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("federation.password_expiry_notice: invalid duration"),
        "{found:?}"
    );
}

#[test]
fn every_problem_inside_a_section_is_reported_not_only_the_first() {
    // A wrong type, an unknown key and bad values side by side in one section: serde alone
    // stops at the first (`threshold: five` used to hide `mode: enforced`).
    let text = format!(
        "{MINIMAL}extranet_lockout:\n  threshold: five\n  mode: enforced\n  treshold: 5\n  \
         observation_window: 30s\n  max_familiar_locations: [1]\n  ip_failures_per_minute: 7\n"
    );
    let found = issues(&text);
    let expect = [
        "extranet_lockout.treshold: unknown field `treshold`, expected one of `mode`, `threshold`,",
        "extranet_lockout.threshold: invalid type: string \"five\", expected u64",
        "extranet_lockout.max_familiar_locations: invalid type: sequence, expected u64",
        "extranet_lockout.mode: \"enforced\" is not one of: off, log_only, enforce",
        "extranet_lockout.observation_window: must be between 1m and 30days",
    ];
    for e in expect {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
}

#[test]
fn every_problem_in_every_section_is_reported_at_once_with_its_path() {
    let text = "
server:
  listen: 8443
  public_url: https://sts.example.test/?x=1
  tls: { cert_file: [a], key_fil: k }
  max_body_bytes: -1
  trusted_proxies: [10.0.0.0/8, 5, not-a-network]
  limits: { idle_timeout: forever, max_conections: 5 }
demo_directory: config/demo-directory.yaml
forests:
  - name: 5
    global_catalogs: ldaps://dc1.contoso.com
    service_account: { user: svc, password_env: A, password_file: b }
    colour: blue
  - { name: fabrikam.com, domain_controllers: { fabrikam.com: [ldap://dc1, 636] } }
relying_parties:
  - { token_type: saml3, reply_urls: ['https://rp.example/', 7], require_signed_requests: maybe }
federation: { federated_domains: [contoso.com, 'not a domain'], issuer: [x] }
passive:
  session_key_env: ALTGATE_TEST_SURELY_UNSET_SESSION_KEY
  idp_initiated_sign_on: sometimes
  texts: { en: { heading: [x], submit: { a: 1 }, heding: x } }
logging: { format: xml, level: 3, colour: yes }
state: { url: 'redis://h', timeout: 5ms, on_unavailable: shrug, password_file: /nonexistent/pw, key_prefx: x }
admin: { listen: 127.0.0.1:9464, tls: { key_file: k } }
";
    let found = issues(text);
    let expect = [
        "server.listen: invalid type: integer `8443`, expected a string",
        "server.public_url: \"https://sts.example.test/?x=1\": no query or fragment allowed",
        "server.tls.cert_file: invalid type: sequence, expected a string",
        "server.tls.key_fil: unknown field `key_fil`",
        "server.max_body_bytes: invalid value: integer `-1`, expected u64",
        "server.trusted_proxies[1]: expected a CIDR network or a mapping with network, header, request_id, extranet_edge",
        "server.trusted_proxies[2]: \"not-a-network\" is not an address or CIDR network",
        "server.limits.idle_timeout: invalid duration \"forever\"",
        "server.limits.max_conections: unknown field `max_conections`",
        "server.tls.key_file: required",
        "forests[0].name: invalid type: integer `5`, expected a string",
        "forests[0].global_catalogs: invalid type: string \"ldaps://dc1.contoso.com\", expected a sequence",
        "forests[0].service_account: set password_env or password_file, not both",
        "forests[0].colour: unknown field `colour`",
        "forests[1].domain_controllers.fabrikam.com[0]: \"ldap://dc1\" must be an ldaps:// URL",
        "forests[1].domain_controllers.fabrikam.com[1]: invalid type: integer `636`, expected a string",
        "relying_parties[0].identifier: required",
        "relying_parties[0].token_type: unknown variant `saml3`",
        "relying_parties[0].reply_urls[1]: invalid type: integer `7`, expected a string",
        "relying_parties[0].require_signed_requests: invalid type: string \"maybe\", expected a boolean",
        "federation.issuer: invalid type: sequence, expected a string",
        "federation.federated_domains[1]: \"not a domain\" is not a DNS name",
        "passive.session_key_env: environment variable ALTGATE_TEST_SURELY_UNSET_SESSION_KEY is not set or empty",
        "passive.idp_initiated_sign_on: invalid type: string \"sometimes\", expected a boolean",
        "passive.texts.en.heading: invalid type: sequence, expected a string",
        "passive.texts.en.submit: invalid type: map, expected a string",
        "passive.texts.en.heding: unknown field `heding`",
        "logging.format: unknown variant `xml`",
        "logging.level: invalid type: integer `3`, expected a string",
        "logging.colour: unknown field `colour`",
        "state.timeout: must be between 10ms and 10s",
        "state.on_unavailable: \"shrug\" is not one of: fail_open, fail_closed",
        "state.password_file: cannot read /nonexistent/pw:",
        "state.key_prefx: unknown field `key_prefx`",
        "admin.tls.cert_file: required",
    ];
    for e in expect {
        assert!(
            found.iter().any(|f| f.starts_with(e)),
            "missing {e:?} in {found:#?}"
        );
    }
    assert_eq!(found.len(), expect.len(), "{found:#?}");
    // What check-config prints: the count, the file, one problem a line.
    let e = Config::parse(text, "multi.yaml").expect_err("invalid");
    let printed = e.to_string();
    assert!(
        printed.starts_with(&format!(
            "{} configuration problem(s) in multi.yaml:\n  ",
            expect.len()
        )),
        "{printed}"
    );
}

#[test]
fn the_section_files_import_each_other_without_a_circle() {
    // Each file of config/ (the code before its tests) and the files it names by module path
    // (`super::sp_metadata::`, `crate::config::url::`); the graph must have no circle, as
    // `src/layering.rs` checks between top-level modules.
    use std::collections::BTreeMap;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/config");
    let mut code = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("src/config") {
        let path = entry.expect("entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "rs") && stem != "mod" {
            let text = std::fs::read_to_string(&path).expect("read");
            let before_tests = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
            code.insert(stem.to_string(), before_tests);
        }
    }
    assert!(code.contains_key("relying_party") && code.contains_key("sp_metadata"));
    let imports: BTreeMap<&str, Vec<&str>> = code
        .iter()
        .map(|(from, text)| {
            let to = code
                .keys()
                .filter(|m| *m != from)
                .filter(|m| {
                    text.contains(&format!("super::{m}::"))
                        || text.contains(&format!("crate::config::{m}::"))
                })
                .map(String::as_str)
                .collect();
            (from.as_str(), to)
        })
        .collect();
    fn circle<'a>(
        at: &'a str,
        imports: &BTreeMap<&'a str, Vec<&'a str>>,
        path: &mut Vec<&'a str>,
    ) -> Option<String> {
        if let Some(start) = path.iter().position(|m| *m == at) {
            let mut found = path[start..].to_vec();
            found.push(at);
            return Some(found.join(" -> "));
        }
        path.push(at);
        for next in imports.get(at).into_iter().flatten() {
            if let Some(c) = circle(next, imports, path) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    for from in imports.keys() {
        assert_eq!(
            circle(from, &imports, &mut Vec::new()),
            None,
            "{imports:#?}"
        );
    }
    assert!(imports["relying_party"].contains(&"sp_metadata"));
    assert!(imports["sp_metadata"].contains(&"url"));
}

#[test]
fn trusted_proxies_say_which_header_they_write() {
    let yaml = |proxies: &str| {
        format!(
            "server: {{ listen: 127.0.0.1:8443, public_url: https://sts.example.test, trusted_proxies: {proxies} }}\n\
             demo_directory: config/demo-directory.yaml\nforests: [{{ name: contoso.com }}, {{ name: fabrikam.com }}]\n"
        )
    };
    let c = Config::parse(
        &yaml("[10.0.0.0/24, { network: 10.0.1.5, header: forwarded, request_id: true }, { network: '40.96.0.0/13', header: x-ms-forwarded-client-ip, extranet_edge: true }]"),
        "t.yaml",
    )
    .expect("valid");
    let p = &c.server.trusted_proxies;
    assert_eq!(p.len(), 3);
    assert_eq!(
        p[0],
        crate::config::edge::TrustedProxy::x_forwarded_for("10.0.0.0/24".parse().expect("net"))
    );
    assert_eq!(p[1].header, crate::config::edge::ForwardedHeader::Forwarded);
    assert!(p[1].request_id && !p[1].extranet_edge);
    assert_eq!(
        p[2].header,
        crate::config::edge::ForwardedHeader::XMsForwardedClientIp
    );
    assert!(p[2].extranet_edge && !p[2].request_id);
    let err = Config::parse(
        &yaml(
            "[{ header: forwarded }, { network: 10.0.0.1, header: x-real-ip, request_ids: true }]",
        ),
        "t.yaml",
    )
    .expect_err("invalid");
    let text = err.to_string();
    for want in [
        "server.trusted_proxies[0].network: required",
        "server.trusted_proxies[1].header: \"x-real-ip\" is not one of: x-forwarded-for, forwarded, x-ms-forwarded-client-ip",
        "server.trusted_proxies[1].request_ids: unknown field",
    ] {
        assert!(text.contains(want), "missing {want:?} in {text}");
    }
}

#[test]
fn session_tickets_are_per_node_by_default_shared_with_a_key_file_and_its_problems_reported() {
    use base64::Engine;
    let dir = tempfile::tempdir().expect("dir");
    let write = |name: &str, bytes: usize| {
        let p = dir.path().join(name);
        std::fs::write(
            &p,
            base64::engine::general_purpose::STANDARD.encode(vec![7u8; bytes]),
        )
        .expect("key");
        p.display().to_string()
    };
    let (good, short) = (write("good.key", 32), write("short.key", 16));
    let with = |tls_extra: &str| {
        MINIMAL.replace(
            "public_url: https://sts.example.test }",
            &format!(
                "public_url: https://sts.example.test, tls: {{ cert_file: {0}/c.pem, key_file: {0}/k.pem, generate_dev_certificate: true{tls_extra} }} }}",
                dir.path().display()
            ),
        )
    };
    let tickets = |text: &str| {
        Config::parse(text, "t")
            .expect("valid")
            .server
            .tls
            .expect("tls")
            .tickets
    };
    assert!(matches!(tickets(&with("")), crate::tls::Tickets::PerNode));
    assert!(matches!(
        tickets(&with(", session_tickets: false")),
        crate::tls::Tickets::Off
    ));
    let shared = tickets(&with(&format!(", ticket_key_file: {good}")));
    assert!(matches!(shared, crate::tls::Tickets::Shared(_)));
    assert!(
        !format!("{shared:?}").contains("BwcH"),
        "the key never prints"
    );
    let found = issues(&with(&format!(
        ", ticket_key_file: {short}, session_tickets: false"
    )));
    assert!(
        found.iter().any(|f| f
            .starts_with("server.tls.ticket_key_file: must hold the base64 of 32 random bytes")),
        "{found:#?}"
    );
    let found = issues(&with(&format!(
        ", ticket_key_file: {good}, session_tickets: false"
    )));
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("server.tls.ticket_key_file: set, but session_tickets is false")),
        "{found:#?}"
    );
    let found = issues(&with(", ticket_key_file: /nonexistent/ticket.key"));
    assert!(
        found
            .iter()
            .any(|f| f
                .starts_with("server.tls.ticket_key_file: cannot read /nonexistent/ticket.key")),
        "{found:#?}"
    );
}

#[test]
fn account_state_max_age_allows_zero_and_is_bounded() {
    let c = Config::parse(MINIMAL, "t").expect("valid");
    assert_eq!(c.passive.account_state_max_age, Duration::from_secs(30));
    let zero = format!("{MINIMAL}passive: {{ account_state_max_age: 0s }}\n");
    let c = Config::parse(&zero, "t").expect("valid");
    assert_eq!(c.passive.account_state_max_age, Duration::ZERO);
    let long = format!("{MINIMAL}passive: {{ account_state_max_age: 11m }}\n");
    assert!(
        issues(&long)
            .iter()
            .any(|f| f == "passive.account_state_max_age: must be at most 10m"),
        "{:?}",
        issues(&long)
    );
}

#[test]
fn auto_rollover_needs_the_next_files_and_its_steps_in_order() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = (dir.path().join("s.crt"), dir.path().join("s.key"));
    crate::keys::generate_signing_pair(&cert, &key, "t", crate::clock::system_clock()(), 30)
        .expect("pair");
    let signing = |extra: &str| {
        format!(
            "{MINIMAL}token_signing: {{ cert_file: {}, key_file: {}{extra} }}\n",
            cert.display(),
            key.display()
        )
    };
    let found = issues(&signing(
        ", auto_rollover: { generate_before: 20d, promote_after: 20d, certificate_days: 10, check_interval: 0s }",
    ));
    let paths: Vec<&str> = found
        .iter()
        .map(|i| i.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        paths,
        [
            "token_signing.auto_rollover.promote_after",
            "token_signing.auto_rollover.certificate_days",
            "token_signing.auto_rollover.check_interval",
            "token_signing.auto_rollover",
        ],
        "{found:#?}"
    );
    let next = format!(
        ", next_cert_file: {}, next_key_file: {}",
        dir.path().join("n.crt").display(),
        dir.path().join("n.key").display()
    );
    let c = Config::parse(
        &signing(&format!("{next}, auto_rollover: {{ promote_after: 0s }}")),
        "t",
    )
    .expect("valid");
    let auto = c
        .token_signing
        .and_then(|t| t.auto_rollover)
        .expect("auto rollover");
    assert_eq!(
        auto,
        crate::config::token_signing::AutoRollover {
            generate_before: Duration::from_secs(20 * 86_400),
            promote_after: Duration::ZERO,
            certificate_days: 365,
            check_interval: Duration::from_secs(3600),
        }
    );
    // A next key without its certificate, or half a pair on disk, is refused.
    assert!(issues(&signing(&format!(
        ", next_key_file: {}",
        dir.path().join("n.key").display()
    )))
    .iter()
    .any(|i| i.starts_with("token_signing.next_key_file")));
    std::fs::write(dir.path().join("n.key"), "x").expect("half a pair");
    assert!(issues(&signing(&next))
        .iter()
        .any(|i| i.starts_with("token_signing.next_cert_file: file not found")));
}

#[test]
fn a_signing_key_that_is_not_the_certificates_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let now = crate::clock::system_clock()();
    let (a_cert, a_key) = (dir.path().join("a.crt"), dir.path().join("a.key"));
    let (b_cert, b_key) = (dir.path().join("b.crt"), dir.path().join("b.key"));
    crate::keys::generate_signing_pair(&a_cert, &a_key, "a", now, 30).expect("a");
    crate::keys::generate_signing_pair(&b_cert, &b_key, "b", now, 30).expect("b");
    assert!(crate::keys::SigningKey::load(&a_cert, &a_key).is_ok());
    let err = crate::keys::SigningKey::load(&a_cert, &b_key).expect_err("mismatch");
    assert!(err.to_string().contains("is not the key of"), "{err}");
}

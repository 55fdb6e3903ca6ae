//! Configuration tests: defaults, every problem at once with its key path, each section's
//! checks, SP metadata and secrets kept out of `Debug`.

use super::relying_party::is_reply_url;
use super::sp_metadata::sp_metadata;
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

/// `config` with `value` (a YAML scalar as written) set at the dotted `path`; `[0]` steps into
/// the first list entry, which `base` must have.
fn with_value(base: &str, path: &str, value: &str) -> String {
    use serde_yaml::Value;
    let mut doc: Value = serde_yaml::from_str(base).expect("base");
    let value: Value = serde_yaml::from_str(value).unwrap_or(Value::String(value.into()));
    let mut at = &mut doc;
    for step in path.split('.') {
        let (key, first) = match step.strip_suffix("[0]") {
            Some(k) => (k, true),
            None => (step, false),
        };
        let map = at.as_mapping_mut().expect("mapping");
        if !map.contains_key(key) {
            map.insert(key.into(), Value::Mapping(Default::default()));
        }
        at = map.get_mut(key).expect("inserted");
        if first {
            at = at.get_mut(0).expect("first entry");
        }
    }
    *at = value;
    serde_yaml::to_string(&doc).expect("yaml")
}

/// Parses, and for an accepted file builds the application the way check-config does; a
/// panic anywhere names the key and value.
fn check(path: &str, value: &str, text: &str) -> Result<Config, Vec<ConfigIssue>> {
    let outcome = std::panic::catch_unwind(|| {
        let parsed = Config::parse(text, "t");
        if let Ok(c) = &parsed {
            crate::App::new(c.clone()).expect("the application builds");
        }
        parsed
    });
    match outcome {
        Ok(parsed) => parsed.map_err(|e| e.issues),
        Err(_) => panic!("{path}: {value} panicked"),
    }
}

const EXTREME_VALUES: &[&str] = &[
    "0",
    "'0s'",
    "'1ns'",
    "'1s'",
    "'59s'",
    "'2m'",
    "'1h'",
    "'25h'",
    "'31days'",
    "'100000years'",
    "'1000000000000h'",
    "'18446744073709551615s'",
    "'18446744073709551615s 1000000000ns'",
    "'584542046090y 12345d 6789s 999999999ns 1ns'",
    "'1 8 4 4 6 7 4 4 0 7 3 7 0 9 5 5 1 6 1 5s 1000000000ns'",
    "'99999999999999999999999999999999999999999ns'",
    "'1.5h'",
    "'-5s'",
    "'5 parsecs'",
    "''",
    "garbage",
    "-1",
    "18446744073709551615",
    "18446744073709551616",
    "1e300",
    "1.5",
    "[1s]",
    "{ a: 1 }",
];

/// A relying party and `server.limits` for the table tests to reach into.
fn table_base() -> String {
    format!(
        "{MINIMAL}relying_parties:\n  - {{ identifier: 'urn:test' }}\nserver: {{ listen: 127.0.0.1:0, public_url: https://sts.example.test, limits: {{}} }}\n"
    )
    .replacen(
        "server: { listen: 127.0.0.1:0, public_url: https://sts.example.test }\n",
        "",
        1,
    )
}

#[test]
fn every_duration_key_refuses_extreme_values_and_accepts_only_values_within_its_bound() {
    let second = Duration::from_secs(1);
    let minute = Duration::from_secs(60);
    let hour = Duration::from_secs(3600);
    let day = Duration::from_secs(86_400);
    // (key, least accepted, most accepted, the bound as its message names it, where the value
    // lands)
    type Get = fn(&Config) -> Duration;
    let ns = Duration::from_nanos(1);
    let keys: &[(&str, Duration, Duration, &str, Get)] = &[
        ("cache.positive_ttl", ns, day, "1day", |c| {
            c.cache.positive_ttl
        }),
        ("cache.negative_ttl", ns, day, "1day", |c| {
            c.cache.negative_ttl
        }),
        ("directory.connect_timeout", ns, minute, "1m", |c| {
            c.directory.connect_timeout
        }),
        ("directory.operation_timeout", ns, 5 * minute, "5m", |c| {
            c.directory.operation_timeout
        }),
        ("directory.retry_backoff", ns, 10 * minute, "10m", |c| {
            c.directory.retry_backoff
        }),
        ("directory.bind_queue_timeout", ns, minute, "1m", |c| {
            c.directory.bind_queue_timeout
        }),
        ("federation.max_clock_skew", ns, hour, "1h", |c| {
            c.federation.max_clock_skew
        }),
        ("passive.session_lifetime", ns, 30 * day, "30days", |c| {
            c.passive.session_lifetime
        }),
        (
            "passive.session_idle_timeout",
            ns,
            30 * day,
            "30days",
            |c| c.passive.session_idle_timeout,
        ),
        (
            "relying_parties[0].token_lifetime",
            ns,
            7 * day,
            "7days",
            |c| c.relying_parties[0].token_lifetime,
        ),
        (
            "server.limits.tls_handshake_timeout",
            second,
            minute,
            "1m",
            |c| c.server.limits.tls_handshake_timeout,
        ),
        (
            "server.limits.header_read_timeout",
            second,
            minute,
            "1m",
            |c| c.server.limits.header_read_timeout,
        ),
        (
            "server.limits.body_read_timeout",
            second,
            5 * minute,
            "5m",
            |c| c.server.limits.body_read_timeout,
        ),
        ("server.limits.idle_timeout", second, hour, "1h", |c| {
            c.server.limits.idle_timeout
        }),
        (
            "server.limits.request_timeout",
            second,
            5 * minute,
            "5m",
            |c| c.server.limits.request_timeout,
        ),
        (
            "extranet_lockout.observation_window",
            minute,
            30 * day,
            "30d",
            |c| c.extranet_lockout.policy.observation_window,
        ),
        (
            "extranet_lockout.familiar_location_lifetime",
            hour,
            365 * day,
            "365d",
            |c| c.extranet_lockout.policy.familiar_location_lifetime,
        ),
        (
            "state.timeout",
            Duration::from_millis(10),
            10 * second,
            "10s",
            |c| c.state.timeout,
        ),
    ];
    let base = table_base();
    Config::parse(&base, "t").expect("the base parses");
    for (key, min, max, bound, get) in keys {
        let at_max = format!("'{}'", humantime::format_duration(*max));
        let past_max = format!(
            "'{}'",
            humantime::format_duration(*max + Duration::from_secs(1))
        );
        for value in EXTREME_VALUES
            .iter()
            .copied()
            .chain([at_max.as_str(), past_max.as_str()])
        {
            let text = with_value(&base, key, value);
            match check(key, value, &text) {
                Ok(c) => {
                    let d = get(&c);
                    assert!(
                        *min <= d && d <= *max,
                        "{key}: {value} accepted as {d:?}, outside {min:?}..={max:?}"
                    );
                }
                Err(issues) => assert!(
                    issues.iter().any(|i| i.path == *key) && issues.len() == 1,
                    "{key}: {value}: {issues:?}"
                ),
            }
        }
        assert!(
            check(key, &at_max, &with_value(&base, key, &at_max)).is_ok(),
            "{key}: its bound {at_max} is accepted"
        );
        let issues =
            check(key, &past_max, &with_value(&base, key, &past_max)).expect_err("past the bound");
        assert!(
            issues[0].message.contains(bound),
            "{key}: the message names the bound {bound}: {issues:?}"
        );
    }
}

#[test]
fn every_size_key_refuses_extreme_values_and_accepts_only_values_within_its_bound() {
    type Get = fn(&Config) -> u64;
    let keys: &[(&str, u64, u64, Get)] = &[
        ("server.max_body_bytes", 1024, 16 << 20, |c| {
            c.server.max_body_bytes as u64
        }),
        ("cache.max_entries", 0, 10_000_000, |c| c.cache.max_entries),
        ("directory.pool_size", 1, 64, |c| {
            c.directory.pool_size as u64
        }),
        ("directory.max_concurrent_binds_per_dc", 1, 256, |c| {
            c.directory.max_concurrent_binds_per_dc as u64
        }),
        ("server.limits.max_connections", 16, 1_000_000, |c| {
            c.server.limits.max_connections as u64
        }),
        ("server.limits.max_connections_per_ip", 1, 1_000_000, |c| {
            c.server.limits.max_connections_per_ip as u64
        }),
        ("server.limits.http2_max_concurrent_streams", 1, 1000, |c| {
            u64::from(c.server.limits.http2_max_concurrent_streams)
        }),
        (
            "server.limits.http2_stream_window_bytes",
            65_535,
            16 << 20,
            |c| u64::from(c.server.limits.http2_stream_window_bytes),
        ),
        (
            "server.limits.http2_connection_window_bytes",
            65_535,
            64 << 20,
            |c| u64::from(c.server.limits.http2_connection_window_bytes),
        ),
        ("server.limits.max_header_bytes", 8192, 1 << 20, |c| {
            c.server.limits.max_header_bytes as u64
        }),
        ("extranet_lockout.threshold", 1, 1000, |c| {
            u64::from(c.extranet_lockout.policy.threshold)
        }),
        ("extranet_lockout.familiar_threshold", 5, 1000, |c| {
            u64::from(c.extranet_lockout.policy.familiar_threshold)
        }),
        ("extranet_lockout.max_familiar_locations", 1, 100, |c| {
            u64::from(c.extranet_lockout.policy.max_familiar_locations)
        }),
        ("extranet_lockout.ip_failures_per_minute", 0, 100_000, |c| {
            u64::from(c.extranet_lockout.ip_failures_per_minute)
        }),
    ];
    let base = table_base();
    for (key, min, max, get) in keys {
        let bounds = [
            min.saturating_sub(1).to_string(),
            min.to_string(),
            max.to_string(),
            (max + 1).to_string(),
            "'1MB'".to_string(),
        ];
        for value in EXTREME_VALUES
            .iter()
            .copied()
            .chain(bounds.iter().map(String::as_str))
        {
            let text = with_value(&base, key, value);
            match check(key, value, &text) {
                Ok(c) => {
                    let n = get(&c);
                    assert!(
                        *min <= n && n <= *max,
                        "{key}: {value} accepted as {n}, outside {min}..={max}"
                    );
                }
                Err(issues) => assert!(
                    issues.iter().any(|i| i.path == *key) && issues.len() == 1,
                    "{key}: {value}: {issues:?}"
                ),
            }
        }
        assert!(check(key, "", &with_value(&base, key, &max.to_string())).is_ok());
        let issues = check(key, "", &with_value(&base, key, &(max + 1).to_string()))
            .expect_err("past the bound");
        assert!(
            issues[0].message.contains(&max.to_string()),
            "{key}: the message names the bound: {issues:?}"
        );
    }
}

#[test]
fn duration_parsing_never_panics() {
    for s in [
        "18446744073709551615s 1000000000ns",
        "584542046090y 12345d 6789s 999999999ns 1ns",
        "1 8 4 4 6 7 4 4 0 7 3 7 0 9 5 5 1 6 1 5s 1000000000ns",
        "18446744073709551615ns 18446744073709551615ns",
        "99999999999999999999999999999999999999999999999999s",
        "1.99999999999999999999999999999h",
        "0.000000000000000000000000001ns",
        "5 5 5",
        "s",
        "µs",
        "1µs",
        "",
        " ",
        "-0s",
    ] {
        let _ = parse_duration(s);
    }
    assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(parse_duration(" 500ms "), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("1 000s"), Ok(Duration::from_secs(1000)));
    for huge in [
        "18446744073709551615s 1000000000ns",
        "1 8 4 4 6 7 4 4 0 7 3 7 0 9 5 5 1 6 1 5s 1000000000ns",
    ] {
        assert!(
            parse_duration(huge).is_err_and(|e| e.contains("too large")),
            "{huge}"
        );
    }
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

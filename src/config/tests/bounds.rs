//! Table tests over every duration and size key: extreme values are refused with the key's
//! path, values within the documented bound are accepted (and the application builds), and no
//! value makes the parser panic.

use super::super::*;
use super::MINIMAL;

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
            "server.limits.first_request_timeout",
            second,
            minute,
            "1m",
            |c| c.server.limits.first_request_timeout,
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
            lockout::OBSERVATION_WINDOW_BOUNDS.0,
            lockout::OBSERVATION_WINDOW_BOUNDS.1,
            "30d",
            |c| c.extranet_lockout.policy.observation_window,
        ),
        (
            "extranet_lockout.familiar_location_lifetime",
            lockout::FAMILIAR_LOCATION_LIFETIME_BOUNDS.0,
            lockout::FAMILIAR_LOCATION_LIFETIME_BOUNDS.1,
            "365d",
            |c| c.extranet_lockout.policy.familiar_location_lifetime,
        ),
        (
            "state.timeout",
            state::TIMEOUT_BOUNDS.0,
            state::TIMEOUT_BOUNDS.1,
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
        (
            "state.replay_cache_max_entries",
            state::REPLAY_CACHE_BOUNDS.0,
            state::REPLAY_CACHE_BOUNDS.1,
            |c| c.state.replay_cache_max_entries,
        ),
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
        (
            "extranet_lockout.threshold",
            lockout::THRESHOLD_BOUNDS.0,
            lockout::THRESHOLD_BOUNDS.1,
            |c| u64::from(c.extranet_lockout.policy.threshold),
        ),
        // At least the default threshold (5), at most the threshold's bound.
        (
            "extranet_lockout.familiar_threshold",
            5,
            lockout::THRESHOLD_BOUNDS.1,
            |c| u64::from(c.extranet_lockout.policy.familiar_threshold),
        ),
        (
            "extranet_lockout.max_familiar_locations",
            lockout::MAX_FAMILIAR_LOCATIONS_BOUNDS.0,
            lockout::MAX_FAMILIAR_LOCATIONS_BOUNDS.1,
            |c| u64::from(c.extranet_lockout.policy.max_familiar_locations),
        ),
        (
            "extranet_lockout.ip_failures_per_minute",
            lockout::IP_FAILURES_PER_MINUTE_BOUNDS.0,
            lockout::IP_FAILURES_PER_MINUTE_BOUNDS.1,
            |c| u64::from(c.extranet_lockout.ip_failures_per_minute),
        ),
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
fn the_bounds_lockout_and_state_declare_are_the_documented_ones() {
    let minute = Duration::from_secs(60);
    let day = Duration::from_secs(86_400);
    assert_eq!(lockout::THRESHOLD_BOUNDS, (1, 1000));
    assert_eq!(lockout::OBSERVATION_WINDOW_BOUNDS, (minute, 30 * day));
    assert_eq!(
        lockout::FAMILIAR_LOCATION_LIFETIME_BOUNDS,
        (60 * minute, 365 * day)
    );
    assert_eq!(lockout::MAX_FAMILIAR_LOCATIONS_BOUNDS, (1, 100));
    assert_eq!(lockout::IP_FAILURES_PER_MINUTE_BOUNDS, (0, 100_000));
    assert_eq!(
        state::TIMEOUT_BOUNDS,
        (Duration::from_millis(10), Duration::from_secs(10))
    );
    assert_eq!(state::REPLAY_CACHE_BOUNDS, (100, 10_000_000));
    assert_eq!(state::REPLAY_CACHE_DEFAULT, 200_000);
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

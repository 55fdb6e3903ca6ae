//! The WS-Trust RequestSecurityToken reader: mutated requests never panic and are accepted only
//! whole; credentials come out exactly as sent; the Timestamp verdict follows the clock.

use crate::gen::{mutate, property, Rng};
use crate::samples::{self, NOW};
use altgate::protocols::wstrust::request::{parse_rst, RstError, Version};
use time::format_description::well_known::Rfc3339;
use time::{Duration, UtcOffset};

fn version(rng: &mut Rng) -> Version {
    *rng.pick(&[Version::Trust13, Version::Trust2005])
}

#[test]
fn mutated_requests_never_panic_and_are_accepted_only_whole() {
    let samples = [
        samples::rst(Version::Trust13),
        samples::rst(Version::Trust2005),
    ];
    property(
        "wstrust_mutated",
        3000,
        |rng| {
            let body = if rng.chance(10) {
                rng.bytes(512)
            } else {
                let s = rng.pick(&samples).as_bytes();
                mutate(rng, s)
            };
            (version(rng), body)
        },
        |(v, body)| {
            if let Ok(rst) = parse_rst(body, *v, NOW, Duration::minutes(5)) {
                let text = String::from_utf8_lossy(body);
                assert!(!rst.applies_to.is_empty());
                for part in [
                    "Envelope",
                    "Action",
                    "RequestSecurityToken",
                    "UsernameToken",
                ] {
                    assert!(text.contains(part), "accepted without {part}");
                }
            }
        },
    );
}

const CHARS: &[&str] = &[
    "a", "Z", "9", " ", "\t", "\n", "@", "\\", ".", "é", "山", "😀", "&", "<", ">", "\"", "'",
    "]]>", "%",
];

/// Random text and its escaped form (partly character references).
fn escaped(rng: &mut Rng) -> (String, String) {
    let plain = rng.string_of(CHARS, 12);
    let mut written = String::new();
    for c in plain.chars() {
        match c {
            '&' => written.push_str("&amp;"),
            '<' => written.push_str("&lt;"),
            '>' => written.push_str("&gt;"),
            c if rng.chance(15) => written.push_str(&format!("&#{};", u32::from(c))),
            c => written.push(c),
        }
    }
    (plain, written)
}

#[test]
fn credentials_come_out_exactly_as_sent() {
    property(
        "wstrust_credentials",
        2000,
        |rng| {
            let (user, user_xml) = escaped(rng);
            let (password, password_xml) = escaped(rng);
            let v = version(rng);
            (
                v,
                user,
                password,
                samples::rst_with(v, "", &user_xml, &password_xml),
            )
        },
        |(v, user, password, body)| {
            let rst = parse_rst(body.as_bytes(), *v, NOW, Duration::minutes(5)).expect("valid");
            // The username is trimmed; the password is taken exactly as sent.
            assert_eq!(rst.username, user.trim());
            assert_eq!(rst.password.expose(), password);
            assert_eq!(rst.applies_to, "urn:federation:MicrosoftOnline");
        },
    );
}

/// A Created or Expires value: absent, a valid time at some offset from [`NOW`] (written in
/// various valid forms), or garbage.
#[derive(Debug, Clone)]
enum Stamp {
    Absent,
    At(time::OffsetDateTime, String),
    Garbage(&'static str),
}

/// Not RFC 3339 date-times.
const GARBAGE: &[&str] = &[
    "tomorrow",
    "",
    "2026-13-01T00:00:00Z",
    "2026-11-23T25:00:00Z",
    "2026-11-23T05:14:18",
    "1637644458",
];

fn stamp(rng: &mut Rng) -> Stamp {
    match rng.below(6) {
        0 => Stamp::Absent,
        1 => Stamp::Garbage(GARBAGE[rng.below(GARBAGE.len())]),
        _ => {
            let t = NOW
                + Duration::seconds(rng.range(-7200, 7200))
                + Duration::milliseconds(rng.range(0, 999));
            let shown = if rng.chance(30) {
                t.to_offset(UtcOffset::from_hms(rng.range(-12, 12) as i8, 0, 0).expect("offset"))
            } else {
                t
            };
            let mut text = shown.format(&Rfc3339).expect("format");
            if rng.chance(20) {
                text = format!("  {text}\n");
            }
            Stamp::At(t, text)
        }
    }
}

fn element(name: &str, s: &Stamp) -> String {
    match s {
        Stamp::Absent => String::new(),
        Stamp::At(_, text) => format!("<wsu:{name}>{text}</wsu:{name}>"),
        Stamp::Garbage(text) => format!("<wsu:{name}>{text}</wsu:{name}>"),
    }
}

#[test]
fn timestamps_are_judged_against_the_clock() {
    property(
        "wstrust_timestamps",
        3000,
        |rng| {
            let created = stamp(rng);
            let expires = stamp(rng);
            let now = NOW + Duration::seconds(rng.range(-3600, 3600));
            let skew = Duration::seconds(rng.range(0, 600));
            let with_timestamp = rng.chance(90);
            (created, expires, now, skew, with_timestamp)
        },
        |(created, expires, now, skew, with_timestamp)| {
            let ts = if *with_timestamp {
                format!(
                    "<wsu:Timestamp wsu:Id='_0'>{}{}</wsu:Timestamp>",
                    element("Created", created),
                    element("Expires", expires)
                )
            } else {
                String::new()
            };
            let body = samples::rst_with(Version::Trust13, &ts, "u@x", "pw");
            let got = parse_rst(body.as_bytes(), Version::Trust13, *now, *skew).map(|_| ());
            let expected = if !with_timestamp {
                Ok(())
            } else if matches!(created, Stamp::Garbage(_)) || matches!(expires, Stamp::Garbage(_)) {
                Err(RstError::BadTimestamp)
            } else if matches!(expires, Stamp::At(e, _) if *e < *now - *skew) {
                Err(RstError::Expired)
            } else if matches!(created, Stamp::At(c, _) if *c > *now + *skew) {
                Err(RstError::FromFuture)
            } else {
                Ok(())
            };
            assert_eq!(got, expected);
        },
    );
}

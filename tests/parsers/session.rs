//! Cookies: a `Cookie` header is read by name as browsers write it; an SSO cookie opens to the
//! session it sealed, and any edit of it (or anything else) opens to nothing.

use crate::gen::{mutate_str, property, Rng};
use altgate::secret::Secret;
use altgate::session::{cookie, Session, SessionKeys, COOKIE, CSRF_COOKIE};
use base64::Engine;
use std::sync::OnceLock;

const NAMES: &[&str] = &[COOKIE, CSRF_COOKIE, "a", "__Host-altgate", "b c", ""];
const VALUE: &[&str] = &["v", "=", " ", "x", "%3B", "\"", "é", "AAAA"];

#[test]
fn cookies_are_read_by_name() {
    property(
        "cookie_header",
        3000,
        |rng| {
            let mut pairs: Vec<String> = Vec::new();
            for _ in 0..rng.below(6) {
                let name = *rng.pick(NAMES);
                let value = rng.string_of(VALUE, 4);
                let sep = *rng.pick(&["=", "", "="]);
                let pad = *rng.pick(&["", " ", "  "]);
                pairs.push(format!("{pad}{name}{sep}{value}{pad}"));
            }
            let glue = *rng.pick(&["; ", ";", " ; "]);
            pairs.join(glue)
        },
        |header| {
            for name in NAMES.iter().filter(|n| !n.is_empty()) {
                // By definition: the first `;`-separated piece that, trimmed, is `name=value`.
                let want = header
                    .split(';')
                    .find_map(|p| p.trim().strip_prefix(&format!("{name}=")));
                assert_eq!(cookie(Some(header), name), want, "{name}");
            }
        },
    );
}

fn keys() -> &'static SessionKeys {
    static KEYS: OnceLock<SessionKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let secret = Secret::new(base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
        SessionKeys::new(Some(&secret)).expect("key").0
    })
}

const TEXT: &[&str] = &[
    "a", "Z", "@", "\\", ",", "=", "\"", "é", "😀", "\n", "\0", " ",
];

fn session(rng: &mut Rng) -> Session {
    Session {
        id: rng.string_of(TEXT, 22),
        login: rng.string_of(TEXT, 20),
        dn: rng.string_of(TEXT, 40),
        auth_instant: rng.next() as i64,
        last_used: rng.range(-1, 4_000_000_000),
        windows: rng.next() % 2 == 0,
    }
}

#[test]
fn sealed_sessions_open_and_edited_cookies_do_not() {
    property(
        "session_cookie",
        2000,
        |rng| {
            let s = session(rng);
            let sealed = keys().seal(&s).expect("seal");
            let edited = if rng.chance(10) {
                String::from_utf8_lossy(&rng.bytes(120)).into_owned()
            } else {
                mutate_str(rng, &sealed)
            };
            (s, sealed, edited)
        },
        |(s, sealed, edited)| {
            assert_eq!(keys().open(sealed).as_ref(), Some(s));
            match keys().open(edited) {
                None => {}
                // An edit that left the bytes as they were (the same base64) still opens.
                Some(opened) => assert_eq!(&opened, s, "{edited} opened to something else"),
            }
        },
    );
}

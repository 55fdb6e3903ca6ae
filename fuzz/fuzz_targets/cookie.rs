//! Cookies: reading one out of a `Cookie` header (`session::cookie`) and opening an SSO cookie
//! value (`SessionKeys::open`). Never panics; a cookie's value is a piece of the header; nothing
//! an attacker can type opens under a key they do not have.
#![no_main]

use altgate::secret::Secret;
use altgate::session::{cookie, SessionKeys, COOKIE, CSRF_COOKIE};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn keys() -> &'static SessionKeys {
    static KEYS: OnceLock<SessionKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        // base64 of 32 bytes of 7.
        let secret = Secret::new("BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=".to_string());
        SessionKeys::new(Some(&secret)).expect("key").0
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    for name in [COOKIE, CSRF_COOKIE, ""] {
        if let Some(v) = cookie(Some(header), name) {
            assert!(header.contains(v));
            assert!(keys().open(v).is_none(), "forged cookie opened");
        }
    }
    assert!(keys().open(header).is_none(), "forged cookie opened");
});

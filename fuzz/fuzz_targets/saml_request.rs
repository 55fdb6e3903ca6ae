//! SAML requests (`saml::request`, `authn_request`, `logout_request`) over the XML reader: never
//! panics, the three agree, and whatever is accepted has a well-formed ID and an Issuer.
#![no_main]

use altgate::protocols::passive::saml::{self, Request, Window};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

fn good_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fuzz_target!(|data: &[u8]| {
    let now = datetime!(2026-11-23 05:14:18 UTC);
    let window = Window::symmetric(time::Duration::minutes(5));
    let authn = saml::authn_request(data, now, window);
    let logout = saml::logout_request(data, now, window);
    match saml::request(data, now, window) {
        Ok(Request::Authn(r)) => {
            assert!(good_id(&r.id) && !r.issuer.is_empty(), "{r:?}");
            assert_eq!(authn.as_ref().ok(), Some(&r));
        }
        Ok(Request::Logout(r)) => {
            assert!(good_id(&r.id) && !r.issuer.is_empty(), "{r:?}");
            assert_eq!(logout.as_ref().ok(), Some(&r));
        }
        Err(_) => assert!(authn.is_err() && logout.is_err()),
    }
});

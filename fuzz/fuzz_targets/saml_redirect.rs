//! The SAML message decoding (`saml::decode`): base64 and, for the HTTP-Redirect binding, the
//! bounded inflate, then the request parser. The first byte chooses between feeding the rest as
//! a raw DEFLATE stream (base64-encoded here, so the inflater sees arbitrary compressed data)
//! and as the parameter value itself. Never panics and never returns more than the bound.
#![no_main]

use altgate::protocols::passive::saml::{self, Window};
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let value = if selector & 1 == 0 {
        base64::engine::general_purpose::STANDARD.encode(rest)
    } else {
        String::from_utf8_lossy(rest).into_owned()
    };
    let deflated = selector & 2 == 0;
    if let Ok(xml) = saml::decode(&value, deflated, MAX) {
        assert!(xml.len() <= MAX, "{} bytes past the bound", xml.len());
        let now = datetime!(2026-11-23 05:14:18 UTC);
        let _ = saml::request(&xml, now, Window::symmetric(time::Duration::minutes(5)));
    }
});

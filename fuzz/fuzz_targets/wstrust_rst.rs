//! The WS-Trust RequestSecurityToken reader (`parse_rst`), for both endpoint versions, with the
//! clock fixed at the time the seed requests were issued.
#![no_main]

use altgate::protocols::wstrust::request::{parse_rst, Version};
use libfuzzer_sys::fuzz_target;
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let version = if selector & 1 == 0 {
        Version::Trust13
    } else {
        Version::Trust2005
    };
    let now = datetime!(2026-11-23 05:14:18 UTC);
    if let Ok(rst) = parse_rst(body, version, now, time::Duration::minutes(5)) {
        assert!(!rst.applies_to.is_empty(), "accepted without an AppliesTo");
    }
});

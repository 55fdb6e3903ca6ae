//! The sign-in form's context codec (`fuzzing::decode_form_context`): never panics, decodes
//! only what it encodes (re-encoding gives the input back), and round-trips any raw parameters.
#![no_main]

use altgate::fuzzing::{decode_form_context, encode_form_context};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((tag, raw)) = decode_form_context(text) {
        assert_eq!(encode_form_context(tag, &raw).as_deref(), Some(text));
    }
    for tag in ["get", "post", "idp"] {
        let ctx = encode_form_context(tag, text).expect("known tag");
        assert_eq!(decode_form_context(&ctx), Some((tag, text.to_string())));
    }
});

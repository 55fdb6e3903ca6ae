//! What a Windows client sends (`kerberos::token`): the `Authorization: Negotiate` header and
//! the DER token in it never panic the reader; a token classified Kerberos starts with an
//! initial-context token, and a header naming Negotiate decodes to what it carried.
#![no_main]

use altgate::kerberos::token::{classify, from_header, Offered};
use base64::Engine;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if classify(data) == Offered::Kerberos {
        assert_eq!(data.first(), Some(&0x60), "an initial-context token");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = from_header(Some(text));
    }
    let header = format!(
        "Negotiate {}",
        base64::engine::general_purpose::STANDARD.encode(data)
    );
    let decoded = from_header(Some(&header));
    assert_eq!(decoded, Some((!data.is_empty()).then(|| data.to_vec())));
});

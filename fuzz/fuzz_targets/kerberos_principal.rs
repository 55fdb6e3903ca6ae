//! The client principal MIT prints (`kerberos::principal::parse`): never panics; what it
//! accepts has a DNS-name realm in capitals and a name without control characters, and prints
//! back (MIT's escapes) to the same principal.
#![no_main]

use altgate::kerberos::principal::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = parse(text) {
        assert!(p.realm.chars().all(|c| c.is_ascii_uppercase()
            || c.is_ascii_digit()
            || matches!(c, '.' | '-' | '_')));
        assert!(!p.name().is_empty() && !p.name().chars().any(char::is_control));
        let escaped = p
            .name()
            .replace('\\', "\\\\")
            .replace('/', "\\/")
            .replace('@', "\\@");
        assert_eq!(parse(&format!("{escaped}@{}", p.realm)), Ok(p.clone()));
    }
});

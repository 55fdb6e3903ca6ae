//! The typed login (`resolve::login::parse`): never panics; what it accepts is trimmed,
//! non-empty, within the length bound, free of control characters, classified consistently, and
//! parses again to itself.
#![no_main]

use altgate::resolve::login::{parse, Login, MAX_LOGIN_CHARS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(login) = parse(text) {
        let typed = login.as_typed();
        assert_eq!(typed, text.trim());
        assert!(!typed.is_empty() && typed.chars().count() <= MAX_LOGIN_CHARS);
        assert!(!typed.chars().any(char::is_control));
        match &login {
            Login::DownLevel { netbios, sam } => {
                assert!(!typed.contains('@') && !netbios.is_empty() && !sam.is_empty());
                assert!(!netbios.contains('\\') && !sam.contains('\\'));
            }
            Login::Address(_) => assert!(typed.contains('@') || !typed.contains('\\')),
        }
        assert_eq!(parse(&typed), Ok(login));
    }
});

//! The typed login: its verdict follows the documented rules (trimmed, not empty, at most
//! `MAX_LOGIN_CHARS` characters, no control character, `DOMAIN\name` only without `@`), and
//! what it accepts parses again to itself.

use crate::gen::property;
use altgate::resolve::login::{parse, Login, LoginError, MAX_LOGIN_CHARS};

const CHARS: &[&str] = &[
    "a", "Z", "0", "@", "\\", ".", "-", " ", "\t", "\n", "\0", "\u{7f}", "\u{85}", "\u{a0}",
    "\u{200b}", "\u{3000}", "é", "山", "😀", "%", "\"",
];

fn expected(input: &str) -> Result<Login, LoginError> {
    let s = input.trim();
    if s.is_empty() {
        Err(LoginError::Empty)
    } else if s.chars().count() > MAX_LOGIN_CHARS {
        Err(LoginError::TooLong)
    } else if s.chars().any(char::is_control) {
        Err(LoginError::ControlCharacter)
    } else if s.contains('@') || !s.contains('\\') {
        Ok(Login::Address(s.to_string()))
    } else {
        let parts: Vec<&str> = s.split('\\').collect();
        match parts.as_slice() {
            [netbios, sam] if !netbios.is_empty() && !sam.is_empty() => Ok(Login::DownLevel {
                netbios: netbios.to_string(),
                sam: sam.to_string(),
            }),
            _ => Err(LoginError::BadDownLevel),
        }
    }
}

#[test]
fn logins_are_judged_by_the_rules() {
    property(
        "login",
        3000,
        |rng| {
            let max = if rng.chance(10) { 400 } else { 12 };
            let mut s = rng.string_of(CHARS, max);
            if rng.chance(5) {
                s = format!(" {} ", "x".repeat(MAX_LOGIN_CHARS - 2 + rng.below(4)));
            }
            s
        },
        |input| {
            let got = parse(input);
            assert_eq!(got, expected(input));
            if let Ok(login) = got {
                assert_eq!(parse(&login.as_typed()), Ok(login));
            }
        },
    );
}

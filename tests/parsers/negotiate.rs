//! What a Windows client sends and what the keytab holds: the `Authorization: Negotiate` header
//! and the token in it (only Kerberos, raw or SPNEGO's preferred mechanism, is ever Kerberos;
//! NTLM, raw or preferred, is NTLM; nothing panics, however the DER is cut or its lengths lie),
//! the client principal MIT prints (what is accepted prints back to itself; service principals
//! and malformed escapes are refused) and the keytab reader (generated keytabs read back to
//! their entries; random and mutated files are errors, never panics).

use crate::gen::{mutate, property};
use altgate::fuzzing::samples::{initial_token as initial, keytab_entry, spnego};
use altgate::kerberos::principal::{parse, Client, PrincipalError};
use altgate::kerberos::token::{classify, from_header, Offered, KRB5, MS_KRB5, NTLM};
use base64::Engine;

const NEGOEX: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];

#[test]
fn negotiate_tokens_are_kerberos_only_when_kerberos_is_preferred() {
    const MECHS: &[&[u8]] = &[KRB5, MS_KRB5, NTLM, NEGOEX];
    property(
        "negotiate_token",
        3000,
        |rng| {
            let n = 1 + rng.below(4);
            let mechs: Vec<&[u8]> = (0..n).map(|_| *rng.pick(MECHS)).collect();
            let size = if rng.chance(10) { 70_000 } else { 64 };
            let payload = rng.bytes(size);
            let kind = rng.below(3);
            let token = match kind {
                0 => spnego(&mechs, &payload),
                1 => initial(mechs[0], &payload),
                _ => [b"NTLMSSP\0".as_slice(), &payload].concat(),
            };
            let mutated = rng.chance(40).then(|| mutate(rng, &token));
            (kind, mechs, token, mutated)
        },
        |(kind, mechs, token, mutated)| {
            let kerberos = mechs[0] == KRB5 || mechs[0] == MS_KRB5;
            let want = match kind {
                2 => Offered::Ntlm,
                1 if kerberos => Offered::Kerberos,
                1 => Offered::Other,
                _ if kerberos => Offered::Kerberos,
                _ if mechs[0] == NTLM => Offered::Ntlm,
                _ => Offered::Other,
            };
            assert_eq!(classify(token), want);
            let header = format!(
                "Negotiate {}",
                base64::engine::general_purpose::STANDARD.encode(token)
            );
            assert_eq!(from_header(Some(&header)), Some(Some(token.clone())));
            if let Some(m) = mutated {
                let _ = classify(m); // never panics
                let _ = from_header(std::str::from_utf8(m).ok());
            }
            for n in [0, 1, 2, token.len() / 2, token.len().saturating_sub(1)] {
                if let Some(prefix) = token.get(..n) {
                    let _ = classify(prefix);
                }
            }
        },
    );
}

#[test]
fn principals_print_back_to_themselves_and_services_are_refused() {
    const NAME: &[&str] = &[
        "a", "Z", "0", "$", ".", "-", "@", "/", "\\", "\n", "\0", " ", "é", "山", "\\@", "\\/",
        "\\\\", "\\n", "\\q",
    ];
    property(
        "kerberos_principal",
        4000,
        |rng| {
            let name = rng.string_of(NAME, 12);
            let realm = rng.string_of(&["CONTOSO", ".", "COM", "a", "@", "\\"], 4);
            format!("{name}@{realm}")
        },
        |display| {
            let Ok(p) = parse(display) else {
                return;
            };
            assert!(!p.realm.is_empty() && p.realm == p.realm.to_ascii_uppercase());
            let name = p.name();
            assert!(!name.is_empty() && !name.chars().any(char::is_control));
            match &p.client {
                Client::Enterprise(n) => assert!(n.contains('@')),
                Client::Computer(n) => assert!(n.ends_with('$') && !n.contains('@')),
                Client::User(n) => assert!(!n.ends_with('$') && !n.contains('@')),
            }
            // What MIT would print for it parses to the same principal.
            let escaped = name
                .replace('\\', "\\\\")
                .replace('/', "\\/")
                .replace('@', "\\@");
            assert_eq!(parse(&format!("{escaped}@{}", p.realm)), Ok(p.clone()));
        },
    );
    assert_eq!(parse("host/ws01@R"), Err(PrincipalError::Service));
}

#[test]
fn keytabs_read_back_to_their_entries_and_garbage_is_an_error() {
    property(
        "keytab",
        2000,
        |rng| {
            let n = rng.below(5);
            let entries: Vec<(String, u32, u16)> = (0..n)
                .map(|_| {
                    let host = rng.string_of(&["sts", ".", "contoso", "com", "é"], 5);
                    let kvno = 1 + rng.below(400) as u32;
                    (host, kvno, *rng.pick(&[17u16, 18, 23, 3]))
                })
                .collect();
            let mut bytes = vec![0x05, 0x02];
            for (host, kvno, enctype) in &entries {
                bytes.extend(keytab_entry(
                    &["HTTP", host],
                    "CONTOSO.COM",
                    *kvno,
                    *enctype,
                ));
            }
            let mutated = rng.chance(50).then(|| mutate(rng, &bytes));
            (entries, bytes, mutated)
        },
        |(entries, bytes, mutated)| {
            let read = altgate::keytab::parse(bytes).expect("a generated keytab reads");
            let got: Vec<(String, u32, u16)> = read
                .iter()
                .map(|e| (e.principal.clone(), e.kvno, e.enctype))
                .collect();
            let want: Vec<(String, u32, u16)> = entries
                .iter()
                .map(|(h, k, t)| (format!("HTTP/{h}@CONTOSO.COM"), *k, *t))
                .collect();
            assert_eq!(got, want);
            if let Some(m) = mutated {
                let _ = altgate::keytab::parse(m); // an error or entries, never a panic
            }
        },
    );
}

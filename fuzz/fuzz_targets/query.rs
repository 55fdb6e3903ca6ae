//! The `/adfs/ls/` query/form decoding (`fuzzing::Query`): never panics; a decoded value is the
//! decoding of the raw value it is reported with; a query that passes the check names each
//! protocol parameter once and literally; HTTP-Redirect signatures over its parameters are
//! checked (against the unit tests' fixture certificate) without panicking and never verify.
#![no_main]

use altgate::fuzzing::Query;
use altgate::protocols::passive::saml;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const PROTOCOL: &[&str] = &[
    "SAMLRequest",
    "SAMLResponse",
    "RelayState",
    "SigAlg",
    "Signature",
    "wa",
    "wtrealm",
    "wctx",
    "wreply",
    "wfresh",
    "wct",
    "whr",
    "wres",
    "wp",
    "wauth",
    "wresult",
    "loginToRp",
];

fn cert() -> &'static [u8] {
    static DER: OnceLock<Vec<u8>> = OnceLock::new();
    DER.get_or_init(|| {
        let pem = include_str!("../../tests/fixtures/test-token-signing.crt");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("fixture certificate")
    })
}

fn decoded(raw: &str) -> String {
    form_urlencoded::parse(format!("v={raw}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// (raw name, decoded name) of the parameters read from one source.
fn names(source: &str) -> Vec<(&str, String)> {
    source
        .split('&')
        .filter(|s| !s.is_empty())
        .take(64)
        .map(|s| {
            let raw = s.split_once('=').map_or(s, |(n, _)| n);
            (raw, decoded(raw))
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A POST: the form, then the query string after it (split at the first NUL).
    let (form, query) = text.split_once('\0').unwrap_or((text, ""));
    let mut q = Query::parse(form);
    q.extend(Query::parse(query));
    for &name in PROTOCOL {
        if let (Some(v), Some(raw)) = (q.get(name), q.raw(name)) {
            assert_eq!(v, decoded(raw), "{name}: value and raw value disagree");
        }
    }
    if q.check().is_ok() {
        let all: Vec<_> = names(form).into_iter().chain(names(query)).collect();
        for &name in PROTOCOL {
            let found: Vec<_> = all.iter().filter(|(_, n)| n == name).collect();
            assert!(found.len() <= 1, "{name} accepted twice");
            assert!(
                found.iter().all(|(raw, _)| *raw == name),
                "{name} accepted encoded"
            );
        }
    }
    if let Some(rq) = q.redirect_query() {
        assert!(saml::verify_redirect_signature(&rq, cert()).is_err());
    }
});

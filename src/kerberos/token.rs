//! The `Authorization: Negotiate` header ([`from_header`]) and what a client offered in it,
//! read before any of it reaches the
//! GSS-API acceptor: a Kerberos AP-REQ (raw, or SPNEGO whose preferred mechanism is Kerberos),
//! NTLM (raw `NTLMSSP`, or SPNEGO preferring the NTLM mechanism), or something else. Only the
//! first is ever accepted; NTLM is refused here, so it never costs a second round trip or a
//! 401 loop. The DER walk (RFC 2743 section 3.1, RFC 4178) reads lengths with bounds checks
//! and nothing else; the acceptor parses the token for real.

/// Kerberos V5, `1.2.840.113554.1.2.2`.
pub const KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// Microsoft's Kerberos OID, `1.2.840.48018.1.2.2` (what Windows lists first in SPNEGO).
pub const MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/// SPNEGO, `1.3.6.1.5.5.2`.
pub const SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
/// NTLM, `1.3.6.1.4.1.311.2.2.10`.
pub const NTLM: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
/// A raw NTLM message starts with this signature.
const NTLMSSP: &[u8] = b"NTLMSSP\0";

/// What a Negotiate token offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offered {
    /// A Kerberos initial token, raw or as SPNEGO's preferred mechanism.
    Kerberos,
    /// NTLM, raw or as SPNEGO's preferred mechanism: never accepted.
    Ntlm,
    /// Anything else: another mechanism, a SPNEGO continuation, or bytes that are not a token.
    Other,
}

/// The scheme of the `WWW-Authenticate` challenge and of the `Authorization` answer.
pub const NEGOTIATE: &str = "Negotiate";

/// The decoded token of an `Authorization: Negotiate <base64>` header; `Some(None)` when the
/// header names Negotiate but carries no token or one that is not base64 (refused like a bad
/// token, never ignored), `None` when it names no Negotiate at all.
pub fn from_header(authorization: Option<&str>) -> Option<Option<Vec<u8>>> {
    use base64::Engine;
    let value = authorization?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case(NEGOTIATE) {
        return None;
    }
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .filter(|t| !t.is_empty()),
    )
}

/// The `WWW-Authenticate` value carrying the acceptor's reply token (mutual authentication).
pub fn reply_header(reply: &[u8]) -> String {
    use base64::Engine;
    format!(
        "{NEGOTIATE} {}",
        base64::engine::general_purpose::STANDARD.encode(reply)
    )
}

/// Classifies a decoded Negotiate token.
pub fn classify(token: &[u8]) -> Offered {
    if token.starts_with(NTLMSSP) {
        return Offered::Ntlm;
    }
    // InitialContextToken: [APPLICATION 0] { thisMech OID, innerContextToken }
    let Some((0x60, body, _)) = tlv(token) else {
        return Offered::Other;
    };
    let Some((0x06, mech, inner)) = tlv(body) else {
        return Offered::Other;
    };
    if mech == KRB5 || mech == MS_KRB5 {
        return Offered::Kerberos;
    }
    if mech != SPNEGO {
        return Offered::Other;
    }
    match spnego_preferred(inner) {
        Some(m) if m == KRB5 || m == MS_KRB5 => Offered::Kerberos,
        Some(m) if m == NTLM => Offered::Ntlm,
        _ => Offered::Other,
    }
}

/// The first mechanism of a NegTokenInit's `mechTypes`: the one its optimistic token is for.
fn spnego_preferred(inner: &[u8]) -> Option<&[u8]> {
    // negTokenInit [0] EXPLICIT NegTokenInit ::= SEQUENCE { mechTypes [0] MechTypeList, ... }
    let (0xa0, init, _) = tlv(inner)? else {
        return None;
    };
    let (0x30, fields, _) = tlv(init)? else {
        return None;
    };
    let (0xa0, mech_types, _) = tlv(fields)? else {
        return None;
    };
    let (0x30, list, _) = tlv(mech_types)? else {
        return None;
    };
    let (0x06, first, _) = tlv(list)? else {
        return None;
    };
    Some(first)
}

/// One DER element at the start of `input`: (tag, contents, rest). Definite lengths only, up to
/// four length octets, all within `input`.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (octets, rest) = rest.split_at(n);
        let len = octets
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::samples::{der, initial_token, kerberos_token, spnego};

    #[test]
    fn negotiate_headers() {
        assert_eq!(from_header(None), None);
        assert_eq!(from_header(Some("Basic dXNlcjpwdw==")), None);
        assert_eq!(
            from_header(Some("Negotiate")),
            Some(None),
            "no token: refused, not ignored"
        );
        assert_eq!(
            from_header(Some("negotiate YWJj")),
            Some(Some(b"abc".to_vec()))
        );
        assert_eq!(from_header(Some("Negotiate !!!")), Some(None));
        assert_eq!(from_header(Some("Negotiate  ")), Some(None));
    }

    #[test]
    fn kerberos_raw_or_preferred_in_spnego_is_kerberos() {
        assert_eq!(classify(&kerberos_token(b"ap-req")), Offered::Kerberos);
        assert_eq!(
            classify(&initial_token(MS_KRB5, b"ap-req")),
            Offered::Kerberos
        );
        // What Windows and Chromium send: MS Kerberos first, then Kerberos, then NTLM.
        let big = vec![0x5a; 70_000];
        assert_eq!(
            classify(&spnego(&[MS_KRB5, KRB5, NTLM], &big)),
            Offered::Kerberos,
            "long-form lengths (a large PAC)"
        );
        assert_eq!(classify(&spnego(&[KRB5], b"x")), Offered::Kerberos);
    }

    #[test]
    fn ntlm_raw_or_preferred_is_ntlm() {
        assert_eq!(classify(b"NTLMSSP\0\x01\0\0\0rest"), Offered::Ntlm);
        assert_eq!(
            classify(&spnego(&[NTLM, KRB5], b"NTLMSSP\0")),
            Offered::Ntlm
        );
    }

    #[test]
    fn everything_else_is_other_and_nothing_panics() {
        assert_eq!(classify(b""), Offered::Other);
        assert_eq!(classify(b"\x60"), Offered::Other);
        assert_eq!(classify(b"\x60\x84\xff\xff\xff\xff"), Offered::Other);
        assert_eq!(classify(b"\x60\x85\x01\x01\x01\x01\x01"), Offered::Other);
        assert_eq!(
            classify(b"\x60\x80\x06\x00"),
            Offered::Other,
            "indefinite length"
        );
        assert_eq!(
            classify(&initial_token(&[0x2b, 0x06, 0x01, 0x05, 0x02, 0x05], b"")),
            Offered::Other,
            "IAKERB"
        );
        // A SPNEGO continuation (NegTokenResp) is never expected: altgate never asks for one.
        assert_eq!(classify(&der(0xa1, &der(0x30, b""))), Offered::Other);
        assert_eq!(classify(&spnego(&[], b"")), Offered::Other);
        // Every prefix of a good token is refused without a panic.
        let good = spnego(&[MS_KRB5, KRB5, NTLM], b"token");
        for n in 0..good.len() {
            let _ = classify(&good[..n]);
        }
    }
}

//! Entry points for fuzzers and property tests (`fuzz/`, `tests/parsers.rs`); not a stable API.
//!
//! Every parser of untrusted input is listed here. Most are public where they live and are
//! called there:
//!
//! - the XML reader, [`crate::xml::parse::parse`];
//! - the WS-Trust RequestSecurityToken reader, [`crate::protocols::wstrust::request::parse_rst`];
//! - SAML requests at `/adfs/ls/`: [`crate::protocols::passive::saml::decode`] (base64 and the
//!   bounded inflate of the HTTP-Redirect binding), [`crate::protocols::passive::saml::request`]
//!   and [`crate::protocols::passive::saml::verify_redirect_signature`];
//! - cookies: [`crate::session::cookie`] and [`crate::session::SessionKeys::open`];
//! - the typed login, [`crate::resolve::login::parse`];
//! - forwarded client addresses, [`crate::http::client_ip::client_addresses`];
//! - Windows integrated sign-in: the `Authorization: Negotiate` header and the token in it
//!   ([`crate::kerberos::token::from_header`], [`crate::kerberos::token::classify`]), the
//!   client principal MIT prints ([`crate::kerberos::principal::parse`]) and keytab files
//!   ([`crate::keytab::parse`]).
//!
//! The two that are private to browser sign-in are re-exported below as thin wrappers over the
//! very code requests go through: the query/form decoding with its protocol-parameter check
//! ([`Query`]), and the sign-in form's context codec ([`decode_form_context`]).

pub use crate::protocols::passive::fuzz::{decode_form_context, encode_form_context, Query};

/// Well-formed inputs to start from: what unit tests, property tests and fuzz seeds build their
/// Negotiate tokens and keytabs with.
pub mod samples {
    use crate::kerberos::token::{KRB5, SPNEGO};

    /// One DER element (definite length, short or long form).
    pub fn der(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = contents.len();
        if len < 0x80 {
            out.extend(u8::try_from(len));
        } else {
            let bytes: Vec<u8> = len
                .to_be_bytes()
                .iter()
                .copied()
                .skip_while(|b| *b == 0)
                .collect();
            out.extend(u8::try_from(0x80 | bytes.len()));
            out.extend_from_slice(&bytes);
        }
        out.extend_from_slice(contents);
        out
    }

    /// An initial-context token (RFC 2743 section 3.1) for `mech` wrapping `inner`.
    pub fn initial_token(mech: &[u8], inner: &[u8]) -> Vec<u8> {
        let mut body = der(0x06, mech);
        body.extend_from_slice(inner);
        der(0x60, &body)
    }

    /// A raw Kerberos token carrying `payload` (the tests' fake acceptor reads the principal
    /// from it).
    pub fn kerberos_token(payload: &[u8]) -> Vec<u8> {
        initial_token(KRB5, payload)
    }

    /// A SPNEGO NegTokenInit listing `mechs` (preferred first) with `mech_token`.
    pub fn spnego(mechs: &[&[u8]], mech_token: &[u8]) -> Vec<u8> {
        let list: Vec<u8> = mechs.iter().flat_map(|m| der(0x06, m)).collect();
        let mut fields = der(0xa0, &der(0x30, &list));
        fields.extend(der(0xa2, &der(0x04, mech_token)));
        initial_token(SPNEGO, &der(0xa0, &der(0x30, &fields)))
    }

    /// One keytab record (MIT format 0x0502, its size first) for `components@realm`, with a
    /// dummy 32-byte key and both the 8-bit and the 32-bit key version.
    pub fn keytab_entry(components: &[&str], realm: &str, kvno: u32, enctype: u16) -> Vec<u8> {
        let counted = |out: &mut Vec<u8>, v: &str| {
            out.extend(u16::try_from(v.len()).unwrap_or(u16::MAX).to_be_bytes());
            out.extend(v.as_bytes());
        };
        let mut rec = u16::try_from(components.len())
            .unwrap_or(u16::MAX)
            .to_be_bytes()
            .to_vec();
        counted(&mut rec, realm);
        for c in components {
            counted(&mut rec, c);
        }
        rec.extend(1u32.to_be_bytes());
        rec.extend(0u32.to_be_bytes());
        rec.extend(u8::try_from(kvno % 256));
        rec.extend(enctype.to_be_bytes());
        rec.extend(32u16.to_be_bytes());
        rec.extend([7u8; 32]);
        rec.extend(kvno.to_be_bytes());
        let mut out = u32::try_from(rec.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes()
            .to_vec();
        out.extend(rec);
        out
    }

    /// A whole keytab: the version and `entries` (`(host, kvno, enctype)` of
    /// `HTTP/host@realm`).
    pub fn keytab(realm: &str, entries: &[(&str, u32, u16)]) -> Vec<u8> {
        let mut out = vec![0x05, 0x02];
        for (host, kvno, enctype) in entries {
            out.extend(keytab_entry(&["HTTP", host], realm, *kvno, *enctype));
        }
        out
    }
}

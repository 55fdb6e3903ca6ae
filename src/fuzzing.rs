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

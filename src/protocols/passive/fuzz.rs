//! The private parsers of `/adfs/ls/` made reachable for the crate's `fuzzing` facade: the one
//! decoding of a query string or form (`params`) and the sign-in form's context codec
//! (`request`). Thin wrappers only: they call exactly the code requests go through, and widen
//! nothing else.

use super::params::Params;
use super::request::{decode_ctx, encode_ctx, Arrival};
use super::saml::RedirectQuery;

/// A query string or form decoded exactly as `/adfs/ls/` decodes it.
#[derive(Debug, Clone, Default)]
pub struct Query<'a>(Params<'a>);

impl<'a> Query<'a> {
    /// Decodes `raw` (`application/x-www-form-urlencoded`).
    pub fn parse(raw: &'a str) -> Self {
        Query(Params::parse(raw))
    }

    /// Appends another source's parameters (a POST's query string after its form).
    pub fn extend(&mut self, other: Query<'a>) {
        self.0.extend(other.0);
    }

    /// The check every request passes before it is routed; the refusal's stable code.
    pub fn check(&self) -> Result<(), &'static str> {
        self.0.check().map_err(|e| e.code())
    }

    /// The decoded value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name)
    }

    /// The raw (still encoded) value of the same parameter.
    pub fn raw(&self, name: &str) -> Option<&'a str> {
        self.0.raw(name)
    }

    /// The parameters an HTTP-Redirect signature is verified over, located as `/adfs/ls/`
    /// locates them; `None` without a `SAMLRequest`.
    pub fn redirect_query(&self) -> Option<RedirectQuery<'a>> {
        Some(RedirectQuery {
            saml_request: self.raw("SAMLRequest")?,
            relay_state: self.raw("RelayState"),
            sig_alg: self.raw("SigAlg"),
            signature: self.raw("Signature"),
        })
    }
}

fn arrival_tag(a: Arrival) -> &'static str {
    match a {
        Arrival::Get => "get",
        Arrival::Post => "post",
        Arrival::IdpInitiated => "idp",
        Arrival::OAuth => "oauth",
    }
}

/// Encodes the sign-in form's `ctx` for an arrival (`get`, `post` or `idp`; `None` for any other
/// tag) and the raw parameters.
pub fn encode_form_context(arrival: &str, raw: &str) -> Option<String> {
    let arrival = match arrival {
        "get" => Arrival::Get,
        "post" => Arrival::Post,
        "idp" => Arrival::IdpInitiated,
        _ => return None,
    };
    Some(encode_ctx(arrival, raw))
}

/// Decodes a posted `ctx` as the sign-in form does: its arrival tag and raw parameters.
pub fn decode_form_context(ctx: &str) -> Option<(&'static str, String)> {
    decode_ctx(ctx).map(|(a, raw)| (arrival_tag(a), raw))
}

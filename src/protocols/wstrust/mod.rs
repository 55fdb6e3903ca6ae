//! WS-Trust usernamemixed (1.3 and 2005): what Office rich clients and Microsoft's
//! authentication libraries POST usernames and passwords to, and the WS-MetadataExchange
//! document that lets them discover it.

pub mod mex;
pub mod request;
pub mod response;

use crate::app::App;
use crate::config::{RelyingParty, TokenType};
use crate::signin::{sign_in, SignInContext};
use crate::tokens::issue::{issue, Delivery};
use crate::tokens::rstr::Version;
use crate::tokens::saml::{TOKEN_TYPE_SAML11, TOKEN_TYPE_SAML20};
use request::parse_rst;
use response::{fault, rstr, Fault};
use std::net::IpAddr;

/// The HTTP status and SOAP body to answer with. AD FS answers every fault with 500.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// SOAP 1.2 envelope.
    pub body: String,
}

fn failed(
    app: &App,
    version: Version,
    rp: &str,
    reason: &str,
    f: Fault,
    relates: Option<&str>,
) -> Answer {
    app.metrics
        .tokens
        .failed
        .with_label_values(&[version.label(), rp, reason])
        .inc();
    Answer {
        status: 500,
        body: fault(version, f, relates),
    }
}

/// The token type to issue: the requested one when it is one altgate issues, else the relying
/// party's. Returns the TokenType URI and the flavour.
fn token_type(requested: Option<&str>, rp: &RelyingParty) -> (&'static str, TokenType) {
    match requested {
        Some(TOKEN_TYPE_SAML20)
        | Some("http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0") => {
            (TOKEN_TYPE_SAML20, TokenType::Saml20)
        }
        Some(TOKEN_TYPE_SAML11)
        | Some("http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV1.1") => {
            (TOKEN_TYPE_SAML11, TokenType::Saml11)
        }
        _ => match rp.token_type {
            TokenType::Saml11 => (TOKEN_TYPE_SAML11, TokenType::Saml11),
            TokenType::Saml20 => (TOKEN_TYPE_SAML20, TokenType::Saml20),
        },
    }
}

/// Answers one RST posted to the `version` endpoint from `client_ip`.
pub async fn handle(app: &App, version: Version, body: &[u8], client_ip: IpAddr) -> Answer {
    let now = (app.clock)();
    let skew = time::Duration::try_from(app.config.federation.max_clock_skew)
        .unwrap_or(time::Duration::minutes(5));
    let rst = match parse_rst(body, version, now, skew) {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(target: "altgate::ops", protocol = version.label(), reason = e.reason(), error = %e, "refused WS-Trust request");
            return failed(app, version, "unknown", e.reason(), Fault::Request, None);
        }
    };
    let relates = rst.message_id.as_deref();
    let Some(rp) = app.relying_party(&rst.applies_to) else {
        return failed(
            app,
            version,
            "unknown",
            "unknown_relying_party",
            Fault::Scope,
            relates,
        );
    };
    if app.signing.is_none() {
        return failed(
            app,
            version,
            &rp.identifier,
            "no_signing_key",
            Fault::Unavailable,
            relates,
        );
    }
    let ctx = SignInContext {
        protocol: version.label(),
        relying_party: &rp.identifier,
        client_ip,
    };
    let signed_in = match sign_in(app, &rst.username, &rst.password, &ctx).await {
        Ok(s) => s,
        Err(f) => {
            return failed(
                app,
                version,
                &rp.identifier,
                f.reason(),
                Fault::Authentication,
                relates,
            )
        }
    };
    let (type_uri, flavour) = token_type(rst.token_type.as_deref(), rp);
    let rp_for_token = RelyingParty {
        token_type: flavour,
        ..rp.clone()
    };
    match issue(
        app,
        &rp_for_token,
        &signed_in,
        client_ip,
        &Delivery::default(),
    ) {
        Ok(assertion) => {
            app.metrics
                .tokens
                .issued
                .with_label_values(&[version.label(), &rp.identifier])
                .inc();
            Answer {
                status: 200,
                body: rstr(version, &assertion, type_uri, &rp.identifier, relates, now),
            }
        }
        Err(e) => {
            tracing::error!(target: "altgate::ops", error = %e, "token issuance failed");
            failed(
                app,
                version,
                &rp.identifier,
                "signing_failed",
                Fault::Unavailable,
                relates,
            )
        }
    }
}

/// The fault for a request refused before parsing (oversize, wrong content type).
pub fn refuse(app: &App, version: Version, reason: &str) -> Answer {
    failed(app, version, "unknown", reason, Fault::Request, None)
}

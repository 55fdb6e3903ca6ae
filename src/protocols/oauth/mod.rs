//! OAuth 2.0 and OpenID Connect at AD FS's paths (`/adfs/oauth2/`, issuer
//! `https://<host>/adfs`): discovery and keys, the authorization endpoint (the browser part is
//! [`super::passive`]'s: the same form, SSO session, lockout, password change and Windows
//! integrated sign-in), the token endpoint (authorization code with PKCE, refresh with
//! rotation, client credentials, password), userinfo, end-session, and RFC 7009 revocation and
//! RFC 7662 introspection for confidential clients.
//!
//! Codes and refresh token families live in the farm's state store, so any node redeems them
//! and a revocation reaches every node. Every JWT that arrives from outside is verified by the
//! `jsonwebtoken` crate with RS256 only ([`crate::tokens::jwt`]). Roles: `params` reads a
//! request's parameters once (each at most once), `client` authenticates clients, `grant`
//! holds what a code or refresh token stands for and makes the tokens, `authorize` is the
//! browser's side, `token` the token endpoint, `endpoints` the rest.

pub(crate) mod authorize;
mod client;
mod endpoints;
mod grant;
mod params;
mod token;

use super::passive::Passive;
use crate::config::oauth::OAuthConfig;
use crate::events::OAuthRequestRefused;
use crate::label::{kinds, label_set};
use crate::request::RequestContext;
use crate::signin::Protocol;
use hyper::StatusCode;

pub use endpoints::{discovery, jwks};

label_set! {
    /// Why an OAuth / OpenID Connect request was refused: the reason of
    /// `oauth_request_refused` and of `altgate_token_failures_total`. The client gets the RFC
    /// 6749 error code the reason maps to, never the reason itself.
    pub enum OAuthRefusal: kinds::TokenFailure {
        /// A required parameter is missing, or one is malformed or too long
        /// (`invalid_request`).
        MalformedRequest = "malformed_request",
        /// A parameter appears more than once (`invalid_request`; RFC 6749 §3.1).
        RepeatedParameter = "repeated_parameter",
        /// `response_type` is not `code` (`unsupported_response_type`; the implicit and hybrid
        /// flows are not offered).
        UnsupportedResponseType = "unsupported_response_type",
        /// `grant_type` is not one altgate answers (`unsupported_grant_type`).
        UnsupportedGrantType = "unsupported_grant_type",
        /// The client may not use this grant (`unauthorized_client`).
        GrantNotAllowed = "grant_not_allowed",
        /// `client_id` names no configured client (an error page, never a redirect).
        UnknownClient = "unknown_client",
        /// The `redirect_uri` is not one the client registered, compared exactly (an error
        /// page, never a redirect).
        UnregisteredRedirectUri = "unregistered_redirect_uri",
        /// A scope the client may not ask for, or an unknown resource or resource scope
        /// (`invalid_scope`).
        InvalidScope = "invalid_scope",
        /// PKCE is required and `code_challenge` is missing, or its method is not allowed
        /// (`invalid_request`).
        PkceRequired = "pkce_required",
        /// The client failed to authenticate: unknown client, wrong secret, bad assertion, or
        /// more than one method (`invalid_client`, 401).
        ClientAuthentication = "client_authentication",
        /// The authorization code is unknown or expired, or was issued to another client or
        /// redirect URI (`invalid_grant`).
        InvalidCode = "invalid_code",
        /// The authorization code was redeemed before: everything it issued is revoked
        /// (`invalid_grant`).
        CodeReplayed = "code_replayed",
        /// The PKCE `code_verifier` is missing or does not match (`invalid_grant`).
        PkceMismatch = "pkce_mismatch",
        /// The refresh token is unknown, expired, revoked or another client's
        /// (`invalid_grant`).
        InvalidRefreshToken = "invalid_refresh_token",
        /// An already used refresh token was presented: its whole family is revoked
        /// (`invalid_grant`).
        RefreshTokenReused = "refresh_token_reused",
        /// The account behind a refresh token is disabled, gone, or its password was set after
        /// the sign-in (`invalid_grant`).
        AccountChanged = "account_changed",
        /// ROPC: the sign-in failed (wrong password, unknown or ambiguous login, locked out,
        /// disabled...; the sign-in's own reason is in `altgate_sign_in_failures_total`): one
        /// answer for all (`invalid_grant`, AD FS's MSIS9659).
        InvalidCredentials = "password_grant_failed",
        /// ROPC: the password is expired or must be changed (`invalid_grant`, said plainly;
        /// AD answers this only to the right password).
        PasswordMustChange = "password_must_change",
        /// `prompt=none` without a usable session (`login_required`).
        LoginRequired = "login_required",
        /// The bearer token is missing, malformed, expired or revoked (`invalid_token`, 401).
        InvalidToken = "invalid_access_token",
        /// The `id_token_hint` does not verify as one of altgate's ID tokens.
        InvalidIdTokenHint = "invalid_id_token_hint",
        /// The `post_logout_redirect_uri` is not one the client registered.
        UnregisteredPostLogoutUri = "unregistered_post_logout_uri",
        /// The farm state store did not answer (`temporarily_unavailable`, 503).
        StateUnavailable = "oauth_state_unavailable",
        /// No signing key, or signing failed (`server_error`, 503).
        SigningFailed = "oauth_signing_failed",
    }
}

impl OAuthRefusal {
    /// The RFC 6749 / OIDC error code the client sees.
    pub fn error(self) -> &'static str {
        use OAuthRefusal::*;
        match self {
            MalformedRequest
            | RepeatedParameter
            | PkceRequired
            | UnregisteredRedirectUri
            | UnknownClient
            | InvalidIdTokenHint
            | UnregisteredPostLogoutUri => "invalid_request",
            UnsupportedResponseType => "unsupported_response_type",
            UnsupportedGrantType => "unsupported_grant_type",
            GrantNotAllowed => "unauthorized_client",
            InvalidScope => "invalid_scope",
            ClientAuthentication => "invalid_client",
            InvalidCode | CodeReplayed | PkceMismatch | InvalidRefreshToken
            | RefreshTokenReused | AccountChanged | PasswordMustChange | InvalidCredentials => {
                "invalid_grant"
            }
            LoginRequired => "login_required",
            InvalidToken => "invalid_token",
            StateUnavailable => "temporarily_unavailable",
            SigningFailed => "server_error",
        }
    }

    /// The HTTP status of a direct (non-redirect) answer.
    pub fn status(self) -> StatusCode {
        match self {
            OAuthRefusal::ClientAuthentication | OAuthRefusal::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            OAuthRefusal::StateUnavailable | OAuthRefusal::SigningFailed => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The `error_description` (fixed text: nothing from the request, nothing that tells one
    /// account from another).
    pub fn description(self) -> &'static str {
        use OAuthRefusal::*;
        match self {
            MalformedRequest => "A required parameter is missing, malformed or too long.",
            RepeatedParameter => "A parameter appears more than once.",
            UnsupportedResponseType => "Only response_type=code is supported.",
            UnsupportedGrantType => "The grant_type is not supported.",
            GrantNotAllowed => "The client is not allowed to use this grant.",
            UnknownClient => "The client_id is not registered.",
            UnregisteredRedirectUri => "The redirect_uri is not registered for this client.",
            InvalidScope => "The requested scope or resource is not allowed.",
            PkceRequired => "PKCE with code_challenge_method=S256 is required.",
            ClientAuthentication => "Client authentication failed.",
            InvalidCode | CodeReplayed => "The authorization code is invalid or was already used.",
            PkceMismatch => "The code_verifier does not match the code_challenge.",
            InvalidRefreshToken | RefreshTokenReused | AccountChanged => {
                "The refresh token is invalid, expired or revoked."
            }
            InvalidCredentials => token::PASSWORD,
            PasswordMustChange => {
                "The password has expired or must be changed. Change it, then sign in again."
            }
            LoginRequired => "The user must sign in.",
            InvalidToken => "The access token is invalid, expired or revoked.",
            InvalidIdTokenHint => "The id_token_hint is not valid.",
            UnregisteredPostLogoutUri => "The post_logout_redirect_uri is not registered.",
            StateUnavailable => "The service is temporarily unavailable; try again.",
            SigningFailed => "The token could not be issued.",
        }
    }
}

/// The OAuth endpoints' view of the application.
#[derive(Clone, Copy)]
pub struct OAuth<'a> {
    /// `oauth:` (clients, resources, lifetimes).
    pub config: &'a OAuthConfig,
    /// `server.public_url`.
    pub public_url: &'a str,
    /// The browser part and everything it holds (sign-in, tokens, state, sessions, events).
    pub passive: Passive<'a>,
}

impl OAuth<'_> {
    /// The issuer: `<public_url>/adfs`.
    pub fn issuer(&self) -> String {
        issuer(self.public_url)
    }

    /// Counts and logs a refusal.
    fn refused(
        &self,
        reason: OAuthRefusal,
        client_id: Option<&str>,
        protocol: Protocol,
        request: &RequestContext,
    ) {
        refused(&self.passive, reason, client_id, protocol, request);
    }
}

/// Counts and logs an OAuth refusal (`oauth_request_refused`, `altgate_token_failures_total`),
/// naming the client when `client_id` is a configured one.
pub(crate) fn refused(
    passive: &Passive<'_>,
    reason: OAuthRefusal,
    client_id: Option<&str>,
    protocol: Protocol,
    request: &RequestContext,
) {
    let client = client_id
        .filter(|id| passive.oauth.is_some_and(|o| o.client(id).is_some()))
        .unwrap_or("unknown");
    passive.events.emit(&OAuthRequestRefused {
        protocol: protocol.into(),
        client_id: client,
        reason: reason.into(),
        client_ip: request.client_ip(),
    });
    passive.token_metrics.count_failed(protocol, client, reason);
}

/// The issuer for `public_url`: `<public_url>/adfs`.
pub fn issuer(public_url: &str) -> String {
    format!("{}/adfs", public_url.trim_end_matches('/'))
}

/// A JSON answer.
#[derive(Debug)]
pub struct JsonAnswer {
    /// Status.
    pub status: StatusCode,
    /// Body.
    pub body: String,
    /// `WWW-Authenticate`, for a 401.
    pub www_authenticate: Option<String>,
    /// The body may be cached (discovery, keys): `max-age` seconds.
    pub cache_seconds: Option<u32>,
}

impl JsonAnswer {
    fn ok(body: serde_json::Value) -> Self {
        JsonAnswer {
            status: StatusCode::OK,
            body: body.to_string(),
            www_authenticate: None,
            cache_seconds: None,
        }
    }

    /// The error answer for `reason`.
    fn error(reason: OAuthRefusal) -> Self {
        let body = serde_json::json!({
            "error": reason.error(),
            "error_description": reason.description(),
        });
        JsonAnswer {
            status: reason.status(),
            body: body.to_string(),
            www_authenticate: match reason {
                OAuthRefusal::InvalidToken => Some(format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    reason.description()
                )),
                _ => None,
            },
            cache_seconds: None,
        }
    }
}

/// A random value of `bytes` bytes, base64url (codes, refresh tokens, family ids).
fn random(bytes: usize) -> Option<String> {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut b = vec![0u8; bytes];
    ring::rand::SystemRandom::new().fill(&mut b).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// A request to one of the token-side endpoints (token, userinfo, revoke, introspect, logout).
pub struct ApiRequest<'a> {
    /// POST rather than GET.
    pub post: bool,
    /// The raw query string.
    pub raw_query: &'a str,
    /// The body (a form, for POST).
    pub body: &'a [u8],
    /// The body was sent as `application/x-www-form-urlencoded`.
    pub form: bool,
    /// The `Authorization` header.
    pub authorization: Option<&'a str>,
    /// The client and activity.
    pub request: &'a RequestContext,
}

pub use endpoints::{introspect, logout, revoke, userinfo};
pub use token::token;

#[cfg(test)]
mod tests;

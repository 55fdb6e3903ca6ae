//! WS-Trust usernamemixed (1.3 and 2005): what Office rich clients and Microsoft's
//! authentication libraries POST usernames and passwords to; windowstransport (1.3 and 2005):
//! the same with a Kerberos ticket over HTTP Negotiate (hybrid join of Windows devices,
//! integrated sign-in of rich clients); and the WS-MetadataExchange document that lets them
//! discover both.

pub mod mex;
pub mod request;
pub mod response;

use crate::config::{RelyingParty, TokenType};
use crate::kerberos::token::{from_header, reply_header, NEGOTIATE};
use crate::label::{kinds, label_set, Id};
use crate::metrics::TokenMetrics;
use crate::request::RequestContext;
use crate::signin::windows::WindowsSignIn;
use crate::signin::{SignIn, SignInContext};
use crate::tokens::issue::{Delivery, Tokens};
use crate::tokens::rstr::Version;
use crate::tokens::saml::{TOKEN_TYPE_SAML11, TOKEN_TYPE_SAML20};
use hyper::StatusCode;
use request::{parse_request, Credentials};
use response::{fault, rstr, Fault};

/// The HTTP status and SOAP body to answer with. AD FS answers every fault with 500.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// SOAP 1.2 envelope.
    pub body: String,
    /// `WWW-Authenticate` (windowstransport: the Negotiate challenge, or the reply token).
    pub www_authenticate: Option<String>,
}

/// Why a request was refused before its envelope was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefusal {
    /// The body is larger than `server.max_body_bytes` (answered 413).
    BodyTooLarge,
    /// The content type is not `application/soap+xml`.
    ContentType,
    /// The body did not arrive within `server.limits.body_read_timeout` (answered 408).
    BodyTimeout,
}

impl BodyRefusal {
    /// The failure metric's `reason`.
    pub fn reason(self) -> RequestRefusal {
        match self {
            BodyRefusal::BodyTooLarge => RequestRefusal::BodyTooLarge,
            BodyRefusal::ContentType => RequestRefusal::ContentType,
            BodyRefusal::BodyTimeout => RequestRefusal::BodyTimeout,
        }
    }
}

label_set! {
    /// Why a WS-Trust token request was refused before its sign-in (or after it, for want of a
    /// signature): the `reason` of `altgate_token_failures_total`. The client gets a SOAP fault
    /// (MSIS3127 for a bad request); the reason stays in the metric and the log.
    pub enum RequestRefusal: kinds::TokenFailure {
        /// The body is larger than `server.max_body_bytes` (answered 413).
        BodyTooLarge = "body_too_large",
        /// The body did not arrive within `server.limits.body_read_timeout` (answered 408).
        BodyTimeout = "body_timeout",
        /// The content type is not `application/soap+xml`.
        ContentType = "content_type",
        /// The XML carries a DOCTYPE (DTDs and entities are never processed).
        XmlDtd = "xml_dtd",
        /// The XML nests too deep or holds too many elements.
        XmlLimits = "xml_limits",
        /// The XML is not UTF-8, is malformed, has no single root element or too many
        /// attributes on one element.
        XmlMalformed = "xml_malformed",
        /// Not a SOAP 1.2 envelope with a Header and a Body.
        NotSoap12 = "not_soap12",
        /// `wsa:Action` is missing or not this endpoint's Issue action.
        WrongAction = "wrong_action",
        /// The body holds the other WS-Trust version's request.
        VersionMismatch = "version_mismatch",
        /// No RequestSecurityToken in the body.
        MissingRst = "missing_rst",
        /// The RequestType is not Issue.
        WrongRequestType = "wrong_request_type",
        /// A KeyType other than bearer.
        WrongKeyType = "wrong_key_type",
        /// No `wsse:Security/UsernameToken` with a Username and a Password.
        MissingUsernameToken = "missing_username_token",
        /// A password type other than PasswordText.
        PasswordType = "password_type",
        /// No AppliesTo address.
        MissingAppliesTo = "missing_applies_to",
        /// The WS-Security timestamp does not parse.
        BadTimestamp = "bad_timestamp",
        /// The WS-Security timestamp has expired.
        TimestampExpired = "timestamp_expired",
        /// The WS-Security timestamp was created in the future.
        TimestampFuture = "timestamp_future",
        /// AppliesTo names no configured relying party.
        UnknownRelyingParty = "unknown_relying_party",
        /// No token-signing key is loaded: nothing can be signed.
        NoSigningKey = "no_signing_key",
        /// Building or signing the token failed.
        SigningFailed = "signing_failed",
    }
}

/// What the WS-Trust endpoints need, and nothing more: the relying parties, the sign-in and
/// token services, and the token metrics.
#[derive(Clone, Copy)]
pub struct WsTrust<'a> {
    /// Configured relying parties.
    pub relying_parties: &'a [RelyingParty],
    /// Password sign-in.
    pub sign_in: &'a SignIn,
    /// Token issuance.
    pub tokens: &'a Tokens,
    /// Issued/failed counters.
    pub metrics: &'a TokenMetrics,
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

impl WsTrust<'_> {
    fn failed(
        &self,
        version: Version,
        rp: &str,
        reason: impl Into<Id<kinds::TokenFailure>>,
        f: Fault,
        relates: Option<&str>,
    ) -> Answer {
        self.metrics.count_failed(version.protocol(), rp, reason);
        Answer {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            body: fault(version, f, relates),
            www_authenticate: None,
        }
    }

    /// The checked RST and its relying party, or the fault: a request that does not parse
    /// (MSIS3127), an unknown relying party (ID3082), no signing key.
    fn accept_request(
        &self,
        version: Version,
        body: &[u8],
        credentials: Credentials,
    ) -> Result<(request::Rst, &RelyingParty), Answer> {
        let now = self.tokens.now();
        let skew = time::Duration::try_from(self.tokens.federation().max_clock_skew)
            .unwrap_or(time::Duration::minutes(5));
        let rst = match parse_request(body, version, now, skew, credentials) {
            Ok(r) => r,
            Err(e) => {
                tracing::info!(target: "altgate::ops", protocol = %version.protocol(), reason = e.code(), error = %e, "refused WS-Trust request");
                return Err(self.failed(version, "unknown", e.reason(), Fault::Request, None));
            }
        };
        let relates = rst.message_id.as_deref();
        let Some(rp) = super::relying_party(self.relying_parties, &rst.applies_to) else {
            return Err(self.failed(
                version,
                "unknown",
                RequestRefusal::UnknownRelyingParty,
                Fault::Scope,
                relates,
            ));
        };
        if self.tokens.signing().is_none() {
            return Err(self.failed(
                version,
                &rp.identifier,
                RequestRefusal::NoSigningKey,
                Fault::Unavailable,
                relates,
            ));
        }
        Ok((rst, rp))
    }

    /// Answers one RST posted to the `version` usernamemixed endpoint by `request`.
    pub async fn handle(&self, version: Version, body: &[u8], request: &RequestContext) -> Answer {
        let (rst, rp) = match self.accept_request(version, body, Credentials::UsernameToken) {
            Ok(accepted) => accepted,
            Err(fault) => return fault,
        };
        let ctx = SignInContext::new(version.protocol(), Some(rp), request);
        match self
            .sign_in
            .sign_in(&rst.username, &rst.password, &ctx)
            .await
        {
            Ok(signed_in) => self.answer(version, &rst, rp, &signed_in, request),
            Err(f) => self.failed(
                version,
                &rp.identifier,
                f.reason(),
                Fault::Authentication,
                rst.message_id.as_deref(),
            ),
        }
    }

    /// Answers one RST posted to the `version` windowstransport endpoint: without a Negotiate
    /// token, `401` with the challenge; with one, the holder of the ticket (a user, or a
    /// domain-joined computer with the hybrid join claims) gets the same RSTR as
    /// usernamemixed gives, and the acceptor's reply token. A token that signs nobody in gets
    /// the authentication fault, never a new challenge (no loop).
    pub async fn handle_windows(
        &self,
        version: Version,
        body: &[u8],
        request: &RequestContext,
        windows: &WindowsSignIn,
        authorization: Option<&str>,
    ) -> Answer {
        let Some(token) = from_header(authorization) else {
            return Answer {
                status: StatusCode::UNAUTHORIZED,
                body: String::new(),
                www_authenticate: Some(NEGOTIATE.into()),
            };
        };
        let token = token.unwrap_or_default();
        let (rst, rp) = match self.accept_request(version, body, Credentials::Transport) {
            Ok(accepted) => accepted,
            Err(fault) => return fault,
        };
        let ctx = SignInContext::new(version.protocol(), Some(rp), request);
        match windows.sign_in(token, true, &ctx).await {
            Ok(signed) => {
                let mut answer = self.answer(version, &rst, rp, &signed.signed_in, request);
                answer.www_authenticate = signed.reply.as_deref().map(reply_header);
                answer
            }
            Err(f) => self.failed(
                version,
                &rp.identifier,
                f.token_reason(),
                Fault::Authentication,
                rst.message_id.as_deref(),
            ),
        }
    }

    /// The RSTR for `signed_in` to `rp`, or the fault when the token cannot be issued.
    fn answer(
        &self,
        version: Version,
        rst: &request::Rst,
        rp: &RelyingParty,
        signed_in: &crate::signin::SignedIn,
        request: &RequestContext,
    ) -> Answer {
        let now = self.tokens.now();
        let relates = rst.message_id.as_deref();
        let (type_uri, flavour) = token_type(rst.token_type.as_deref(), rp);
        match self.tokens.issue(
            rp,
            flavour,
            signed_in,
            &request.client,
            &Delivery::default(),
        ) {
            Ok(assertion) => {
                self.metrics
                    .count_issued(version.protocol(), &rp.identifier);
                Answer {
                    status: StatusCode::OK,
                    body: rstr(version, &assertion, type_uri, &rp.identifier, relates, now),
                    www_authenticate: None,
                }
            }
            Err(e) => {
                tracing::error!(target: "altgate::ops", error = %e, "token issuance failed");
                self.failed(
                    version,
                    &rp.identifier,
                    RequestRefusal::SigningFailed,
                    Fault::Unavailable,
                    relates,
                )
            }
        }
    }

    /// The fault for a request refused before parsing. Oversize bodies are answered 413, slow
    /// ones 408, the rest 500 like every other fault.
    pub fn refuse(&self, version: Version, refusal: BodyRefusal) -> Answer {
        let mut answer = self.failed(version, "unknown", refusal.reason(), Fault::Request, None);
        answer.status = match refusal {
            BodyRefusal::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyRefusal::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            BodyRefusal::ContentType => answer.status,
        };
        answer
    }
}

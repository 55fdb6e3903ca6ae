//! SAML 2.0 requests arriving at `/adfs/ls/`: decoding both bindings (HTTP-Redirect with raw
//! DEFLATE and a bounded inflate, HTTP-POST), parsing AuthnRequest and LogoutRequest with the
//! safe XML reader, judging their IssueInstant against a window the replay cache outlives, and
//! verifying HTTP-Redirect signatures (RSA-SHA256) when a relying party requires signed requests.

use super::RefusalReason;
use crate::tokens::saml::{SAML2, SAMLP};
use crate::xml::parse::{parse, Limits, XmlNode};
use base64::Engine;
use std::io::Read;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The HTTP-POST binding URI.
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// Why a SAML message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SamlError {
    /// Not base64, not DEFLATE, too large when inflated, or not XML.
    #[error("the SAML message cannot be decoded: {0}")]
    Decode(String),
    /// Not the expected element or missing required parts.
    #[error("the SAML message is malformed: {0}")]
    Malformed(&'static str),
    /// IssueInstant too old or in the future.
    #[error("the SAML request is stale or from the future")]
    Stale,
    /// Signature missing, unsupported or wrong.
    #[error("the SAML request signature is missing or invalid")]
    Signature,
}

impl SamlError {
    /// The refusal's reason: `saml_decode`, `saml_malformed`, `saml_stale` or
    /// `saml_signature`.
    pub fn reason(&self) -> RefusalReason {
        match self {
            SamlError::Decode(_) => RefusalReason::SamlDecode,
            SamlError::Malformed(_) => RefusalReason::SamlMalformed,
            SamlError::Stale => RefusalReason::SamlStale,
            SamlError::Signature => RefusalReason::SamlSignature,
        }
    }

    /// Stable code (metric label and audit reason): the id of [`SamlError::reason`].
    pub fn code(&self) -> &'static str {
        self.reason().id()
    }
}

/// How far a request's IssueInstant may lie behind or ahead of now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Oldest accepted: now minus this.
    pub past: Duration,
    /// Newest accepted: now plus this.
    pub future: Duration,
}

/// Kept between the longest a request may stay acceptable and how long its ID is remembered,
/// for the replay cache's clock and the IssueInstant clock drifting apart.
pub const REPLAY_MARGIN: Duration = Duration::seconds(60);

impl Window {
    /// The same bound both ways.
    pub fn symmetric(d: Duration) -> Self {
        Window { past: d, future: d }
    }

    /// The window for requests whose answered IDs are remembered for `replay_ttl` (`None`: for
    /// ever). Ahead: the clock skew. Behind: the skew plus five minutes to fill in the sign-in
    /// form, cut so that `future + past + REPLAY_MARGIN <= replay_ttl`. An ID is remembered from
    /// when its request is answered, which is no earlier than `IssueInstant - future`; the
    /// request stops being accepted at `IssueInstant + past`; so it can never be answered again
    /// after its ID has left the cache.
    pub fn for_replay_cache(skew: Duration, replay_ttl: Option<Duration>) -> Self {
        let skew = skew.max(Duration::ZERO);
        let wanted = skew + Duration::minutes(5);
        let past = match replay_ttl {
            Some(ttl) => wanted.min(ttl - skew - REPLAY_MARGIN).max(Duration::ZERO),
            None => wanted,
        };
        Window { past, future: skew }
    }

    /// How long a request stays acceptable in all (IssueInstant from `now + future` down to
    /// `now - past`).
    pub fn span(&self) -> Duration {
        self.past + self.future
    }
}

/// An AuthnRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    /// Its ID (InResponseTo of the answer; replay key).
    pub id: String,
    /// The SP's entityID.
    pub issuer: String,
    /// Requested ACS URL, if any.
    pub acs_url: Option<String>,
    /// Re-authenticate even with a session.
    pub force_authn: bool,
    /// Never show UI.
    pub is_passive: bool,
    /// `Subject/NameID`: who the SP expects to sign in (a login hint that pre-fills the form,
    /// never trusted as identity).
    pub subject_hint: Option<String>,
}

/// A LogoutRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    /// Its ID.
    pub id: String,
    /// The SP's entityID.
    pub issuer: String,
}

/// A SAML request arriving at `/adfs/ls/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Sign-in.
    Authn(AuthnRequest),
    /// Single logout.
    Logout(LogoutRequest),
}

/// Decodes a SAML message: base64, then (HTTP-Redirect) raw DEFLATE inflated to at most
/// `max_bytes`.
pub fn decode(value: &str, deflated: bool, max_bytes: usize) -> Result<Vec<u8>, SamlError> {
    let clean: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|e| SamlError::Decode(format!("base64: {e}")))?;
    if !deflated {
        if raw.len() > max_bytes {
            return Err(SamlError::Decode("too large".into()));
        }
        return Ok(raw);
    }
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(raw.as_slice())
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| SamlError::Decode(format!("deflate: {e}")))?;
    if out.len() > max_bytes {
        return Err(SamlError::Decode("too large when inflated".into()));
    }
    Ok(out)
}

fn is_true(v: Option<&str>) -> bool {
    matches!(v, Some("true") | Some("1"))
}

fn check_id(id: &str) -> Result<(), SamlError> {
    let ok = !id.is_empty()
        && id.len() <= 256
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SamlError::Malformed("ID"))
    }
}

fn check_instant(v: Option<&str>, now: OffsetDateTime, window: Window) -> Result<(), SamlError> {
    let t = OffsetDateTime::parse(v.ok_or(SamlError::Malformed("IssueInstant"))?, &Rfc3339)
        .map_err(|_| SamlError::Malformed("IssueInstant"))?;
    if t < now - window.past || t > now + window.future {
        return Err(SamlError::Stale);
    }
    Ok(())
}

fn parse_xml(xml: &[u8]) -> Result<XmlNode, SamlError> {
    parse(xml, Limits::default()).map_err(|e| SamlError::Decode(e.to_string()))
}

/// The parts every SAML request has: root element `name`, its ID, a fresh IssueInstant, Issuer.
fn common(
    root: &XmlNode,
    name: &'static str,
    now: OffsetDateTime,
    window: Window,
) -> Result<(String, String), SamlError> {
    if !root.is(SAMLP, name) {
        return Err(SamlError::Malformed("unexpected message"));
    }
    if root.attr("", "Version") != Some("2.0") {
        return Err(SamlError::Malformed("Version"));
    }
    let id = root
        .attr("", "ID")
        .ok_or(SamlError::Malformed("ID"))?
        .to_string();
    check_id(&id)?;
    check_instant(root.attr("", "IssueInstant"), now, window)?;
    let issuer = root
        .child(SAML2, "Issuer")
        .map(|i| i.text().to_string())
        .filter(|i| !i.is_empty())
        .ok_or(SamlError::Malformed("Issuer"))?;
    Ok((id, issuer))
}

/// Parses an AuthnRequest or a LogoutRequest (by its root element) issued within `window` of
/// `now`.
pub fn request(xml: &[u8], now: OffsetDateTime, window: Window) -> Result<Request, SamlError> {
    let root = parse_xml(xml)?;
    if root.is(SAMLP, "LogoutRequest") {
        logout_from(&root, now, window).map(Request::Logout)
    } else {
        authn_from(&root, now, window).map(Request::Authn)
    }
}

/// Parses an AuthnRequest issued within `window` of `now`.
pub fn authn_request(
    xml: &[u8],
    now: OffsetDateTime,
    window: Window,
) -> Result<AuthnRequest, SamlError> {
    authn_from(&parse_xml(xml)?, now, window)
}

fn authn_from(
    root: &XmlNode,
    now: OffsetDateTime,
    window: Window,
) -> Result<AuthnRequest, SamlError> {
    let (id, issuer) = common(root, "AuthnRequest", now, window)?;
    if let Some(b) = root.attr("", "ProtocolBinding") {
        if b != BINDING_POST {
            return Err(SamlError::Malformed(
                "ProtocolBinding (only HTTP-POST responses)",
            ));
        }
    }
    Ok(AuthnRequest {
        id,
        issuer,
        acs_url: root
            .attr("", "AssertionConsumerServiceURL")
            .map(str::to_string),
        force_authn: is_true(root.attr("", "ForceAuthn")),
        is_passive: is_true(root.attr("", "IsPassive")),
        subject_hint: root
            .child(SAML2, "Subject")
            .and_then(|s| s.child(SAML2, "NameID"))
            .map(|n| n.text().trim().to_string())
            .filter(|n| !n.is_empty()),
    })
}

/// Parses a LogoutRequest issued within `window` of `now`.
pub fn logout_request(
    xml: &[u8],
    now: OffsetDateTime,
    window: Window,
) -> Result<LogoutRequest, SamlError> {
    logout_from(&parse_xml(xml)?, now, window)
}

fn logout_from(
    root: &XmlNode,
    now: OffsetDateTime,
    window: Window,
) -> Result<LogoutRequest, SamlError> {
    let (id, issuer) = common(root, "LogoutRequest", now, window)?;
    Ok(LogoutRequest { id, issuer })
}

/// The parameters an HTTP-Redirect binding signature covers, each exactly as it arrived (still
/// URL-encoded), located by the same decoding of the query that the request is routed on.
#[derive(Debug, Clone, Copy)]
pub struct RedirectQuery<'a> {
    /// The `SAMLRequest` value.
    pub saml_request: &'a str,
    /// The `RelayState` value, when the query has one.
    pub relay_state: Option<&'a str>,
    /// The `SigAlg` value.
    pub sig_alg: Option<&'a str>,
    /// The `Signature` value.
    pub signature: Option<&'a str>,
}

fn url_decoded(v: &str) -> String {
    form_urlencoded::parse(format!("v={v}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Verifies an HTTP-Redirect binding signature with the SP's certificate: over
/// `SAMLRequest=…[&RelayState=…]&SigAlg=…` built from the raw values. Only RSA-SHA256 is
/// accepted.
pub fn verify_redirect_signature(q: &RedirectQuery<'_>, cert_der: &[u8]) -> Result<(), SamlError> {
    let sig_alg = q.sig_alg.ok_or(SamlError::Signature)?;
    if url_decoded(sig_alg) != RSA_SHA256 {
        return Err(SamlError::Signature);
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(url_decoded(q.signature.ok_or(SamlError::Signature)?))
        .map_err(|_| SamlError::Signature)?;
    let mut signed = format!("SAMLRequest={}", q.saml_request);
    if let Some(rs) = q.relay_state {
        signed.push_str(&format!("&RelayState={rs}"));
    }
    signed.push_str(&format!("&SigAlg={sig_alg}"));
    let (_, cert) =
        x509_parser::parse_x509_certificate(cert_der).map_err(|_| SamlError::Signature)?;
    let key = cert.public_key().subject_public_key.data.to_vec();
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &signature)
        .map_err(|_| SamlError::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// The tests' now: the parser takes it as an argument.
    const NOW: OffsetDateTime = time::macros::datetime!(2026-05-04 10:00:00 UTC);

    fn deflate(s: &str) -> String {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(s.as_bytes()).expect("write");
        base64::engine::general_purpose::STANDARD.encode(e.finish().expect("finish"))
    }

    fn request(instant: &str) -> String {
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML2}\" ID=\"id-abc_1\" Version=\"2.0\" IssueInstant=\"{instant}\" AssertionConsumerServiceURL=\"https://sp/acs\" ProtocolBinding=\"{BINDING_POST}\" ForceAuthn=\"true\"><saml:Issuer>https://sp/metadata</saml:Issuer></samlp:AuthnRequest>"
        )
    }

    #[test]
    fn redirect_binding_round_trip() {
        let now = NOW;
        let xml = request(&now.format(&Rfc3339).expect("t"));
        let raw = decode(&deflate(&xml), true, 65536).expect("decode");
        let r = authn_request(&raw, now, Window::symmetric(Duration::minutes(5))).expect("parse");
        assert_eq!(r.id, "id-abc_1");
        assert_eq!(r.issuer, "https://sp/metadata");
        assert_eq!(r.acs_url.as_deref(), Some("https://sp/acs"));
        assert!(r.force_authn && !r.is_passive);
    }

    #[test]
    fn stale_garbage_and_bombs_are_refused() {
        let now = NOW;
        let old = request(
            &(now - time::Duration::hours(1))
                .format(&Rfc3339)
                .expect("t"),
        );
        assert_eq!(
            authn_request(old.as_bytes(), now, Window::symmetric(Duration::minutes(5))),
            Err(SamlError::Stale)
        );
        assert!(matches!(
            decode("!!!", true, 100),
            Err(SamlError::Decode(_))
        ));
        assert!(matches!(
            decode("AAAA", true, 100),
            Err(SamlError::Decode(_))
        ));
        // 10 MB of zeros deflates to ~10 KB: refused once the bound is passed.
        let bomb = deflate(&"0".repeat(10 * 1024 * 1024));
        assert!(matches!(
            decode(&bomb, true, 65536),
            Err(SamlError::Decode(_))
        ));
        let wrong = format!("<samlp:Response xmlns:samlp=\"{SAMLP}\"/>");
        assert!(authn_request(
            wrong.as_bytes(),
            now,
            Window::symmetric(Duration::minutes(5))
        )
        .is_err());
    }

    #[test]
    fn the_replay_cache_outlives_every_acceptable_issue_instant() {
        let skew = Duration::minutes(5);
        // App's cache: 2 x skew + 5 minutes.
        let ttl = skew * 2 + Duration::minutes(5);
        let w = Window::for_replay_cache(skew, Some(ttl));
        assert_eq!(w.future, skew);
        assert_eq!(w.past, Duration::seconds(540));
        for s in [0, 1, 30, 300, 3600] {
            let skew = Duration::seconds(s);
            let ttl = skew * 2 + Duration::minutes(5);
            let w = Window::for_replay_cache(skew, Some(ttl));
            assert!(w.span() + REPLAY_MARGIN <= ttl, "skew {s}s: {w:?}");
            assert!(w.past <= skew + Duration::minutes(5));
        }
        assert_eq!(
            Window::for_replay_cache(skew, None).past,
            skew + Duration::minutes(5),
            "no TTL: nothing forgotten, the old bound"
        );
        assert_eq!(
            Window::for_replay_cache(skew, Some(Duration::seconds(10))).past,
            Duration::ZERO,
            "never negative"
        );

        // The worst case: issued as far ahead as accepted and answered at once. When its ID
        // leaves the cache (answered + ttl), the request is already stale.
        let answered = NOW;
        let issued = answered + w.future;
        let xml = request(&issued.format(&Rfc3339).expect("t"));
        assert!(authn_request(xml.as_bytes(), answered, w).is_ok());
        let last = answered + w.span();
        assert!(authn_request(xml.as_bytes(), last, w).is_ok());
        assert!(last + REPLAY_MARGIN <= answered + ttl);
        assert_eq!(
            authn_request(xml.as_bytes(), last + Duration::seconds(1), w),
            Err(SamlError::Stale)
        );
        // Before the fix a request stayed acceptable for 2 x (skew + 5 min) > ttl.
        let old = Window::symmetric(skew + Duration::minutes(5));
        assert!(authn_request(xml.as_bytes(), answered + ttl, old).is_ok());
    }

    #[test]
    fn requests_are_told_apart_by_their_root_element() {
        let now = NOW;
        let w = Window::symmetric(Duration::minutes(5));
        let t = now.format(&Rfc3339).expect("t");
        let logout = format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML2}\" ID=\"_lo1\" Version=\"2.0\" IssueInstant=\"{t}\"><saml:Issuer>https://sp/metadata</saml:Issuer><saml:NameID>x</saml:NameID></samlp:LogoutRequest>"
        );
        assert_eq!(
            super::request(logout.as_bytes(), now, w),
            Ok(Request::Logout(LogoutRequest {
                id: "_lo1".into(),
                issuer: "https://sp/metadata".into()
            }))
        );
        let authn = request(&t);
        assert!(matches!(
            super::request(authn.as_bytes(), now, w),
            Ok(Request::Authn(_))
        ));
    }
}

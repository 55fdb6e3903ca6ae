//! Valid inputs to mutate, as the unit tests and real clients send them: the WS-Trust request
//! MSAL sends, SAML AuthnRequest and LogoutRequest, their HTTP-Redirect encoding, signed with
//! the unit tests' fixture key.

use altgate::keys::SigningKey;
use altgate::protocols::wstrust::request::Version;
use altgate::tokens::rstr::{WSSE, WSU};
use altgate::tokens::saml::{SAML2, SAMLP};
use base64::Engine;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;
use time::macros::datetime;
use time::OffsetDateTime;

/// The clock every property runs at (the samples' issue time).
pub const NOW: OffsetDateTime = datetime!(2026-11-23 05:14:18 UTC);

pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// The request MSAL 1.39 sends (captured in the unit tests), for either endpoint version, with
/// the Timestamp, Username and Password given as XML text.
pub fn rst_with(version: Version, timestamp: &str, username: &str, password: &str) -> String {
    let trust = version.ns();
    let action = version.request_action();
    let key_type = version.key_type();
    let request_type = version.request_type();
    format!(
        "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:wsa='http://www.w3.org/2005/08/addressing' xmlns:wsu='{WSU}'>
  <s:Header>
    <wsa:Action s:mustUnderstand='1'>{action}</wsa:Action>
    <wsa:MessageID>urn:uuid:867f5299-e3dd-44a9-a5a5-4ef8e30a2fee</wsa:MessageID>
    <wsa:ReplyTo><wsa:Address>http://www.w3.org/2005/08/addressing/anonymous</wsa:Address></wsa:ReplyTo>
    <wsa:To s:mustUnderstand='1'>https://127.0.0.1:18443/adfs/services/trust/13/usernamemixed</wsa:To>
    <wsse:Security s:mustUnderstand='1' xmlns:wsse='{WSSE}'>
      {timestamp}
      <wsse:UsernameToken wsu:Id='ADALUsernameToken'>
        <wsse:Username>{username}</wsse:Username>
        <wsse:Password>{password}</wsse:Password>
      </wsse:UsernameToken>
    </wsse:Security>
  </s:Header>
  <s:Body>
    <wst:RequestSecurityToken xmlns:wst='{trust}'>
      <wsp:AppliesTo xmlns:wsp='http://schemas.xmlsoap.org/ws/2004/09/policy'>
        <wsa:EndpointReference><wsa:Address>urn:federation:MicrosoftOnline</wsa:Address></wsa:EndpointReference>
      </wsp:AppliesTo>
      <wst:KeyType>{key_type}</wst:KeyType>
      <wst:RequestType>{request_type}</wst:RequestType>
    </wst:RequestSecurityToken>
  </s:Body>
</s:Envelope>"
    )
}

/// The MSAL request as captured (issued at [`NOW`], valid ten minutes).
pub fn rst(version: Version) -> String {
    rst_with(
        version,
        "<wsu:Timestamp wsu:Id='_0'><wsu:Created>2026-11-23T05:14:18Z</wsu:Created><wsu:Expires>2026-11-23T05:24:18Z</wsu:Expires></wsu:Timestamp>",
        "alice@corp.contoso.local",
        "p&amp;&lt;&quot;&apos;&gt;w",
    )
}

/// A SAML `AuthnRequest` or `LogoutRequest` with these attributes (given as XML text) issued at
/// [`NOW`].
pub fn saml_request(kind: &str, attrs: &str) -> String {
    let subject = if kind == "LogoutRequest" {
        "<saml:NameID>someone</saml:NameID>"
    } else {
        ""
    };
    format!(
        "<samlp:{kind} xmlns:samlp=\"{SAMLP}\" xmlns:saml=\"{SAML2}\" {attrs}><saml:Issuer>https://sp.example.test/metadata</saml:Issuer>{subject}</samlp:{kind}>"
    )
}

/// The unit tests' AuthnRequest.
pub fn authn() -> String {
    saml_request(
        "AuthnRequest",
        "ID=\"id-abc_1\" Version=\"2.0\" IssueInstant=\"2026-11-23T05:14:18Z\" AssertionConsumerServiceURL=\"https://sp/acs\" ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" ForceAuthn=\"true\"",
    )
}

/// A LogoutRequest.
pub fn logout() -> String {
    saml_request(
        "LogoutRequest",
        "ID=\"_lo1\" Version=\"2.0\" IssueInstant=\"2026-11-23T05:14:18Z\"",
    )
}

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("deflate");
    e.finish().expect("deflate")
}

pub fn url(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The unit tests' fixture key pair.
pub fn fixture_key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        SigningKey::load(
            &dir.join("test-token-signing.crt"),
            &dir.join("test-token-signing.key"),
        )
        .expect("fixture key")
    })
}

/// An HTTP-Redirect query for `xml`, signed by the fixture key as an SP signs it.
pub fn signed_redirect_query(xml: &str, relay: &str) -> String {
    let signed = format!(
        "SAMLRequest={}&RelayState={}&SigAlg={}",
        url(&b64(&deflate(xml.as_bytes()))),
        url(relay),
        url(RSA_SHA256)
    );
    let signature = fixture_key().sign(signed.as_bytes()).expect("sign");
    format!("{signed}&Signature={}", url(&b64(&signature)))
}

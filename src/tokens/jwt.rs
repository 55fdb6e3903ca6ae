//! JSON Web Tokens: altgate's own ID and access tokens signed RS256 with the token-signing key
//! (`kid` and `x5t` both the certificate's SHA-1 thumbprint, as AD FS does), the JWKS that
//! publishes the current and next keys, and verification of every JWT that comes from outside
//! (`id_token_hint`, `private_key_jwt` client assertions) by the `jsonwebtoken` crate with RS256
//! as the only algorithm: `none`, HS256 and the rest are refused before any key is tried.

use crate::keys::SigningKey;
use base64::Engine;
use serde_json::{json, Value};

/// Why a JWT was refused or could not be made.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts, or a header that is not JSON.
    #[error("not a JWT")]
    Malformed,
    /// The header's `alg` is not RS256.
    #[error("algorithm not allowed")]
    Algorithm,
    /// No key of the allowed ones matches the header's `kid` / `x5t`.
    #[error("no matching key")]
    UnknownKey,
    /// The signature, or a checked claim, does not verify.
    #[error("invalid: {0}")]
    Invalid(String),
    /// Signing failed.
    #[error("signing failed")]
    Sign,
}

fn b64url() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

/// The certificate's SHA-1 thumbprint, base64url: its `x5t` and (AD FS) `kid`.
pub fn thumbprint(cert_der: &[u8]) -> String {
    let d = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert_der);
    b64url().encode(d.as_ref())
}

/// Signs `claims` as a compact JWS (RS256) with `key`.
pub fn sign(key: &SigningKey, claims: &Value) -> Result<String, JwtError> {
    let kid = thumbprint(key.cert_der());
    let header = json!({ "typ": "JWT", "alg": "RS256", "kid": kid, "x5t": kid });
    let mut out = format!(
        "{}.{}",
        b64url().encode(header.to_string()),
        b64url().encode(claims.to_string())
    );
    let sig = key.sign(out.as_bytes()).map_err(|_| JwtError::Sign)?;
    out.push('.');
    out.push_str(&b64url().encode(sig));
    Ok(out)
}

/// The RSA public key (modulus, exponent; big-endian, no leading zeros) of a certificate.
fn rsa_components(cert_der: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    match cert.public_key().parsed().ok()? {
        x509_parser::public_key::PublicKey::RSA(rsa) => {
            let strip = |b: &[u8]| {
                let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
                b.get(first..).unwrap_or_default().to_vec()
            };
            Some((strip(rsa.modulus), strip(rsa.exponent)))
        }
        _ => None,
    }
}

/// The JWK of a certificate's RSA key (`None`: not an RSA certificate).
pub fn jwk(cert_der: &[u8]) -> Option<Value> {
    let (n, e) = rsa_components(cert_der)?;
    let kid = thumbprint(cert_der);
    Some(json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "x5t": kid,
        "n": b64url().encode(n),
        "e": b64url().encode(e),
        "x5c": [base64::engine::general_purpose::STANDARD.encode(cert_der)],
    }))
}

/// What a verification checks besides the signature.
pub struct Expect<'a> {
    /// Accepted `iss` values (empty: not checked).
    pub issuers: &'a [&'a str],
    /// Accepted `aud` values (empty: not checked).
    pub audiences: &'a [&'a str],
    /// Check `exp` (and `nbf`), with this leeway in seconds.
    pub expiry: Option<u64>,
    /// Claims that must be present.
    pub required: &'a [&'a str],
}

/// Verifies `token` against one of `certs` (chosen by the header's `kid` or `x5t`, or the only
/// one), RS256 only, and returns its claims.
pub fn verify(token: &str, certs: &[&[u8]], expect: &Expect<'_>) -> Result<Value, JwtError> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(JwtError::Algorithm);
    }
    let wanted = header.kid.as_deref().or(header.x5t.as_deref());
    let cert = match wanted {
        Some(id) => certs.iter().find(|c| thumbprint(c) == id),
        None if certs.len() == 1 => certs.first(),
        None => None,
    }
    .ok_or(JwtError::UnknownKey)?;
    let (n, e) = rsa_components(cert).ok_or(JwtError::UnknownKey)?;
    let key = DecodingKey::from_rsa_raw_components(&n, &e);
    let mut v = Validation::new(Algorithm::RS256);
    v.algorithms = vec![Algorithm::RS256];
    v.required_spec_claims = expect.required.iter().map(|s| s.to_string()).collect();
    match expect.expiry {
        Some(leeway) => {
            v.leeway = leeway;
            v.validate_exp = true;
            v.validate_nbf = true;
        }
        None => {
            v.validate_exp = false;
            v.validate_nbf = false;
        }
    }
    if expect.audiences.is_empty() {
        v.validate_aud = false;
    } else {
        v.set_audience(expect.audiences);
    }
    if !expect.issuers.is_empty() {
        v.set_issuer(expect.issuers);
    }
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| JwtError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ((), SigningKey) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let key = SigningKey::load(
            &dir.join("test-token-signing.crt"),
            &dir.join("test-token-signing.key"),
        )
        .expect("load");
        ((), key)
    }

    fn any() -> Expect<'static> {
        Expect {
            issuers: &[],
            audiences: &[],
            expiry: None,
            required: &[],
        }
    }

    #[test]
    fn own_tokens_verify_and_tampered_ones_do_not() {
        let (_d, key) = key();
        let claims = json!({ "iss": "https://sts/adfs", "aud": "c1", "sub": "x" });
        let t = sign(&key, &claims).expect("sign");
        let certs = [key.cert_der()];
        let got = verify(&t, &certs, &any()).expect("verify");
        assert_eq!(got, claims);
        let expect = Expect {
            issuers: &["https://sts/adfs"],
            audiences: &["c1"],
            ..any()
        };
        verify(&t, &certs, &expect).expect("iss and aud");
        let wrong_aud = Expect {
            audiences: &["c2"],
            ..any()
        };
        assert!(matches!(
            verify(&t, &certs, &wrong_aud),
            Err(JwtError::Invalid(_))
        ));
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        parts[1] = b64url()
            .encode(json!({ "iss": "https://sts/adfs", "aud": "c1", "sub": "y" }).to_string());
        assert!(matches!(
            verify(&parts.join("."), &certs, &any()),
            Err(JwtError::Invalid(_))
        ));
    }

    #[test]
    fn none_and_hs256_are_refused_before_any_key() {
        let (_d, key) = key();
        let certs = [key.cert_der()];
        let body = b64url().encode(json!({ "sub": "x" }).to_string());
        let none = format!("{}.{body}.", b64url().encode(r#"{"alg":"none"}"#));
        assert!(matches!(
            verify(&none, &certs, &any()),
            Err(JwtError::Malformed | JwtError::Algorithm)
        ));
        // HS256 "signed" with the public certificate as the secret: the classic confusion.
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({ "sub": "x" }),
            &jsonwebtoken::EncodingKey::from_secret(key.cert_der()),
        )
        .expect("hs256");
        assert!(matches!(
            verify(&hs, &certs, &any()),
            Err(JwtError::Algorithm)
        ));
    }

    #[test]
    fn the_jwk_carries_the_thumbprint_and_the_modulus() {
        let (_d, key) = key();
        let jwk = jwk(key.cert_der()).expect("rsa");
        assert_eq!(jwk["kid"], thumbprint(key.cert_der()));
        assert_eq!(jwk["e"], "AQAB");
        let n = b64url().decode(jwk["n"].as_str().expect("n")).expect("b64");
        assert_eq!(n.len(), 256);
    }
}

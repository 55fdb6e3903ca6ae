//! What Microsoft Entra ID (and other relying parties) send to `/adfs/ls/` beside the protocol
//! message, honoured as AD FS honours it:
//! - the login hint (WS-Fed `username`, SAML AuthnRequest `Subject/NameID`) pre-fills the sign-in
//!   form's user name. It is bounded ([`MAX_HINT`] characters, no control characters; anything
//!   else is dropped, never cut), HTML-escaped by the page and never trusted as identity: the
//!   password decides, and an SSO session is reused only when the hint names the session's own
//!   account ([`names_session_account`]);
//! - `wfresh=0` (WS-Fed) and `prompt=login` (any protocol: Entra's `promptLoginBehavior`
//!   `nativeSupport`) force a fresh password, as SAML `ForceAuthn` does. The form's POST always
//!   signs in with the password, so nothing more needs to ride in its context;
//! - `wauth` may ask for a password method ([`PASSWORD_METHODS`], what Entra's default
//!   `translateToFreshPasswordAuthentication` sends: the form, never Negotiate) or for Windows
//!   integrated authentication ([`WINDOWS_METHODS`], when `windows_integrated.browser` is on:
//!   Negotiate where it is offered, the form elsewhere); any other
//!   method is refused with the error page and the reason `unsupported_auth_method`, as AD FS
//!   refuses it (MSIS7102);
//! - `whr` (home realm) is accepted and ignored: there is one claims provider, Active Directory.

use super::params::Params;
use super::Passive;

/// Longest login hint used, in characters (the longest user name the form echoes back).
pub(super) const MAX_HINT: usize = 320;

/// The `wauth` values that ask for a user name and password (what AD FS maps to forms
/// authentication). Microsoft's prompt=login page spells the last one with `https`; Entra sends
/// `http`; both are accepted.
pub(super) const PASSWORD_METHODS: &[&str] = &[
    "urn:oasis:names:tc:SAML:1.0:am:password",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Password",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
    "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
    "https://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password",
];

/// The login hint to pre-fill: trimmed, non-empty, at most [`MAX_HINT`] characters, no control
/// characters; `None` otherwise.
pub(crate) fn login_hint(raw: Option<&str>) -> Option<String> {
    let hint = raw?.trim();
    let usable =
        !hint.is_empty() && hint.chars().count() <= MAX_HINT && !hint.chars().any(char::is_control);
    usable.then(|| hint.to_string())
}

/// True when the request carries `prompt=login` (a space-separated list may hold it, as in
/// OpenID Connect).
pub(super) fn prompt_login(params: &Params<'_>) -> bool {
    params
        .get("prompt")
        .is_some_and(|p| p.split(' ').any(|v| v.eq_ignore_ascii_case("login")))
}

/// True when `wauth` is absent, empty or one of the [`PASSWORD_METHODS`].
pub(super) fn password_method(wauth: Option<&str>) -> bool {
    match wauth.map(str::trim) {
        None | Some("") => true,
        Some(w) => PASSWORD_METHODS.contains(&w),
    }
}

/// The `wauth` values that ask for Windows integrated authentication (AD FS's method URI, and
/// its SAML authentication context).
pub(super) const WINDOWS_METHODS: &[&str] = &[
    "http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows",
    "https://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/windows",
    "urn:federation:authentication:windows",
];

/// True when `wauth` asks for Windows integrated authentication: Negotiate where it is
/// offered (an internal client with a listed browser), the form elsewhere.
pub(super) fn windows_method(wauth: Option<&str>) -> bool {
    wauth
        .map(str::trim)
        .is_some_and(|w| WINDOWS_METHODS.contains(&w))
}

/// True when `hint` names the SSO session's account: the session's own login (ignoring case),
/// or a login that resolves (through the resolution cache) to the account at `dn`. A hint for
/// anyone else shows the form, pre-filled, so the browser can sign in as that user.
pub(super) async fn names_session_account(
    app: &Passive<'_>,
    hint: &str,
    login: &str,
    dn: &str,
) -> bool {
    if hint.to_lowercase() == login.to_lowercase() {
        return true;
    }
    app.resolver
        .resolve(hint)
        .await
        .account
        .as_ref()
        .is_some_and(|a| a.distinguished_name.eq_ignore_ascii_case(dn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_bounded_and_clean() {
        assert_eq!(
            login_hint(Some("  jdoe@contoso.com ")).as_deref(),
            Some("jdoe@contoso.com")
        );
        assert_eq!(login_hint(Some("   ")), None);
        assert_eq!(login_hint(None), None);
        assert_eq!(login_hint(Some("a\u{0}b")), None);
        assert_eq!(login_hint(Some("a\nb")), None);
        let long = "x".repeat(MAX_HINT);
        assert_eq!(login_hint(Some(&long)).as_deref(), Some(long.as_str()));
        assert_eq!(
            login_hint(Some(&format!("{long}y"))),
            None,
            "dropped, not cut"
        );
        // Multi-byte characters count as one.
        let wide = "あ".repeat(MAX_HINT);
        assert!(login_hint(Some(&wide)).is_some());
    }

    #[test]
    fn prompt_and_wauth() {
        assert!(prompt_login(&Params::parse("prompt=login")));
        assert!(prompt_login(&Params::parse("prompt=consent+LOGIN")));
        assert!(!prompt_login(&Params::parse("prompt=none")));
        assert!(!prompt_login(&Params::parse("x=login")));
        for ok in PASSWORD_METHODS {
            assert!(password_method(Some(ok)), "{ok}");
        }
        assert!(password_method(None) && password_method(Some("")));
        for w in WINDOWS_METHODS {
            assert!(windows_method(Some(w)) && !password_method(Some(w)), "{w}");
        }
        assert!(!windows_method(None) && !windows_method(Some(PASSWORD_METHODS[0])));
        for refused in [
            "urn:oasis:names:tc:SAML:2.0:ac:classes:X509",
            "http://schemas.microsoft.com/claims/multipleauthn",
            "urn:oasis:names:tc:SAML:1.0:am:PASSWORD",
        ] {
            assert!(!password_method(Some(refused)), "{refused}");
        }
    }
}

//! Windows integrated sign-in at `/adfs/ls/` (AD FS's WIA for intranet browsers): a sign-in
//! request from an internal client (`federation.internal_networks`, the client address as
//! `server.trusted_proxies` decide it, never one through an extranet edge) whose User-Agent is
//! in `windows_integrated.user_agents`, with no usable SSO session and no demand for a password
//! (`wfresh=0`, `prompt=login`, `ForceAuthn`, a password `wauth`), is answered `401` with
//! `WWW-Authenticate: Negotiate` **and the sign-in form as its body**: a browser that does
//! Kerberos retries with a ticket, one that does not shows the form. A good ticket signs the
//! user in exactly as the form would (token, SSO session); a bad one (NTLM, a wrong key, a
//! disabled account...) gets the form with `200` and no challenge, so nothing ever loops.

use super::delivery::deliver;
use super::page::Lang;
use super::request::Target;
use super::{LsRequest, LsResponse, Outcome, Passive, Refusal};
use crate::kerberos::token::reply_header;
use crate::signin::SignInContext;

/// True when this sign-in request may be answered with a Negotiate challenge.
pub(super) fn offered(app: &Passive<'_>, req: &LsRequest<'_>, target: &Target) -> bool {
    let Some(w) = app.windows else {
        return false;
    };
    w.settings.browser
        && !target.force_authn
        && !target.password_only
        && !target.is_passive
        && req
            .request
            .client
            .is_internal(&app.federation.internal_networks)
        && req
            .user_agent
            .is_some_and(|ua| w.settings.user_agent_supported(ua))
}

/// Signs the holder of `token` in: the token page (with the acceptor's reply token and a new
/// SSO session) or, when the ticket signs nobody in, `None` (the form follows, unchallenged).
pub(super) async fn sign_in(
    app: &Passive<'_>,
    req: &LsRequest<'_>,
    lang: Lang,
    target: &Target,
    token: Option<Vec<u8>>,
) -> Result<Option<LsResponse>, Refusal> {
    let Some(w) = app.windows else {
        return Ok(None);
    };
    let sctx = SignInContext::new(target.protocol, Some(&target.rp), req.request);
    let token = token.unwrap_or_default();
    match w.service.sign_in(token, false, &sctx).await {
        Ok(signed) => {
            let sid = app.sessions.session_id();
            let mut r = deliver(
                app,
                req,
                lang,
                target,
                &signed.signed_in,
                Outcome::WindowsToken,
                &sid,
            )
            .await?;
            super::sso::start(app, &signed.signed_in, &sid, &mut r);
            r.www_authenticate = signed.reply.as_deref().map(reply_header);
            Ok(Some(r))
        }
        Err(_) => Ok(None),
    }
}

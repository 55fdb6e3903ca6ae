//! The acceptor on MIT Kerberos through the `libgssapi` binding: one acceptor credential for
//! the service's keys (the keytab named by `KRB5_KTNAME`, see [`super::prepare_process`]),
//! and one `gss_accept_sec_context` per token. MIT owns the replay cache, encryption types,
//! clock skew and key versions; this file only maps its answers onto [`Rejection`].

use super::{Accept, Refused, Rejection, Verified};
use libgssapi::context::{SecurityContext, ServerCtx};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::error::{Error, MajorFlags};
use libgssapi::name::Name;
use libgssapi::oid::{OidSet, GSS_MECH_KRB5, GSS_MECH_SPNEGO, GSS_NT_KRB5_PRINCIPAL};

/// An acceptor credential.
pub(super) struct Gss {
    cred: Cred,
}

impl Gss {
    /// Acquires the acceptor credential: for `service_principal` only, or for every key in the
    /// keytab when `None`. Kerberos, directly or through SPNEGO; nothing else.
    pub(super) fn open(service_principal: Option<&str>) -> Result<Gss, String> {
        let mut mechs = OidSet::new();
        mechs.add(GSS_MECH_SPNEGO).map_err(|e| e.to_string())?;
        mechs.add(GSS_MECH_KRB5).map_err(|e| e.to_string())?;
        let name = match service_principal {
            Some(p) => Some(
                Name::new(p.as_bytes(), Some(GSS_NT_KRB5_PRINCIPAL))
                    .map_err(|e| format!("service principal {p}: {e}"))?,
            ),
            None => None,
        };
        let cred = Cred::acquire(name.as_ref(), None, CredUsage::Accept, Some(&mechs))
            .map_err(|e| e.to_string().trim().to_string())?;
        Ok(Gss { cred })
    }
}

impl Accept for Gss {
    fn accept(&self, token: &[u8]) -> Result<Verified, Refused> {
        let mut ctx = ServerCtx::new(Some(self.cred.clone()));
        let reply = ctx.step(token, None).map_err(|e| rejection(&e))?;
        if !ctx.is_complete() {
            // A second round trip (SPNEGO asking for another mechanism): never taken.
            return Err(Refused::new(
                Rejection::UnsupportedMechanism,
                "the token needs another round trip",
            ));
        }
        let name = ctx
            .source_name()
            .and_then(|n| n.display_name())
            .map_err(|e| rejection(&e))?;
        let name = String::from_utf8(name.to_vec())
            .map_err(|_| Refused::new(Rejection::UnusablePrincipal, "not UTF-8"))?;
        Ok(Verified {
            principal: name,
            reply: reply.map(|b| b.to_vec()),
        })
    }
}

/// Maps an acceptor failure onto a reason an admin can act on, with MIT's own text. MIT's
/// mechanism glue renumbers minor status codes per process, so the krb5 code cannot be compared
/// with `krb5.h`'s values: its message (the com_err text, and `krb5_rd_req`'s extended message
/// naming the principals) decides.
fn rejection(e: &Error) -> Refused {
    let text = e.to_string().trim().to_string();
    Refused::new(classify(&text, e.major), text)
}

/// The reason for MIT's message `text` and major status `major`.
fn classify(text: &str, major: MajorFlags) -> Rejection {
    let t = text.to_ascii_lowercase();
    let has = |s: &str| t.contains(s);
    if major.contains(MajorFlags::GSS_S_DUPLICATE_TOKEN) || has("is a replay") {
        Rejection::Replay
    } else if has("clock skew") || has("not yet valid") {
        Rejection::ClockSkew
    } else if has("ticket expired") || major.contains(MajorFlags::GSS_S_CREDENTIALS_EXPIRED) {
        Rejection::TicketExpired
    } else if has("enctype") || has("encryption type") {
        Rejection::EncryptionType
    } else if has("out of date") || has("key version") || has("cannot find key") {
        Rejection::WrongKeyVersion
    } else if let Some(rest) = t.split_once("cannot decrypt ticket for ").map(|(_, r)| r) {
        // "Cannot decrypt ticket for A using keytab key for B": another service's ticket when
        // A is not B, else a key that is out of date.
        match rest.split_once(" using keytab key for ") {
            Some((a, b)) if !b.trim().trim_end_matches(')').eq(a.trim()) => Rejection::WrongService,
            _ => Rejection::WrongKey,
        }
    } else if has("not found in keytab")
        || has("isn't for us")
        || has("wrong principal")
        || has("service key not available")
        || has("no key table entry")
    {
        Rejection::WrongService
    } else if has("integrity check failed") || has("message stream modified") {
        Rejection::WrongKey
    } else {
        Rejection::InvalidToken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mit_messages_name_the_reason() {
        let m = MajorFlags::GSS_S_FAILURE;
        let cases = [
            ("Unspecified GSS failure.  Minor code may provide more information (Request is a replay)", Rejection::Replay),
            ("Unspecified GSS failure.  Minor code may provide more information (Clock skew too great)", Rejection::ClockSkew),
            ("Unspecified GSS failure.  Minor code may provide more information (Cannot decrypt ticket for HTTP/other.contoso.com@CONTOSO.COM using keytab key for HTTP/sts.contoso.com@CONTOSO.COM)", Rejection::WrongService),
            ("Unspecified GSS failure.  Minor code may provide more information (Cannot decrypt ticket for HTTP/sts.contoso.com@CONTOSO.COM using keytab key for HTTP/sts.contoso.com@CONTOSO.COM)", Rejection::WrongKey),
            ("Unspecified GSS failure.  Minor code may provide more information (Request ticket server HTTP/sts.contoso.com@CONTOSO.COM kvno 3 not found in keytab; keytab is likely out of date)", Rejection::WrongKeyVersion),
            ("Unspecified GSS failure.  Minor code may provide more information (Request ticket server HTTP/sts.contoso.com@CONTOSO.COM kvno 1 found in keytab but not with enctype rc4-hmac)", Rejection::EncryptionType),
            ("Unspecified GSS failure.  Minor code may provide more information (Request ticket server HTTP/other.contoso.com@CONTOSO.COM not found in keytab (ticket kvno 1))", Rejection::WrongService),
            ("Unspecified GSS failure.  Minor code may provide more information (Ticket expired)", Rejection::TicketExpired),
            ("An invalid token was supplied", Rejection::InvalidToken),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text, m), want, "{text}");
        }
        assert_eq!(
            classify("x", MajorFlags::GSS_S_DUPLICATE_TOKEN),
            Rejection::Replay
        );
    }
}

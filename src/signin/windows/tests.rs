//! Windows sign-in over the embedded demo directory with a fake acceptor (a Kerberos-shaped
//! token carrying the principal): the principal's account, the same resolution a password
//! sign-in makes, every refusal, and the farm-wide replay check.

use super::*;
use crate::fuzzing::samples::kerberos_token;
use crate::kerberos::FakeAcceptor;
use crate::metrics::Metrics;
use crate::request::RequestContext;
use crate::signin::Protocol;

fn service() -> (WindowsSignIn, Metrics) {
    let m = Metrics::standalone().expect("metrics");
    let (resolver, directory, events) = crate::signin::tests::demo_resolver(&m);
    let forests = vec!["contoso.com".to_string(), "fabrikam.com".to_string()];
    let fixed = time::macros::datetime!(2026-12-05 09:00 UTC);
    let s = WindowsSignIn::new(
        Acceptor::with(Arc::new(FakeAcceptor)),
        resolver,
        directory,
        Arc::new(crate::state::memory::MemoryStore::new()),
        events,
        Arc::new(move || fixed),
        WindowsSettings {
            realms: BTreeMap::new(),
            forests,
            alternate_attribute: Some("mail".into()),
            device_issuer_domain: Some("contoso.com".into()),
        },
    );
    (s, m)
}

async fn sign_in(s: &WindowsSignIn, principal: &str) -> Result<WindowsSignedIn, WindowsFailure> {
    let request = RequestContext::local([10, 0, 0, 7].into(), "test");
    let ctx = SignInContext {
        protocol: Protocol::Wsfed,
        relying_party: "urn:federation:MicrosoftOnline",
        request: &request,
        password_expiry: false,
    };
    s.sign_in(kerberos_token(principal.as_bytes()), false, &ctx)
        .await
}

fn reason(r: Result<WindowsSignedIn, WindowsFailure>) -> &'static str {
    match r {
        Ok(w) => panic!("signed in: {:?}", w.signed_in.login),
        Err(f) => f.reason().as_str(),
    }
}

#[tokio::test]
async fn a_ticket_signs_in_the_account_the_password_path_resolves_with_the_same_cloud_login() {
    let (s, m) = service();
    let w = sign_in(&s, "jdoe@CONTOSO.COM").await.expect("signed in");
    assert_eq!(w.signed_in.login, "jdoe@contoso.com", "the alternate ID");
    assert_eq!(w.signed_in.resolution.via, Some(Via::AlternateLoginId));
    assert_eq!(w.signed_in.method, Method::Windows);
    assert_eq!(w.reply.as_deref(), Some(&b"reply"[..]), "the reply token");
    let account = w.signed_in.resolution.account.as_ref().expect("account");
    assert_eq!(account.sam_account_name, "jdoe");
    // No mail: the on-premises UPN, as a password sign-in by UPN would give.
    let w = sign_in(&s, "nomail@CONTOSO.COM").await.expect("signed in");
    assert_eq!(
        (w.signed_in.login.as_str(), w.signed_in.resolution.via),
        ("nomail@corp.contoso.local", Some(Via::Upn))
    );
    // An enterprise principal (a UPN the KDC did not canonicalise) names the same account.
    let w = sign_in(&s, "jdoe\\@corp.contoso.local@CONTOSO.COM")
        .await
        .expect("signed in");
    assert_eq!(w.signed_in.login, "jdoe@contoso.com");
    assert!(m
        .render()
        .contains("altgate_windows_sign_ins_total{protocol=\"wsfed\"} 3"));
}

#[tokio::test]
async fn every_refusal_has_its_reason_and_nothing_is_guessed() {
    let (s, m) = service();
    // Two accounts share the mail: the cloud login is ambiguous (MSIS8014/8015), refused.
    assert_eq!(reason(sign_in(&s, "dupa@CONTOSO.COM").await), "unresolved");
    // Alice's UPN is Mallory's mail: a token for alice@contoso.com would be Mallory's cloud
    // account. Refused, never signed in under another spelling.
    assert_eq!(reason(sign_in(&s, "alice@CONTOSO.COM").await), "unresolved");
    assert_eq!(
        reason(sign_in(&s, "disabled@CONTOSO.COM").await),
        "account_disabled"
    );
    assert_eq!(
        reason(sign_in(&s, "nobody@CONTOSO.COM").await),
        "unknown_principal"
    );
    assert_eq!(
        reason(sign_in(&s, "jdoe@EXAMPLE.ORG").await),
        "unknown_realm"
    );
    assert_eq!(
        reason(sign_in(&s, "HTTP/sts.contoso.com@CONTOSO.COM").await),
        "unusable_principal"
    );
    assert_eq!(reason(sign_in(&s, "!clock_skew").await), "clock_skew");
    for r in [
        "unresolved",
        "account_disabled",
        "unknown_principal",
        "unknown_realm",
    ] {
        let series = format!("altgate_windows_sign_in_failures_total{{reason=\"{r}\"}}");
        assert!(m.render().contains(&format!("{series} ")), "{series}");
    }
}

#[tokio::test]
async fn the_same_token_twice_is_a_farm_replay() {
    let (s, _) = service();
    sign_in(&s, "jdoe@CONTOSO.COM").await.expect("first use");
    assert_eq!(reason(sign_in(&s, "jdoe@CONTOSO.COM").await), "farm_replay");
}

#[test]
fn refusal_ids_do_not_collide_across_the_two_enums() {
    let acceptor: Vec<&str> = crate::kerberos::Rejection::ALL
        .iter()
        .map(|r| r.id())
        .collect();
    for r in AccountRefusal::ALL {
        assert!(!acceptor.contains(&r.id()), "{} is in both", r.id());
    }
}

//! Sign-in over the embedded demo directory: input checks before any directory traffic, every
//! way a login can fail, the bind, and the audit counters.

use super::*;
use crate::config::{AlternateLoginId, CacheConfig};
use crate::directory::embedded::EmbeddedDirectory;
use crate::metrics::Metrics;
use crate::request::RequestContext;
use std::path::Path;
use std::time::Duration;

const PASSWORD: &str = "Demo-Passw0rd!";

/// The demo directory, a resolver over it (alternate ID `mail` in both forests), and the
/// event sink, counted into `m`: what every sign-in service here is built on.
pub(super) fn demo_resolver(m: &Metrics) -> (Arc<Resolver>, Arc<dyn Directory>, Events) {
    let directory: Arc<dyn Directory> = Arc::new(
        EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("demo directory"),
    );
    let forests = vec!["contoso.com".to_string(), "fabrikam.com".to_string()];
    let events = Events::new(m.events.clone());
    let resolver = Arc::new(Resolver::new(
        directory.clone(),
        Some(AlternateLoginId {
            attribute: "mail".into(),
            lookup_forests: forests.clone(),
        }),
        forests,
        CacheConfig {
            positive_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            max_entries: 100,
        },
        m.cache.clone(),
        m.resolve.clone(),
        events.clone(),
    ));
    (resolver, directory, events)
}

fn service() -> (SignIn, Metrics) {
    let m = Metrics::standalone().expect("metrics");
    let (resolver, directory, events) = demo_resolver(&m);
    let fixed = time::macros::datetime!(2026-11-24 09:00 UTC);
    let s = SignIn::new(
        resolver,
        directory,
        events,
        m.tokens.alternate_login_id_authentications.clone(),
        Arc::new(move || fixed),
    );
    (s, m)
}

fn ctx() -> SignInContext<'static> {
    static REQUEST: std::sync::LazyLock<RequestContext> =
        std::sync::LazyLock::new(|| RequestContext::local(IpAddr::from([192, 0, 2, 1]), "test"));
    SignInContext {
        protocol: Protocol::Wstrust13,
        relying_party: "urn:test",
        request: &REQUEST,
        password_expiry: false,
    }
}

async fn attempt(s: &SignIn, login: &str, password: &str) -> Result<SignedIn, SignInFailure> {
    s.sign_in(login, &Secret::new(password.to_string()), &ctx())
        .await
}

fn counter(m: &Metrics, series: &str) -> f64 {
    m.render()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn the_right_password_signs_in_with_the_resolution_and_the_clock() {
    let (s, m) = service();
    let ok = attempt(&s, "jdoe@contoso.com", PASSWORD)
        .await
        .expect("signed in");
    let account = ok.resolution.account.as_ref().expect("account");
    assert_eq!(account.sam_account_name, "jdoe");
    assert_eq!(ok.resolution.via, Some(Via::AlternateLoginId));
    assert_eq!(
        ok.auth_instant,
        time::macros::datetime!(2026-11-24 09:00 UTC)
    );
    assert_eq!(
        counter(&m, "altgate_alternate_login_id_authentications_total"),
        1.0
    );
    // DOMAIN\sam signs in too, and is not an alternate-ID sign-in.
    attempt(&s, "CONTOSO\\jdoe", PASSWORD)
        .await
        .expect("down-level");
    assert_eq!(
        counter(&m, "altgate_alternate_login_id_authentications_total"),
        1.0
    );
}

#[tokio::test]
async fn every_failure_has_its_own_code_and_is_audited() {
    let (s, m) = service();
    let cases: &[(&str, &str, &str)] = &[
        ("jdoe@contoso.com", "wrong", "wrong_password"),
        ("jdoe@contoso.com", "", "empty_password"),
        ("nobody@contoso.com", PASSWORD, "not_found"),
        ("shared@contoso.com", PASSWORD, "ambiguous"),
        ("cross@example.com", PASSWORD, "ambiguous"),
        ("nosam@contoso.com", PASSWORD, "unresolved"),
        ("disabled@contoso.com", PASSWORD, "account_disabled"),
        ("", PASSWORD, "unresolved"),
    ];
    for (login, password, code) in cases {
        let f = attempt(&s, login, password).await.expect_err(login);
        assert_eq!(f.code(), *code, "{login}");
    }
    for bad in [
        "Demo-Passw0rd!\0junk",
        "Demo-Passw0rd!\n",
        "\u{7f}Demo-Passw0rd!",
    ] {
        let f = attempt(&s, "jdoe@contoso.com", bad)
            .await
            .expect_err("control");
        assert_eq!(f, SignInFailure::PasswordControlCharacter);
    }
    let too_long = "x".repeat(MAX_PASSWORD_BYTES + 1);
    let f = attempt(&s, "jdoe@contoso.com", &too_long)
        .await
        .expect_err("long");
    assert_eq!(f, SignInFailure::PasswordTooLong);
    assert_eq!(
        counter(&m, "altgate_sign_in_failures_total{reason=\"ambiguous\"}"),
        2.0
    );
    assert_eq!(
        counter(
            &m,
            "altgate_events_total{category=\"audit\",event=\"sign_in_failed\"}"
        ),
        12.0
    );
}

#[tokio::test]
async fn unresolved_logins_carry_their_typed_resolution_code() {
    let (s, _) = service();
    match attempt(&s, "shared@contoso.com", PASSWORD).await {
        Err(SignInFailure::Unresolved { outcome, code }) => {
            assert_eq!(outcome, Outcome::Ambiguous);
            assert_eq!(code, FailureCode::Msis8015);
        }
        other => panic!("{other:?}"),
    }
    match attempt(&s, "badcanon@contoso.com", PASSWORD).await {
        Err(SignInFailure::Unresolved { code, .. }) => assert_eq!(code, FailureCode::Msis8013),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_password_change_checks_the_old_password_like_a_sign_in_then_signs_in_with_the_new() {
    use super::password_change::{ChangeTrigger, PasswordChangeFailure as F};
    let (s, m) = service();
    let change = |login: &'static str, old: &'static str, new: &'static str| {
        let s = s.clone();
        async move {
            s.change_password(
                login,
                &Secret::new(old.to_string()),
                &Secret::new(new.to_string()),
                ChangeTrigger::Voluntary,
                &ctx(),
            )
            .await
        }
    };
    assert_eq!(
        change("jdoe@contoso.com", "wrong-one", "Brand-New-Pw-1")
            .await
            .map(|_| ()),
        Err(F::SignIn(SignInFailure::Rejected(
            BindRejection::WrongPassword
        )))
    );
    assert!(matches!(
        change("nobody@contoso.com", PASSWORD, "Brand-New-Pw-1").await,
        Err(F::SignIn(SignInFailure::Unresolved { .. }))
    ));
    assert_eq!(
        change("jdoe@contoso.com", PASSWORD, "short")
            .await
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("policy_refused")
    );
    assert_eq!(
        change("jdoe@contoso.com", PASSWORD, "bad\nnew")
            .await
            .map(|_| ())
            .map_err(|e| e.code()),
        Err("policy_refused"),
        "a control character in the new password never reaches AD"
    );
    let signed_in = change("jdoe@contoso.com", PASSWORD, "Brand-New-Pw-1")
        .await
        .expect("changed");
    assert_eq!(signed_in.login, "jdoe@contoso.com");
    assert!(attempt(&s, "jdoe@contoso.com", "Brand-New-Pw-1")
        .await
        .is_ok());
    assert_eq!(
        attempt(&s, "jdoe@contoso.com", PASSWORD).await.map(|_| ()),
        Err(SignInFailure::Rejected(BindRejection::WrongPassword))
    );
    let events = |name: &str| {
        counter(
            &m,
            &format!("altgate_events_total{{category=\"audit\",event=\"{name}\"}}"),
        )
    };
    assert_eq!(events("password_change_succeeded"), 1.0);
    assert_eq!(events("password_change_failed"), 4.0);
    assert_eq!(
        events("sign_in_succeeded"),
        1.0,
        "the voluntary change is no sign-in"
    );
}

#[test]
fn typed_reasons_keep_the_codes_of_their_sources() {
    use crate::directory::PasswordChangeError;
    use crate::label::{kinds, Id};
    use password_change::{ChangeFailureReason, PasswordChangeFailure};
    for r in [
        BindRejection::WrongPassword,
        BindRejection::NoSuchUser,
        BindRejection::LogonHours,
        BindRejection::Workstation,
        BindRejection::PasswordExpired,
        BindRejection::Disabled,
        BindRejection::AccountExpired,
        BindRejection::MustChangePassword,
        BindRejection::LockedOut,
        BindRejection::InvalidCredentials,
    ] {
        assert_eq!(SignInFailure::Rejected(r).code(), r.code());
    }
    for c in [RefusalCause::LockedOut, RefusalCause::StateUnavailable] {
        assert_eq!(SignInFailure::ExtranetLockout(c).code(), c.code());
    }
    for e in [
        PasswordChangeError::PolicyRefused("d".into()),
        PasswordChangeError::Refused("d".into()),
        PasswordChangeError::Unavailable("d".into()),
    ] {
        assert_eq!(PasswordChangeFailure::Directory(e.clone()).code(), e.code());
    }
    let refused = PasswordChangeFailure::NewPasswordRefused("empty_password".into());
    assert_eq!(refused.code(), "policy_refused");
    let token: Id<kinds::TokenFailure> = refused.reason();
    assert_eq!(token.as_str(), "policy_refused");
    let wrong =
        PasswordChangeFailure::SignIn(SignInFailure::Rejected(BindRejection::WrongPassword));
    assert_eq!(wrong.code(), "wrong_password");
    let all: Vec<&str> = FailureReason::ALL
        .iter()
        .map(|r| r.id())
        .chain(ChangeFailureReason::ALL.iter().map(|r| r.id()))
        .collect();
    let mut unique = all.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        all.len(),
        "a password change reason has one meaning"
    );
}

/// The demo sign-in service with extranet lockout over the memory store: `enforce`, thresholds
/// high enough never to lock, and an address budget of `per_minute` failures a minute.
fn service_with_lockout(per_minute: u32) -> (SignIn, Metrics, Arc<ExtranetLockout>) {
    use crate::config::lockout::{ExtranetLockoutConfig, LockoutMode, LockoutPolicy};
    let (s, m) = service();
    let lockout = Arc::new(ExtranetLockout::new(
        ExtranetLockoutConfig {
            mode: LockoutMode::Enforce,
            policy: LockoutPolicy {
                threshold: 100,
                familiar_threshold: 100,
                ..LockoutPolicy::default()
            },
            ip_failures_per_minute: per_minute,
            ip_budget_delay: Duration::from_millis(5),
        },
        crate::config::state::OnUnavailable::FailOpen,
        Arc::new(crate::state::memory::MemoryStore::new()),
        m.lockout.clone(),
        crate::clock::system_clock(),
    ));
    (s.with_lockout(lockout.clone()), m, lockout)
}

async fn key_of(s: &SignIn, login: &str) -> AccountKey {
    let r = s.resolver.resolve(login).await;
    lockout_key(r.account.as_ref().expect("resolves"))
}

#[test]
fn extranet_lockout_counts_wrong_passwords_and_refusals_of_the_right_one() {
    let counted = |r| counts_as_bad_password(r);
    for r in [
        BindRejection::WrongPassword,
        BindRejection::InvalidCredentials,
        BindRejection::Disabled,
        BindRejection::AccountExpired,
        BindRejection::LockedOut,
        BindRejection::LogonHours,
        BindRejection::Workstation,
    ] {
        assert!(counted(r), "{r:?}");
    }
    for r in [
        BindRejection::PasswordExpired,
        BindRejection::MustChangePassword,
        BindRejection::NoSuchUser,
    ] {
        assert!(!counted(r), "{r:?}");
    }
}

#[tokio::test]
async fn a_disabled_accounts_right_password_is_counted_like_a_wrong_one() {
    let (s, _m, l) = service_with_lockout(0);
    for password in [PASSWORD, "wrong", PASSWORD] {
        attempt(&s, "disabled@contoso.com", password)
            .await
            .expect_err("disabled");
    }
    let a = l
        .activity(&key_of(&s, "disabled@contoso.com").await)
        .await
        .expect("activity");
    assert_eq!(a.unfamiliar.count, 3, "{a:?}");
    // A password AD asks to change is the right one: not counted, nothing familiar either.
    attempt(&s, "newhire@contoso.com", PASSWORD)
        .await
        .expect_err("must change");
    let a = l
        .activity(&key_of(&s, "newhire@contoso.com").await)
        .await
        .expect("activity");
    assert_eq!(a.unfamiliar.count, 0, "{a:?}");
}

#[tokio::test]
async fn an_address_over_its_budget_lets_only_the_accounts_familiar_with_it_through() {
    let (s, m, _lockout) = service_with_lockout(2);
    attempt(&s, "jdoe@contoso.com", PASSWORD)
        .await
        .expect("signs in: the address becomes familiar to jdoe");
    for login in ["nobody-1@contoso.com", "nobody-2@contoso.com"] {
        attempt(&s, login, PASSWORD).await.expect_err("unknown");
    }
    // Over the budget: unknown logins and accounts that never signed in from here are refused
    // alike, right password or not; the familiar account is let through, and verified.
    for (login, password) in [
        ("nobody-3@contoso.com", PASSWORD),
        ("alice@contoso.com", PASSWORD),
        ("alice@contoso.com", "wrong"),
    ] {
        assert_eq!(
            attempt(&s, login, password).await.map(|_| ()),
            Err(SignInFailure::AddressBudgetExhausted),
            "{login}"
        );
    }
    attempt(&s, "jdoe@contoso.com", PASSWORD)
        .await
        .expect("familiar: let through");
    assert_eq!(
        attempt(&s, "jdoe@contoso.com", "wrong").await.map(|_| ()),
        Err(SignInFailure::Rejected(BindRejection::WrongPassword)),
        "familiar: verified, not refused"
    );
    let decisions = |d: &str| {
        counter(
            &m,
            &format!(
                "altgate_lockout_decisions_total{{class=\"source_ip\",decision=\"{d}\",mode=\"enforce\"}}"
            ),
        )
    };
    assert_eq!((decisions("refuse"), decisions("delay")), (3.0, 2.0));
    assert_eq!(
        counter(
            &m,
            "altgate_sign_in_failures_total{reason=\"address_failure_budget\"}"
        ),
        3.0
    );
}

//! SSO sessions end with their account (disabled, password reset, gone) and survive a
//! directory that cannot be read.

use super::*;

/// The demo directory with an account state the test sets (`None`: what the demo file says).
struct Flippable {
    inner: Arc<dyn Directory>,
    state: std::sync::Mutex<Option<Result<Option<AccountState>, DirectoryError>>>,
}

impl Flippable {
    fn set(&self, state: Option<Result<Option<AccountState>, DirectoryError>>) {
        *self.state.lock().expect("lock") = state;
    }
}

#[async_trait::async_trait]
impl Directory for Flippable {
    async fn search_users(
        &self,
        forest: &str,
        query: &crate::directory::UserQuery,
    ) -> Result<Vec<crate::directory::DirectoryEntry>, DirectoryError> {
        self.inner.search_users(forest, query).await
    }
    async fn domains(
        &self,
        forest: &str,
    ) -> Result<Arc<Vec<crate::directory::DomainInfo>>, DirectoryError> {
        self.inner.domains(forest).await
    }
    async fn bind(
        &self,
        account: crate::directory::AccountRef<'_>,
        password: &str,
    ) -> Result<Result<(), crate::directory::BindRejection>, DirectoryError> {
        self.inner.bind(account, password).await
    }
    async fn account_state(
        &self,
        account: crate::directory::AccountRef<'_>,
    ) -> Result<Option<AccountState>, DirectoryError> {
        let set = self.state.lock().expect("lock").clone();
        match set {
            Some(state) => state,
            None => self.inner.account_state(account).await,
        }
    }
}

async fn get_via(view: &Passive<'_>, query: &str, cookies: &str) -> LsResponse {
    let request = crate::request::RequestContext::local(ip(), "test");
    handle(view, &super::get_request(query, cookies, &request)).await
}

fn sessions_total(app: &App, result: &str) -> u64 {
    app.metrics
        .passive
        .sessions
        .with_label_values(&[result])
        .get()
}

fn cleared(r: &LsResponse) -> bool {
    r.set_cookies
        .iter()
        .any(|c| c.starts_with(&format!("{COOKIE}=;")) && c.contains("Max-Age=0"))
}

#[tokio::test]
async fn sso_ends_with_its_account_and_survives_an_unreadable_directory() {
    let app = app();
    let dir = Flippable {
        inner: app.directory.clone(),
        state: std::sync::Mutex::new(None),
    };
    let view = Passive {
        directory: &dir,
        ..app.passive()
    };
    let q = format!("wa=wsignin1.0&wtrealm={}", enc(WSFED_RP));
    let (r, _) = sign_in_with(&app, &q, "jdoe@contoso.com", DEMO_PW).await;
    let sso = cookie_pair(&r, COOKIE);
    let value = sso.split_once('=').map(|(_, v)| v).expect("value");
    let signed_in = app.sessions.open(value).expect("session").auth_instant;
    let at_sign_in = time::OffsetDateTime::from_unix_timestamp(signed_in).expect("t");
    let filetime = crate::directory::datetime_to_filetime(at_sign_in).expect("filetime");
    let state = |enabled: bool, pwd_last_set: i64| {
        Some(Ok(Some(AccountState {
            enabled,
            pwd_last_set: Some(pwd_last_set),
        })))
    };
    let sso_works = |r: &LsResponse| {
        !r.body.contains("userNameInput") && hidden(&r.body, "wresult").contains("<saml:Assertion")
    };

    // The demo file's state, then a password set at (not after) the sign-in's second: SSO.
    assert!(sso_works(&get_via(&view, &q, &sso).await));
    dir.set(state(true, filetime));
    assert!(sso_works(&get_via(&view, &q, &sso).await));

    // No DC answers: the form, but the session is not over (no clearing cookie), and it works
    // again once the directory is back.
    dir.set(Some(Err(DirectoryError::Unreachable {
        forest: "contoso.com".into(),
        reason: "test".into(),
    })));
    let r = get_via(&view, &q, &sso).await;
    assert!(r.body.contains("userNameInput"), "{}", r.body);
    assert!(!cleared(&r), "{:?}", r.set_cookies);
    assert_eq!(sessions_total(&app, "directory_unavailable"), 1);
    dir.set(None);
    assert!(sso_works(&get_via(&view, &q, &sso).await));

    // Each way the account ends the session: the form, the cookie cleared, a distinct result
    // and an audit event.
    let cases = [
        (state(true, filetime + 1), "password_changed"),
        (state(true, 0), "password_changed"),
        (state(false, filetime), "account_disabled"),
        (Some(Ok(None)), "account_missing"),
    ];
    let mut ended = 0;
    for (account, result) in cases {
        dir.set(account);
        let before = sessions_total(&app, result);
        let r = get_via(&view, &q, &sso).await;
        assert!(r.body.contains("userNameInput"), "{result}: {}", r.body);
        assert!(!r.body.contains("wresult"), "{result}: no token");
        assert!(cleared(&r), "{result}: {:?}", r.set_cookies);
        assert_eq!(sessions_total(&app, result), before + 1, "{result}");
        ended += 1;
        assert_eq!(
            app.metrics
                .events
                .events
                .with_label_values(&["sso_session_ended", "audit"])
                .get(),
            ended
        );
    }
    // A fresh password sign-in after the reset starts a session that the new time allows.
    dir.set(None);
    let (r, _) = sign_in_with(&app, &q, "jdoe@contoso.com", DEMO_PW).await;
    let renewed = cookie_pair(&r, COOKIE);
    dir.set(state(true, filetime));
    assert!(sso_works(&get_via(&view, &q, &renewed).await));
}

//! Resolver rules over the embedded demo directory and a scripted wrapper that can take forests
//! down, count calls and add latency (under `tokio::time::pause`, so timing is deterministic).

use super::*;
use crate::directory::embedded::EmbeddedDirectory;
use crate::directory::{AccountRef, DirectoryError, DomainInfo};
use crate::metrics::Metrics;
use async_trait::async_trait;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

struct Scripted {
    inner: EmbeddedDirectory,
    down: Mutex<HashSet<String>>,
    searches: AtomicUsize,
    latency: Duration,
    /// What a DC of the account's domain answers for the non-GC attributes (`None`: the
    /// embedded directory's own answer, i.e. no partial attribute set).
    dc: Mutex<Option<Result<crate::directory::DomainAttributes, DirectoryError>>>,
    /// Added to every `DOMAIN\\sam` answer, as a global catalog would add a child domain's
    /// account of the same name.
    extra_sam_match: Mutex<Option<DirectoryEntry>>,
}

impl Scripted {
    fn new(latency: Duration) -> Arc<Self> {
        Arc::new(Scripted {
            inner: EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("demo"),
            down: Mutex::new(HashSet::new()),
            searches: AtomicUsize::new(0),
            latency,
            dc: Mutex::new(None),
            extra_sam_match: Mutex::new(None),
        })
    }
    fn set_down(&self, forest: &str, down: bool) {
        let mut d = self.down.lock().expect("lock");
        if down {
            d.insert(forest.into());
        } else {
            d.remove(forest);
        }
    }
    fn calls(&self) -> usize {
        self.searches.load(Ordering::SeqCst)
    }
    fn check(&self, forest: &str) -> Result<(), DirectoryError> {
        if self.down.lock().expect("lock").contains(forest) {
            return Err(DirectoryError::Unreachable {
                forest: forest.into(),
                reason: "connection refused".into(),
            });
        }
        Ok(())
    }
}

#[async_trait]
impl Directory for Scripted {
    async fn search_users(
        &self,
        forest: &str,
        q: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        self.searches.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.latency).await;
        self.check(forest)?;
        let mut found = self.inner.search_users(forest, q).await?;
        if let UserQuery::SamAccountName { .. } = q {
            found.extend(self.extra_sam_match.lock().expect("lock").clone());
        }
        Ok(found)
    }
    async fn domains(&self, forest: &str) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
        self.check(forest)?;
        self.inner.domains(forest).await
    }
    async fn bind(
        &self,
        account: AccountRef<'_>,
        password: &str,
    ) -> Result<Result<(), crate::directory::BindRejection>, DirectoryError> {
        self.check(account.forest)?;
        self.inner.bind(account, password).await
    }
    async fn account_state(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<crate::directory::AccountState>, DirectoryError> {
        self.check(account.forest)?;
        self.inner.account_state(account).await
    }
    async fn domain_attributes(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<crate::directory::DomainAttributes>, DirectoryError> {
        let scripted = self.dc.lock().expect("lock").clone();
        match scripted {
            None => self.inner.domain_attributes(account).await,
            Some(answer) => answer.map(Some),
        }
    }
}

fn resolver_with(dir: Arc<Scripted>, alternate: bool, max_entries: u64) -> (Resolver, Metrics) {
    let m = Metrics::standalone().expect("metrics");
    let forests = vec!["contoso.com".to_string(), "fabrikam.com".to_string()];
    let alt = alternate.then(|| AlternateLoginId {
        attribute: "mail".into(),
        lookup_forests: forests.clone(),
    });
    let r = Resolver::new(
        dir,
        alt,
        forests,
        CacheConfig {
            positive_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            max_entries,
        },
        m.cache.clone(),
        m.resolve.clone(),
        Events::new(m.events.clone()),
    );
    (r, m)
}

fn resolver() -> (Resolver, Arc<Scripted>, Metrics) {
    let d = Scripted::new(Duration::ZERO);
    let (r, m) = resolver_with(d.clone(), true, 1000);
    (r, d, m)
}

fn account(r: &Resolution) -> &ResolvedAccount {
    r.account
        .as_ref()
        .unwrap_or_else(|| panic!("not resolved: {r:?}"))
}

#[tokio::test]
async fn alternate_id_resolves_with_every_field() {
    let (r, _, _) = resolver();
    let res = r.resolve("  JDoe@Contoso.COM ").await;
    assert_eq!(res.outcome, Outcome::Resolved);
    assert_eq!(res.via, Some(Via::AlternateLoginId));
    assert_eq!(res.login, "JDoe@Contoso.COM");
    let a = account(&res);
    assert_eq!(a.forest, "contoso.com");
    assert_eq!(a.domain, "contoso.com");
    assert_eq!(a.netbios_domain.as_deref(), Some("CONTOSO"));
    assert_eq!(a.sam_account_name, "jdoe");
    assert_eq!(
        a.user_principal_name.as_deref(),
        Some("jdoe@corp.contoso.local")
    );
    assert_eq!(a.immutable_id.as_deref(), Some("/xmWb4aLEdC0LQDAT8lk/w=="));
    assert!(a.enabled);
    assert!(res.unreachable_forests.is_empty());
}

#[tokio::test]
async fn consistency_guid_wins_over_object_guid() {
    let (r, _, _) = resolver();
    let res = r.resolve("consist@contoso.com").await;
    assert_eq!(
        account(&res).immutable_id.as_deref(),
        Some("AAECAwQFBgcICQoLDA0ODw==")
    );
}

#[tokio::test]
async fn the_domain_controller_decides_the_consistency_guid_never_the_search_answer() {
    use crate::directory::DomainAttributes;
    let (r, d, _) = resolver();
    // The search answer (embedded: AAECAw...) says one thing, the DC another: the DC wins.
    *d.dc.lock().expect("lock") = Some(Ok(DomainAttributes {
        consistency_guid: Some(vec![0xAB; 16]),
    }));
    let res = r.resolve("consist@contoso.com").await;
    assert_eq!(
        account(&res).immutable_id.as_deref(),
        Some("q6urq6urq6urq6urq6urqw==")
    );
    // The DC has none: objectGUID, even though the search answer carried one.
    r.clear_cache();
    *d.dc.lock().expect("lock") = Some(Ok(DomainAttributes::default()));
    let res = r.resolve("consist@contoso.com").await;
    let a = account(&res);
    assert_ne!(a.immutable_id.as_deref(), Some("AAECAwQFBgcICQoLDA0ODw=="));
    assert!(a.immutable_id.is_some(), "objectGUID");
}

#[tokio::test]
async fn an_unreadable_consistency_guid_fails_closed_and_is_not_cached() {
    let (r, d, _) = resolver();
    *d.dc.lock().expect("lock") = Some(Err(DirectoryError::Unreachable {
        forest: "contoso.com".into(),
        reason: "ldaps://dc1: connection refused".into(),
    }));
    let res = r.resolve("consist@contoso.com").await;
    assert_eq!(res.outcome, Outcome::Error);
    assert!(res.account.is_none(), "no ImmutableID from objectGUID");
    let failure = res.failure.as_ref().expect("failure");
    assert_eq!(failure.code, FailureCode::DirectoryUnavailable);
    assert!(
        failure.message.contains("connection refused"),
        "{failure:?}"
    );
    // The DC is back: the next sign-in resolves (the failure was not cached).
    *d.dc.lock().expect("lock") = None;
    let res = r.resolve("consist@contoso.com").await;
    assert_eq!(
        account(&res).immutable_id.as_deref(),
        Some("AAECAwQFBgcICQoLDA0ODw==")
    );
}

#[tokio::test]
async fn mail_equal_to_another_users_upn_wins_over_the_upn() {
    let (r, _, _) = resolver();
    let res = r.resolve("alice@contoso.com").await;
    assert_eq!(res.via, Some(Via::AlternateLoginId));
    assert_eq!(account(&res).sam_account_name, "mallory");
}

#[tokio::test]
async fn no_alternate_match_falls_back_to_upn() {
    let (r, _, m) = resolver();
    let res = r.resolve("nomail@corp.contoso.local").await;
    assert_eq!(res.via, Some(Via::Upn));
    assert_eq!(res.upn_fallback, Some(UpnFallback::NoMatch));
    assert_eq!(account(&res).sam_account_name, "nomail");
    assert!(m
        .render()
        .contains("altgate_upn_fallbacks_total{reason=\"no_match\"} 1"));
}

#[tokio::test]
async fn duplicates_give_msis8015_and_msis8014() {
    let (r, _, m) = resolver();
    let res = r.resolve("shared@contoso.com").await;
    assert_eq!(res.outcome, Outcome::Ambiguous);
    let f = res.failure.as_ref().expect("failure");
    assert_eq!(f.msis, Some("MSIS8015"));
    assert_eq!(f.event_id, 364);
    assert!(f.message.starts_with(
        "MSIS8015: Found multiple user accounts with identity 'shared@contoso.com' in forest 'contoso.com' with identities: "
    ));
    let res = r.resolve("cross@example.com").await;
    assert_eq!(res.outcome, Outcome::Ambiguous);
    assert_eq!(
        res.failure.as_ref().map(|f| f.message.as_str()),
        Some("MSIS8014: Found multiple user accounts with identity 'cross@example.com' in forests: contoso.com, fabrikam.com")
    );
    let text = m.render();
    assert!(text.contains("altgate_msis_events_total{code=\"MSIS8014\"} 1"));
    assert!(text.contains("altgate_msis_events_total{code=\"MSIS8015\"} 1"));
    assert!(text.contains("altgate_login_resolutions_total{outcome=\"ambiguous\",via=\"none\"} 2"));
}

#[tokio::test]
async fn broken_account_data_gives_msis8012_and_msis8013() {
    let (r, _, _) = resolver();
    let res = r.resolve("nosam@contoso.com").await;
    assert_eq!(res.outcome, Outcome::Error);
    assert_eq!(res.failure.as_ref().and_then(|f| f.msis), Some("MSIS8012"));
    let res = r.resolve("badcanon@contoso.com").await;
    assert_eq!(
        res.failure.as_ref().map(|f| f.message.as_str()),
        Some("MSIS8013: CanonicalName: 'CONTOSO-Users-Bad Canon' of the user:'badcanon@contoso.com' is in bad format.")
    );
}

#[tokio::test]
async fn down_level_names_resolve_in_the_right_forest() {
    let (r, _, _) = resolver();
    let res = r.resolve("contoso\\JDOE").await;
    assert_eq!(res.via, Some(Via::SamAccountName));
    assert_eq!(account(&res).forest, "contoso.com");
    let res = r.resolve("FABRIKAM\\jdoe").await;
    assert_eq!(account(&res).forest, "fabrikam.com");
    assert_eq!(
        account(&res).user_principal_name.as_deref(),
        Some("jdoe@fabrikam.local")
    );
    let res = r.resolve("NOSUCH\\jdoe").await;
    assert_eq!(res.outcome, Outcome::NotFound);
}

#[tokio::test]
async fn a_down_level_name_never_matches_a_child_domains_account() {
    let (r, d, _) = resolver();
    let parent = r.resolve("CONTOSO\\jdoe").await;
    let parent = account(&parent).clone();
    // The global catalog's subtree below DC=contoso,DC=com also holds emea.contoso.com.
    *d.extra_sam_match.lock().expect("lock") = Some(DirectoryEntry {
        dn: "CN=jdoe,CN=Users,DC=emea,DC=contoso,DC=com".into(),
        sam_account_name: Some("jdoe".into()),
        user_principal_name: Some("jdoe@emea.contoso.com".into()),
        object_guid: Some(vec![7; 16]),
        ..DirectoryEntry::default()
    });
    r.clear_cache();
    let res = r.resolve("contoso\\JDOE").await;
    assert_eq!(res.outcome, Outcome::Resolved, "{res:?}");
    assert_eq!(
        account(&res).distinguished_name,
        parent.distinguished_name,
        "CONTOSO\\jdoe is contoso.com's jdoe, not emea's"
    );
    // Only a child-domain match: not found, never the child's account.
    *d.extra_sam_match.lock().expect("lock") = Some(DirectoryEntry {
        dn: "CN=onlyemea,CN=Users,DC=emea,DC=contoso,DC=com".into(),
        sam_account_name: Some("onlyemea".into()),
        object_guid: Some(vec![8; 16]),
        ..DirectoryEntry::default()
    });
    r.clear_cache();
    let res = r.resolve("CONTOSO\\onlyemea").await;
    assert_eq!(res.outcome, Outcome::NotFound, "{res:?}");
}

#[tokio::test]
async fn bad_input_never_reaches_the_directory() {
    let (r, d, _) = resolver();
    for bad in [
        "",
        "   ",
        "a\0b@contoso.com",
        "x\ny",
        "CONTOSO\\",
        &"x".repeat(400),
    ] {
        let res = r.resolve(bad).await;
        assert_eq!(res.outcome, Outcome::Error, "{bad:?}");
        assert!(res
            .failure
            .as_ref()
            .is_some_and(|f| f.code.as_str().starts_with("login_")));
    }
    assert_eq!(d.calls(), 0);
}

#[tokio::test]
async fn metacharacters_match_literally_in_the_embedded_directory() {
    let (r, _, _) = resolver();
    assert_eq!(r.resolve("*@contoso.com").await.outcome, Outcome::NotFound);
    assert_eq!(r.resolve("*").await.outcome, Outcome::NotFound);
}

#[tokio::test]
async fn unreachable_forest_is_skipped_reported_and_not_cached() {
    let (r, d, _) = resolver();
    d.set_down("contoso.com", true);
    let res = r.resolve("fuser@fabrikam.com").await;
    assert_eq!(res.outcome, Outcome::Resolved);
    assert_eq!(res.unreachable_forests, vec!["contoso.com".to_string()]);
    let before = d.calls();
    let again = r.resolve("fuser@fabrikam.com").await;
    assert_eq!(again.outcome, Outcome::Resolved);
    assert!(
        d.calls() > before,
        "a result obtained with a forest down must not be cached"
    );
    // Back up: the result is complete and is cached from now on.
    d.set_down("contoso.com", false);
    let res = r.resolve("fuser@fabrikam.com").await;
    assert!(res.unreachable_forests.is_empty());
    let before = d.calls();
    r.resolve("fuser@fabrikam.com").await;
    assert_eq!(d.calls(), before);
}

#[tokio::test]
async fn an_ambiguity_hidden_by_an_outage_is_not_cached_as_unique() {
    let (r, d, _) = resolver();
    d.set_down("fabrikam.com", true);
    let res = r.resolve("cross@example.com").await;
    // AD FS semantics: a unique match among the forests that answered succeeds...
    assert_eq!(res.outcome, Outcome::Resolved);
    d.set_down("fabrikam.com", false);
    // ...but it was not cached, so the ambiguity shows as soon as the forest is back.
    assert_eq!(
        r.resolve("cross@example.com").await.outcome,
        Outcome::Ambiguous
    );
}

#[tokio::test]
async fn no_lookup_forest_answering_falls_back_to_upn_then_reports_unavailable() {
    let (r, d, _) = resolver();
    d.set_down("contoso.com", true);
    d.set_down("fabrikam.com", true);
    let res = r.resolve("jdoe@contoso.com").await;
    assert_eq!(res.outcome, Outcome::Error);
    assert_eq!(res.upn_fallback, Some(UpnFallback::NoForestAnswered));
    assert_eq!(
        res.failure.as_ref().map(|f| f.code.as_str()),
        Some("directory_unavailable")
    );
    assert_eq!(res.unreachable_forests.len(), 2);
}

#[tokio::test]
async fn upn_fallback_after_an_unanswered_alternate_lookup() {
    // Alternate lookup only in contoso (down); the UPN search covers fabrikam, which answers.
    let d = Scripted::new(Duration::ZERO);
    let m = Metrics::standalone().expect("metrics");
    let r = Resolver::new(
        d.clone(),
        Some(AlternateLoginId {
            attribute: "mail".into(),
            lookup_forests: vec!["contoso.com".into()],
        }),
        vec!["contoso.com".into(), "fabrikam.com".into()],
        CacheConfig::default(),
        m.cache.clone(),
        m.resolve.clone(),
        Events::new(m.events.clone()),
    );
    d.set_down("contoso.com", true);
    let res = r.resolve("fuser@fabrikam.local").await;
    assert_eq!(res.outcome, Outcome::Resolved);
    assert_eq!(res.via, Some(Via::Upn));
    assert_eq!(res.upn_fallback, Some(UpnFallback::NoForestAnswered));
}

#[tokio::test]
async fn without_alternate_id_only_upns_resolve() {
    let d = Scripted::new(Duration::ZERO);
    let (r, _) = resolver_with(d, false, 100);
    assert_eq!(
        r.resolve("jdoe@contoso.com").await.outcome,
        Outcome::NotFound
    );
    let res = r.resolve("jdoe@corp.contoso.local").await;
    assert_eq!(res.via, Some(Via::Upn));
    assert_eq!(res.upn_fallback, None);
}

#[tokio::test]
async fn cache_answers_repeat_and_case_variant_logins() {
    let (r, d, m) = resolver();
    r.resolve("jdoe@contoso.com").await;
    let calls = d.calls();
    let res = r.resolve("JDOE@contoso.com").await;
    assert_eq!(res.outcome, Outcome::Resolved);
    assert_eq!(d.calls(), calls);
    r.resolve("nobody@contoso.com").await;
    let calls = d.calls();
    assert_eq!(
        r.resolve("nobody@contoso.com").await.outcome,
        Outcome::NotFound
    );
    assert_eq!(d.calls(), calls, "not_found is cached for negative_ttl");
    let text = m.render();
    assert!(
        text.contains("altgate_cache_requests_total{result=\"hit\"} 2"),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn lookup_forests_are_searched_concurrently() {
    let d = Scripted::new(Duration::from_millis(100));
    let (r, _) = resolver_with(d, true, 0);
    let start = Instant::now();
    let res = r.resolve("fuser@fabrikam.com").await;
    assert_eq!(res.outcome, Outcome::Resolved);
    // Two forests, 100 ms each: concurrent costs one latency (plus the domain lookup, instant).
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}

#[tokio::test]
async fn json_shape_matches_the_contract() {
    let (r, _, _) = resolver();
    let v = serde_json::to_value(r.resolve("jdoe@contoso.com").await.as_ref()).expect("json");
    for key in [
        "login",
        "outcome",
        "via",
        "forest",
        "domain",
        "netbios_domain",
        "user_principal_name",
        "sam_account_name",
        "distinguished_name",
        "immutable_id",
        "unreachable_forests",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["outcome"], "resolved");
    assert_eq!(v["via"], "alternate_login_id");
    let v = serde_json::to_value(r.resolve("cross@example.com").await.as_ref()).expect("json");
    assert_eq!(v["outcome"], "ambiguous");
    assert_eq!(v["msis"], "MSIS8014");
    assert_eq!(v["event_id"], 364);
    assert!(v["message"]
        .as_str()
        .is_some_and(|m| m.starts_with("MSIS8014: ")));
    assert!(v.get("forest").is_none());
}

//! Every resolution rule against the two real Samba AD forests, through the library.

use crate::harness::{self, metric};
use altgate::resolve::{Outcome, Resolution, Via};
use base64::Engine;
use std::sync::Arc;

struct Expect {
    login: &'static str,
    outcome: Outcome,
    via: Option<Via>,
    forest: Option<&'static str>,
    sam: Option<&'static str>,
    msis: Option<&'static str>,
}

const fn resolved(
    login: &'static str,
    via: Via,
    forest: &'static str,
    sam: &'static str,
) -> Expect {
    Expect {
        login,
        outcome: Outcome::Resolved,
        via: Some(via),
        forest: Some(forest),
        sam: Some(sam),
        msis: None,
    }
}

const fn failed(login: &'static str, outcome: Outcome, msis: Option<&'static str>) -> Expect {
    Expect {
        login,
        outcome,
        via: None,
        forest: None,
        sam: None,
        msis,
    }
}

const C: &str = "contoso.com";
const F: &str = "fabrikam.com";

fn table() -> Vec<Expect> {
    use Outcome::*;
    use Via::*;
    vec![
        // Unique mail in each forest.
        resolved("jdoe@contoso.com", AlternateLoginId, C, "jdoe"),
        resolved("fuser@fabrikam.com", AlternateLoginId, F, "fuser"),
        resolved("john.doe@fabrikam.com", AlternateLoginId, F, "jdoe"),
        // Case differences: AD compares case-insensitively, and so does the cache.
        resolved("JDOE@CONTOSO.COM", AlternateLoginId, C, "jdoe"),
        resolved("mixed.case@contoso.com", AlternateLoginId, C, "mixed"),
        resolved("  Mixed.Case@Contoso.COM  ", AlternateLoginId, C, "mixed"),
        // A user whose mail equals another user's UPN: the alternate ID wins.
        resolved("alice@contoso.com", AlternateLoginId, C, "mallory"),
        // No mail match anywhere: the UPN fallback.
        resolved("nomail@corp.contoso.local", Upn, C, "nomail"),
        resolved("jdoe@corp.contoso.local", Upn, C, "jdoe"),
        resolved("upnonly@fabrikam.com", Upn, F, "upnonly"),
        resolved("jdoe@fabrikam.local", Upn, F, "jdoe"),
        // DOMAIN\sam in the domain with that NetBIOS name.
        resolved("CONTOSO\\jdoe", SamAccountName, C, "jdoe"),
        resolved("contoso\\JDOE", SamAccountName, C, "jdoe"),
        resolved("FABRIKAM\\jdoe", SamAccountName, F, "jdoe"),
        failed("NOSUCH\\jdoe", NotFound, None),
        failed("CONTOSO\\nobody", NotFound, None),
        // LDAP metacharacters match literally and never widen the filter.
        resolved("o*brien(test)@contoso.com", AlternateLoginId, C, "obrien"),
        resolved("back\\slash@contoso.com", AlternateLoginId, C, "bslash"),
        failed("*@contoso.com", NotFound, None),
        failed("*", NotFound, None),
        failed("*)(mail=*", NotFound, None),
        failed("jdoe@contoso.com)(|(mail=*", NotFound, None),
        failed("o*@contoso.com", NotFound, None),
        failed("CONTOSO\\*", NotFound, None),
        // Ambiguity.
        failed("shared@contoso.com", Ambiguous, Some("MSIS8015")),
        failed("cross@example.com", Ambiguous, Some("MSIS8014")),
        // Disabled accounts resolve (the password bind refuses them) and say so.
        resolved("disabled@contoso.com", AlternateLoginId, C, "disabled"),
        failed("nobody@contoso.com", NotFound, None),
    ]
}

fn check(e: &Expect, r: &Resolution) {
    let ctx = format!("{}: {r:?}", e.login);
    assert_eq!(r.outcome, e.outcome, "{ctx}");
    assert_eq!(r.via, e.via, "{ctx}");
    assert_eq!(
        r.account.as_ref().map(|a| a.forest.as_str()),
        e.forest,
        "{ctx}"
    );
    assert_eq!(
        r.account.as_ref().map(|a| a.sam_account_name.as_str()),
        e.sam,
        "{ctx}"
    );
    assert_eq!(r.failure.as_ref().and_then(|f| f.msis), e.msis, "{ctx}");
    assert!(r.unreachable_forests.is_empty(), "{ctx}");
    if let Some(f) = &r.failure {
        assert_eq!(f.event_id, 364, "{ctx}");
    }
}

#[tokio::test]
async fn every_rule_against_real_forests() {
    let _g = harness::shared().await;
    let app = harness::app(&harness::both_forests_yaml(""));
    for e in table() {
        check(&e, &*app.resolver.resolve(e.login).await);
    }
    // The same table again is answered from the cache with the same outcomes.
    for e in table() {
        check(&e, &*app.resolver.resolve(e.login).await);
    }
    assert!(
        metric(&app.metrics, "altgate_cache_requests_total{result=\"hit\"}")
            >= table().len() as f64
    );
}

#[tokio::test]
async fn resolved_accounts_carry_ad_data() {
    let _g = harness::shared().await;
    let app = harness::app(&harness::both_forests_yaml(""));
    let r = app.resolver.resolve("jdoe@contoso.com").await;
    let a = r.account.as_ref().expect("resolved");
    assert_eq!(a.domain, "contoso.com");
    assert_eq!(a.netbios_domain.as_deref(), Some("CONTOSO"));
    assert_eq!(
        a.user_principal_name.as_deref(),
        Some("jdoe@corp.contoso.local")
    );
    assert_eq!(
        a.distinguished_name,
        "CN=John Doe,CN=Users,DC=contoso,DC=com"
    );
    assert!(a.enabled);
    let guid = base64::engine::general_purpose::STANDARD
        .decode(a.immutable_id.as_deref().expect("immutable id"))
        .expect("base64");
    assert_eq!(guid.len(), 16, "objectGUID is 16 raw bytes");

    let r = app.resolver.resolve("consist@contoso.com").await;
    assert_eq!(
        r.account.as_ref().and_then(|a| a.immutable_id.as_deref()),
        Some("AAECAwQFBgcICQoLDA0ODw=="),
        "mS-DS-ConsistencyGuid wins over objectGUID"
    );
    let r = app.resolver.resolve("disabled@contoso.com").await;
    assert_eq!(r.account.as_ref().map(|a| a.enabled), Some(false));
    let r = app.resolver.resolve("FABRIKAM\\jdoe").await;
    assert_eq!(
        r.account.as_ref().and_then(|a| a.netbios_domain.as_deref()),
        Some("FABRIKAM")
    );
}

#[tokio::test]
async fn ambiguity_messages_are_ad_fs_text() {
    let _g = harness::shared().await;
    let app = harness::app(&harness::both_forests_yaml(""));
    let r = app.resolver.resolve("shared@contoso.com").await;
    assert_eq!(
        r.failure.as_ref().map(|f| f.message.as_str()),
        Some("MSIS8015: Found multiple user accounts with identity 'shared@contoso.com' in forest 'contoso.com' with identities: CN=Dup A,CN=Users,DC=contoso,DC=com; CN=Dup B,CN=Users,DC=contoso,DC=com")
    );
    let r = app.resolver.resolve("cross@example.com").await;
    assert_eq!(
        r.failure.as_ref().map(|f| f.message.as_str()),
        Some("MSIS8014: Found multiple user accounts with identity 'cross@example.com' in forests: contoso.com, fabrikam.com")
    );
    assert_eq!(
        metric(&app.metrics, "altgate_msis_events_total{code=\"MSIS8014\"}"),
        1.0
    );
    assert_eq!(
        metric(&app.metrics, "altgate_msis_events_total{code=\"MSIS8015\"}"),
        1.0
    );
}

#[tokio::test]
async fn bad_input_is_refused_before_any_directory_traffic() {
    let _g = harness::shared().await;
    let app = harness::app(&harness::both_forests_yaml(""));
    let long = "a".repeat(400);
    for bad in [
        "",
        "   ",
        "jdoe\0@contoso.com",
        "jdoe\r\n@contoso.com",
        long.as_str(),
        "CONTOSO\\",
    ] {
        let r = app.resolver.resolve(bad).await;
        assert_eq!(r.outcome, Outcome::Error, "{bad:?}");
    }
    let text = app.metrics.render();
    assert!(
        !text.contains("altgate_directory_searches_total{"),
        "no search may have been sent:\n{text}"
    );
    assert_eq!(
        crate::kit::config::total(&text, "altgate_ldap_connects_total", ""),
        0.0,
        "no connection opened"
    );
}

#[tokio::test]
async fn concurrent_lookups_of_one_login_share_one_directory_round_trip() {
    let _g = harness::shared().await;
    let app = harness::app(&harness::both_forests_yaml(""));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let app = Arc::clone(&app);
        tasks.push(tokio::spawn(async move {
            app.resolver.resolve("fuser@fabrikam.com").await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.expect("join").outcome, Outcome::Resolved);
    }
    for forest in ["contoso.com", "fabrikam.com"] {
        let series = format!(
            "altgate_directory_searches_total{{forest=\"{forest}\",query=\"alternate_login_id\",result=\"ok\"}}"
        );
        assert_eq!(metric(&app.metrics, &series), 1.0, "{forest}");
    }
}

#[tokio::test]
async fn alternate_id_disabled_means_upn_only() {
    let _g = harness::shared().await;
    let yaml = harness::config_yaml(
        &[
            harness::ForestSpec::real("contoso.com"),
            harness::ForestSpec::real("fabrikam.com"),
        ],
        &[],
        "",
    );
    let app = harness::app(&yaml);
    assert_eq!(
        app.resolver.resolve("jdoe@contoso.com").await.outcome,
        Outcome::NotFound
    );
    let r = app.resolver.resolve("jdoe@corp.contoso.local").await;
    assert_eq!(r.via, Some(Via::Upn));
    assert_eq!(r.upn_fallback, None);
}

#[tokio::test]
async fn lookup_forests_limit_the_alternate_search_but_not_the_upn() {
    let _g = harness::shared().await;
    let yaml = harness::config_yaml(
        &[
            harness::ForestSpec::real("contoso.com"),
            harness::ForestSpec::real("fabrikam.com"),
        ],
        &["contoso.com"],
        "",
    );
    let app = harness::app(&yaml);
    // cross@example.com is only ambiguous when fabrikam's mail is searched too.
    let r = app.resolver.resolve("cross@example.com").await;
    assert_eq!(r.outcome, Outcome::Resolved);
    assert_eq!(
        r.account.as_ref().map(|a| a.sam_account_name.as_str()),
        Some("crossc")
    );
    // fabrikam's users still resolve by UPN.
    let r = app.resolver.resolve("fuser@fabrikam.local").await;
    assert_eq!(r.via, Some(Via::Upn));
}

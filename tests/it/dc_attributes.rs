//! Attributes read where real Active Directory keeps them, against the real forests. Samba's
//! global catalog returns every attribute, so a wrapper directory plays a Windows global catalog:
//! its answers carry only the partial attribute set (no `canonicalName`, no
//! `mS-DS-ConsistencyGuid`, or a planted wrong one). The ImmutableID must still be the consistency
//! GUID, read from a domain controller of the user's domain, and a token must carry it. Then
//! AD FS's password-expiry claims, for a throwaway user whose password expires in 3 days through
//! a fine-grained password policy (never the domain-wide policy).

use crate::ad_users;
use crate::harness::{self, ForestSpec, TestServer};
use crate::wstrust::rst;
use altgate::clock::system_clock;
use altgate::directory::ldap::LdapDirectory;
use altgate::directory::{
    AccountRef, AccountState, BindRejection, Directory, DirectoryEntry, DirectoryError,
    DomainAttributes, DomainInfo, DomainLockoutPolicy, PasswordExpiry, UserQuery,
};
use altgate::events::Events;
use altgate::keys::SigningKey;
use altgate::metrics::Metrics;
use altgate::resolve::{FailureCode, Outcome};
use altgate::tokens::issue::Signing;
use altgate::tokens::rstr::Version;
use altgate::App;
use async_trait::async_trait;
use base64::Engine;
use ldap3::{Scope, SearchEntry};
use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

/// `consist@contoso.com`'s `mS-DS-ConsistencyGuid` (scripts/ad-forests.sh), base64.
const CONSIST_GUID: &str = "AAECAwQFBgcICQoLDA0ODw==";
const ID11: (&str, &str) = (
    "AssertionID",
    "urn:oasis:names:tc:SAML:1.0:assertion:Assertion",
);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A Windows-like global catalog over the real forests: every search answer loses the
/// attributes outside the partial attribute set (`canonicalName`, constructed;
/// `mS-DS-ConsistencyGuid`), or carries a planted wrong consistency GUID (`plant`). Everything
/// else, the domain-controller reads included, goes to the real directory.
struct PartialGc {
    inner: LdapDirectory,
    plant: Option<Vec<u8>>,
}

#[async_trait]
impl Directory for PartialGc {
    async fn search_users(
        &self,
        forest: &str,
        query: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let mut entries = self.inner.search_users(forest, query).await?;
        for e in &mut entries {
            e.canonical_name = None;
            e.consistency_guid = self.plant.clone();
        }
        Ok(entries)
    }
    async fn domains(&self, forest: &str) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
        self.inner.domains(forest).await
    }
    async fn bind(
        &self,
        account: AccountRef<'_>,
        password: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError> {
        self.inner.bind(account, password).await
    }
    async fn account_state(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<AccountState>, DirectoryError> {
        self.inner.account_state(account).await
    }
    async fn lockout_policy(
        &self,
        forest: &str,
        domain: &str,
    ) -> Result<Option<DomainLockoutPolicy>, DirectoryError> {
        self.inner.lockout_policy(forest, domain).await
    }
    async fn domain_attributes(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<DomainAttributes>, DirectoryError> {
        self.inner.domain_attributes(account).await
    }
    async fn password_expiry(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<PasswordExpiry>, DirectoryError> {
        self.inner.password_expiry(account).await
    }
}

/// An app over both real forests behind a [`PartialGc`], with token signing.
fn app_behind_partial_gc(specs: &[ForestSpec], plant: Option<Vec<u8>>) -> Arc<App> {
    let yaml = harness::config_yaml(
        specs,
        &["contoso.com", "fabrikam.com"],
        &harness::token_yaml(),
    );
    let config = harness::parse(&yaml);
    let metrics = Metrics::standalone().expect("metrics");
    let events = Events::new(metrics.events.clone());
    let inner = LdapDirectory::new(&config, metrics.directory.clone(), events).expect("directory");
    let (cert, key) = harness::signing_pair();
    let signing = Signing {
        key: SigningKey::load(cert, key).expect("signing key"),
        next_cert_der: None,
    };
    App::with_directory(
        config,
        metrics,
        Arc::new(PartialGc { inner, plant }),
        Some(signing),
        system_clock(),
    )
    .expect("app")
}

fn both() -> Vec<ForestSpec> {
    vec![
        ForestSpec::real("contoso.com"),
        ForestSpec::real("fabrikam.com"),
    ]
}

/// The value of the SAML 1.1 attribute `name` (AttributeName) in `xml`, if any.
fn saml11_attribute(xml: &str, name: &str) -> Option<String> {
    let at = xml.find(&format!("AttributeName=\"{name}\""))?;
    let rest = xml.get(at..)?;
    let start = rest.find("AttributeValue>")? + "AttributeValue>".len();
    let value = rest.get(start..)?;
    Some(value.get(..value.find('<')?)?.to_string())
}

/// Base64 of the account's `objectGUID` as the real global catalog returns it.
async fn object_guid(app: &App, mail: &str) -> String {
    let q = UserQuery::AttributeEquals {
        attribute: "mail".into(),
        value: mail.into(),
    };
    let found = app
        .directory
        .search_users("contoso.com", &q)
        .await
        .expect("search");
    let guid = found
        .first()
        .and_then(|e| e.object_guid.clone())
        .expect("objectGUID");
    B64.encode(guid)
}

/// Posts a WS-Trust 1.3 RST for `login` to `rp` in process; the answer's status and body.
async fn wstrust(app: &App, login: &str, password: &str, rp: &str) -> (u16, String) {
    let ip: IpAddr = [203, 0, 113, 7].into();
    let body = rst("13", login, password, rp, "", 0);
    let a = app
        .wstrust()
        .handle(
            Version::Trust13,
            body.as_bytes(),
            &altgate::request::RequestContext::local(ip, "test"),
        )
        .await;
    (a.status.as_u16(), a.body)
}

#[tokio::test]
async fn a_partial_global_catalog_still_yields_the_consistency_guid_from_the_dc() {
    let _g = harness::shared().await;
    let pw = harness::forests().user_password.clone();
    let (cert, _) = harness::signing_pair();
    // Stripped (as a Windows GC answers) and planted (a wrong value must not be trusted).
    for plant in [None, Some(vec![0xEE; 16])] {
        let app = app_behind_partial_gc(&both(), plant.clone());
        let r = app.resolver.resolve("consist@contoso.com").await;
        assert_eq!(r.outcome, Outcome::Resolved, "{plant:?}: {r:?}");
        let a = r.account.as_ref().expect("account");
        assert_eq!(a.immutable_id.as_deref(), Some(CONSIST_GUID), "{plant:?}");
        assert_ne!(
            a.immutable_id.as_deref(),
            Some(object_guid(&app, "consist@contoso.com").await.as_str()),
            "not objectGUID"
        );
        // No canonicalName came back: the domain is the DN's.
        assert_eq!(a.domain, "contoso.com");
        assert_eq!(a.netbios_domain.as_deref(), Some("CONTOSO"));
        // An account without a consistency GUID gets objectGUID, even with one planted.
        let r = app.resolver.resolve("jdoe@contoso.com").await;
        let jdoe = r.account.as_ref().expect("jdoe");
        let jdoe_guid = object_guid(&app, "jdoe@contoso.com").await;
        assert_eq!(jdoe.immutable_id.as_deref(), Some(jdoe_guid.as_str()));

        // The token says so too, signed (xmlsec1 verifies it over the bytes sent).
        let (status, body) = wstrust(
            &app,
            "consist@contoso.com",
            &pw,
            "urn:federation:MicrosoftOnline",
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            harness::xmlsec_verify(&body, cert, ID11.0, ID11.1),
            "{body}"
        );
        assert_eq!(
            saml11_attribute(&body, "ImmutableID").as_deref(),
            Some(CONSIST_GUID),
            "{body}"
        );
        assert!(
            body.contains(&format!(">{CONSIST_GUID}</saml:NameIdentifier>")),
            "{body}"
        );
        // The DC read is counted (one per resolution: the second lookup was cached).
        let reads = harness::metric(
            &app.metrics,
            "altgate_directory_searches_total{forest=\"contoso.com\",query=\"domain_attributes\",result=\"ok\"}",
        );
        assert_eq!(reads, 2.0, "consist and jdoe, one base read each");
    }
}

#[tokio::test]
async fn the_real_forest_token_carries_the_consistency_guid() {
    let _g = harness::shared().await;
    let server = TestServer::start("").await;
    let pw = harness::forests().user_password.clone();
    let (cert, _) = harness::signing_pair();
    let (status, body) = server
        .request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some("application/soap+xml; charset=utf-8"),
            rst(
                "13",
                "consist@contoso.com",
                &pw,
                "urn:federation:MicrosoftOnline",
                "",
                0,
            )
            .into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        harness::xmlsec_verify(&body, cert, ID11.0, ID11.1),
        "{body}"
    );
    assert_eq!(
        saml11_attribute(&body, "ImmutableID").as_deref(),
        Some(CONSIST_GUID)
    );
    assert_ne!(
        Some(object_guid(&server.app, "consist@contoso.com").await),
        saml11_attribute(&body, "ImmutableID")
    );
}

#[tokio::test]
async fn no_domain_controller_for_the_consistency_guid_fails_closed() {
    let _g = harness::shared().await;
    let mut contoso = ForestSpec::real("contoso.com");
    // Nothing listens on port 1: the GC answers, the DC read cannot.
    contoso.domain_controllers = vec!["ldaps://127.0.0.2:1".into()];
    let app = app_behind_partial_gc(&[contoso, ForestSpec::real("fabrikam.com")], None);
    let r = app.resolver.resolve("consist@contoso.com").await;
    assert_eq!(r.outcome, Outcome::Error, "{r:?}");
    assert!(r.account.is_none(), "never an ImmutableID from objectGUID");
    let f = r.failure.as_ref().expect("failure");
    assert_eq!(f.code, FailureCode::DirectoryUnavailable);
    // WS-Trust: the usual fault, no token.
    let pw = harness::forests().user_password.clone();
    let (status, body) = wstrust(
        &app,
        "consist@contoso.com",
        &pw,
        "urn:federation:MicrosoftOnline",
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert!(!body.contains("ImmutableID"), "{body}");
}

// ---------------------------------------------------------------------------------------------
// Password-expiry claims.

const EXPIRY_RP: &str = "urn:expiry.altgate.test";
const EXPIRY_REPLY: &str = "https://expiry.altgate.test/wsfed";
const DAY_TICKS: i64 = 864_000_000_000;

fn one(name: &str, value: &str) -> (Vec<u8>, HashSet<Vec<u8>>) {
    (
        name.as_bytes().to_vec(),
        HashSet::from([value.as_bytes().to_vec()]),
    )
}

/// A fine-grained password policy (PSO) with a 3-day maximum password age applying to `user`
/// only: its password, just set, expires in 3 days. The domain-wide policy is never touched.
async fn create_pso(user: &ad_users::TestUser, name: &str) -> String {
    let f = harness::forests().get(&user.forest);
    let dn = format!(
        "CN={name},CN=Password Settings Container,CN=System,{}",
        f.base_dn
    );
    let max_age = (-3 * DAY_TICKS).to_string();
    let window = "-18000000000";
    let mut ldap = ad_users::admin(&user.forest).await;
    let _ = ldap.delete(&dn).await;
    ldap.add(
        &dn,
        vec![
            one("objectClass", "msDS-PasswordSettings"),
            one("msDS-PasswordSettingsPrecedence", "1"),
            one("msDS-PasswordReversibleEncryptionEnabled", "FALSE"),
            one("msDS-PasswordHistoryLength", "0"),
            one("msDS-PasswordComplexityEnabled", "FALSE"),
            one("msDS-MinimumPasswordLength", "0"),
            one("msDS-MinimumPasswordAge", "0"),
            one("msDS-MaximumPasswordAge", &max_age),
            one("msDS-LockoutThreshold", "0"),
            one("msDS-LockoutObservationWindow", window),
            one("msDS-LockoutDuration", window),
            one("msDS-PSOAppliesTo", &user.dn),
        ],
    )
    .await
    .and_then(|r| r.success())
    .unwrap_or_else(|e| panic!("create PSO {dn}: {e}"));
    let _ = ldap.unbind().await;
    dn
}

async fn delete_pso(forest: &str, dn: &str) {
    let mut ldap = ad_users::admin(forest).await;
    if let Err(e) = ldap.delete(dn).await.and_then(|r| r.success()) {
        eprintln!("could not delete PSO {dn}: {e}");
    }
    let _ = ldap.unbind().await;
}

/// `attr` of `dn` as the DC computes it, read as the Administrator.
async fn read_int(forest: &str, dn: &str, attr: &str) -> i64 {
    let mut ldap = ad_users::admin(forest).await;
    let (entries, _) = ldap
        .search(dn, Scope::Base, "(objectClass=*)", vec![attr])
        .await
        .and_then(|r| r.success())
        .expect("read");
    let _ = ldap.unbind().await;
    let e = SearchEntry::construct(entries.into_iter().next().expect("entry"));
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{attr} of {dn}: {:?}", e.attrs))
}

fn filetime(t: i64) -> time::OffsetDateTime {
    altgate::directory::filetime_to_datetime(t).expect("in range")
}

/// The IssueInstant of the SAML 1.1 assertion in `xml`.
fn issue_instant(xml: &str) -> time::OffsetDateTime {
    let at = xml.find("IssueInstant=\"").expect("IssueInstant") + "IssueInstant=\"".len();
    let rest = xml.get(at..).expect("rest");
    let value = rest.get(..rest.find('"').expect("quote")).expect("value");
    time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .expect("xs:dateTime")
}

#[tokio::test]
async fn a_password_expiring_in_3_days_gets_the_ad_fs_expiry_claims_and_none_otherwise() {
    let _g = harness::shared().await;
    let pw = "Expiry-Altgate-Pw1!";
    ad_users::with_user("contoso.com", "tw-expiry3", pw, |user| async move {
        let pso = create_pso(&user, "altgate-test-expiry3").await;
        let result = tokio::spawn(expiry_claims(user.clone(), pw)).await;
        delete_pso(&user.forest, &pso).await;
        if let Err(e) = result {
            std::panic::resume_unwind(e.into_panic());
        }
    })
    .await;
}

async fn expiry_claims(user: ad_users::TestUser, pw: &'static str) {
    let computed = read_int(
        &user.forest,
        &user.dn,
        "msDS-UserPasswordExpiryTimeComputed",
    )
    .await;
    let set = read_int(&user.forest, &user.dn, "pwdLastSet").await;
    assert_eq!(
        computed,
        set + 3 * DAY_TICKS,
        "Samba applies the PSO's 3-day maximum age"
    );
    let expires = filetime(computed);
    let rps = format!(
        "  - identifier: {EXPIRY_RP}\n    token_type: saml11\n    reply_urls: ['{EXPIRY_REPLY}']\n    claims: [upn, immutable_id, password_expiry]\n"
    );
    // The change page is served, so the claims point at it.
    let server =
        TestServer::start_with_server("", &rps, "passive: { update_password_page: true }\n").await;
    let (cert, _) = harness::signing_pair();
    let request = |login: &str, password: &str| {
        server.request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some("application/soap+xml; charset=utf-8"),
            rst("13", login, password, EXPIRY_RP, "", 0).into_bytes(),
        )
    };
    let (status, body) = request(&user.mail, pw).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        harness::xmlsec_verify(&body, cert, ID11.0, ID11.1),
        "{body}"
    );
    let time_claim = saml11_attribute(&body, "passwordexpirationtime").expect("time claim");
    let days_claim = saml11_attribute(&body, "passwordexpirationdays").expect("days claim");
    let url_claim = saml11_attribute(&body, "passwordchangeurl").expect("url claim");
    assert!(
        body.contains("AttributeNamespace=\"http://schemas.microsoft.com/ws/2012/01\" AttributeName=\"passwordexpirationtime\"")
            || body.contains("AttributeName=\"passwordexpirationtime\" AttributeNamespace=\"http://schemas.microsoft.com/ws/2012/01\""),
        "{body}"
    );
    // The expiry as the DC computes it, whole seconds, UTC.
    let expected_time = expires
        .replace_nanosecond(0)
        .expect("ns")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    assert_eq!(time_claim, expected_time);
    // Whole days left at issuance, rounded down (.NET TimeSpan.Days): a password set moments
    // ago with a 3-day maximum age has 2 days and some hours left.
    let left = expires - issue_instant(&body);
    assert_eq!(days_claim, left.whole_days().to_string());
    assert_eq!(days_claim, "2");
    assert_eq!(
        url_claim,
        format!("{}/adfs/portal/updatepassword/", server.base)
    );

    // The browser (WS-Federation) token carries the same three claims.
    let wresult = wsfed_sign_in(&server, &user.mail, pw).await;
    assert!(
        harness::xmlsec_verify(&wresult, cert, ID11.0, ID11.1),
        "{wresult}"
    );
    assert_eq!(
        saml11_attribute(&wresult, "passwordexpirationtime").as_deref(),
        Some(expected_time.as_str())
    );
    let left = expires - issue_instant(&wresult);
    assert_eq!(
        saml11_attribute(&wresult, "passwordexpirationdays"),
        Some(left.whole_days().to_string())
    );
    assert_eq!(
        saml11_attribute(&wresult, "passwordchangeurl"),
        Some(url_claim.clone())
    );

    // A password that never expires (the test domains have no maximum age): no claims.
    let everyone = harness::forests().user_password.clone();
    let (status, body) = request("jdoe@contoso.com", &everyone).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("passwordexpiration"), "{body}");
    assert!(!body.contains("passwordchangeurl"), "{body}");

    // Office's relying party as shipped by these tests lists its claims without
    // password_expiry: no claims either, even for the expiring user, and no expiry read on a
    // DC for it.
    let expiry_reads = || {
        harness::metric(
            &server.app.metrics,
            "altgate_directory_searches_total{forest=\"contoso.com\",query=\"password_expiry\",result=\"ok\"}",
        )
    };
    let reads_before = expiry_reads();
    assert!(
        reads_before >= 3.0,
        "every sign-in above read it: {reads_before}"
    );
    let (status, body) = server
        .request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some("application/soap+xml; charset=utf-8"),
            rst(
                "13",
                &user.mail,
                pw,
                "urn:federation:MicrosoftOnline",
                "",
                0,
            )
            .into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains("passwordexpiration"), "{body}");
    assert_eq!(
        expiry_reads(),
        reads_before,
        "no DC read for a relying party without the claims"
    );

    // Without the change page (AD FS's default) the token still warns, but points nowhere.
    let no_page = TestServer::start_with_relying_parties(&rps).await;
    let (status, body) = no_page
        .request(
            "POST",
            "/adfs/services/trust/13/usernamemixed",
            Some("application/soap+xml; charset=utf-8"),
            rst("13", &user.mail, pw, EXPIRY_RP, "", 0).into_bytes(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(saml11_attribute(&body, "passwordexpirationtime").is_some());
    assert!(saml11_attribute(&body, "passwordexpirationdays").is_some());
    assert!(!body.contains("passwordchangeurl"), "{body}");
}

/// A WS-Federation browser sign-in of `login` to [`EXPIRY_RP`] through the form; the `wresult`.
async fn wsfed_sign_in(server: &TestServer, login: &str, password: &str) -> String {
    let enc = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let start = format!("/adfs/ls/?wa=wsignin1.0&wtrealm={}", enc(EXPIRY_RP));
    let (status, headers, page) = server.browse("GET", &start, "", None).await;
    assert_eq!(status, 200, "{page}");
    let csrf_cookie = harness::set_cookie(&headers, "__Host-altgate-csrf").expect("csrf cookie");
    let field = |name: &str| crate::kit::html::hidden(&page, name).unwrap_or_default();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("UserName", login),
            ("Password", password),
            ("AuthMethod", "FormsAuthentication"),
            ("csrf", &field("csrf")),
            ("ctx", &field("ctx")),
        ])
        .finish()
        .into_bytes();
    let (status, _, done) = server
        .browse("POST", "/adfs/ls/", &csrf_cookie, Some(body))
        .await;
    assert_eq!(status, 200, "{done}");
    crate::kit::html::hidden(&done, "wresult").unwrap_or_else(|| panic!("no wresult: {done}"))
}

/// Microsoft's published Active Directory schema ([MS-ADA1..3], the text Samba ships for
/// provisioning, Debian package samba-ad-provision): each attribute's
/// `isMemberOfPartialAttributeSet`, by lower-case `ldapDisplayName`.
fn published_partial_attribute_set() -> std::collections::HashMap<String, bool> {
    let path = "/usr/share/samba/setup/ad-schema/MS-AD_Schema_2K8_R2_Attributes.txt";
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| harness::unprepared(&format!("{path}: {e}")));
    text.split("\n\n")
        .filter_map(|block| {
            let value = |key: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .map(str::trim)
            };
            let name = value("ldapDisplayName:")?.to_ascii_lowercase();
            Some((
                name,
                value("isMemberOfPartialAttributeSet:") == Some("TRUE"),
            ))
        })
        .collect()
}

#[test]
fn the_attribute_table_matches_microsofts_published_schema() {
    harness::prepared();
    let pas = published_partial_attribute_set();
    assert!(pas.len() > 1000, "the whole schema: {}", pas.len());
    let in_gc = |a: &str| {
        *pas.get(&a.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("{a} is not in the published schema"))
    };
    // What the global catalog search asks for is in the partial attribute set, except
    // canonicalName, which is asked for but never needed (the domain comes from the DN).
    for a in altgate::directory::ACCOUNT_ATTRIBUTES {
        assert_eq!(in_gc(a), *a != "canonicalName", "{a}");
    }
    // What is read from a DC of the account's domain is what a global catalog does not hold.
    for a in altgate::directory::DOMAIN_ATTRIBUTES {
        assert!(!in_gc(a), "{a}");
    }
    for (a, _) in altgate::directory::partial_attribute_set::NOT_IN_GLOBAL_CATALOG {
        assert!(!in_gc(a), "{a}");
    }
    for a in ["msDS-UserPasswordExpiryTimeComputed", "pwdLastSet"] {
        assert!(altgate::directory::PASSWORD_EXPIRY_ATTRIBUTES.contains(&a));
        assert!(!in_gc(a), "{a}");
    }
    // The default alternate login ID is searchable on a real global catalog.
    assert!(in_gc("mail"));
}

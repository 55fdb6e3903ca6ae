//! Throwaway AD users for tests that change an account (reset its password, disable it): made
//! over LDAPS as the forest root domain's Administrator on its domain controller, in
//! `CN=Users`, and deleted afterwards, so the provisioned users the other tests rely on are never
//! touched. An interrupted run's leftover is deleted before the user is made again.

use crate::harness;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Mod};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

/// A user a test made.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub forest: String,
    pub dn: String,
    /// Its `mail`, the alternate login ID the test signs in with.
    pub mail: String,
}

/// A password as `unicodePwd` takes it: in double quotes, UTF-16LE.
fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"")
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// An unbound connection to `forest`'s DC over verified LDAPS.
pub(crate) async fn connect(forest: &str) -> Ldap {
    let f = harness::forests().get(forest);
    let tls = altgate::tls::client_config(Some(Path::new(&f.ca_file))).expect("forest CA");
    let settings = LdapConnSettings::new()
        .set_config(tls)
        .set_conn_timeout(Duration::from_secs(10));
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &f.dc_url)
        .await
        .expect("connect to the DC");
    tokio::spawn(async move {
        let _ = conn.drive().await;
    });
    ldap
}

/// A connection to `forest`'s DC bound as its Administrator (verified LDAPS; AD only accepts
/// `unicodePwd` over an encrypted connection).
pub(crate) async fn admin(forest: &str) -> Ldap {
    let f = harness::forests().get(forest);
    assert!(
        !f.admin_password.is_empty(),
        "forests.json has no admin credentials: run scripts/ad-forests.sh up from this tree"
    );
    let mut ldap = connect(forest).await;
    ldap.simple_bind(&f.admin_dn, &f.admin_password)
        .await
        .and_then(|r| r.success())
        .expect("Administrator bind");
    ldap
}

/// Applies `mods` to `user` as the Administrator.
async fn modify(user: &TestUser, mods: Vec<Mod<Vec<u8>>>, what: &str) {
    let mut ldap = admin(&user.forest).await;
    ldap.modify(&user.dn, mods)
        .await
        .and_then(|r| r.success())
        .unwrap_or_else(|e| panic!("{what} {}: {e}", user.dn));
    let _ = ldap.unbind().await;
}

fn one(name: &str, value: &[u8]) -> (Vec<u8>, HashSet<Vec<u8>>) {
    (name.as_bytes().to_vec(), HashSet::from([value.to_vec()]))
}

/// Makes an enabled user `sam` (mail `sam@<forest>`) with `password` in `forest`'s root domain.
pub async fn create(forest: &str, sam: &str, password: &str) -> TestUser {
    let f = harness::forests().get(forest);
    let cn = format!("Throwaway {sam}");
    let user = TestUser {
        forest: forest.to_string(),
        dn: format!("CN={cn},CN=Users,{}", f.base_dn),
        mail: format!("{sam}@{}", f.name),
    };
    let mut ldap = admin(forest).await;
    let _ = ldap.delete(&user.dn).await;
    ldap.add(
        &user.dn,
        vec![
            one("objectClass", b"user"),
            one("sAMAccountName", sam.as_bytes()),
            one("userPrincipalName", format!("{sam}@{}", f.name).as_bytes()),
            one("displayName", cn.as_bytes()),
            one("mail", user.mail.as_bytes()),
            one("unicodePwd", &unicode_pwd(password)),
            one("userAccountControl", b"512"),
        ],
    )
    .await
    .and_then(|r| r.success())
    .unwrap_or_else(|e| panic!("create {}: {e}", user.dn));
    let _ = ldap.unbind().await;
    user
}

/// An administrator's password reset (not a change: no old password).
pub async fn reset_password(user: &TestUser, password: &str) {
    let value = HashSet::from([unicode_pwd(password)]);
    modify(
        user,
        vec![Mod::Replace(b"unicodePwd".to_vec(), value)],
        "reset",
    )
    .await;
}

/// Enables (`userAccountControl` 512) or disables (514) the account.
pub async fn set_enabled(user: &TestUser, enabled: bool) {
    let uac: &[u8] = if enabled { b"512" } else { b"514" };
    let value = HashSet::from([uac.to_vec()]);
    modify(
        user,
        vec![Mod::Replace(b"userAccountControl".to_vec(), value)],
        "userAccountControl",
    )
    .await;
}

/// Adds the user to the group `cn` in `CN=Users` (e.g. a group a fine-grained password policy
/// applies to). Deleting the user removes the membership.
pub async fn add_to_group(user: &TestUser, cn: &str) {
    let f = harness::forests().get(&user.forest);
    let group = format!("CN={cn},CN=Users,{}", f.base_dn);
    let mut ldap = admin(&user.forest).await;
    ldap.modify(
        &group,
        vec![Mod::Add(
            b"member".to_vec(),
            HashSet::from([user.dn.as_bytes().to_vec()]),
        )],
    )
    .await
    .and_then(|r| r.success())
    .unwrap_or_else(|e| panic!("add {} to {group}: {e}", user.dn));
    let _ = ldap.unbind().await;
}

/// Deletes the user (best effort: cleanup must not hide the test's own failure).
pub async fn delete(user: &TestUser) {
    let mut ldap = admin(&user.forest).await;
    if let Err(e) = ldap.delete(&user.dn).await.and_then(|r| r.success()) {
        eprintln!("could not delete test user {}: {e}", user.dn);
    }
    let _ = ldap.unbind().await;
}

/// Runs `test` with a fresh user `sam` in `forest`, deleting the user afterwards whatever
/// happened (a failed test's panic is re-raised after the cleanup).
pub async fn with_user<F, Fut>(forest: &str, sam: &str, password: &str, test: F)
where
    F: FnOnce(TestUser) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let user = create(forest, sam, password).await;
    let result = tokio::spawn(test(user.clone())).await;
    delete(&user).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

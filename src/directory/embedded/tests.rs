//! Unit tests of the embedded directory: the shipped demo file, GUIDs, account state and
//! in-memory password changes.

use super::*;
use std::path::Path;

#[test]
fn guid_text_maps_to_ad_byte_order() {
    let b = guid_bytes("00112233-4455-6677-8899-aabbccddeeff").expect("guid");
    assert_eq!(
        b,
        vec![
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff
        ]
    );
    assert!(guid_bytes("not-a-guid").is_none());
}

#[tokio::test]
async fn shipped_demo_directory_loads_and_answers_case_insensitively() {
    let d = EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("load");
    assert!(d.forest_names().len() >= 2);
    let q = UserQuery::AttributeEquals {
        attribute: "mail".into(),
        value: "JDOE@CONTOSO.COM".into(),
    };
    let found = d.search_users("contoso.com", &q).await.expect("search");
    assert_eq!(found.len(), 1);
    assert!(d.search_users("nowhere.example", &q).await.is_err());
}

fn one_user(pwd_last_set: &str) -> Result<EmbeddedDirectory, String> {
    let yaml = format!(
        "forests:\n- name: contoso.com\n  domains: [{{ dns: contoso.com, netbios: CONTOSO }}]\n  users:\n  - {{ display_name: Pat, object_guid: 6f9619ff-8b86-d011-b42d-00c04fc964ff, password: pw{pwd_last_set} }}\n"
    );
    EmbeddedDirectory::from_file(serde_yaml::from_str(&yaml).map_err(|e| e.to_string())?)
}

#[tokio::test]
async fn a_must_change_demo_password_is_changed_in_memory_as_ad_would() {
    use crate::directory::PasswordChangeError as E;
    use crate::secret::Secret;
    const DN: &str = "CN=Pat,CN=Users,DC=contoso,DC=com";
    let s = |v: &str| Secret::new(v.to_string());
    let d = one_user(", pwd_last_set: 0").expect("load");
    let change = |old: &str, new: &str| {
        let (old, new) = (s(old), s(new));
        let d = &d;
        async move {
            d.change_password(
                AccountRef::new("contoso.com", "contoso.com", DN),
                &old,
                &new,
            )
            .await
        }
    };
    assert_eq!(
        change("nope", "Longer-Pw-1").await,
        Err(E::WrongOldPassword)
    );
    assert_eq!(
        change("pw", "short").await.map_err(|e| e.code()),
        Err("policy_refused")
    );
    assert_eq!(change("pw", "Longer-Pw-1").await, Ok(()));
    let bind = |p: &'static str| d.bind(AccountRef::new("contoso.com", "contoso.com", DN), p);
    assert_eq!(bind("Longer-Pw-1").await.expect("bind"), Ok(()));
    assert_eq!(
        bind("pw").await.expect("bind"),
        Err(BindRejection::WrongPassword)
    );
    let state = d
        .account_state(AccountRef::new("contoso.com", "contoso.com", DN))
        .await
        .expect("state")
        .expect("user");
    assert!(state.pwd_last_set.is_some_and(|t| t > 0), "{state:?}");
}

#[tokio::test]
async fn demo_users_have_an_account_state_with_an_optional_pwd_last_set() {
    const DN: &str = "CN=Pat,CN=Users,DC=contoso,DC=com";
    async fn state(d: &EmbeddedDirectory) -> AccountState {
        d.account_state(AccountRef::new("contoso.com", "contoso.com", DN))
            .await
            .expect("state")
            .expect("user")
    }
    // Without pwd_last_set (every existing demo file): enabled, no time kept.
    let d = one_user("").expect("load");
    assert_eq!(
        state(&d).await,
        AccountState {
            enabled: true,
            pwd_last_set: None
        }
    );
    let d = one_user(", pwd_last_set: '2024-01-15T09:30:00Z'").expect("load");
    assert_eq!(state(&d).await.pwd_last_set, Some(133_497_846_000_000_000));
    let d = one_user(", pwd_last_set: 133497846000000000").expect("load");
    assert_eq!(state(&d).await.pwd_last_set, Some(133_497_846_000_000_000));
    // 0: must change at next logon, and the password bind says so.
    let d = one_user(", pwd_last_set: 0").expect("load");
    assert_eq!(state(&d).await.pwd_last_set, Some(0));
    assert_eq!(
        d.bind(AccountRef::new("contoso.com", "contoso.com", DN), "pw")
            .await
            .expect("bind"),
        Err(BindRejection::MustChangePassword)
    );
    for bad in [
        ", pwd_last_set: -5",
        ", pwd_last_set: yesterday",
        ", pwd_last_set: '1600-01-01T00:00:00Z'",
    ] {
        assert!(one_user(bad).is_err(), "{bad}");
    }
    // Unknown DN: no account; unknown forest: an error.
    let d = one_user("").expect("load");
    assert_eq!(
        d.account_state(AccountRef::new(
            "contoso.com",
            "contoso.com",
            "CN=Nobody,DC=contoso,DC=com"
        ))
        .await
        .expect("answer"),
        None
    );
    assert!(d
        .account_state(AccountRef::new("nowhere.example", "x", DN))
        .await
        .is_err());
    // Case-insensitive DN, disabled demo users are reported disabled.
    let shipped = EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("load");
    let dee = shipped
        .account_state(AccountRef::new(
            "contoso.com",
            "contoso.com",
            "cn=dee disabled,cn=users,dc=contoso,dc=com",
        ))
        .await
        .expect("answer")
        .expect("user");
    assert!(!dee.enabled);
}

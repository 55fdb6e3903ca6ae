//! Edge values for every hygiene check: each length limit at and one past the limit, each
//! forbidden character alone, each format rule.

use super::*;

fn rules(hits: &[Hit]) -> Vec<Rule> {
    hits.iter().map(|h| h.rule).collect()
}

fn upn_rules(v: &str) -> Vec<Rule> {
    rules(&upn(Some(v)))
}

#[test]
fn upn_clean_values_pass() {
    for v in [
        "jdoe@contoso.com",
        "john.doe@contoso.co.jp",
        "o'brien@contoso.com",
        "a_b-c@sub.contoso.com",
        "x@example.xn--fiqs8s",
    ] {
        assert!(upn_rules(v).is_empty(), "{v}: {:?}", upn(Some(v)));
    }
}

#[test]
fn upn_blank() {
    assert_eq!(rules(&upn(None)), vec![Rule::UpnBlank]);
    assert_eq!(upn_rules(""), vec![Rule::UpnBlank]);
    assert_eq!(upn_rules("   "), vec![Rule::UpnBlank]);
}

#[test]
fn upn_length_limits_at_and_past_each_bound() {
    let local = |n: usize| "a".repeat(n);
    // 48 characters after @: 44 + ".com".
    let domain = |n: usize| format!("{}.com", "d".repeat(n - 4));
    assert!(upn_rules(&format!("{}@{}", local(64), domain(48))).is_empty());
    assert_eq!(
        upn_rules(&format!("{}@{}", local(65), domain(20))),
        vec![Rule::UpnTooLong]
    );
    assert_eq!(
        upn_rules(&format!("{}@{}", local(10), domain(49))),
        vec![Rule::UpnTooLong]
    );
    // 113 is the most 64 + 1 + 48 allows; 114 needs one part over its limit too.
    let at_limit = format!("{}@{}", local(64), domain(48));
    assert_eq!(at_limit.chars().count(), UPN_MAX);
    let over = upn(Some(&format!("{}@{}", local(65), domain(48))));
    assert_eq!(rules(&over), vec![Rule::UpnTooLong]);
    assert!(over[0].detail.contains("114 characters"), "{:?}", over);
    // Characters, not bytes.
    assert!(upn_rules(&format!("{}@{}", "a".repeat(30), domain(48))).is_empty());
    let kanji = format!("{}@contoso.com", "山".repeat(64));
    assert_eq!(upn_rules(&kanji), vec![Rule::UpnUnicodeCharacters]);
    let kanji = format!("{}@contoso.com", "山".repeat(65));
    assert_eq!(
        upn_rules(&kanji),
        vec![Rule::UpnTooLong, Rule::UpnUnicodeCharacters]
    );
}

#[test]
fn upn_each_invalid_character_alone() {
    for c in UPN_INVALID.iter().chain(UMLAUTS) {
        let v = format!("a{c}b@contoso.com");
        let r = upn(Some(&v));
        assert_eq!(rules(&r), vec![Rule::UpnInvalidCharacters], "{v}: {r:?}");
    }
    // Allowed around them: the rest of RFC 2822's atext.
    for c in ['!', '#', '$', '\'', '^', '_', '`', '~', '-', '.'] {
        let v = format!("a{c}b@contoso.com");
        assert!(upn_rules(&v).is_empty(), "{v}");
    }
}

#[test]
fn upn_format_rules() {
    assert_eq!(upn_rules("jdoe"), vec![Rule::UpnFormat]);
    assert_eq!(upn_rules("@contoso.com"), vec![Rule::UpnFormat]);
    assert_eq!(upn_rules("jdoe.@contoso.com"), vec![Rule::UpnFormat]);
    // & is also a forbidden character.
    assert_eq!(
        upn_rules("jdoe&@contoso.com"),
        vec![Rule::UpnInvalidCharacters, Rule::UpnFormat]
    );
    assert_eq!(upn_rules("jdoe @contoso.com"), vec![Rule::UpnFormat]);
    assert_eq!(upn_rules("j doe@contoso.com"), vec![Rule::UpnFormat]);
    assert_eq!(upn_rules("jdoe@@contoso.com"), vec![Rule::UpnFormat]);
    assert_eq!(upn_rules("a@b@contoso.com"), vec![Rule::UpnFormat]);
    assert_eq!(upn_rules("j..doe@contoso.com"), vec![Rule::UpnFormat]);
    assert_eq!(upn_rules("jdoe@contoso"), vec![Rule::UpnFormat]);
    assert_eq!(upn_rules("jdoe@-contoso.com"), vec![Rule::UpnFormat]);
    assert_eq!(
        upn_rules("jdoe@contoso.c0m"),
        vec![Rule::UpnFormat, Rule::UpnTopLevelDomain]
    );
    assert_eq!(upn_rules("jdoe\t@contoso.com"), vec![Rule::UpnFormat]);
}

#[test]
fn upn_unicode_and_top_level_domain() {
    assert_eq!(
        upn_rules("josé@contoso.com"),
        vec![Rule::UpnUnicodeCharacters]
    );
    assert_eq!(
        upn_rules("jürgen@contoso.com"),
        vec![Rule::UpnInvalidCharacters]
    );
    assert_eq!(
        upn_rules("jdoe@corp.contoso.local"),
        vec![Rule::UpnTopLevelDomain]
    );
    assert_eq!(upn_rules("jdoe@contoso.LAN"), vec![Rule::UpnTopLevelDomain]);
    assert!(upn_rules("jdoe@contoso.COM").is_empty());
}

#[test]
fn mail_format() {
    for v in ["a@contoso.com", "a.b+c@contoso.co.jp", "山田@contoso.jp"] {
        assert!(mail(v).is_empty(), "{v}");
    }
    for v in [
        "",
        " ",
        "broken",
        "a b@contoso.com",
        "@contoso.com",
        "a@",
        "a@contoso",
    ] {
        assert_eq!(rules(&mail(v)), vec![Rule::MailFormat], "{v:?}");
    }
}

#[test]
fn proxy_address_length_at_and_past_the_limit() {
    let make = |n: usize| format!("smtp:{}@contoso.com", "p".repeat(n - 17));
    assert_eq!(make(256).chars().count(), 256);
    assert!(proxy_address(&make(256)).is_empty());
    assert_eq!(
        rules(&proxy_address(&make(257))),
        vec![Rule::ProxyAddressTooLong]
    );
}

#[test]
fn proxy_address_each_invalid_character_alone() {
    for c in PROXY_SMTP_INVALID.iter().chain(&[' ', '\t']) {
        let v = format!("smtp:a{c}b@contoso.com");
        assert_eq!(
            rules(&proxy_address(&v)),
            vec![Rule::ProxyAddressInvalidCharacters],
            "{v:?}"
        );
    }
    // The type separator is not a forbidden colon.
    assert!(proxy_address("SMTP:a@contoso.com").is_empty());
    // Other types: IdFix's sets.
    assert!(proxy_address("sip:a;b@contoso.com").is_empty());
    assert_eq!(
        rules(&proxy_address("sip:a(b@contoso.com")),
        vec![Rule::ProxyAddressInvalidCharacters]
    );
    assert!(proxy_address("X500:/o=Contoso/ou=Exchange/cn=Recipients/cn=jdoe").is_empty());
    assert!(proxy_address("x400:c=US;a= ;p=Contoso;o=Exchange;s=Doe;").is_empty());
    for c in PROXY_X400_INVALID {
        let v = format!("X500:/o=Contoso/cn=a{c}b");
        assert_eq!(
            rules(&proxy_address(&v)),
            vec![Rule::ProxyAddressInvalidCharacters],
            "{v}"
        );
    }
}

#[test]
fn proxy_address_format_and_top_level_domain() {
    assert_eq!(
        rules(&proxy_address("a@contoso.com")),
        vec![Rule::ProxyAddressFormat]
    );
    assert_eq!(
        rules(&proxy_address(":a@contoso.com")),
        vec![Rule::ProxyAddressFormat]
    );
    assert_eq!(
        rules(&proxy_address("smtp:not-an-address")),
        vec![Rule::ProxyAddressFormat]
    );
    assert_eq!(
        rules(&proxy_address("sip:")),
        vec![Rule::ProxyAddressFormat]
    );
    assert_eq!(
        rules(&proxy_address("smtp:a@contoso.local")),
        vec![Rule::ProxyAddressTopLevelDomain]
    );
}

#[test]
fn target_address_rules() {
    assert!(target_address("SMTP:a@contoso.mail.onmicrosoft.com").is_empty());
    assert_eq!(rules(&target_address("  ")), vec![Rule::TargetAddressBlank]);
    let make = |n: usize| format!("SMTP:{}@contoso.com", "t".repeat(n - 17));
    assert!(target_address(&make(255)).is_empty());
    assert_eq!(
        rules(&target_address(&make(256))),
        vec![Rule::TargetAddressTooLong]
    );
    for c in TARGET_SMTP_INVALID.iter().chain(&[' ']) {
        let v = format!("SMTP:a{c}b@contoso.com");
        assert_eq!(
            rules(&target_address(&v)),
            vec![Rule::TargetAddressInvalidCharacters],
            "{v:?}"
        );
    }
    assert_eq!(
        rules(&target_address("a@contoso.com")),
        vec![Rule::TargetAddressFormat]
    );
    assert_eq!(
        rules(&target_address("SMTP:nope")),
        vec![Rule::TargetAddressFormat]
    );
}

#[test]
fn mail_nickname_rules() {
    assert!(mail_nickname("jdoe").is_empty());
    assert!(mail_nickname("j.doe.").is_empty());
    assert_eq!(
        rules(&mail_nickname(".jdoe")),
        vec![Rule::MailNicknameFormat]
    );
    assert_eq!(rules(&mail_nickname(" ")), vec![Rule::MailNicknameBlank]);
}

#[test]
fn sam_account_name_limits_and_each_invalid_character() {
    assert!(sam_account_name(&"s".repeat(20)).is_empty());
    assert_eq!(
        rules(&sam_account_name(&"s".repeat(21))),
        vec![Rule::SamAccountNameTooLong]
    );
    for c in SAM_INVALID {
        let v = format!("a{c}b");
        assert_eq!(
            rules(&sam_account_name(&v)),
            vec![Rule::SamAccountNameInvalidCharacters],
            "{v}"
        );
    }
    for v in ["j.doe", "j doe", "j@doe", "jdoe$", "j#doe"] {
        assert!(sam_account_name(v).is_empty(), "{v}");
    }
}

#[test]
fn display_and_given_name_limits() {
    assert_eq!(rules(&display_name(None)), vec![Rule::DisplayNameBlank]);
    assert_eq!(
        rules(&display_name(Some(" \t"))),
        vec![Rule::DisplayNameBlank]
    );
    assert!(display_name(Some(&"d".repeat(255))).is_empty());
    assert_eq!(
        rules(&display_name(Some(&"d".repeat(256)))),
        vec![Rule::DisplayNameTooLong]
    );
    assert!(given_name(&"g".repeat(63)).is_empty());
    assert_eq!(
        rules(&given_name(&"g".repeat(64))),
        vec![Rule::GivenNameTooLong]
    );
    assert!(given_name(&"山".repeat(63)).is_empty());
}

#[test]
fn smtp_address_reasons() {
    assert_eq!(smtp_address("a@b.co"), Ok(()));
    assert_eq!(smtp_address("ab.co"), Err("no @"));
    assert_eq!(smtp_address("@b.co"), Err("nothing before @"));
    assert_eq!(smtp_address("a@b@b.co"), Err("more than one @"));
    assert!(smtp_address("a@b.c").is_err());
    assert!(smtp_address("a@b.abcdefghijklmnopqr").is_err());
    assert!(smtp_address("a@b.abcdefghijklmnopq").is_ok());
    assert!(routable("a@contoso.com"));
    assert!(!routable("a@contoso.local"));
    assert!(!routable("contoso"));
}

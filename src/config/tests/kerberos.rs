//! `kerberos:` and `windows_integrated:`: the keytab is read and its principals checked, every
//! problem is reported with its path, the defaults (on with `kerberos`, AD FS's User-Agents, a
//! header limit a large PAC fits in) and the refusal of Windows integrated sign-in without keys.

use super::*;

fn keytab(dir: &tempfile::TempDir, entries: &[(&str, u16)]) -> std::path::PathBuf {
    let entries: Vec<(&str, u32, u16)> = entries.iter().map(|(h, t)| (*h, 2, *t)).collect();
    let bytes = crate::fuzzing::samples::keytab("CONTOSO.COM", &entries);
    let path = dir.path().join("http.keytab");
    std::fs::write(&path, bytes).expect("keytab");
    path
}

#[test]
fn kerberos_turns_windows_integrated_sign_in_on_with_ad_fs_defaults() {
    let dir = tempfile::tempdir().expect("dir");
    let kt = keytab(&dir, &[("sts.example.test", 18), ("sts.example.test", 17)]);
    let c = Config::parse(
        &format!("{MINIMAL}kerberos: {{ keytab_file: {} }}\n", kt.display()),
        "t",
    )
    .expect("valid");
    let k = c.kerberos.as_ref().expect("kerberos");
    assert_eq!(k.keys.len(), 2);
    assert_eq!(
        k.accepted_keys().len(),
        2,
        "any key without service_principal"
    );
    let w = &c.windows_integrated;
    assert!(w.browser && w.windows_transport);
    assert_eq!(
        w.user_agents.len(),
        super::super::kerberos::DEFAULT_USER_AGENTS.len()
    );
    assert_eq!(
        c.server.limits.max_header_bytes, 131_072,
        "room for a large PAC"
    );
    // Without kerberos: off, and the usual header limit.
    let c = Config::parse(MINIMAL, "t").expect("valid");
    assert!(!c.windows_integrated.browser && !c.windows_integrated.windows_transport);
    assert_eq!(c.server.limits.max_header_bytes, 65_536);
    // A limit written in the file stands.
    let text = format!(
        "{}kerberos: {{ keytab_file: {} }}\n",
        MINIMAL.replace(
            "public_url: https://sts.example.test }",
            "public_url: https://sts.example.test, limits: { max_header_bytes: 65536 } }"
        ),
        kt.display()
    );
    let c = Config::parse(&text, "t").expect("valid");
    assert_eq!(c.server.limits.max_header_bytes, 65_536);
}

#[test]
fn every_kerberos_problem_is_reported_at_once_with_its_path() {
    let dir = tempfile::tempdir().expect("dir");
    let kt = keytab(&dir, &[("sts.example.test", 18)]);
    let text = format!(
        "{MINIMAL}kerberos: {{ keytab_file: {}, service_principal: 'HTTP/other.example.test', realms: {{ CONTOSO.COM: nowhere.com, 'bad realm!': contoso.com }} }}\n\
         windows_integrated: {{ user_agents: ['=~(unclosed', ''], device_issuer_domain: 'not a domain' }}\n",
        kt.display()
    );
    let got = issues(&text);
    for want in [
        "kerberos.service_principal: the keytab has no key for \"HTTP/other.example.test\"; it holds: HTTP/sts.example.test@CONTOSO.COM",
        "kerberos.realms.CONTOSO.COM: \"nowhere.com\" is not a configured forest",
        "kerberos.realms.bad realm!: \"bad realm!\" is not a realm name",
        "windows_integrated.user_agents[0]: not a regular expression",
        "windows_integrated.user_agents[1]: must be 1 to 256 bytes",
        "windows_integrated.device_issuer_domain: \"not a domain\" is not a DNS name",
    ] {
        assert!(got.iter().any(|g| g.contains(want)), "{want}\nin {got:#?}");
    }
    // A file that is not a keytab, a missing one, a missing key.
    std::fs::write(dir.path().join("garbage"), b"not a keytab").expect("write");
    for (keytab, want) in [
        (
            dir.path().join("garbage"),
            "is not a keytab (MIT format 0x0502)",
        ),
        (dir.path().join("missing"), "cannot read"),
    ] {
        let got = issues(&format!(
            "{MINIMAL}kerberos: {{ keytab_file: {} }}\n",
            keytab.display()
        ));
        assert!(
            got.iter()
                .any(|g| g.starts_with("kerberos.keytab_file:") && g.contains(want)),
            "{got:?}"
        );
    }
    let got = issues(&format!(
        "{MINIMAL}kerberos: {{ service_principal: HTTP/x }}\n"
    ));
    assert!(
        got.iter()
            .any(|g| g.starts_with("kerberos.keytab_file: required")),
        "{got:?}"
    );
}

#[test]
fn windows_integrated_sign_in_needs_the_kerberos_keys() {
    let got = issues(&format!(
        "{MINIMAL}windows_integrated: {{ browser: true }}\n"
    ));
    assert!(
        got.iter()
            .any(|g| g.contains("windows_integrated: needs the kerberos section")),
        "{got:?}"
    );
    // Turned off explicitly without keys: nothing to complain about.
    assert!(issues(&format!("{MINIMAL}windows_integrated: {{}}\n")).is_empty());
}

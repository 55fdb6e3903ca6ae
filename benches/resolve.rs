//! In-process benchmarks: cached resolution (the hot path of every sign-in after the first),
//! the pure decision logic, login parsing and filter building. No network.

#[path = "common/mod.rs"]
mod common;

use altgate::config::{AlternateLoginId, CacheConfig};
use altgate::directory::embedded::EmbeddedDirectory;
use altgate::directory::{filter, DirectoryEntry, UserQuery};
use altgate::events::Events;
use altgate::metrics::Metrics;
use altgate::resolve::decision::{decide, ForestAnswer};
use altgate::resolve::{login, Resolver};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::path::Path;
use std::sync::Arc;

fn resolver() -> Resolver {
    let m = Metrics::standalone().expect("metrics");
    let dir =
        EmbeddedDirectory::load(Path::new("config/demo-directory.yaml")).expect("demo directory");
    let forests = vec!["contoso.com".to_string(), "fabrikam.com".to_string()];
    Resolver::new(
        Arc::new(dir),
        Some(AlternateLoginId {
            attribute: "mail".into(),
            lookup_forests: forests.clone(),
        }),
        forests,
        CacheConfig::default(),
        m.cache.clone(),
        m.resolve.clone(),
        Events::new(m.events.clone()),
    )
}

fn entry(dn: &str) -> DirectoryEntry {
    DirectoryEntry {
        dn: dn.into(),
        sam_account_name: Some("jdoe".into()),
        canonical_name: Some("contoso.com/Users/John Doe".into()),
        ..Default::default()
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let r = resolver();
    rt.block_on(r.resolve("jdoe@contoso.com"));
    rt.block_on(r.resolve("cross@example.com"));
    c.bench_function("resolve/cached_hit_resolved", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(r.resolve(black_box("jdoe@contoso.com")).await) })
    });
    c.bench_function("resolve/cached_hit_ambiguous", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(r.resolve(black_box("cross@example.com")).await) })
    });

    let unique = vec![
        ForestAnswer {
            forest: "contoso.com".into(),
            result: Ok(vec![entry("CN=a")]),
        },
        ForestAnswer {
            forest: "fabrikam.com".into(),
            result: Ok(vec![]),
        },
    ];
    let ambiguous = vec![
        ForestAnswer {
            forest: "contoso.com".into(),
            result: Ok(vec![entry("CN=b"), entry("CN=a")]),
        },
        ForestAnswer {
            forest: "fabrikam.com".into(),
            result: Ok(vec![]),
        },
    ];
    c.bench_function("decision/unique_of_two_forests", |b| {
        b.iter(|| black_box(decide(black_box(&unique))))
    });
    c.bench_function("decision/msis8015", |b| {
        b.iter(|| black_box(decide(black_box(&ambiguous))))
    });
    c.bench_function("login/parse", |b| {
        b.iter(|| black_box(login::parse(black_box("  JDoe@Contoso.COM "))))
    });
    let q = UserQuery::AttributeEquals {
        attribute: "mail".into(),
        value: "o*brien(test)@contoso.com".into(),
    };
    c.bench_function("filter/escape_and_build", |b| {
        b.iter(|| black_box(filter::for_query(black_box(&q))))
    });
}

/// The CPU-only part of a WS-Trust sign-in: parse the RST, build and sign a SAML 1.1 assertion,
/// wrap it in the RSTR. Compared with one bare RSA signature with the same key.
fn token_pipeline(c: &mut Criterion) {
    use altgate::keys::SigningKey;
    use altgate::protocols::wstrust::request::{parse_rst, Version};
    use altgate::tokens::saml::{saml11, AssertionSpec, TOKEN_TYPE_SAML11};
    let (crt, key) = common::signing_pair();
    let key = SigningKey::load(&crt, &key).expect("key");
    let now = altgate::clock::system_clock()();
    let fmt = time::format_description::well_known::Rfc3339;
    let body = format!(
        "<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope' xmlns:wsa='http://www.w3.org/2005/08/addressing' xmlns:wsu='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd'><s:Header><wsa:Action s:mustUnderstand='1'>http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue</wsa:Action><wsse:Security xmlns:wsse='http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd'><wsu:Timestamp><wsu:Created>{}</wsu:Created><wsu:Expires>{}</wsu:Expires></wsu:Timestamp><wsse:UsernameToken><wsse:Username>jdoe@contoso.com</wsse:Username><wsse:Password>pw</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body><wst:RequestSecurityToken xmlns:wst='http://docs.oasis-open.org/ws-sx/ws-trust/200512'><wsp:AppliesTo xmlns:wsp='http://schemas.xmlsoap.org/ws/2004/09/policy'><wsa:EndpointReference><wsa:Address>urn:federation:MicrosoftOnline</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken></s:Body></s:Envelope>",
        now.format(&fmt).expect("t"),
        (now + time::Duration::minutes(10)).format(&fmt).expect("t")
    );
    c.bench_function("wstrust/parse_rst", |b| {
        b.iter(|| {
            black_box(
                parse_rst(
                    black_box(body.as_bytes()),
                    Version::Trust13,
                    now,
                    time::Duration::minutes(5),
                )
                .is_ok(),
            )
        })
    });
    let attrs = vec![
        (
            "http://schemas.xmlsoap.org/claims/UPN",
            "jdoe@contoso.com".to_string(),
        ),
        (
            "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID",
            "AAECAwQFBgcICQoLDA0ODw==".to_string(),
        ),
        (
            "http://schemas.microsoft.com/ws/2013/11/alternateloginid",
            "jdoe@contoso.com".to_string(),
        ),
        (
            "http://schemas.microsoft.com/ws/2012/01/insidecorporatenetwork",
            "true".to_string(),
        ),
    ];
    let spec = AssertionSpec {
        issuer: "http://contoso.com/adfs/services/trust/",
        audience: "urn:federation:MicrosoftOnline",
        name_id: "AAECAwQFBgcICQoLDA0ODw==",
        name_id_format: "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        attributes: &attrs,
        now,
        lifetime: time::Duration::hours(1),
        auth_instant: now,
        method: altgate::signin::Method::Password,
        recipient: None,
        in_response_to: None,
    };
    c.bench_function("tokens/rsa2048_signature_only", |b| {
        b.iter(|| black_box(key.sign(black_box(b"message")).is_ok()))
    });
    c.bench_function("tokens/saml11_build_sign_and_rstr", |b| {
        b.iter(|| {
            let a = saml11(&spec, &key).expect("sign");
            black_box(altgate::protocols::wstrust::response::rstr(
                Version::Trust13,
                &a,
                TOKEN_TYPE_SAML11,
                "urn:federation:MicrosoftOnline",
                None,
                now,
            ))
        })
    });
}

criterion_group!(all, benches, token_pipeline);
criterion_main!(all);

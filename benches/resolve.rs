//! In-process benchmarks: cached resolution (the hot path of every sign-in after the first),
//! the pure decision logic, login parsing and filter building. No network.

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

criterion_group!(all, benches);
criterion_main!(all);

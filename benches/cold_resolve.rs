//! Cold-cache resolution against the real Samba AD test forests (a load harness, not criterion:
//! it reports throughput and latency percentiles at several concurrency levels).
//!
//! Run `scripts/ad-forests.sh up` first, then `cargo bench --bench cold_resolve`.
//! For each concurrency level it measures, in one run:
//! - `direct search`: a bare ldap3 global-catalog search loop (what the directory allows);
//! - `one forest`: altgate resolving a unique mail with one lookup forest, cache disabled;
//! - `two forests`: the same with two lookup forests searched concurrently.

use altgate::config::Config;
use altgate::App;
use ldap3::{LdapConnAsync, LdapConnSettings, Scope};
#[path = "common/mod.rs"]
mod common;

use common::{forests, Forest, Stats};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RUN: Duration = Duration::from_secs(3);

async fn drive<F, Fut>(concurrency: usize, op: F) -> Stats
where
    F: Fn() -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = ()> + Send,
{
    // Warm-up.
    for _ in 0..20 {
        op().await;
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while start.elapsed() < RUN {
                let t = Instant::now();
                op().await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    Stats::join(tasks, start).await
}

fn config(forests: &[&Forest], pw_dir: &std::path::Path) -> Config {
    let mut y =
        String::from("server: { listen: 127.0.0.1:0, public_url: https://sts.bench.test }\n");
    let names: Vec<&str> = forests.iter().map(|f| f.name.as_str()).collect();
    y.push_str(&format!(
        "alternate_login_id: {{ attribute: mail, lookup_forests: [{}] }}\n",
        names.join(", ")
    ));
    y.push_str("cache: { max_entries: 0 }\ndirectory: { pool_size: 8 }\nforests:\n");
    for f in forests {
        let pw = pw_dir.join(format!("{}.pw", f.name));
        std::fs::write(&pw, &f.service_password).expect("write pw");
        y.push_str(&format!(
            "  - name: {}\n    global_catalogs: [{}]\n    domain_controllers: {{ {}: [{}] }}\n    service_account: {{ user: {}, password_file: {} }}\n    ca_file: {}\n",
            f.name, f.gc_url, f.name, f.dc_url, f.service_user, pw.display(), f.ca_file
        ));
    }
    Config::parse(&y, "bench").expect("config")
}

fn report(label: &str, c: usize, s: &mut Stats) {
    println!(
        "{label:<24} c={c:<2} {:>8.0} ops/s   p50 {:>7.3} ms   p99 {:>7.3} ms",
        s.rate(),
        s.pct_ms(0.50),
        s.pct_ms(0.99)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let forests = forests("cold_resolve");
    let (contoso, fabrikam) = (&forests.forests[0], &forests.forests[1]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let one = App::new(config(&[contoso], tmp.path())).expect("app");
        let two = App::new(config(&[contoso, fabrikam], tmp.path())).expect("app");
        // Direct baseline: 8 bound connections, round-robin, the same filter altgate sends.
        let tls =
            altgate::tls::client_config(Some(std::path::Path::new(&contoso.ca_file))).expect("tls");
        let mut conns = Vec::new();
        for _ in 0..8 {
            let (conn, mut ldap) = LdapConnAsync::with_settings(
                LdapConnSettings::new().set_config(tls.clone()),
                &contoso.gc_url,
            )
            .await
            .expect("connect");
            tokio::spawn(async move {
                let _ = conn.drive().await;
            });
            ldap.simple_bind(&contoso.service_user, &contoso.service_password)
                .await
                .expect("bind")
                .success()
                .expect("bind ok");
            conns.push(ldap);
        }
        let conns = Arc::new(conns);
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        println!("cold resolution of jdoe@contoso.com (cache disabled), {RUN:?} per row");
        for c in [1usize, 4, 8] {
            let (conns, next) = (conns.clone(), next.clone());
            let mut s = drive(c, move || {
                let mut ldap = conns
                    [next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % conns.len()]
                .clone();
                async move {
                    let r = ldap
                        .search(
                            "",
                            Scope::Subtree,
                            "(&(objectCategory=person)(objectClass=user)(mail=jdoe@contoso.com))",
                            altgate::directory::ACCOUNT_ATTRIBUTES.to_vec(),
                        )
                        .await
                        .expect("search");
                    assert_eq!(r.0.len(), 1);
                }
            })
            .await;
            report("direct GC search", c, &mut s);
            for (label, app) in [
                ("altgate, one forest", one.clone()),
                ("altgate, two forests", two.clone()),
            ] {
                let mut s = drive(c, move || {
                    let app = app.clone();
                    async move {
                        let r = app.resolver.resolve("jdoe@contoso.com").await;
                        assert_eq!(r.outcome, altgate::resolve::Outcome::Resolved);
                    }
                })
                .await;
                report(label, c, &mut s);
            }
        }
    });
}

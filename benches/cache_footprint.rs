//! What a cached identity costs in memory: 100,000 distinct alternate-ID logins resolved
//! through the real `Resolver` (two lookup forests, the account found in one) over a synthetic
//! directory whose entries look like Active Directory's, and the process's resident set size
//! read from `/proc/self/status` before and after. Target: at most 640 bytes per identity
//! (64 MB for 100k). No network.
//!
//! `cargo bench --bench cache_footprint`

use altgate::config::{AlternateLoginId, CacheConfig};
use altgate::directory::{
    AccountRef, AccountState, BindRejection, Directory, DirectoryEntry, DirectoryError, DomainInfo,
    UserQuery,
};
use altgate::events::Events;
use altgate::metrics::Metrics;
use altgate::resolve::Resolver;
use std::sync::Arc;
use std::time::Duration;

const IDENTITIES: usize = 100_000;
const GOAL: f64 = 640.0;

/// Users `user<N>@contoso.com` in contoso.com, nobody in fabrikam.com.
struct Synthetic;

#[async_trait::async_trait]
impl Directory for Synthetic {
    async fn search_users(
        &self,
        forest: &str,
        query: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError> {
        let UserQuery::AttributeEquals { value, .. } = query else {
            return Ok(Vec::new());
        };
        let Some(n) = value
            .strip_prefix("user")
            .and_then(|v| v.strip_suffix("@contoso.com"))
        else {
            return Ok(Vec::new());
        };
        if forest != "contoso.com" {
            return Ok(Vec::new());
        }
        let guid: Vec<u8> = (0..16u8).map(|i| i ^ (n.len() as u8)).collect();
        Ok(vec![DirectoryEntry {
            dn: format!("CN=User {n},OU=Staff,OU=Accounts,DC=contoso,DC=com"),
            sam_account_name: Some(format!("user{n}")),
            user_principal_name: Some(format!("user{n}@corp.contoso.local")),
            canonical_name: Some(format!("contoso.com/Accounts/Staff/User {n}")),
            object_guid: Some(guid),
            user_account_control: Some(512),
            display_name: Some(format!("User {n}")),
            given_name: Some("User".into()),
            surname: Some(n.to_string()),
            mail: Some(value.clone()),
            ..Default::default()
        }])
    }

    async fn domains(&self, forest: &str) -> Result<Arc<Vec<DomainInfo>>, DirectoryError> {
        let (dns, netbios, dn) = match forest {
            "contoso.com" => ("contoso.com", "CONTOSO", "DC=contoso,DC=com"),
            _ => ("fabrikam.com", "FABRIKAM", "DC=fabrikam,DC=com"),
        };
        Ok(Arc::new(vec![DomainInfo {
            dns_name: dns.into(),
            netbios_name: netbios.into(),
            dn: dn.into(),
        }]))
    }

    async fn bind(
        &self,
        _: AccountRef<'_>,
        _: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError> {
        Ok(Err(BindRejection::WrongPassword))
    }

    async fn account_state(
        &self,
        _: AccountRef<'_>,
    ) -> Result<Option<AccountState>, DirectoryError> {
        Ok(None)
    }
}

fn rss_bytes() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .expect("VmRSS")
        * 1024.0
}

fn main() {
    let m = Metrics::standalone().expect("metrics");
    let forests = vec!["contoso.com".to_string(), "fabrikam.com".to_string()];
    let resolver = Resolver::new(
        Arc::new(Synthetic),
        Some(AlternateLoginId {
            attribute: "mail".into(),
            lookup_forests: forests.clone(),
        }),
        forests,
        CacheConfig {
            positive_ttl: Duration::from_secs(3600),
            negative_ttl: Duration::from_secs(30),
            max_entries: 2 * IDENTITIES as u64,
        },
        m.cache.clone(),
        m.resolve.clone(),
        Events::new(m.events.clone()),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // Warm up everything but the entries (allocator arenas, metrics series, the domains).
        for i in 0..1000 {
            let r = resolver.resolve(&format!("warm{i}@contoso.com")).await;
            std::hint::black_box(r);
        }
        let before = rss_bytes();
        for i in 0..IDENTITIES {
            let r = resolver.resolve(&format!("user{i}@contoso.com")).await;
            assert!(r.account.is_some(), "resolved");
        }
        let after = rss_bytes();
        // Every one is still cached: a second pass is all hits.
        let hits0 = m.render();
        for i in (0..IDENTITIES).step_by(1000) {
            std::hint::black_box(resolver.resolve(&format!("user{i}@contoso.com")).await);
        }
        let per = (after - before) / IDENTITIES as f64;
        println!(
            "{IDENTITIES} cached identities: RSS {:.1} MiB -> {:.1} MiB, {:.0} bytes per identity (goal <= {GOAL:.0}: {})",
            before / 1048576.0,
            after / 1048576.0,
            per,
            if per <= GOAL { "met" } else { "NOT met" }
        );
        std::hint::black_box(hits0);
    });
}

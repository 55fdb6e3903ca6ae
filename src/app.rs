//! Wiring: builds the directory, resolver, signing key, metrics and events from a validated
//! configuration.

use crate::clock::{system_clock, Clock};
use crate::config::Config;
use crate::directory::embedded::EmbeddedDirectory;
use crate::directory::ldap::LdapDirectory;
use crate::directory::Directory;
use crate::events::Events;
use crate::keys::{self, CertificateRole, KeyError, SigningKey};
use crate::lockout::ExtranetLockout;
use crate::metrics::Metrics;
use crate::resolve::Resolver;
use crate::signin::SignIn;
use crate::tokens::issue::{Signing, Tokens};
use std::sync::Arc;

/// The running application's shared state.
pub struct App {
    /// The validated configuration.
    pub config: Config,
    /// Every metric, and the registry `/metrics` renders.
    pub metrics: Metrics,
    /// Event sink.
    pub events: Events,
    /// Login resolution.
    pub resolver: Arc<Resolver>,
    /// The directory (searches and password binds).
    pub directory: Arc<dyn Directory>,
    /// State shared by the farm (in-process without `state.url`).
    pub state: Arc<dyn crate::state::StateStore>,
    /// Extranet smart lockout.
    pub lockout: Arc<ExtranetLockout>,
    /// Password sign-in (resolution, bind, audit).
    pub sign_in: SignIn,
    /// Token issuance (signing keys, federation settings, clock); without a signing key the
    /// token endpoints are off.
    pub tokens: Tokens,
    /// Where token lifetimes and timestamp checks take "now" from.
    pub clock: Clock,
    /// The signed federation metadata, built on first request.
    pub metadata: std::sync::OnceLock<String>,
    /// SSO session cookie keys.
    pub sessions: Arc<crate::session::SessionKeys>,
    /// SAML request IDs already answered on this node, kept for the request window and bounded
    /// like the state store's replay cache (`state.replay_cache_max_entries`).
    pub answered_requests: Arc<crate::state::memory::LocalReplay>,
    /// The browser pages with the configured branding.
    pub pages: crate::protocols::passive::page::Pages,
    /// True when no session key is configured and this process generated its own (`serve`
    /// says so; one-off commands do not care).
    pub session_key_generated: bool,
    /// Windows integrated sign-in (Kerberos), when `kerberos` is configured.
    pub windows: Option<crate::protocols::passive::WindowsBrowser>,
    /// Whether the background health check (run by `serve`) has completed a round.
    pub health_checked: Arc<crate::health::Checked>,
    /// Recent account-state reads (SSO reuse, OAuth refresh), `passive.account_state_max_age`.
    pub account_states: crate::account_check::AccountStates,
}

/// The application could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Metric registration failed (a programming error).
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The demo directory file is unusable.
    #[error(transparent)]
    Embedded(#[from] crate::directory::embedded::EmbeddedError),
    /// A forest's LDAP client could not be set up.
    #[error(transparent)]
    Ldap(#[from] crate::directory::ldap::LdapSetupError),
    /// TLS material is unusable.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// The token-signing key is unusable.
    #[error(transparent)]
    Signing(#[from] KeyError),
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The session key is unusable.
    #[error(transparent)]
    Session(#[from] crate::session::SessionKeyError),
    /// The state store could not be set up (bad URL, unreadable CA or password).
    #[error("state store: {0}")]
    State(#[from] crate::state::StateError),
    /// The Kerberos acceptor could not start.
    #[error(transparent)]
    Kerberos(#[from] crate::kerberos::KerberosError),
    /// A configured forest is missing from the demo directory.
    #[error("forest {0} is configured but not in the demo directory")]
    DemoForestMissing(String),
}

impl App {
    /// Builds the application with a fresh metrics registry.
    pub fn new(config: Config) -> Result<Arc<App>, StartError> {
        let metrics = Metrics::standalone()?;
        App::with_metrics(config, metrics)
    }

    /// Builds the application, registering its metrics into `metrics`.
    pub fn with_metrics(config: Config, metrics: Metrics) -> Result<Arc<App>, StartError> {
        let clock = system_clock();
        let directory = build_directory(&config, &metrics, &clock)?;
        let signing = load_signing(&config, &metrics, &clock)?;
        App::with_directory(config, metrics, directory, signing, clock)
    }

    /// The application `config` describes, built for a reload of this one: the same metrics
    /// and clock; the directory clients, their health and the resolution cache kept when the
    /// directory's configuration (service-account passwords and CA bundles included) is
    /// unchanged; the state store kept (it holds the farm's and, in process, this node's
    /// lockout counters, replay caches and grants; changing it needs a restart); the SSO
    /// session key kept when none is configured (this node's generated one), re-read
    /// otherwise; this node's answered SAML requests kept. Everything else (signing keys,
    /// keytab, relying parties, pages, lockout settings) is built afresh from the files.
    /// Returns the application and whether the directory clients were kept.
    pub fn reloaded(&self, config: Config) -> Result<(Arc<App>, bool), StartError> {
        let kept = directory_fingerprint(&self.config) == directory_fingerprint(&config);
        let directory = if kept {
            self.directory.clone()
        } else {
            build_directory(&config, &self.metrics, &self.clock)?
        };
        let acceptor = config
            .kerberos
            .as_ref()
            .map(crate::kerberos::Acceptor::open)
            .transpose()?;
        // Last of what can fail: it also exports the certificates' expiry.
        let signing = load_signing(&config, &self.metrics, &self.clock)?;
        let sessions = match (
            &self.config.passive.session_key,
            &config.passive.session_key,
        ) {
            (None, None) => Some((self.sessions.clone(), self.session_key_generated)),
            _ => None,
        };
        let parts = Parts {
            directory,
            resolver: kept.then(|| self.resolver.clone()),
            state: Some(self.state.clone()),
            sessions,
            answered_requests: Some(self.answered_requests.clone()),
            health_checked: kept.then(|| self.health_checked.clone()),
        };
        let app = App::assemble(
            config,
            self.metrics.clone(),
            signing,
            self.clock.clone(),
            acceptor,
            parts,
        )?;
        Ok((app, kept))
    }

    /// Builds the application over any directory, signing key and clock (tests inject fakes);
    /// the Kerberos acceptor is MIT's, over the configured keytab.
    pub fn with_directory(
        config: Config,
        metrics: Metrics,
        directory: Arc<dyn Directory>,
        signing: Option<Signing>,
        clock: Clock,
    ) -> Result<Arc<App>, StartError> {
        let acceptor = config
            .kerberos
            .as_ref()
            .map(crate::kerberos::Acceptor::open)
            .transpose()?;
        App::with_parts(config, metrics, directory, signing, clock, acceptor)
    }

    /// Builds the application over any directory, signing key, clock and Kerberos acceptor.
    pub fn with_parts(
        config: Config,
        metrics: Metrics,
        directory: Arc<dyn Directory>,
        signing: Option<Signing>,
        clock: Clock,
        acceptor: Option<crate::kerberos::Acceptor>,
    ) -> Result<Arc<App>, StartError> {
        App::assemble(
            config,
            metrics,
            signing,
            clock,
            acceptor,
            Parts::fresh(directory),
        )
    }

    fn assemble(
        config: Config,
        metrics: Metrics,
        signing: Option<Signing>,
        clock: Clock,
        acceptor: Option<crate::kerberos::Acceptor>,
        parts: Parts,
    ) -> Result<Arc<App>, StartError> {
        let directory = parts.directory;
        let (sessions, session_key_generated) = match parts.sessions {
            Some(kept) => kept,
            None => {
                let (keys, generated) =
                    crate::session::SessionKeys::new(config.passive.session_key.as_ref())?;
                (Arc::new(keys), generated)
            }
        };
        let pages = crate::protocols::passive::page::Pages::new(&config.passive);
        let answered_requests = parts.answered_requests.unwrap_or_else(|| {
            let window = config
                .federation
                .max_clock_skew
                .saturating_mul(2)
                .saturating_add(std::time::Duration::from_secs(300));
            Arc::new(crate::state::memory::LocalReplay::new(
                config.state.replay_cache_max_entries,
                window,
            ))
        });
        let events = Events::new(metrics.events.clone());
        let resolver = parts.resolver.unwrap_or_else(|| {
            Arc::new(Resolver::new(
                directory.clone(),
                config.alternate_login_id.clone(),
                config.forests.iter().map(|f| f.name.clone()).collect(),
                config.cache,
                metrics.cache.clone(),
                metrics.resolve.clone(),
                events.clone(),
            ))
        });
        initialise_series(&metrics, &config);
        let state = match parts.state {
            Some(kept) => kept,
            None => crate::state::open(&config.state, metrics.state.clone(), events.clone())?,
        };
        let lockout = Arc::new(ExtranetLockout::new(
            config.extranet_lockout.clone(),
            config.state.on_unavailable,
            state.clone(),
            metrics.lockout.clone(),
            clock.clone(),
        ));
        let sign_in = SignIn::new(
            resolver.clone(),
            directory.clone(),
            events.clone(),
            metrics.tokens.alternate_login_id_authentications.clone(),
            clock.clone(),
        )
        .with_lockout(lockout.clone())
        .with_password_expiry_notice(config.federation.password_expiry_notice);
        // The `passwordchangeurl` claim points at the change page only when it is served.
        let password_change_url = config.passive.update_password_page.then(|| {
            crate::endpoint::PublicEndpoints::new(config.server.public_url.as_str()).update_password
        });
        let tokens = Tokens::new(
            config.federation.clone(),
            signing,
            clock.clone(),
            metrics.tokens.signing_duration.clone(),
        )
        .with_password_change_url(password_change_url);
        let windows = acceptor.map(|acceptor| crate::protocols::passive::WindowsBrowser {
            service: crate::signin::windows::WindowsSignIn::new(
                acceptor,
                resolver.clone(),
                directory.clone(),
                state.clone(),
                events.clone(),
                clock.clone(),
                crate::signin::windows::WindowsSettings {
                    realms: config
                        .kerberos
                        .as_ref()
                        .map(|k| k.realms.clone())
                        .unwrap_or_default(),
                    forests: config.forests.iter().map(|f| f.name.clone()).collect(),
                    alternate_attribute: config
                        .alternate_login_id
                        .as_ref()
                        .map(|a| a.attribute.clone()),
                    device_issuer_domain: config
                        .windows_integrated
                        .device_issuer_domain
                        .clone()
                        .or_else(|| config.federation.federated_domains.first().cloned()),
                },
            ),
            settings: config.windows_integrated.clone(),
        });
        let account_states = crate::account_check::AccountStates::new(
            config.passive.account_state_max_age,
            config.cache.max_entries.max(1),
        );
        Ok(Arc::new(App {
            config,
            metrics,
            events,
            resolver,
            directory,
            state,
            lockout,
            sign_in,
            tokens,
            clock,
            metadata: std::sync::OnceLock::new(),
            sessions,
            answered_requests,
            pages,
            session_key_generated,
            windows,
            health_checked: parts.health_checked.unwrap_or_default(),
            account_states,
        }))
    }

    /// Compares extranet lockout with the own lockout policy of every domain altgate binds to,
    /// reporting each mismatch as an event and a log line ([`crate::lockout::ad_policy`]).
    /// Nothing is read while extranet lockout is off.
    pub async fn check_ad_lockout_policies(&self) -> Vec<crate::lockout::ad_policy::DomainCheck> {
        use crate::lockout::ad_policy;
        let domains = ad_policy::domains_of(&self.config);
        let checks =
            ad_policy::check(&*self.directory, &self.config.extranet_lockout, &domains).await;
        ad_policy::report(&checks, &self.events);
        checks
    }

    /// The relying party `applies_to` names, if configured.
    pub fn relying_party(&self, applies_to: &str) -> Option<&crate::config::RelyingParty> {
        crate::protocols::relying_party(&self.config.relying_parties, applies_to)
    }

    /// The browser sign-in endpoints' view of the application.
    pub fn passive(&self) -> crate::protocols::passive::Passive<'_> {
        crate::protocols::passive::Passive {
            settings: &self.config.passive,
            pages: &self.pages,
            federation: &self.config.federation,
            relying_parties: &self.config.relying_parties,
            max_body_bytes: self.config.server.max_body_bytes,
            sign_in: &self.sign_in,
            resolver: &self.resolver,
            directory: &*self.directory,
            tokens: &self.tokens,
            sessions: &self.sessions,
            answered_requests: &self.answered_requests,
            state: &*self.state,
            on_unavailable: self.config.state.on_unavailable,
            events: &self.events,
            metrics: &self.metrics.passive,
            token_metrics: &self.metrics.tokens,
            windows: self.windows.as_ref(),
            oauth: self.config.oauth.as_ref(),
            account_states: &self.account_states,
        }
    }

    /// The OAuth / OpenID Connect endpoints' view (with `oauth`).
    pub fn oauth(&self) -> Option<crate::protocols::oauth::OAuth<'_>> {
        Some(crate::protocols::oauth::OAuth {
            config: self.config.oauth.as_ref()?,
            public_url: self.config.server.public_url.as_str(),
            passive: self.passive(),
        })
    }

    /// The demo relying party's view of the application (served only when
    /// `passive.demo_relying_party` is on, which needs demo mode).
    pub fn demo_rp(&self) -> crate::protocols::demo_rp::DemoRp<'_> {
        crate::protocols::demo_rp::DemoRp {
            passive: self.passive(),
            public_url: self.config.server.public_url.as_str(),
        }
    }

    /// The WS-Trust endpoints' view of the application.
    pub fn wstrust(&self) -> crate::protocols::wstrust::WsTrust<'_> {
        crate::protocols::wstrust::WsTrust {
            relying_parties: &self.config.relying_parties,
            sign_in: &self.sign_in,
            tokens: &self.tokens,
            metrics: &self.metrics.tokens,
        }
    }
}

/// What [`App::assemble`] takes from a running application instead of building it.
struct Parts {
    directory: Arc<dyn Directory>,
    resolver: Option<Arc<Resolver>>,
    state: Option<Arc<dyn crate::state::StateStore>>,
    sessions: Option<(Arc<crate::session::SessionKeys>, bool)>,
    answered_requests: Option<Arc<crate::state::memory::LocalReplay>>,
    health_checked: Option<Arc<crate::health::Checked>>,
}

impl Parts {
    fn fresh(directory: Arc<dyn Directory>) -> Parts {
        Parts {
            directory,
            resolver: None,
            state: None,
            sessions: None,
            answered_requests: None,
            health_checked: None,
        }
    }
}

/// The directory `config` names: the demo file's, or LDAPS clients for the forests.
fn build_directory(
    config: &Config,
    metrics: &Metrics,
    clock: &Clock,
) -> Result<Arc<dyn Directory>, StartError> {
    Ok(match &config.demo_directory {
        Some(path) => {
            // The demo directory counts its searches and binds like the LDAP one, so the
            // dashboard and alerts can be tried in demo mode.
            let d = EmbeddedDirectory::load(path)?
                .with_metrics(metrics.directory.clone())
                .with_clock(clock.clone());
            let known = d.forest_names();
            if let Some(missing) = config.forests.iter().find(|f| !known.contains(&f.name)) {
                return Err(StartError::DemoForestMissing(missing.name.clone()));
            }
            Arc::new(d)
        }
        None => Arc::new(LdapDirectory::new(
            config,
            metrics.directory.clone(),
            Events::new(metrics.events.clone()),
        )?),
    })
}

/// A digest of everything the directory clients and the resolution cache are built from: the
/// forests, alternate login ID, cache and connection settings, the demo file (its contents),
/// each service account's password and each CA bundle's contents. A reload keeps the running
/// clients (their connections, health and cache) only when it is unchanged.
fn directory_fingerprint(config: &Config) -> [u8; 32] {
    let mut h = ring::digest::Context::new(&ring::digest::SHA256);
    let mut part = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    part(format!("{:?}", config.forests).as_bytes());
    part(format!("{:?}", config.alternate_login_id).as_bytes());
    part(format!("{:?}", config.cache).as_bytes());
    part(format!("{:?}", config.directory).as_bytes());
    part(format!("{:?}", config.demo_directory).as_bytes());
    if let Some(demo) = &config.demo_directory {
        part(&std::fs::read(demo).unwrap_or_default());
    }
    for f in &config.forests {
        if let Some(account) = &f.service_account {
            part(account.password.expose().as_bytes());
        }
        if let Some(ca) = &f.ca_file {
            part(&std::fs::read(ca).unwrap_or_default());
        }
    }
    <[u8; 32]>::try_from(h.finish().as_ref()).unwrap_or_default()
}

/// Loads (or, in demo mode, generates) the token-signing key and exports its expiry.
fn load_signing(
    config: &Config,
    metrics: &Metrics,
    clock: &Clock,
) -> Result<Option<Signing>, StartError> {
    let Some(ts) = &config.token_signing else {
        return Ok(None);
    };
    if ts.generate_dev_certificate
        && keys::ensure_dev_signing_pair(
            &ts.cert_file,
            &ts.key_file,
            keys::DEV_SIGNING_SUBJECT,
            clock(),
        )?
    {
        // Expected on a demo's first start; outside demo mode a generated key is worth a warning.
        if config.demo_directory.is_some() {
            tracing::info!(
                target: "altgate::ops",
                cert = %ts.cert_file.display(),
                "demo mode: generated a self-signed token-signing certificate"
            );
        } else {
            tracing::warn!(
                target: "altgate::ops",
                cert = %ts.cert_file.display(),
                "generated a self-signed development token-signing certificate; use a real one in production"
            );
        }
    }
    let key = SigningKey::load(&ts.cert_file, &ts.key_file)?;
    metrics
        .tokens
        .set_certificate_expiry(CertificateRole::Current, key.not_after());
    let next_cert_der = match ts.next_published() {
        Some(p) => {
            let der = keys::read_cert_der(p)?;
            let (_, not_after) = keys::cert_info(&der)?;
            metrics
                .tokens
                .set_certificate_expiry(CertificateRole::Next, not_after);
            Some(der)
        }
        None => {
            // Promoted (or never rolled over): no next certificate to watch.
            let _ = metrics
                .tokens
                .certificate_expiry
                .remove_label_values(&[CertificateRole::Next.id()]);
            None
        }
    };
    Ok(Some(Signing { key, next_cert_der }))
}

/// Creates, at zero, every series of the known label values (vocabularies, configured forests,
/// servers, domains and relying parties), so the first scrape has every series the dashboard
/// and the alert rules use: `increase()` sees the first failover, error or lockout, and panels
/// show 0 instead of "No data" (Prometheus's own advice). Where a product of labels would be
/// large (`altgate_token_failures_total`), only the combinations a password sign-in can end in
/// are created. Values that are measurements (a server's `up`, a forest's `up`) are not: the
/// background health check sets them within its first round.
pub fn initialise_series(m: &Metrics, config: &Config) {
    use crate::directory::{BindResult, ConnectResult, Query};
    use crate::endpoint::Endpoint;
    use crate::events::EventName;
    use crate::lockout::{Class, Decision};
    use crate::resolve::{Msis, NoVia, Outcome, UpnFallback, Via};
    use crate::signin::{FailureReason, Protocol};
    use crate::state::Op;
    fn zero(vec: &prometheus::IntCounterVec, labels: &[&str]) {
        let _ = vec.with_label_values(labels);
    }
    fn zero_h(vec: &prometheus::HistogramVec, labels: &[&str]) {
        let _ = vec.with_label_values(labels);
    }
    let d = &m.directory;
    for f in &config.forests {
        d.initialise_forest(&f.name);
        for q in Query::ALL {
            zero_h(&d.search_duration, &[&f.name, q.id()]);
        }
        let servers = f
            .global_catalogs
            .iter()
            .chain(f.domain_controllers.values().flatten());
        for url in servers {
            d.initialise_server(&f.name, &url.url);
            let _ = d.in_flight.with_label_values(&[&f.name, &url.url]);
            for r in ConnectResult::ALL {
                zero(&d.connects, &[&f.name, &url.url, r.id()]);
            }
        }
        for domain in f.domain_controllers.keys() {
            zero_h(&d.bind_duration, &[domain]);
            for r in BindResult::ALL {
                zero(&d.binds, &[domain, r.id()]);
            }
        }
    }
    for e in EventName::ALL {
        zero(&m.events.events, &[e.id(), e.category().as_str()]);
    }
    for c in Msis::ALL {
        zero(&m.events.msis, &[c.id()]);
    }
    for r in FailureReason::ALL {
        zero(&m.events.sign_in_failures, &[r.id()]);
    }
    for v in Via::ALL {
        zero(&m.resolve.resolutions, &[Outcome::Resolved.id(), v.id()]);
    }
    for o in Outcome::ALL.iter().filter(|o| **o != Outcome::Resolved) {
        zero(&m.resolve.resolutions, &[o.id(), NoVia::None.id()]);
    }
    for r in UpnFallback::ALL {
        zero(&m.resolve.upn_fallbacks, &[r.id()]);
    }
    for r in crate::cache::CacheResult::ALL {
        zero(&m.cache.requests, &[r.id()]);
    }
    for r in crate::cache::EvictionCause::ALL {
        zero(&m.cache.evictions, &[r.id()]);
    }
    for e in Endpoint::ALL {
        zero_h(&m.http.duration, &[e.id()]);
    }
    for rp in &config.relying_parties {
        for p in Protocol::ALL {
            zero(&m.tokens.issued, &[p.id(), &rp.identifier]);
            for r in FailureReason::ALL {
                zero(&m.tokens.failed, &[p.id(), &rp.identifier, r.id()]);
            }
        }
    }
    if let Some(oauth) = &config.oauth {
        use crate::protocols::oauth::OAuthRefusal;
        for c in &oauth.clients {
            for p in [Protocol::Oidc, Protocol::OAuthToken] {
                zero(&m.tokens.issued, &[p.id(), &c.client_id]);
                for r in OAuthRefusal::ALL {
                    zero(&m.tokens.failed, &[p.id(), &c.client_id, r.id()]);
                }
            }
        }
    }
    for r in crate::config::ReloadResult::ALL {
        zero(&m.service.reloads, &[r.id()]);
    }
    m.state.initialise(Op::ALL);
    m.lockout
        .initialise(config.extranet_lockout.mode, Class::ALL, Decision::ALL);
}

//! The running service as a reload sees it: the application and the listeners' TLS
//! configurations, each swapped whole. Every accepted connection takes the TLS configuration
//! current at its accept and keeps it; every request takes the application current at its start.
//! So a reload (SIGHUP, `POST /api/v1/reload`) never drops a connection: established ones,
//! HTTP/2 streams included, carry on, new handshakes present the re-read certificate, and the
//! next request sees the new relying parties, branding, lockout settings, forests and signing
//! keys.
//!
//! A reload is all or nothing: the file is validated as `check-config` validates it, then every
//! part is built (certificates, keys, keytab, directory clients) before anything is swapped; any
//! problem refuses it, with every problem in one event, and the running configuration stays.
//! What only a restart can change (listen addresses, connection limits, logging, the state
//! store) is reported and left as it runs; turning TLS on or off on a listener is refused.

use crate::app::{App, StartError};
use crate::config::{Config, ConfigIssue, ReloadResult};
use crate::keys::TlsListener;
use arc_swap::{ArcSwap, ArcSwapOption};
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use tokio_rustls::TlsAcceptor;

/// The running application and TLS configurations.
pub struct Live {
    app: ArcSwap<App>,
    public_tls: ArcSwapOption<ServerConfig>,
    admin_tls: ArcSwapOption<ServerConfig>,
    /// The file a reload reads; `None` when the configuration was given in memory.
    file: Option<PathBuf>,
    /// The public certificate (leaf, DER) as last loaded, to report a renewed one.
    public_leaf: Mutex<Option<Vec<u8>>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    /// The background health check of the current directory.
    health: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// An applied reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// Sections whose settings changed (certificates and keys are re-read in any case).
    pub changed: Vec<String>,
    /// Settings changed in the file that keep their running value until a restart.
    pub needs_restart: Vec<String>,
    /// Whether the directory clients (connections, health, resolution cache) were kept.
    pub directory_kept: bool,
}

/// A refused reload: the running configuration stays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `invalid` or `failed`.
    pub result: ReloadResult,
    /// Every problem, `path: message`.
    pub problems: Vec<String>,
}

impl Live {
    /// The live service for `app`, whose configuration was read from `file` (reloads read it
    /// again); builds the listeners' TLS configurations (generating the demo certificate if
    /// asked to) and starts the background health check.
    pub fn new(app: Arc<App>, file: Option<PathBuf>) -> Result<Arc<Live>, StartError> {
        let now = (app.clock)();
        let public_tls = public_tls(&app.config, now, None)?;
        let admin_tls = admin_tls(&app.config)?;
        record_tls_expiry(&app, &app.config);
        app.metrics.service.loaded.set(now.unix_timestamp());
        let live = Arc::new(Live {
            app: ArcSwap::new(app.clone()),
            public_tls: ArcSwapOption::new(public_tls),
            admin_tls: ArcSwapOption::new(admin_tls),
            file,
            public_leaf: Mutex::new(public_leaf(&app.config)),
            reloading: tokio::sync::Mutex::new(()),
            health: Mutex::new(None),
        });
        live.start_health(&app);
        Ok(live)
    }

    /// The application now (a request keeps the one it started with).
    pub fn app(&self) -> Arc<App> {
        self.app.load_full()
    }

    /// The public listener's TLS acceptor now, if it has TLS.
    pub fn public_tls(&self) -> Option<TlsAcceptor> {
        self.public_tls.load_full().map(TlsAcceptor::from)
    }

    /// The admin listener's TLS acceptor now, if it has TLS.
    pub fn admin_tls(&self) -> Option<TlsAcceptor> {
        self.admin_tls.load_full().map(TlsAcceptor::from)
    }

    /// The certificates this service holds now: `(role, certificate DER)` for `server_tls`,
    /// `token_signing_current` and `token_signing_next`, as loaded (not as on disk).
    pub fn certificates(&self) -> Vec<(&'static str, Vec<u8>)> {
        let mut out = Vec::new();
        if let Some(leaf) = self
            .public_leaf
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            out.push(("server_tls", leaf));
        }
        if let Some(signing) = self.app().tokens.signing() {
            out.push(("token_signing_current", signing.key.cert_der().to_vec()));
            if let Some(next) = &signing.next_cert_der {
                out.push(("token_signing_next", next.clone()));
            }
        }
        out
    }

    /// The configuration file reloads read, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Reads the configuration file again and applies it as [`Live::apply`] does; counted and
    /// reported as an event either way.
    pub async fn reload(&self) -> Result<Reloaded, Refused> {
        let Some(file) = self.file.clone() else {
            let refused = Refused {
                result: ReloadResult::Failed,
                problems: vec![
                    "(file): this server was started from an in-memory configuration".into(),
                ],
            };
            self.report(Err(&refused), "(memory)");
            return Err(refused);
        };
        let _one = self.reloading.lock().await;
        let loaded = tokio::task::spawn_blocking(move || Config::load(&file)).await;
        let name = self.file_name();
        let config = match loaded {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                let refused = Refused {
                    result: ReloadResult::Invalid,
                    problems: e.issues.iter().map(ConfigIssue::to_string).collect(),
                };
                self.report(Err(&refused), &name);
                return Err(refused);
            }
            Err(e) => {
                let refused = Refused {
                    result: ReloadResult::Failed,
                    problems: vec![format!("(file): {e}")],
                };
                self.report(Err(&refused), &name);
                return Err(refused);
            }
        };
        let result = self.swap(config).await;
        self.report(result.as_ref(), &name);
        result
    }

    /// Applies an already validated configuration (tests; [`Live::reload`] for the file).
    pub async fn apply(&self, config: Config) -> Result<Reloaded, Refused> {
        let _one = self.reloading.lock().await;
        let result = self.swap(config).await;
        self.report(result.as_ref(), &self.file_name());
        result
    }

    fn file_name(&self) -> String {
        self.file
            .as_deref()
            .map_or_else(|| "(memory)".to_string(), |p| p.display().to_string())
    }

    /// Builds everything `config` needs, then swaps it in.
    async fn swap(&self, config: Config) -> Result<Reloaded, Refused> {
        let old = self.app();
        let failed = |problems: Vec<String>| Refused {
            result: ReloadResult::Failed,
            problems,
        };
        let mut problems = Vec::new();
        if old.config.server.tls.is_some() != config.server.tls.is_some() {
            problems.push("server.tls: turning TLS on or off needs a restart".to_string());
        }
        let admin_tls_of = |c: &Config| c.admin.as_ref().map(|a| a.tls.is_some());
        if admin_tls_of(&old.config) != admin_tls_of(&config) {
            problems.push(
                "admin: adding or removing the admin listener or its TLS needs a restart"
                    .to_string(),
            );
        }
        if !problems.is_empty() {
            return Err(failed(problems));
        }
        let now = (old.clock)();
        let running = self.public_tls.load_full();
        let previous = running
            .as_deref()
            .zip(old.config.server.tls.as_ref().map(|t| &t.tickets));
        let public = public_tls(&config, now, previous)
            .map_err(|e| failed(vec![format!("server.tls: {e}")]))?;
        let admin = admin_tls(&config).map_err(|e| failed(vec![format!("admin.tls: {e}")]))?;
        let (mut changed, needs_restart) = differences(&old.config, &config);
        let built = {
            let old = old.clone();
            tokio::task::spawn_blocking(move || old.reloaded(config)).await
        };
        let (app, directory_kept) = match built {
            Ok(Ok(built)) => built,
            Ok(Err(e)) => return Err(failed(vec![e.to_string()])),
            Err(e) => return Err(failed(vec![e.to_string()])),
        };
        if !directory_kept {
            // The new clients know nothing of their servers yet: one round first, so readiness
            // and failover start from what the servers say.
            crate::health::round(
                app.directory.as_ref(),
                app.state.as_ref(),
                &app.health_checked,
            )
            .await;
        }
        self.public_tls.store(public);
        self.admin_tls.store(admin);
        self.app.store(app.clone());
        if !directory_kept {
            self.start_health(&app);
        }
        record_tls_expiry(&app, &app.config);
        app.metrics.service.loaded.set(now.unix_timestamp());
        let leaf = public_leaf(&app.config);
        let old_leaf = std::mem::replace(
            &mut *self
                .public_leaf
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            leaf.clone(),
        );
        changed.extend(new_certificates(
            &old,
            &app,
            old_leaf.as_deref(),
            leaf.as_deref(),
        ));
        if !directory_kept || changed.iter().any(|c| c == "extranet_lockout") {
            let checked = app.clone();
            tokio::spawn(async move {
                checked.check_ad_lockout_policies().await;
            });
        }
        Ok(Reloaded {
            changed,
            needs_restart,
            directory_kept,
        })
    }

    fn report(&self, result: Result<&Reloaded, &Refused>, file: &str) {
        let app = self.app();
        match result {
            Ok(r) => {
                app.metrics
                    .service
                    .count_reload(ReloadResult::Applied, true);
                app.events.emit(&crate::events::ConfigReloaded {
                    file,
                    changed: &r.changed,
                    needs_restart: &r.needs_restart,
                });
            }
            Err(r) => {
                app.metrics.service.count_reload(r.result, false);
                app.events.emit(&crate::events::ConfigReloadRefused {
                    file,
                    result: r.result.id(),
                    problems: &r.problems,
                });
            }
        }
    }

    /// (Re)starts the background health check over `app`'s directory and store.
    fn start_health(&self, app: &Arc<App>) {
        let task = tokio::spawn(crate::health::run(
            app.directory.clone(),
            app.state.clone(),
            app.config.directory.health_check_interval,
            app.health_checked.clone(),
        ));
        let previous = self
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(task);
        if let Some(previous) = previous {
            previous.abort();
        }
    }

    /// Stops the background health check (shutdown).
    pub fn stop(&self) {
        if let Some(task) = self
            .health
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

/// The public listener's TLS configuration for `config` (generating the demo certificate if
/// asked to), keeping `previous`'s ticket keys and session cache when the ticket setting is
/// unchanged.
fn public_tls(
    config: &Config,
    now: time::OffsetDateTime,
    previous: Option<(&ServerConfig, &crate::tls::Tickets)>,
) -> Result<Option<Arc<ServerConfig>>, StartError> {
    let Some(tls) = &config.server.tls else {
        return Ok(None);
    };
    if tls.generate_dev_certificate {
        let host = config.server.public_url.host();
        if crate::tls::ensure_dev_certificate(&tls.cert_file, &tls.key_file, host, now)? {
            tracing::warn!(
                target: "altgate::ops",
                cert = %tls.cert_file.display(),
                "generated a self-signed development certificate; use a real one in production"
            );
        }
    }
    let previous = previous
        .filter(|(_, tickets)| **tickets == tls.tickets)
        .map(|(c, _)| c);
    Ok(Some(crate::tls::server_config_after(
        &tls.cert_file,
        &tls.key_file,
        &tls.tickets,
        previous,
    )?))
}

/// The admin listener's TLS configuration (no session tickets: a handful of scrapers).
fn admin_tls(config: &Config) -> Result<Option<Arc<ServerConfig>>, StartError> {
    match config.admin.as_ref().and_then(|a| a.tls.as_ref()) {
        Some(t) => Ok(Some(crate::tls::server_config(
            &t.cert_file,
            &t.key_file,
            &crate::tls::Tickets::Off,
        )?)),
        None => Ok(None),
    }
}

/// Exports the expiry of each listener's server certificate.
fn record_tls_expiry(app: &App, config: &Config) {
    let files = [
        (
            TlsListener::Public,
            config.server.tls.as_ref().map(|t| &t.cert_file),
        ),
        (
            TlsListener::Admin,
            config
                .admin
                .as_ref()
                .and_then(|a| a.tls.as_ref())
                .map(|t| &t.cert_file),
        ),
    ];
    for (listener, file) in files {
        let Some(file) = file else { continue };
        match crate::keys::read_cert_der(file).and_then(|der| crate::keys::cert_info(&der)) {
            Ok((_, not_after)) => app.metrics.service.set_tls_expiry(listener, not_after),
            Err(e) => tracing::warn!(
                target: "altgate::ops",
                listener = %listener,
                error = %e,
                "cannot read the TLS certificate's expiry"
            ),
        }
    }
}

/// The certificates a reload replaced (files renewed in place, or new paths):
/// `server.tls (certificate)`, `token_signing (certificate)`, `token_signing (next certificate)`.
fn new_certificates(
    old: &App,
    new: &App,
    old_leaf: Option<&[u8]>,
    new_leaf: Option<&[u8]>,
) -> Vec<String> {
    let mut out = Vec::new();
    if old_leaf != new_leaf {
        out.push("server.tls (certificate)".to_string());
    }
    let signing = |a: &App| {
        a.tokens
            .signing()
            .map(|s| (s.key.cert_der().to_vec(), s.next_cert_der.clone()))
    };
    let (old, new) = (signing(old), signing(new));
    if old.as_ref().map(|s| &s.0) != new.as_ref().map(|s| &s.0) {
        out.push("token_signing (certificate)".to_string());
    }
    if old.as_ref().map(|s| &s.1) != new.as_ref().map(|s| &s.1) {
        out.push("token_signing (next certificate)".to_string());
    }
    out
}

/// The leaf certificate (DER) of the public listener's certificate file, as just loaded.
fn public_leaf(config: &Config) -> Option<Vec<u8>> {
    config
        .server
        .tls
        .as_ref()
        .and_then(|t| crate::keys::read_cert_der(&t.cert_file).ok())
}

/// The sections whose settings differ, and the settings among them that only a restart
/// applies.
fn differences(old: &Config, new: &Config) -> (Vec<String>, Vec<String>) {
    fn dbg<T: std::fmt::Debug>(t: &T) -> String {
        format!("{t:?}")
    }
    /// Every section of a configuration, as it prints (secrets redacted).
    fn sections(c: &Config) -> [(&'static str, String); 17] {
        [
            ("server", dbg(&c.server)),
            ("alternate_login_id", dbg(&c.alternate_login_id)),
            ("forests", dbg(&c.forests)),
            ("cache", dbg(&c.cache)),
            ("directory", dbg(&c.directory)),
            ("demo_directory", dbg(&c.demo_directory)),
            ("logging", dbg(&c.logging)),
            ("token_signing", dbg(&c.token_signing)),
            ("relying_parties", dbg(&c.relying_parties)),
            ("federation", dbg(&c.federation)),
            ("passive", dbg(&c.passive)),
            ("admin", dbg(&c.admin)),
            ("extranet_lockout", dbg(&c.extranet_lockout)),
            ("state", dbg(&c.state)),
            ("kerberos", dbg(&c.kerberos)),
            ("windows_integrated", dbg(&c.windows_integrated)),
            ("oauth", dbg(&c.oauth)),
        ]
    }
    let changed: Vec<String> = sections(old)
        .into_iter()
        .zip(sections(new))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((name, _), _)| name.to_string())
        .collect();
    let restart = [
        ("server.listen", old.server.listen != new.server.listen),
        (
            "server.limits",
            dbg(&old.server.limits) != dbg(&new.server.limits),
        ),
        (
            "admin.listen",
            old.admin.as_ref().map(|a| a.listen) != new.admin.as_ref().map(|a| a.listen),
        ),
        ("logging", changed.iter().any(|c| c == "logging")),
        ("state", changed.iter().any(|c| c == "state")),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(name, _)| name.to_string())
    .collect();
    (changed, restart)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = "
server: { listen: 127.0.0.1:0, public_url: https://sts.example.test }
demo_directory: config/demo-directory.yaml
alternate_login_id: { attribute: mail, lookup_forests: [contoso.com] }
forests: [{ name: contoso.com }, { name: fabrikam.com }]
";

    fn config(extra: &str) -> Config {
        Config::parse(&format!("{DEMO}{extra}"), "t").expect("config")
    }

    #[tokio::test]
    async fn a_reload_keeps_sessions_state_and_the_warm_directory_and_rebuilds_the_rest() {
        let live = Live::new(App::new(config("")).expect("app"), None).expect("live");
        let before = live.app();
        assert!(before.session_key_generated);
        let cached = before.resolver.resolve("jdoe@contoso.com").await;
        assert!(cached.account.is_some());

        let r = live
            .apply(config(
                "relying_parties: [{ identifier: 'urn:example:rp' }]\n",
            ))
            .await
            .expect("applied");
        assert_eq!(r.changed, ["relying_parties"]);
        assert!(r.directory_kept && r.needs_restart.is_empty());
        let after = live.app();
        assert!(!Arc::ptr_eq(&before, &after));
        assert!(after.relying_party("urn:example:rp").is_some());
        assert!(
            before.relying_party("urn:example:rp").is_none(),
            "in-flight requests keep theirs"
        );
        // SSO cookies sealed before the reload still open: this node's generated key is kept.
        assert!(Arc::ptr_eq(&before.sessions, &after.sessions));
        assert!(Arc::ptr_eq(&before.state, &after.state));
        assert!(Arc::ptr_eq(
            &before.answered_requests,
            &after.answered_requests
        ));
        assert!(
            Arc::ptr_eq(&before.resolver, &after.resolver),
            "the cache stays warm"
        );

        // New directory settings: new clients (and a cold cache); the state store still kept.
        let r = live
            .apply(config("cache: { positive_ttl: 1m }\n"))
            .await
            .expect("applied");
        assert!(!r.directory_kept);
        let rebuilt = live.app();
        assert!(!Arc::ptr_eq(&after.resolver, &rebuilt.resolver));
        assert!(Arc::ptr_eq(&after.state, &rebuilt.state));
        assert!(rebuilt.health_checked.done(), "checked before it took over");

        // What only a restart applies is reported; turning TLS on is refused.
        let r = live
            .apply(config(
                "cache: { positive_ttl: 1m }\nlogging: { level: debug }\n",
            ))
            .await
            .expect("applied");
        assert_eq!(r.needs_restart, ["logging"]);
        let on = Config::parse(
            &DEMO.replace(
                "public_url: https://sts.example.test }",
                "public_url: https://sts.example.test, tls: { cert_file: /nonexistent.crt, key_file: /nonexistent.key, generate_dev_certificate: true } }",
            ),
            "t",
        )
        .expect("config");
        let refused = live.apply(on).await.expect_err("refused");
        assert_eq!(refused.result, ReloadResult::Failed);
        assert!(refused.problems[0].starts_with("server.tls"), "{refused:?}");
        let m = &live.app().metrics.service;
        assert_eq!(m.reloads.with_label_values(&["applied"]).get(), 3);
        assert_eq!(m.reloads.with_label_values(&["failed"]).get(), 1);
        assert_eq!(m.last_reload_successful.get(), 0);
        // A server started from memory has no file to read again.
        let refused = live.reload().await.expect_err("no file");
        assert_eq!(refused.result, ReloadResult::Failed);
        live.stop();
    }
}

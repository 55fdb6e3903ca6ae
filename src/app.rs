//! Wiring: builds the directory, resolver, metrics and events from a validated configuration.

use crate::config::Config;
use crate::directory::embedded::EmbeddedDirectory;
use crate::directory::ldap::LdapDirectory;
use crate::directory::Directory;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::resolve::Resolver;
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
    pub resolver: Resolver,
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
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
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
        let events = Events::new(metrics.events.clone());
        let directory: Arc<dyn Directory> = match &config.demo_directory {
            Some(path) => {
                let d = EmbeddedDirectory::load(path)?;
                let known = d.forest_names();
                if let Some(missing) = config.forests.iter().find(|f| !known.contains(&f.name)) {
                    return Err(StartError::DemoForestMissing(missing.name.clone()));
                }
                Arc::new(d)
            }
            None => Arc::new(LdapDirectory::new(
                &config,
                metrics.directory.clone(),
                events.clone(),
            )?),
        };
        Ok(App::with_directory(config, metrics, directory))
    }

    /// Builds the application over any directory (tests inject fakes here).
    pub fn with_directory(
        config: Config,
        metrics: Metrics,
        directory: Arc<dyn Directory>,
    ) -> Arc<App> {
        let events = Events::new(metrics.events.clone());
        let resolver = Resolver::new(
            directory,
            config.alternate_login_id.clone(),
            config.forests.iter().map(|f| f.name.clone()).collect(),
            config.cache,
            metrics.cache.clone(),
            metrics.resolve.clone(),
            events.clone(),
        );
        Arc::new(App {
            config,
            metrics,
            events,
            resolver,
        })
    }
}

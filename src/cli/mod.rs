//! The command line: `serve`, `check-config` (like `nginx -t`), `resolve`, `lockout`,
//! `audit` and `m365`. `main.rs` only calls [`main`].

pub mod admin_client;
pub mod audit;
pub mod certs;
pub mod lockout;
pub mod m365;
pub mod systemd;

use crate::config::{Config, LogFormat};
use crate::resolve::{Outcome, Resolution};
use crate::App;
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The configuration file used when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "config/altgate.yaml";

/// altgate: AD FS-style authentication front end.
#[derive(Debug, Parser)]
#[command(name = "altgate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve {
        /// Configuration file.
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate a configuration file and report every problem (exit 2 if any).
    CheckConfig {
        /// Configuration file.
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Resolve a login the way a sign-in would (exit 0 only when resolved).
    Resolve {
        /// Configuration file.
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// The login as a user would type it.
        login: String,
    },
    /// Extranet lockout: an account's counts and familiar locations, a reset, or a familiar
    /// location added or removed, asked of the running service through its admin listener
    /// (AD FS Get-AdfsAccountActivity / Reset-AdfsAccountLockout / Set-AdfsAccountActivity).
    Lockout {
        /// Configuration file.
        #[arg(long, default_value = DEFAULT_CONFIG, global = true)]
        config: PathBuf,
        /// What to do.
        #[command(subcommand)]
        action: LockoutAction,
    },
    /// Before go-live: read every forest and report who will fail to sign in and why (the
    /// sign-in simulated for every identifier of every account, plus the sync preparation
    /// rules). Exit 0 without error findings, 1 with some, 2 if the audit could not run.
    Audit {
        /// Configuration file.
        #[arg(long, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: audit::AuditFormat,
        /// Write the report to this file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Report only this forest (every forest is still read).
        #[arg(long)]
        forest: Option<String>,
    },
    /// Microsoft 365 / Entra ID: the federation settings to apply for each federated domain.
    M365 {
        /// Configuration file.
        #[arg(long, default_value = DEFAULT_CONFIG, global = true)]
        config: PathBuf,
        /// What to do.
        #[command(subcommand)]
        action: m365::M365Action,
    },
    /// Certificates: their expiry, and the token-signing rollover (AD FS
    /// AutoCertificateRollover, in two steps).
    Certs {
        /// Configuration file.
        #[arg(long, default_value = DEFAULT_CONFIG, global = true)]
        config: PathBuf,
        /// What to do.
        #[command(subcommand)]
        action: certs::CertsAction,
    },
}

/// `altgate lockout ...`.
#[derive(Debug, Subcommand)]
pub enum LockoutAction {
    /// Show bad-password counts, lockout state and familiar locations.
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Any login of the account (alternate ID, UPN or DOMAIN\name).
        login: String,
    },
    /// Reset the counts (both, unless one location class is named).
    Reset {
        /// Reset only the familiar-location count.
        #[arg(long, conflicts_with = "unfamiliar")]
        familiar: bool,
        /// Reset only the unfamiliar-location count.
        #[arg(long)]
        unfamiliar: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Any login of the account.
        login: String,
    },
    /// Add or remove a familiar location (counts are untouched).
    Familiar {
        /// `add` or `remove`.
        #[arg(value_parser = ["add", "remove"])]
        op: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
        /// Any login of the account.
        login: String,
        /// The client IP address.
        ip: String,
    },
}

/// Exit status for configuration problems.
const EXIT_CONFIG: u8 = 2;

/// Sets up logging to stderr: `level` unless `RUST_LOG` says otherwise, colour only when stderr
/// is a terminal (and `NO_COLOR` is not set), so files and pipes get plain text; JSON events
/// carry their request's activity ID in `span`.
fn init_tracing(format: LogFormat, level: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The log filter of one-off commands (`resolve`, `lockout`): warnings, without the audit events
/// of the lookup itself (the command prints its outcome).
const ONE_OFF_LOG_FILTER: &str = "warn,altgate::audit=off";

/// Reads and validates the configuration; points MIT Kerberos at its keytab (every command
/// loads the configuration before its runtime starts any thread).
fn load(path: &Path) -> Result<Config, ExitCode> {
    let config = Config::load(path);
    if let Ok(c) = &config {
        crate::kerberos::prepare_process(c.kerberos.as_ref());
    }
    config.map_err(|e| {
        eprintln!("altgate: {e}");
        if !path.is_file() {
            let cwd = std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| "the working directory".into());
            eprintln!(
                "hint: relative paths are taken from the working directory ({cwd}); run altgate from the repository root, or name the file with --config FILE"
            );
        }
        ExitCode::from(EXIT_CONFIG)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("altgate: cannot start the runtime: {e}");
            ExitCode::FAILURE
        })
}

/// Runs the command line; returns the process exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => serve(&config),
        Command::CheckConfig { config } => check_config(&config),
        Command::Resolve {
            config,
            json,
            login,
        } => resolve(&config, json, &login),
        Command::Lockout { config, action } => lockout_command(&config, action),
        Command::Audit {
            config,
            format,
            output,
            forest,
        } => Ok(audit::run(&config, format, output, forest)),
        Command::M365 { config, action } => m365::run(&config, action),
        Command::Certs { config, action } => certs::run(&config, action),
    };
    result.unwrap_or_else(|code| code)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// What `check-config` says about the keytab: its principals, key versions and encryption
/// types, with a warning when the accepted principal has no AES key.
fn print_kerberos(config: &crate::config::Config) {
    let Some(k) = &config.kerberos else {
        return;
    };
    println!("kerberos: keytab {}", k.keytab_file.display());
    let accepted = k.accepted_keys();
    for key in &k.keys {
        let accepted = accepted.contains(&key);
        println!(
            "  {} kvno {} {}{}",
            key.principal,
            key.kvno,
            key.enctype_name(),
            if accepted {
                ""
            } else {
                " (not accepted: kerberos.service_principal)"
            }
        );
    }
    if !accepted.is_empty() && accepted.iter().all(|e| crate::keytab::is_weak(e.enctype)) {
        println!("warning: the keytab holds only RC4/DES keys for the accepted principal: set msDS-SupportedEncryptionTypes to 24 (AES) on the service account and export the keytab again");
    }
    if !crate::kerberos::Acceptor::built_in() {
        println!("warning: this binary was built without the kerberos feature: it cannot start with this configuration");
    }
    let w = &config.windows_integrated;
    println!(
        "windows_integrated: browser {}, windows_transport {}, {} user-agent rules",
        if w.browser { "on" } else { "off" },
        if w.windows_transport { "on" } else { "off" },
        w.user_agents.len()
    );
    if config.federation.internal_networks.is_empty() {
        println!("warning: federation.internal_networks is empty: no client is internal, so Windows integrated sign-in is never offered");
    }
    if config.server.limits.max_header_bytes < crate::config::edge::KERBEROS_HEADER_BYTES {
        println!("warning: server.limits.max_header_bytes is {}: a user in many groups sends a Negotiate header of up to 64,000 bytes (Windows' MaxTokenSize); 131072 (the default with kerberos) leaves room for the rest", config.server.limits.max_header_bytes);
    }
}

fn serve(path: &Path) -> Result<ExitCode, ExitCode> {
    let config = load(path)?;
    init_tracing(config.logging.format, &config.logging.level);
    let rt = runtime()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .map_err(|e| {
                eprintln!("altgate: cannot listen on {}: {e}", config.server.listen);
                ExitCode::FAILURE
            })?;
        let admin = match &config.admin {
            Some(a) => Some(tokio::net::TcpListener::bind(a.listen).await.map_err(|e| {
                eprintln!("altgate: cannot listen on {}: {e}", a.listen);
                ExitCode::FAILURE
            })?),
            None => None,
        };
        dev_certificate(&config)?;
        let app = App::new(config).map_err(|e| {
            eprintln!("altgate: {e}");
            ExitCode::FAILURE
        })?;
        let demo = app.config.demo_directory.is_some();
        if app.session_key_generated && !demo {
            tracing::warn!(
                target: "altgate::ops",
                "no passive.session_key_file: this node generated its own SSO session key; a farm must share one"
            );
        }
        if demo {
            let url = &app.config.server.public_url;
            let open = if app.config.passive.demo_relying_party {
                crate::endpoint::Endpoint::DemoHome.url(url.as_str())
            } else {
                crate::endpoint::Endpoint::Passive.url(url.as_str())
            };
            tracing::info!(
                target: "altgate::ops",
                open = %open,
                "demo mode: the embedded directory answers for every forest; open the demo application in a browser"
            );
        }
        let live = crate::http::live::Live::new(app, Some(path.to_path_buf())).map_err(|e| {
            eprintln!("altgate: {e}");
            ExitCode::FAILURE
        })?;
        let notifier = std::sync::Arc::new(systemd::Notifier::from_env());
        let reloads = tokio::spawn(reload_on_sighup(live.clone(), notifier.clone()));
        notifier.send("READY=1\nSTATUS=serving");
        let served = crate::http::serve_live(live, listener, admin, shutdown_signal()).await;
        notifier.send("STOPPING=1\nSTATUS=stopped");
        reloads.abort();
        served.map_err(|e| {
            eprintln!("altgate: {e}");
            ExitCode::FAILURE
        })?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Reloads the configuration on every SIGHUP (`systemctl reload altgate`), telling systemd.
async fn reload_on_sighup(
    live: std::sync::Arc<crate::http::live::Live>,
    notifier: std::sync::Arc<systemd::Notifier>,
) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        tracing::warn!(target: "altgate::ops", "cannot listen for SIGHUP; reload through the admin API");
        return;
    };
    while hup.recv().await.is_some() {
        notifier.reloading();
        let status = match live.reload().await {
            Ok(_) => "STATUS=serving; configuration reloaded",
            Err(_) => "STATUS=serving; the last reload was refused (see the log)",
        };
        notifier.send(&format!("READY=1\n{status}"));
    }
}

/// Generates the development certificate `server.tls.generate_dev_certificate` asks for
/// before serving, saying so at the level it deserves: expected on a demo's first start, a
/// warning anywhere else.
fn dev_certificate(config: &Config) -> Result<(), ExitCode> {
    let Some(tls) = config
        .server
        .tls
        .as_ref()
        .filter(|t| t.generate_dev_certificate)
    else {
        return Ok(());
    };
    let host = config.server.public_url.host();
    let now = (crate::clock::system_clock())();
    let generated = crate::tls::ensure_dev_certificate(&tls.cert_file, &tls.key_file, host, now)
        .map_err(|e| {
            eprintln!("altgate: {e}");
            ExitCode::FAILURE
        })?;
    if generated && config.demo_directory.is_some() {
        tracing::info!(
            target: "altgate::ops",
            cert = %tls.cert_file.display(),
            "demo mode: generated a self-signed certificate for {host}; browsers will ask you to trust it"
        );
    } else if generated {
        tracing::warn!(
            target: "altgate::ops",
            cert = %tls.cert_file.display(),
            "generated a self-signed development certificate; use a real one in production"
        );
    }
    Ok(())
}

/// `check-config`'s warnings about the state store: anyone who can reach an unauthenticated
/// store can unlock accounts and bring signed-out sessions back.
fn state_warnings(state: &crate::config::state::StateConfig) {
    use crate::config::state::{RedisTarget, StateBackend};
    let StateBackend::Redis(r) = &state.backend else {
        return;
    };
    if r.unauthenticated_off_host() {
        println!("warning: state: the Redis store is on another host over plain TCP without a password: anyone who can reach it can unlock accounts and bring signed-out sessions back; set password_file (and TLS)");
    }
    if matches!(r.target, RedisTarget::Sentinel(_)) && r.replica_acks == 0 {
        println!("warning: state.replica_acks is 0 with sentinel: a sign-out written just before a failover can be lost with the old master");
    }
}

fn check_config(path: &Path) -> Result<ExitCode, ExitCode> {
    let config = load(path)?;
    print_kerberos(&config);
    let rt = runtime()?;
    rt.block_on(async move {
        // Building the application loads the demo directory, CA bundles and service accounts
        // without contacting any server.
        let app = App::new(config).map_err(|e| {
            eprintln!(
                "altgate: configuration file {} is invalid: {e}",
                path.display()
            );
            ExitCode::from(EXIT_CONFIG)
        })?;
        let c = &app.config;
        state_warnings(&c.state);
        if c.server.tls.is_none() {
            println!(
                "warning: server.tls is not set; altgate will serve plain HTTP behind a TLS proxy"
            );
        }
        if c.demo_directory.is_some() {
            println!("note: demo mode: the embedded directory stands in for every forest");
        } else if c.passive.session_key.is_none() {
            println!(
                "warning: passive.session_key_file is not set: each node generates its own SSO session key, so a farm's nodes will not accept each other's sessions"
            );
        }
        let branding = &c.passive.branding;
        for (tag, _) in &branding.texts {
            let built_in = crate::config::branding::BUILT_IN_LANGUAGES.contains(&tag.as_str());
            if !built_in && !branding.password_texts.iter().any(|(t, _)| t == tag) {
                println!(
                    "warning: passive.texts.{tag} has no passive.password_texts.{tag}: the password-change pages show English to these users"
                );
            }
        }
        match &c.alternate_login_id {
            None => println!(
                "note: alternate_login_id is not configured; logins resolve by UPN or DOMAIN\\name"
            ),
            Some(alt) => {
                if let Some(why) = crate::directory::partial_attribute_set::not_in_global_catalog(&alt.attribute) {
                    println!(
                        "warning: alternate_login_id.attribute {} is not in a Windows global catalog ({why}): searches on a real global catalog find nobody unless your schema adds it to the partial attribute set",
                        alt.attribute
                    );
                }
            }
        }
        oauth_notes(c);
        ad_lockout_policies(&app).await;
        println!(
            "altgate: configuration file {} test is successful",
            path.display()
        );
        Ok(ExitCode::SUCCESS)
    })
}

/// What `check-config` says about `oauth:`: a summary, and what an admin should know.
fn oauth_notes(c: &crate::config::Config) {
    use crate::config::oauth::{ClientKind, Grant};
    let Some(o) = &c.oauth else {
        return;
    };
    let public = o
        .clients
        .iter()
        .filter(|c| c.kind == ClientKind::Public)
        .count();
    println!(
        "oauth: {} clients ({public} public, {} confidential), {} resources; issuer {}/adfs",
        o.clients.len(),
        o.clients.len() - public,
        o.resources.len(),
        c.server.public_url.as_str().trim_end_matches('/')
    );
    if c.token_signing.is_none() {
        println!("warning: oauth without token_signing: the OAuth endpoints answer 503 until a token-signing key is configured");
    }
    for client in o.clients.iter().filter(|c| c.allows(Grant::Password)) {
        println!(
            "note: oauth client {} allows the password grant (ROPC): it signs in with extranet lockout like WS-Trust, but cannot do MFA or Windows integrated sign-in",
            client.client_id
        );
    }
    if matches!(c.state.backend, crate::config::state::StateBackend::Memory) {
        println!("note: authorization codes and refresh tokens are kept in this process (state.url is not set): a farm's nodes would not redeem each other's");
    }
}

/// How long `check-config` waits for the domains' lockout policies.
const AD_POLICY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Extranet lockout against each domain's own lockout policy, when the forests answer: a
/// warning per mismatch, a note per domain that could not be read.
async fn ad_lockout_policies(app: &App) {
    let Ok(checks) = tokio::time::timeout(AD_POLICY_TIMEOUT, app.check_ad_lockout_policies()).await
    else {
        println!(
            "note: the domains' lockout policies could not be read within {AD_POLICY_TIMEOUT:?}; extranet lockout thresholds not compared with AD's"
        );
        return;
    };
    for c in checks {
        match &c.policy {
            Err(e) => println!(
                "note: could not read the lockout policy of domain {} (forest {}): {e}; extranet lockout thresholds not compared with AD's",
                c.domain, c.forest
            ),
            Ok(Some(p)) if c.findings.is_empty() => println!(
                "ok: extranet lockout locks before domain {} does (AD lockoutThreshold {})",
                c.domain, p.threshold
            ),
            _ => {}
        }
        for f in &c.findings {
            println!("warning: {}", f.message(&c.domain));
        }
    }
}

fn resolve(path: &Path, json: bool, login: &str) -> Result<ExitCode, ExitCode> {
    let config = load(path)?;
    init_tracing(config.logging.format, ONE_OFF_LOG_FILTER);
    let rt = runtime()?;
    let resolution = rt.block_on(async move {
        let app = App::new(config).map_err(|e| {
            eprintln!("altgate: {e}");
            ExitCode::from(EXIT_CONFIG)
        })?;
        Ok::<_, ExitCode>(app.resolver.resolve(login).await)
    })?;
    if json {
        match serde_json::to_string(resolution.as_ref()) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("altgate: cannot encode the result: {e}");
                return Err(ExitCode::FAILURE);
            }
        }
    } else {
        print!("{}", human(&resolution));
    }
    Ok(if resolution.outcome == Outcome::Resolved {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn lockout_command(path: &Path, action: LockoutAction) -> Result<ExitCode, ExitCode> {
    use lockout::Change;
    let config = load(path)?;
    init_tracing(config.logging.format, ONE_OFF_LOG_FILTER);
    let rt = runtime()?;
    let (login, json) = match &action {
        LockoutAction::Status { json, login }
        | LockoutAction::Reset { json, login, .. }
        | LockoutAction::Familiar { json, login, .. } => (login.clone(), *json),
    };
    let change = match &action {
        LockoutAction::Status { .. } => Change::None,
        LockoutAction::Reset { familiar: true, .. } => Change::Reset("familiar"),
        LockoutAction::Reset {
            unfamiliar: true, ..
        } => Change::Reset("unfamiliar"),
        LockoutAction::Reset { .. } => Change::Reset("both"),
        LockoutAction::Familiar { op, ip, .. } if op == "add" => Change::AddFamiliar(ip),
        LockoutAction::Familiar { ip, .. } => Change::RemoveFamiliar(ip),
    };
    rt.block_on(async move {
        match lockout::run(&config, &login, change).await {
            Ok((view, raw)) => {
                if json {
                    println!("{raw}");
                } else {
                    print!("{}", view.text());
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("altgate: {e}");
                Err(ExitCode::FAILURE)
            }
        }
    })
}

/// The human-readable form of a resolution.
pub fn human(r: &Resolution) -> String {
    let mut out = String::new();
    match (&r.account, &r.failure) {
        (Some(a), _) => {
            let who = match &a.netbios_domain {
                Some(nb) => format!("{nb}\\{}", a.sam_account_name),
                None => a.sam_account_name.clone(),
            };
            out.push_str(&format!(
                "{} -> {who} (forest {}, domain {}) via {}\n",
                r.login,
                a.forest,
                a.domain,
                r.via.map_or("?", |v| v.as_str())
            ));
            out.push_str(&format!(
                "  upn: {}\n  dn: {}\n  immutable_id: {}\n  enabled: {}\n",
                a.user_principal_name.as_deref().unwrap_or("(none)"),
                a.distinguished_name,
                a.immutable_id.as_deref().unwrap_or("(none)"),
                a.enabled
            ));
        }
        (None, Some(f)) => {
            out.push_str(&format!(
                "{} -> {} (event {})\n  {}\n",
                r.login,
                r.outcome.as_str(),
                f.event_id,
                f.message
            ));
        }
        (None, None) => out.push_str(&format!("{} -> {}\n", r.login, r.outcome.as_str())),
    }
    if let Some(fb) = r.upn_fallback {
        out.push_str(&format!("  upn fallback: {}\n", fb.as_str()));
    }
    if !r.unreachable_forests.is_empty() {
        out.push_str(&format!(
            "  unreachable forests: {}\n",
            r.unreachable_forests.join(", ")
        ));
    }
    out
}

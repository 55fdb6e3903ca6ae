//! `altgate m365 federation-settings`: what Microsoft Entra ID needs to federate each domain
//! with altgate, printed as JSON, Microsoft Graph PowerShell or an explanation. The settings
//! come from the running configuration through the application itself (the same signing
//! material federation metadata publishes); the generation and the refusals live in
//! [`crate::protocols::m365`].

use crate::clock::system_clock;
use crate::protocols::m365::{self, render, Input, PreferredProtocol, PromptLogin};
use crate::App;
use std::path::Path;
use std::process::ExitCode;

/// `altgate m365 ...`.
#[derive(Debug, clap::Subcommand)]
pub enum M365Action {
    /// Print, per federated domain, the Microsoft Graph internalDomainFederation settings
    /// (issuer, endpoints, signing certificates) to apply in Entra ID. Exit 1 with every reason
    /// when the settings would not work (unknown domain, expiring certificate, ...).
    FederationSettings(FederationSettingsArgs),
}

/// Options of `altgate m365 federation-settings`.
#[derive(Debug, clap::Args)]
pub struct FederationSettingsArgs {
    /// Only this domain (repeatable); default every domain of federation.federated_domains.
    #[arg(long = "domain", value_name = "DOMAIN")]
    pub domains: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: SettingsFormat,
    /// Entra's preferredAuthenticationProtocol.
    #[arg(long, value_enum, default_value = "wsfed")]
    pub protocol: ProtocolArg,
    /// Entra's promptLoginBehavior.
    #[arg(
        long,
        value_enum,
        default_value = "translateToFreshPasswordAuthentication"
    )]
    pub prompt_login_behavior: PromptLoginArg,
}

/// Output formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SettingsFormat {
    /// One JSON object keyed by domain; each value is the Graph request body.
    Json,
    /// A Microsoft Graph PowerShell script.
    Powershell,
    /// An explanation for people.
    Text,
}

/// `--protocol`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ProtocolArg {
    /// WS-Federation (`wsFed`).
    #[value(name = "wsfed", alias = "wsFed")]
    WsFed,
    /// SAML 2.0 (`saml`).
    Saml,
}

/// `--prompt-login-behavior`, spelled as Graph spells the values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PromptLoginArg {
    /// Entra's default: `prompt=login` becomes `wfresh=0` plus a password `wauth`.
    #[value(name = "translateToFreshPasswordAuthentication")]
    Translate,
    /// `prompt=login` is passed on.
    #[value(name = "nativeSupport")]
    Native,
    /// Only `wfresh=0`.
    #[value(name = "disabled")]
    Disabled,
}

/// Runs `altgate m365 ...`.
pub fn run(path: &Path, action: M365Action) -> Result<ExitCode, ExitCode> {
    let M365Action::FederationSettings(args) = action;
    let config = super::load(path)?;
    super::init_tracing(config.logging.format, super::ONE_OFF_LOG_FILTER);
    let rt = super::runtime()?;
    // The application loads (in demo mode, generates) the signing material exactly as `serve`
    // does, without contacting any directory.
    let app = rt.block_on(async move {
        App::new(config).map_err(|e| {
            eprintln!("altgate: {e}");
            ExitCode::from(super::EXIT_CONFIG)
        })
    })?;
    let signing = app.tokens.signing();
    let clock = system_clock();
    let input = Input {
        public_url: app.config.server.public_url.as_str(),
        federation: &app.config.federation,
        signing_cert: signing.map(|s| s.key.cert_der()),
        next_cert: signing.and_then(|s| s.next_cert_der.as_deref()),
        domains: &args.domains,
        protocol: match args.protocol {
            ProtocolArg::WsFed => PreferredProtocol::WsFed,
            ProtocolArg::Saml => PreferredProtocol::Saml,
        },
        prompt_login: match args.prompt_login_behavior {
            PromptLoginArg::Translate => PromptLogin::TranslateToFreshPasswordAuthentication,
            PromptLoginArg::Native => PromptLogin::NativeSupport,
            PromptLoginArg::Disabled => PromptLogin::Disabled,
        },
        clock: &clock,
        demo: app.config.demo_directory.is_some(),
    };
    let domains = match m365::generate(&input) {
        Ok(d) => d,
        Err(refusals) => {
            for r in &refusals {
                eprintln!("altgate: refused ({}): {r}", r.code());
            }
            eprintln!(
                "altgate: no federation settings printed: fix the {} problem(s) above",
                refusals.len()
            );
            return Err(ExitCode::FAILURE);
        }
    };
    match args.format {
        SettingsFormat::Json => match serde_json::to_string_pretty(&render::json(&domains)) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("altgate: cannot encode the settings: {e}");
                return Err(ExitCode::FAILURE);
            }
        },
        SettingsFormat::Powershell => print!("{}", render::powershell(&domains)),
        SettingsFormat::Text => print!("{}", render::text(&domains)),
    }
    Ok(ExitCode::SUCCESS)
}

//! Windows integrated sign-in: a Kerberos ticket (from `Authorization: Negotiate`) instead of
//! a password, for the same account a password sign-in would build, so the token carries the
//! same claims (the alternate ID as cloud UPN, ImmutableID, per-domain issuer, names).
//!
//! The steps: MIT's acceptor verifies the token ([`crate::kerberos`]); a farm-wide replay check
//! (the token's digest in the state store's replay cache, beside MIT's per-host replay cache);
//! the realm names a domain of a configured forest; the account is read fresh on a DC of that
//! domain (users and computers by `sAMAccountName`, enterprise principals by UPN) and refused
//! when disabled, locked out, expired or with an expired password (AD would refuse a password
//! for each, and the ticket predates the change); then, for a user, the login a password user
//! would type for the cloud identity (the alternate ID value, else the UPN, else
//! `NETBIOS\sam`) is resolved through the ordinary [`Resolver`] and must land on the same
//! object (an ambiguous or foreign match is refused like the password path refuses it). A
//! computer (`sam$`, primary group Domain Computers) gets the hybrid-join device facts instead.
//!
//! No password is involved: extranet lockout neither counts nor blocks a Kerberos sign-in, and
//! there is no timing to equalise (every answer comes from the ticket and the directory, never
//! from a guess).

use super::{Method, SignInContext, SignedIn};
use crate::clock::Clock;
use crate::directory::{AccountBlock, Directory, DomainInfo, WindowsAccount, WindowsLookup};
use crate::events::{Events, WindowsSignInFailed, WindowsSignInSucceeded};
use crate::kerberos::principal::{Client, Principal};
use crate::kerberos::{Acceptor, Refused, Rejection};
use crate::label::{kinds, label_set, Id};
use crate::resolve::{Outcome, Resolution, ResolvedAccount, Resolver, Via};
use crate::state::StateStore;
use base64::Engine;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a token's digest stays in the farm's replay cache: twice Kerberos's default clock
/// skew (an authenticator older than the skew is refused by MIT anyway).
pub const REPLAY_WINDOW: Duration = Duration::from_secs(600);

label_set! {
    /// Why a verified Kerberos principal was not signed in.
    pub enum AccountRefusal: kinds::WindowsFailure, also kinds::TokenFailure {
        /// The same token was already presented to a node of the farm (a replay MIT's per-host
        /// replay cache cannot see).
        FarmReplay = "farm_replay",
        /// The ticket's realm is not a domain of any configured forest (`kerberos.realms` maps
        /// realms whose name is not their forest's).
        UnknownRealm = "unknown_realm",
        /// No account with the ticket's name in the realm's domain.
        UnknownPrincipal = "unknown_principal",
        /// The account's cloud login (alternate ID, UPN or `DOMAIN\sam`) did not resolve back to
        /// it: ambiguous (MSIS8014/8015), unusable data (MSIS8012/8013) or another account.
        Unresolved = "unresolved",
        /// The account is disabled now.
        AccountDisabled = "account_disabled",
        /// The account is locked out by the domain now.
        LockedOut = "locked_out",
        /// The account has expired.
        AccountExpired = "account_expired",
        /// The user's password has expired or must be changed at next logon.
        PasswordExpired = "password_expired",
        /// A computer that is not a domain-joined workstation (primary group not Domain
        /// Computers), or a computer on a browser endpoint.
        NotADevice = "not_a_device",
        /// No domain controller of the account's domain answered.
        DirectoryUnavailable = "directory_unavailable",
    }
}

impl From<AccountBlock> for AccountRefusal {
    fn from(b: AccountBlock) -> Self {
        match b {
            AccountBlock::Disabled => AccountRefusal::AccountDisabled,
            AccountBlock::LockedOut => AccountRefusal::LockedOut,
            AccountBlock::Expired => AccountRefusal::AccountExpired,
            AccountBlock::PasswordExpired => AccountRefusal::PasswordExpired,
        }
    }
}

/// Why a Windows integrated sign-in failed. Never shown to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowsFailure {
    /// The token itself (NTLM, clock skew, wrong key...).
    Token(Refused),
    /// The account behind a good ticket.
    Account {
        /// Bounded reason.
        reason: AccountRefusal,
        /// The principal, as MIT printed it.
        principal: String,
        /// More detail for the log.
        detail: String,
    },
}

impl WindowsFailure {
    /// The bounded reason.
    pub fn reason(&self) -> Id<kinds::WindowsFailure> {
        match self {
            WindowsFailure::Token(r) => r.reason.into(),
            WindowsFailure::Account { reason, .. } => (*reason).into(),
        }
    }

    /// The reason as a token failure (`altgate_token_failures_total`).
    pub fn token_reason(&self) -> Id<kinds::TokenFailure> {
        match self {
            WindowsFailure::Token(r) => r.reason.into(),
            WindowsFailure::Account { reason, .. } => (*reason).into(),
        }
    }

    /// True when the token was NTLM or another mechanism (the client cannot do Kerberos here).
    pub fn not_kerberos(&self) -> bool {
        matches!(
            self,
            WindowsFailure::Token(Refused {
                reason: Rejection::NtlmOffered | Rejection::UnsupportedMechanism,
                ..
            })
        )
    }
}

/// Hybrid join facts of a domain-joined computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Base64 `objectGUID` (`onpremobjectguid`, and the ImmutableID).
    pub object_guid: String,
    /// `objectSid` (`primarysid`).
    pub object_sid: String,
    /// The verified domain whose issuer the token names (`issuerid`).
    pub issuer_domain: Option<String>,
}

/// A Windows integrated sign-in.
#[derive(Debug, Clone)]
pub struct WindowsSignedIn {
    /// The sign-in, as the token service takes it.
    pub signed_in: SignedIn,
    /// The acceptor's reply token (mutual authentication).
    pub reply: Option<Vec<u8>>,
}

/// Settings of the Windows sign-in that come from configuration.
#[derive(Debug, Clone, Default)]
pub struct WindowsSettings {
    /// Explicit realm → forest mappings.
    pub realms: BTreeMap<String, String>,
    /// Every configured forest.
    pub forests: Vec<String>,
    /// The alternate login ID attribute, when configured.
    pub alternate_attribute: Option<String>,
    /// `issuerid` domain for computers.
    pub device_issuer_domain: Option<String>,
}

/// The Windows integrated sign-in service.
#[derive(Clone)]
pub struct WindowsSignIn {
    acceptor: Acceptor,
    resolver: Arc<Resolver>,
    directory: Arc<dyn Directory>,
    state: Arc<dyn StateStore>,
    events: Events,
    clock: Clock,
    settings: Arc<WindowsSettings>,
}

impl WindowsSignIn {
    /// A service accepting with `acceptor` and reading accounts through `resolver` and
    /// `directory`; `state` holds the farm's replay cache.
    pub fn new(
        acceptor: Acceptor,
        resolver: Arc<Resolver>,
        directory: Arc<dyn Directory>,
        state: Arc<dyn StateStore>,
        events: Events,
        clock: Clock,
        settings: WindowsSettings,
    ) -> Self {
        WindowsSignIn {
            acceptor,
            resolver,
            directory,
            state,
            events,
            clock,
            settings: Arc::new(settings),
        }
    }

    /// Signs in the holder of `token` (a decoded Negotiate token). Computers are accepted only
    /// when `devices` (WS-Trust windowstransport). Audits and counts the outcome.
    pub async fn sign_in(
        &self,
        token: Vec<u8>,
        devices: bool,
        ctx: &SignInContext<'_>,
    ) -> Result<WindowsSignedIn, WindowsFailure> {
        let result = self.verify(token, devices).await;
        match &result {
            Ok(w) => {
                let account = w.signed_in.resolution.account.as_ref();
                self.events.emit(&WindowsSignInSucceeded {
                    login: &w.signed_in.login,
                    account: account.map_or("", |a| a.distinguished_name.as_str()),
                    forest: account.map_or("", |a| a.forest.as_str()),
                    device: w.signed_in.device.is_some(),
                    client_ip: ctx.client_ip(),
                    relying_party: ctx.relying_party,
                    protocol: ctx.protocol.into(),
                });
            }
            Err(f) => {
                let (principal, detail) = match f {
                    WindowsFailure::Token(r) => ("", r.detail.as_str()),
                    WindowsFailure::Account {
                        principal, detail, ..
                    } => (principal.as_str(), detail.as_str()),
                };
                self.events.emit(&WindowsSignInFailed {
                    principal: crate::events::clip(principal, 256),
                    reason: f.reason(),
                    client_ip: ctx.client_ip(),
                    relying_party: ctx.relying_party,
                    protocol: ctx.protocol.into(),
                    detail: Some(crate::events::clip(detail, 512)).filter(|d| !d.is_empty()),
                });
            }
        }
        result
    }

    async fn verify(
        &self,
        token: Vec<u8>,
        devices: bool,
    ) -> Result<WindowsSignedIn, WindowsFailure> {
        let digest = ring::digest::digest(&ring::digest::SHA256, &token);
        let accepted = self
            .acceptor
            .accept(token)
            .await
            .map_err(WindowsFailure::Token)?;
        let principal = accepted.principal;
        let refuse = |reason: AccountRefusal, detail: String| WindowsFailure::Account {
            reason,
            principal: principal.display(),
            detail,
        };
        let id = format!(
            "krb:{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
        );
        match self.state.first_use(&id, REPLAY_WINDOW).await {
            Ok(true) => {}
            Ok(false) => return Err(refuse(AccountRefusal::FarmReplay, String::new())),
            // MIT's replay cache still guards this node; the store's outage is its own event.
            Err(e) => {
                tracing::warn!(target: "altgate::ops", code = e.code(), "state store unavailable: Kerberos replay checked on this node only")
            }
        }
        let (forest, domain) = self
            .domain_of(&principal.realm)
            .await
            .map_err(|(r, d)| refuse(r, d))?;
        let lookup = match &principal.client {
            Client::User(sam) | Client::Computer(sam) => WindowsLookup::SamAccountName(sam),
            Client::Enterprise(upn) => WindowsLookup::Upn(upn),
        };
        let read = self
            .directory
            .windows_account(
                &forest,
                &domain,
                lookup,
                self.settings.alternate_attribute.as_deref(),
            )
            .await;
        let account = match read {
            Ok(Some(a)) => a,
            Ok(None) => {
                return Err(refuse(
                    AccountRefusal::UnknownPrincipal,
                    format!("no account {} in {}", principal.name(), domain.dns_name),
                ))
            }
            Err(e) => return Err(refuse(AccountRefusal::DirectoryUnavailable, e.to_string())),
        };
        if let Some(block) = account.block((self.clock)()) {
            return Err(refuse(block.into(), account.dn.clone()));
        }
        let signed_in = if account.computer {
            if !devices || !account.domain_joined_computer() {
                return Err(refuse(AccountRefusal::NotADevice, account.dn.clone()));
            }
            self.device(&forest, &domain, &account).ok_or_else(|| {
                refuse(
                    AccountRefusal::NotADevice,
                    "no objectGUID or objectSid readable".into(),
                )
            })?
        } else {
            self.user(&principal, &domain, &account)
                .await
                .map_err(|d| refuse(AccountRefusal::Unresolved, d))?
        };
        Ok(WindowsSignedIn {
            signed_in,
            reply: accepted.reply,
        })
    }

    /// The forest and domain a realm names: `kerberos.realms`, else the forest the realm's DNS
    /// name is (or is a child domain of).
    async fn domain_of(
        &self,
        realm: &str,
    ) -> Result<(String, DomainInfo), (AccountRefusal, String)> {
        let dns = realm.to_ascii_lowercase();
        let mut candidates: Vec<&String> = match self.settings.realms.get(realm) {
            Some(f) => vec![f],
            None => self
                .settings
                .forests
                .iter()
                .filter(|f| dns == **f || dns.ends_with(&format!(".{f}")))
                .collect(),
        };
        candidates.sort_by_key(|f| std::cmp::Reverse(f.len()));
        let mut unreachable = None;
        for forest in candidates {
            match self.directory.domains(forest).await {
                Ok(list) => {
                    if let Some(d) = list.iter().find(|d| d.dns_name.eq_ignore_ascii_case(&dns)) {
                        return Ok((forest.clone(), d.clone()));
                    }
                }
                Err(e) => unreachable = Some(e.to_string()),
            }
        }
        Err(match unreachable {
            Some(e) => (AccountRefusal::DirectoryUnavailable, e),
            None => (
                AccountRefusal::UnknownRealm,
                format!("realm {realm} is no domain of a configured forest"),
            ),
        })
    }

    /// A user: the cloud login resolved through the ordinary rules, landing on the same object.
    async fn user(
        &self,
        principal: &Principal,
        domain: &DomainInfo,
        account: &WindowsAccount,
    ) -> Result<SignedIn, String> {
        let mut candidates: Vec<String> = Vec::new();
        if self.settings.alternate_attribute.is_some() {
            candidates.extend(account.alternate_id.clone());
        }
        candidates.extend(account.user_principal_name.clone());
        candidates.push(format!(
            "{}\\{}",
            domain.netbios_name, account.sam_account_name
        ));
        let mut tried = Vec::new();
        for login in candidates {
            let resolution = self.resolver.resolve(&login).await;
            match (&resolution.outcome, resolution.account.as_ref()) {
                (Outcome::Resolved, Some(a))
                    if a.distinguished_name.eq_ignore_ascii_case(&account.dn) =>
                {
                    return Ok(SignedIn {
                        login: login.clone(),
                        resolution,
                        auth_instant: (self.clock)(),
                        password_expires_at: None,
                        method: Method::Windows,
                        device: None,
                    });
                }
                // Nobody has this spelling (an alternate ID outside the lookup forests): the
                // next one.
                (Outcome::NotFound, _) => tried.push(format!("{login}: not found")),
                (Outcome::Resolved, Some(a)) => {
                    return Err(format!(
                        "{login} resolves to {}, not to {} (the ticket's {})",
                        a.distinguished_name,
                        account.dn,
                        principal.display()
                    ))
                }
                (_, _) => {
                    let code = resolution
                        .failure
                        .as_ref()
                        .map_or("error", |f| f.code.as_str());
                    return Err(format!("{login}: {code}"));
                }
            }
        }
        Err(tried.join("; "))
    }

    /// A domain-joined computer: its own account, ImmutableID from `objectGUID`.
    fn device(&self, forest: &str, domain: &DomainInfo, a: &WindowsAccount) -> Option<SignedIn> {
        let b64 = base64::engine::general_purpose::STANDARD;
        let guid = b64.encode(a.object_guid.as_ref().filter(|g| g.len() == 16)?);
        let sid = a.object_sid.clone()?;
        let account = ResolvedAccount {
            forest: forest.to_string(),
            domain: domain.dns_name.clone(),
            netbios_domain: Some(domain.netbios_name.clone()),
            user_principal_name: None,
            sam_account_name: a.sam_account_name.clone(),
            distinguished_name: a.dn.clone(),
            immutable_id: Some(guid.clone()),
            display_name: None,
            given_name: None,
            surname: None,
            enabled: true,
        };
        let login = format!("{}\\{}", domain.netbios_name, a.sam_account_name);
        Some(SignedIn {
            resolution: Arc::new(Resolution::resolved(
                login.clone(),
                Via::SamAccountName,
                account,
            )),
            login,
            auth_instant: (self.clock)(),
            password_expires_at: None,
            method: Method::Windows,
            device: Some(Device {
                object_guid: guid,
                object_sid: sid,
                issuer_domain: self.settings.device_issuer_domain.clone(),
            }),
        })
    }
}

#[cfg(test)]
mod tests;

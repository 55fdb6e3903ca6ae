//! The directory: where accounts are looked up. One trait, [`Directory`], with two
//! implementations: [`ldap::LdapDirectory`] (pooled LDAPS connections to each forest's global
//! catalogs) and [`embedded::EmbeddedDirectory`] (the in-memory demo directory, also used by
//! unit tests). The resolver only ever sees the trait, and names an account to it with an
//! [`AccountRef`] (forest, domain, DN). An account's live state (enabled, password last set) is
//! [`AccountState`], read fresh from a domain controller; where each attribute lives (global
//! catalog or domain controller) is [`partial_attribute_set`]; password expiry is
//! [`password_expiry`].

mod account_state;
pub mod embedded;
pub mod filter;
pub mod ldap;
pub mod partial_attribute_set;
mod password_change;
pub mod password_expiry;
pub mod windows_account;

use crate::label::{kinds, label_set};
pub use account_state::{
    datetime_to_filetime, filetime_to_datetime, AccountState, STATE_ATTRIBUTES,
};
use async_trait::async_trait;
pub use partial_attribute_set::{DomainAttributes, DOMAIN_ATTRIBUTES};
pub use password_change::{unicode_pwd, PasswordChangeError};
pub use password_expiry::{PasswordExpiry, PASSWORD_EXPIRY_ATTRIBUTES, UAC_DONT_EXPIRE_PASSWD};
use std::sync::Arc;
pub use windows_account::{AccountBlock, WindowsAccount, WindowsLookup};

/// Attributes read for every candidate account from the global catalog. Each is in the
/// partial attribute set of Windows AD except `canonicalName`, which is constructed (schema: "In
/// Global Catalog: False"): it is asked for, but the account's domain comes from the DN, and
/// only a `canonicalName` that did come back is checked (MSIS8013). `mS-DS-ConsistencyGuid` is
/// not in the partial attribute set and is never read here: see [`DOMAIN_ATTRIBUTES`] and the
/// table in [`partial_attribute_set`].
pub const ACCOUNT_ATTRIBUTES: &[&str] = &[
    "sAMAccountName",
    "userPrincipalName",
    "canonicalName",
    "objectGUID",
    "userAccountControl",
    "displayName",
    "givenName",
    "sn",
    "mail",
];

/// `userAccountControl` bit: the account is disabled.
pub const UAC_ACCOUNTDISABLE: u32 = 0x2;

/// An account search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserQuery {
    /// User objects whose `attribute` equals `value` (case-insensitively, as AD compares).
    AttributeEquals {
        /// LDAP attribute name (validated by the configuration).
        attribute: String,
        /// The value as typed; escaped by whoever builds a filter from it.
        value: String,
    },
    /// The user with this `sAMAccountName` in the domain rooted at `domain_dn`.
    SamAccountName {
        /// Distinguished name of the domain (`DC=contoso,DC=com`).
        domain_dn: String,
        /// The account name.
        sam: String,
    },
}

impl UserQuery {
    /// The query's kind (its metric label).
    pub fn kind(&self) -> Query {
        match self {
            UserQuery::AttributeEquals { attribute, .. }
                if attribute.eq_ignore_ascii_case("userPrincipalName") =>
            {
                Query::Upn
            }
            UserQuery::AttributeEquals { .. } => Query::AlternateLoginId,
            UserQuery::SamAccountName { .. } => Query::SamAccountName,
        }
    }
}

label_set! {
    /// Which directory read a search was (the `query` label).
    pub enum Query: kinds::DirectoryQuery {
        /// Global catalog search by the alternate login ID attribute.
        AlternateLoginId = "alternate_login_id",
        /// Global catalog search by `userPrincipalName`.
        Upn = "upn",
        /// Search by `sAMAccountName` in the named domain (`DOMAIN\\sam`).
        SamAccountName = "sam_account_name",
        /// The SSO session's fresh read of its account on a DC of the account's domain.
        AccountState = "account_state",
        /// The resolution's read of the non-GC attributes (`mS-DS-ConsistencyGuid`) on a DC of
        /// the account's domain, once per cache miss.
        DomainAttributes = "domain_attributes",
        /// The password sign-in's read of the password's expiry on that DC.
        PasswordExpiry = "password_expiry",
        /// Windows integrated sign-in's fresh read, on a DC of the ticket's domain, of the
        /// account its Kerberos ticket names.
        WindowsAccount = "windows_account",
    }
}

label_set! {
    /// How a directory search ended (the `result` label of searches).
    pub enum SearchResult: kinds::SearchResult {
        /// Answered.
        Ok = "ok",
        /// No user at the DN (account-state reads only).
        NotFound = "not_found",
        /// The forest is not configured.
        UnknownForest = "unknown_forest",
        /// No server of the forest answered.
        Unreachable = "unreachable",
        /// A server answered with an LDAP error.
        SearchFailed = "search_failed",
        /// No domain controller is known for the account's domain.
        NoDomainController = "no_domain_controller",
        /// No domain controller of the account's domain answered.
        DomainUnreachable = "domain_unreachable",
        /// Refused before any traffic: an empty password.
        EmptyPassword = "empty_password",
        /// The domain controller's bind slots stayed busy.
        BindQueueFull = "bind_queue_full",
    }
}

impl SearchResult {
    /// The result of a search that failed with `e`.
    pub fn of(e: &DirectoryError) -> Self {
        match e {
            DirectoryError::UnknownForest { .. } => SearchResult::UnknownForest,
            DirectoryError::Unreachable { .. } => SearchResult::Unreachable,
            DirectoryError::SearchFailed { .. } => SearchResult::SearchFailed,
            DirectoryError::NoDomainController { .. } => SearchResult::NoDomainController,
            DirectoryError::DomainUnreachable { .. } => SearchResult::DomainUnreachable,
            DirectoryError::EmptyPassword => SearchResult::EmptyPassword,
            DirectoryError::BindQueueFull { .. } => SearchResult::BindQueueFull,
        }
    }
}

label_set! {
    /// How a password bind ended: AD's answer, or why there was none (the `result` label of
    /// binds).
    pub enum BindResult: kinds::BindResult {
        /// AD accepted the password.
        Ok = "ok",
        /// 52e: wrong password (also what AD answers for an unknown user).
        WrongPassword = "wrong_password",
        /// 525: no such user.
        NoSuchUser = "no_such_user",
        /// 530: outside logon hours.
        LogonHours = "logon_hours",
        /// 531: not allowed from this workstation.
        Workstation = "workstation",
        /// 532: password expired.
        PasswordExpired = "password_expired",
        /// 533: account disabled.
        AccountDisabled = "account_disabled",
        /// 701: account expired.
        AccountExpired = "account_expired",
        /// 773: the user must change the password.
        MustChangePassword = "must_change_password",
        /// 775: account locked out.
        LockedOut = "locked_out",
        /// 49 without a known sub-code.
        InvalidCredentials = "invalid_credentials",
        /// No domain controller answered.
        Unavailable = "unavailable",
        /// The DC's bind slots stayed busy (`directory.bind_queue_timeout`).
        BindQueueFull = "bind_queue_full",
        /// The forest is not configured.
        UnknownForest = "unknown_forest",
        /// No domain controller is known for the account's domain.
        NoDomainController = "no_domain_controller",
        /// No domain controller of the account's domain answered.
        DomainUnreachable = "domain_unreachable",
        /// Refused before any traffic: an empty password.
        EmptyPassword = "empty_password",
        /// A domain controller answered an unexpected LDAP error.
        SearchFailed = "search_failed",
    }
}

impl BindResult {
    /// The metric result of a bind's outcome.
    pub fn of(result: &Result<Result<(), BindRejection>, DirectoryError>) -> Self {
        match result {
            Ok(Ok(())) => BindResult::Ok,
            Ok(Err(r)) => match r {
                BindRejection::WrongPassword => BindResult::WrongPassword,
                BindRejection::NoSuchUser => BindResult::NoSuchUser,
                BindRejection::LogonHours => BindResult::LogonHours,
                BindRejection::Workstation => BindResult::Workstation,
                BindRejection::PasswordExpired => BindResult::PasswordExpired,
                BindRejection::Disabled => BindResult::AccountDisabled,
                BindRejection::AccountExpired => BindResult::AccountExpired,
                BindRejection::MustChangePassword => BindResult::MustChangePassword,
                BindRejection::LockedOut => BindResult::LockedOut,
                BindRejection::InvalidCredentials => BindResult::InvalidCredentials,
            },
            Err(DirectoryError::Unreachable { .. }) => BindResult::Unavailable,
            Err(DirectoryError::BindQueueFull { .. }) => BindResult::BindQueueFull,
            Err(DirectoryError::UnknownForest { .. }) => BindResult::UnknownForest,
            Err(DirectoryError::NoDomainController { .. }) => BindResult::NoDomainController,
            Err(DirectoryError::DomainUnreachable { .. }) => BindResult::DomainUnreachable,
            Err(DirectoryError::EmptyPassword) => BindResult::EmptyPassword,
            Err(DirectoryError::SearchFailed { .. }) => BindResult::SearchFailed,
        }
    }
}

label_set! {
    /// How an LDAP connection attempt (TLS and service bind) ended.
    pub enum ConnectResult: kinds::ConnectResult {
        /// Connected; beyond the pool size, a reconnect.
        Ok = "ok",
        /// Failed.
        Error = "error",
    }
}

/// One user object as the global catalog returned it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryEntry {
    /// Distinguished name.
    pub dn: String,
    /// `sAMAccountName`.
    pub sam_account_name: Option<String>,
    /// `userPrincipalName`.
    pub user_principal_name: Option<String>,
    /// `canonicalName` (`contoso.com/Users/John Doe`).
    pub canonical_name: Option<String>,
    /// Raw 16 bytes of `objectGUID`.
    pub object_guid: Option<Vec<u8>>,
    /// Raw bytes of `mS-DS-ConsistencyGuid`.
    pub consistency_guid: Option<Vec<u8>>,
    /// `userAccountControl`.
    pub user_account_control: Option<u32>,
    /// `displayName`.
    pub display_name: Option<String>,
    /// `givenName`.
    pub given_name: Option<String>,
    /// `sn`.
    pub surname: Option<String>,
    /// `mail`.
    pub mail: Option<String>,
}

/// Account attributes a directory scan reads: what sign-in's resolution and the audit's checks
/// use ([`ACCOUNT_ATTRIBUTES`] without the GUIDs and `sn`, which only tokens need).
pub const SCAN_ATTRIBUTES: &[&str] = &[
    "sAMAccountName",
    "userPrincipalName",
    "canonicalName",
    "userAccountControl",
    "displayName",
    "givenName",
    "mail",
];

/// One user object read by a directory scan (`altgate audit`): the account attributes, and
/// every value of each further attribute the scan asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScannedUser {
    /// The account attributes of [`SCAN_ATTRIBUTES`] (only `dn` is set by
    /// [`Directory::scan_domain`]).
    pub entry: DirectoryEntry,
    /// Every value of each further attribute, in the order asked (empty when the object has
    /// none).
    pub values: Vec<Vec<String>>,
}

impl ScannedUser {
    /// Every value of the `i`th attribute asked for (empty when the object has none).
    pub fn values(&self, i: usize) -> &[String] {
        self.values.get(i).map_or(&[], Vec::as_slice)
    }
}

/// Told the number of objects a scan has read so far (cumulative for this scan; it may start
/// over from zero when the scan fails over to another server).
pub type ScanProgress<'a> = &'a (dyn Fn(u64) + Send + Sync);

/// Objects per page of a directory scan (Active Directory's default `MaxPageSize`).
pub const SCAN_PAGE_SIZE: i32 = 1000;

/// A domain of a forest, from the forest's partitions container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInfo {
    /// DNS name, lower case.
    pub dns_name: String,
    /// NetBIOS name, upper case.
    pub netbios_name: String,
    /// Distinguished name of the domain naming context.
    pub dn: String,
}

/// A domain's own account lockout policy, as its domain head object (`DC=contoso,DC=com`) holds
/// it. Extranet lockout must lock before AD does, so its thresholds are compared with this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainLockoutPolicy {
    /// `lockoutThreshold`: bad passwords before AD locks the account; 0 means AD never locks.
    pub threshold: u32,
    /// `lockOutObservationWindow`: how long after the last bad password AD resets
    /// `badPwdCount` ("Reset account lockout counter after").
    pub observation_window: std::time::Duration,
    /// `lockoutDuration`; `None` when an administrator must unlock the account.
    pub lockout_duration: Option<std::time::Duration>,
}

impl DomainLockoutPolicy {
    /// Reads the three attributes as LDAP returns them: `lockoutThreshold` an integer, the two
    /// durations negative counts of 100 ns (`-18000000000` is 30 minutes; the most negative
    /// value is "forever"). `None` when the threshold is missing or malformed; a missing or
    /// malformed duration reads as zero (window) or forever (duration).
    pub fn from_attributes(
        threshold: Option<&str>,
        observation_window: Option<&str>,
        lockout_duration: Option<&str>,
    ) -> Option<Self> {
        let threshold = threshold?.trim().parse::<u32>().ok()?;
        let interval = |v: Option<&str>| -> Option<std::time::Duration> {
            let ticks = v?.trim().parse::<i64>().ok()?;
            (ticks != i64::MIN)
                .then(|| std::time::Duration::from_nanos(ticks.unsigned_abs().saturating_mul(100)))
        };
        Some(DomainLockoutPolicy {
            threshold,
            observation_window: interval(observation_window).unwrap_or_default(),
            lockout_duration: interval(lockout_duration),
        })
    }
}

/// A directory operation failed. Wrong passwords are not errors of this layer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DirectoryError {
    /// The forest is not configured.
    #[error("forest {forest} is not configured")]
    UnknownForest {
        /// The forest.
        forest: String,
    },
    /// No server of the forest could be reached (connect, TLS, service bind or timeout).
    #[error("no global catalog of forest {forest} answered: {reason}")]
    Unreachable {
        /// The forest.
        forest: String,
        /// The last server's failure.
        reason: String,
    },
    /// A server answered the search with an error result.
    #[error("forest {forest} refused the search: {reason}")]
    SearchFailed {
        /// The forest.
        forest: String,
        /// The LDAP result.
        reason: String,
    },
    /// No domain controller is configured for the account's domain.
    #[error("no domain controller configured for domain {domain} of forest {forest}")]
    NoDomainController {
        /// The forest.
        forest: String,
        /// The domain.
        domain: String,
    },
    /// No domain controller of a domain could be read completely (a directory scan).
    #[error("no domain controller of domain {domain} (forest {forest}) answered: {reason}")]
    DomainUnreachable {
        /// The forest.
        forest: String,
        /// The domain.
        domain: String,
        /// The last server's failure.
        reason: String,
    },
    /// An empty password was about to be sent (refused: it would be an anonymous bind).
    #[error("empty password refused before any bind")]
    EmptyPassword,
    /// Every bind slot of the domain controller (`directory.max_concurrent_binds_per_dc`) stayed
    /// busy for `directory.bind_queue_timeout`: too much pressure on the directory. An
    /// infrastructure failure, never an answer about the password.
    #[error("password bind queue full on {server} (domain {domain} of forest {forest}): no slot freed up within {waited:?}")]
    BindQueueFull {
        /// The forest.
        forest: String,
        /// The domain.
        domain: String,
        /// The domain controller's URL.
        server: String,
        /// How long the bind waited.
        waited: std::time::Duration,
    },
}

impl DirectoryError {
    /// Stable code for logs and metrics: `unknown_forest`, `unreachable`, `search_failed`,
    /// `no_domain_controller`, `domain_unreachable`, `empty_password`, `bind_queue_full`.
    pub fn code(&self) -> &'static str {
        match self {
            DirectoryError::UnknownForest { .. } => "unknown_forest",
            DirectoryError::Unreachable { .. } => "unreachable",
            DirectoryError::SearchFailed { .. } => "search_failed",
            DirectoryError::NoDomainController { .. } => "no_domain_controller",
            DirectoryError::DomainUnreachable { .. } => "domain_unreachable",
            DirectoryError::EmptyPassword => "empty_password",
            DirectoryError::BindQueueFull { .. } => "bind_queue_full",
        }
    }
}

/// Why Active Directory refused a password bind (LDAP result 49 and the `data` sub-code).
/// An authentication outcome, not an infrastructure error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindRejection {
    /// 52e: wrong password (also what AD answers for an unknown user).
    WrongPassword,
    /// 525: no such user.
    NoSuchUser,
    /// 530: outside logon hours.
    LogonHours,
    /// 531: not allowed from this workstation.
    Workstation,
    /// 532: password expired.
    PasswordExpired,
    /// 533: account disabled.
    Disabled,
    /// 701: account expired.
    AccountExpired,
    /// 773: the user must change the password.
    MustChangePassword,
    /// 775: account locked out.
    LockedOut,
    /// 49 without a known sub-code.
    InvalidCredentials,
}

impl BindRejection {
    /// Reads AD's diagnostic message (`80090308: LdapErr: ..., data 52e, v1db1`).
    pub fn from_diagnostic(text: &str) -> Self {
        let code = text.split("data ").nth(1).map(|rest| {
            rest.split([',', ' ', '\0'])
                .next()
                .unwrap_or("")
                .to_ascii_lowercase()
        });
        match code.as_deref() {
            Some("52e") => BindRejection::WrongPassword,
            Some("525") => BindRejection::NoSuchUser,
            Some("530") => BindRejection::LogonHours,
            Some("531") => BindRejection::Workstation,
            Some("532") => BindRejection::PasswordExpired,
            Some("533") => BindRejection::Disabled,
            Some("701") => BindRejection::AccountExpired,
            Some("773") => BindRejection::MustChangePassword,
            Some("775") => BindRejection::LockedOut,
            _ => BindRejection::InvalidCredentials,
        }
    }

    /// Stable code: the bounded metric label (`altgate_binds_total{result}`) and audit reason.
    pub fn code(self) -> &'static str {
        match self {
            BindRejection::WrongPassword => "wrong_password",
            BindRejection::NoSuchUser => "no_such_user",
            BindRejection::LogonHours => "logon_hours",
            BindRejection::Workstation => "workstation",
            BindRejection::PasswordExpired => "password_expired",
            BindRejection::Disabled => "account_disabled",
            BindRejection::AccountExpired => "account_expired",
            BindRejection::MustChangePassword => "must_change_password",
            BindRejection::LockedOut => "locked_out",
            BindRejection::InvalidCredentials => "invalid_credentials",
        }
    }
}

/// One account of the directory, as every operation on it names it: its forest, the DNS name of
/// its domain (whose domain controllers are asked), and its distinguished name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountRef<'a> {
    /// The forest, as configured.
    pub forest: &'a str,
    /// DNS name of the account's domain (compared case-insensitively).
    pub domain: &'a str,
    /// Distinguished name of the user object.
    pub dn: &'a str,
}

impl<'a> AccountRef<'a> {
    /// The account at `dn` in `domain` of `forest`.
    pub fn new(forest: &'a str, domain: &'a str, dn: &'a str) -> Self {
        AccountRef { forest, domain, dn }
    }
}

/// What a directory server is to altgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerRole {
    /// A global catalog of the forest (account searches).
    GlobalCatalog,
    /// A domain controller of `domain` (password binds, account-state reads).
    DomainController {
        /// The domain's DNS name.
        domain: String,
    },
}

/// One directory server's health as last seen, by a sign-in's operation or by the background
/// check ([`Directory::check_servers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHealth {
    /// Its forest.
    pub forest: String,
    /// Global catalog or domain controller.
    pub role: ServerRole,
    /// Its URL.
    pub url: String,
    /// False after a failure, until it answers again.
    pub up: bool,
}

/// Account lookups against one or more forests.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Searches `forest`'s global catalog for user objects matching `query`.
    async fn search_users(
        &self,
        forest: &str,
        query: &UserQuery,
    ) -> Result<Vec<DirectoryEntry>, DirectoryError>;

    /// The domains of `forest` with their NetBIOS names.
    async fn domains(&self, forest: &str) -> Result<Arc<Vec<DomainInfo>>, DirectoryError>;

    /// Verifies a password with a simple bind as the account's DN on a domain controller of its
    /// domain. `Ok(Err(_))` is AD's refusal (result 49); `Err(_)` means no DC could answer (or
    /// the DC's bind slots stayed busy: [`DirectoryError::BindQueueFull`]). Never called with an
    /// empty password (that would be an unauthenticated bind, which succeeds).
    async fn bind(
        &self,
        account: AccountRef<'_>,
        password: &str,
    ) -> Result<Result<(), BindRejection>, DirectoryError>;

    /// The current state of the account: a base-scope read of its DN, never cached, so that
    /// every node sees a disable or a password reset at its next check. `Ok(None)` when no user
    /// object is at the DN any more (deleted, moved or renamed).
    ///
    /// Active Directory answers it from a domain controller of the account's domain (the
    /// configured `domain_controllers`, in failover order, bound as the service account), not
    /// from a global catalog: `pwdLastSet` is not in the global catalog's partial attribute set.
    /// A DC knows a change made on another DC of the domain once it has replicated there
    /// (seconds within a site; the PDC emulator learns password changes first).
    async fn account_state(
        &self,
        account: AccountRef<'_>,
    ) -> Result<Option<AccountState>, DirectoryError>;

    /// The account a Kerberos ticket names, read fresh (never cached) on a domain controller of
    /// `domain` in `forest`: a subtree search under the domain's DN by `lookup`, with the value
    /// of `alternate_attribute` when given. `Ok(None)`: no such account in that domain. More
    /// than one match is an error (never a guess). Directories that cannot say keep this
    /// default, which reports the domain unreachable.
    async fn windows_account(
        &self,
        forest: &str,
        domain: &DomainInfo,
        lookup: WindowsLookup<'_>,
        alternate_attribute: Option<&str>,
    ) -> Result<Option<WindowsAccount>, DirectoryError> {
        let _ = (lookup, alternate_attribute);
        Err(DirectoryError::NoDomainController {
            forest: forest.to_string(),
            domain: domain.dns_name.clone(),
        })
    }

    /// Changes the account's password from `old` to `new`: an AD *password change* (one modify
    /// deleting the old `unicodePwd` and adding the new one) on a domain controller of its
    /// domain, over the service account's connection, so it works for an expired or
    /// must-change password that cannot bind. AD checks `old` itself (a wrong one counts as a
    /// bad password). Directories that cannot change passwords keep this default, which answers
    /// [`PasswordChangeError::Unavailable`].
    async fn change_password(
        &self,
        account: AccountRef<'_>,
        old: &crate::secret::Secret,
        new: &crate::secret::Secret,
    ) -> Result<(), PasswordChangeError> {
        let _ = (old, new);
        Err(PasswordChangeError::Unavailable(format!(
            "domain {} of this directory cannot change passwords",
            account.domain
        )))
    }

    /// `domain`'s own lockout policy, read from its domain head object on one of its domain
    /// controllers (the global catalog does not carry it). `Ok(None)` when this directory has
    /// no such policy (the demo directory) or no domain controller is configured for `domain`.
    async fn lockout_policy(
        &self,
        _forest: &str,
        _domain: &str,
    ) -> Result<Option<DomainLockoutPolicy>, DirectoryError> {
        Ok(None)
    }

    /// The account attributes outside the global catalog's partial attribute set
    /// ([`DOMAIN_ATTRIBUTES`]), read with one base-object read of the account's DN on a domain
    /// controller of its domain (the configured `domain_controllers`, in failover order, as the
    /// service account). The resolver merges them into the account before it is cached, and
    /// never trusts a global catalog's answer (or silence) about them.
    ///
    /// `Ok(None)`: this directory's searches already return them (the demo directory, the
    /// audit's snapshot): the search answer stands. A directory with a partial attribute set
    /// answers `Ok(Some(_))` or an error (no user object at the DN on the DC is an error too:
    /// the object has not replicated there yet, or was moved).
    async fn domain_attributes(
        &self,
        _account: AccountRef<'_>,
    ) -> Result<Option<DomainAttributes>, DirectoryError> {
        Ok(None)
    }

    /// When the account's password expires, read fresh (never cached) with one base-object read
    /// on a domain controller of its domain: `msDS-UserPasswordExpiryTimeComputed`
    /// (constructed; not in the global catalog), else `pwdLastSet` + the domain's `maxPwdAge`.
    /// `Ok(None)` when this directory keeps no such time (the demo directory).
    async fn password_expiry(
        &self,
        _account: AccountRef<'_>,
    ) -> Result<Option<PasswordExpiry>, DirectoryError> {
        Ok(None)
    }

    /// Reads every user object of `forest` as sign-in searches see it: the global catalog
    /// under the forest's search base, in pages of [`SCAN_PAGE_SIZE`], with
    /// [`SCAN_ATTRIBUTES`] and every value of each attribute in `extra`. A forest that
    /// cannot be read completely is an error, never a shorter list. Directories that cannot
    /// scan (test doubles) keep this default, which refuses.
    async fn scan_users(
        &self,
        forest: &str,
        extra: &[&str],
        progress: ScanProgress<'_>,
    ) -> Result<Vec<ScannedUser>, DirectoryError> {
        let _ = (extra, progress);
        Err(DirectoryError::SearchFailed {
            forest: forest.to_string(),
            reason: "this directory cannot be scanned".into(),
        })
    }

    /// Reads `attributes` (all values) of every user object under `base` from a domain
    /// controller of `domain` (DNS name): the attributes outside the global catalog's partial
    /// attribute set, such as `proxyAddresses`. Only `entry.dn` and `attributes` are set.
    async fn scan_domain(
        &self,
        forest: &str,
        domain: &str,
        base: &str,
        attributes: &[&str],
        progress: ScanProgress<'_>,
    ) -> Result<Vec<ScannedUser>, DirectoryError> {
        let _ = (base, attributes, progress);
        Err(DirectoryError::SearchFailed {
            forest: forest.to_string(),
            reason: format!("domain {domain} of this directory cannot be scanned"),
        })
    }

    /// Every server's health as last seen. Directories without servers (the demo directory)
    /// keep this default: none.
    fn health(&self) -> Vec<ServerHealth> {
        Vec::new()
    }

    /// Checks every server now, whatever its backoff (a connect and an anonymous RootDSE read
    /// on each), marking each up or down as a failed operation would, so a dead server is
    /// skipped and a recovered one used again without a user paying for it. Directories
    /// without servers keep this default, which does nothing.
    async fn check_servers(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_lockout_policies_read_as_ad_writes_them() {
        let p = DomainLockoutPolicy::from_attributes(
            Some("10"),
            Some("-18000000000"),
            Some("-9223372036854775808"),
        )
        .expect("policy");
        assert_eq!(p.threshold, 10);
        assert_eq!(p.observation_window, std::time::Duration::from_secs(1800));
        assert_eq!(
            p.lockout_duration, None,
            "the most negative value is forever"
        );
        let p = DomainLockoutPolicy::from_attributes(Some("0"), Some("-600000000"), Some("0"))
            .expect("policy");
        assert_eq!(
            (p.threshold, p.observation_window, p.lockout_duration),
            (
                0,
                std::time::Duration::from_secs(60),
                Some(std::time::Duration::ZERO)
            )
        );
        assert_eq!(DomainLockoutPolicy::from_attributes(None, None, None), None);
        assert_eq!(
            DomainLockoutPolicy::from_attributes(Some("ten"), None, None),
            None
        );
        let p =
            DomainLockoutPolicy::from_attributes(Some(" 5 "), Some("junk"), None).expect("policy");
        assert_eq!(p.observation_window, std::time::Duration::ZERO);
        assert_eq!(p.lockout_duration, None);
    }

    #[test]
    fn ad_bind_diagnostics_map_to_reasons() {
        let text = |code: &str| {
            format!("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data {code}, v1db1\0")
        };
        let cases = [
            ("52e", BindRejection::WrongPassword, "wrong_password"),
            ("525", BindRejection::NoSuchUser, "no_such_user"),
            ("530", BindRejection::LogonHours, "logon_hours"),
            ("531", BindRejection::Workstation, "workstation"),
            ("532", BindRejection::PasswordExpired, "password_expired"),
            ("533", BindRejection::Disabled, "account_disabled"),
            ("701", BindRejection::AccountExpired, "account_expired"),
            (
                "773",
                BindRejection::MustChangePassword,
                "must_change_password",
            ),
            ("775", BindRejection::LockedOut, "locked_out"),
            ("52E", BindRejection::WrongPassword, "wrong_password"),
        ];
        for (code, rejection, reason) in cases {
            let r = BindRejection::from_diagnostic(&text(code));
            assert_eq!(r, rejection, "{code}");
            assert_eq!(r.code(), reason);
        }
        assert_eq!(
            BindRejection::from_diagnostic(""),
            BindRejection::InvalidCredentials
        );
        assert_eq!(
            BindRejection::from_diagnostic("Invalid credentials"),
            BindRejection::InvalidCredentials
        );
        assert_eq!(
            BindRejection::from_diagnostic("data zzz, v1"),
            BindRejection::InvalidCredentials
        );
    }
}

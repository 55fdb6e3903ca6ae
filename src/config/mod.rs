//! Configuration: the YAML file is read section by section into raw serde structures, then
//! validated into [`Config`]. Every problem found is reported at once, each with its key path
//! (`forests[1].service_account.password_env: ...`), the way `nginx -t` does.
//!
//! One recipe for every section. Its file owns the section's raw structure (as written), its
//! typed structure and its validation, an `impl Validator` method that takes its subtree out of
//! the `Document` and returns the typed value:
//!
//! - the raw structure has `#[serde(deny_unknown_fields)]` and every key is an
//!   `Option<`[`Checked`]`<T>>` (a nested structure or a list too), so it deserializes whatever
//!   is written: `Validator::take` reads it through `value::At`, which reports every unknown
//!   key with its path and skips it, and each key is typed only when the validation reads it;
//! - the validation reads each key with `Validator::checked` (any type), `Validator::list`
//!   (each item on its own), `Validator::required`, `Validator::duration`,
//!   `Validator::bounded_duration`, `Validator::bounded_count` or `Validator::word`: a key that
//!   is not a `T` is reported at its path (and deeper for a structure or list) and stands
//!   aside, so one wrong value never hides another; bounds and durations are checked here, in
//!   one place, with a message naming the bound;
//! - a secret is read with `Validator::secret` from its `<name>_env` or `<name>_file` key
//!   ([`crate::secret::SecretSource`]).
//!
//! Adding a section: a new file with its raw struct, typed struct and
//! `impl Validator { pub(super) fn name(&mut self, doc: &mut Document) -> Typed }` (which calls
//! `Validator::take` with the section's key), then a `mod` line and a [`Config`] field here,
//! and one call in `Validator::config`. A key nobody takes is reported as an unknown section,
//! so there is no list of section names to keep in step.
//!
//! Every duration and size has a documented upper bound (on its typed field), enforced here
//! with a message naming the key and the bound, and durations parse without panicking. The
//! bounds keep every sum of a configured duration with an instant or another duration far from
//! overflow, so code holding a validated [`Config`] may add them freely.
//!
//! Relative file paths are taken from the working directory altgate is started in.

pub mod branding;
mod directory;
pub mod edge;
mod error;
mod federation;
mod forests;
pub mod kerberos;
pub mod lockout;
mod logging;
pub mod oauth;
mod passive;
mod relying_party;
mod secret_source;
mod server;
mod sp_metadata;
pub mod state;
pub mod token_signing;
mod url;
mod value;
mod vocabulary;

pub use directory::{
    CacheConfig, DirectoryConfig, MAX_CACHE_ENTRIES, MAX_CONNECT_TIMEOUT, MAX_OPERATION_TIMEOUT,
    MAX_RETRY_BACKOFF, MAX_TTL,
};
pub use error::{ConfigError, ConfigIssue, ReloadResult};
pub use federation::{Federation, MAX_CLOCK_SKEW};
pub use forests::{
    is_ldap_attribute_name, AlternateLoginId, ForestConfig, LdapUrl, ServiceAccount,
};
pub use kerberos::{KerberosConfig, WindowsIntegrated};
pub use logging::{LogFormat, LoggingConfig};
pub use passive::{demo, PassiveConfig, MAX_SESSION};
pub use relying_party::{
    LogoutRequests, NameIdFormat, RelyingParty, SamlSigning, TokenType, MAX_TOKEN_LIFETIME,
};
pub use server::{ServerConfig, TlsFiles};
pub use token_signing::TokenSigning;
pub use url::PublicUrl;
pub use value::{parse_duration, Checked, CheckedList, HumanDuration};
pub use vocabulary::{
    ClaimKind, NameOrder, PASSWORD_CHANGE_URL, PASSWORD_EXPIRATION_DAYS, PASSWORD_EXPIRATION_TIME,
};

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listener settings.
    pub server: ServerConfig,
    /// Alternate login ID; `None` means sign-in by UPN or `DOMAIN\sam` only.
    pub alternate_login_id: Option<AlternateLoginId>,
    /// Every forest altgate knows, in file order.
    pub forests: Vec<ForestConfig>,
    /// Resolution cache.
    pub cache: CacheConfig,
    /// LDAP connection tuning.
    pub directory: DirectoryConfig,
    /// Demo mode: the embedded directory file that stands in for every forest.
    pub demo_directory: Option<PathBuf>,
    /// Log output.
    pub logging: LoggingConfig,
    /// Token-signing key; the token endpoints are off without it.
    pub token_signing: Option<TokenSigning>,
    /// Relying parties tokens may be issued to.
    pub relying_parties: Vec<RelyingParty>,
    /// Identity-provider settings.
    pub federation: Federation,
    /// Browser sign-in and SSO session.
    pub passive: PassiveConfig,
    /// The operators' listener (`/metrics`); absent: no admin listener.
    pub admin: Option<edge::AdminListener>,
    /// Extranet smart lockout.
    pub extranet_lockout: lockout::ExtranetLockoutConfig,
    /// Where state shared by a farm lives (lockout counters, replay cache, revoked sessions).
    pub state: state::StateConfig,
    /// The Kerberos service keys; absent: no Windows integrated sign-in.
    pub kerberos: Option<KerberosConfig>,
    /// Where Windows integrated sign-in is offered (off without `kerberos`).
    pub windows_integrated: WindowsIntegrated,
    /// OAuth 2.0 / OpenID Connect clients and resources; absent: no `/adfs/oauth2/` endpoints.
    pub oauth: Option<oauth::OAuthConfig>,
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.display().to_string(),
            issues: vec![ConfigIssue {
                path: "(file)".into(),
                message: format!("cannot read: {e}"),
            }],
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Validates configuration text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let mut v = Validator::default();
        let config = v.config(text);
        match config {
            Some(c) if v.issues.is_empty() => Ok(c),
            _ => Err(ConfigError {
                file: file.to_string(),
                issues: v.finish(),
            }),
        }
    }

    /// The forest named `name`.
    pub fn forest(&self, name: &str) -> Option<&ForestConfig> {
        self.forests.iter().find(|f| f.name == name)
    }
}

/// A second, for the bounds sections declare.
const SECOND: Duration = Duration::from_secs(1);
/// A minute.
const MINUTE: Duration = Duration::from_secs(60);
/// An hour.
const HOUR: Duration = Duration::from_secs(3600);
/// A day.
const DAY: Duration = Duration::from_secs(86_400);

/// When a problem was found; the report lists unknown sections first, then structural problems
/// (wrong types, unknown keys), then the rest, each group in the order found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// The top level: unknown or unnamed sections.
    Sections,
    /// A value of the wrong type or shape, an unknown key, a missing section.
    Structure,
    /// A value that deserialized but means nothing valid.
    Meaning,
}

/// Collects every problem while the sections are validated.
#[derive(Default)]
struct Validator {
    issues: Vec<(Stage, ConfigIssue)>,
}

/// The file's top-level mapping, handed out section by section ([`Validator::take`]); what no
/// section takes is an unknown section.
struct Document {
    /// Sections not taken yet, in file order.
    sections: Vec<(String, serde_yaml::Value)>,
    /// Every section name asked for, in the order asked.
    known: Vec<&'static str>,
}

impl Validator {
    /// Validates the whole file: every section once, dependencies first.
    fn config(&mut self, text: &str) -> Option<Config> {
        let mut doc = self.document(text)?;
        let demo_directory = self.demo_directory(&mut doc);
        let server = self.server(&mut doc);
        let forests = self.forests(&mut doc, demo_directory.is_some());
        let alternate_login_id = self.alternate_login_id(&mut doc, &forests);
        let cache = self.cache(&mut doc);
        let directory = self.directory(&mut doc);
        let logging = self.logging(&mut doc);
        let token_signing = self.token_signing(&mut doc);
        let mut relying_parties = self.relying_parties(&mut doc);
        let federation = self.federation(&mut doc, server.as_ref());
        let passive = self.passive(&mut doc, demo_directory.is_some());
        if let (true, Some(s)) = (passive.demo_relying_party, &server) {
            self.demo_relying_party(&mut relying_parties, &s.public_url);
        }
        let admin = self.admin(&mut doc);
        let extranet_lockout = self.extranet_lockout(&mut doc);
        let state = self.state(&mut doc);
        let forest_names: Vec<String> = forests.iter().map(|f| f.name.clone()).collect();
        let kerberos = self.kerberos(&mut doc, &forest_names);
        let windows_integrated = self.windows_integrated(&mut doc, kerberos.is_some());
        let oauth = self.oauth(&mut doc);
        let mut server = server;
        if let (Some(_), Some(s)) = (&kerberos, server.as_mut()) {
            if !s.limits.max_header_bytes_set {
                s.limits.max_header_bytes = edge::KERBEROS_HEADER_BYTES;
            }
        }
        self.unknown_sections(doc);
        Some(Config {
            server: server?,
            alternate_login_id,
            forests,
            cache,
            directory,
            demo_directory,
            logging,
            token_signing,
            relying_parties,
            federation,
            passive,
            admin,
            extranet_lockout,
            state,
            kerberos,
            windows_integrated,
            oauth,
        })
    }

    /// Records a problem with a value.
    fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Stage::Meaning, path, message);
    }

    fn push(&mut self, stage: Stage, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push((
            stage,
            ConfigIssue {
                path: path.into(),
                message: message.into(),
            },
        ));
    }

    /// Every problem, in report order.
    fn finish(mut self) -> Vec<ConfigIssue> {
        self.issues.sort_by_key(|(stage, _)| *stage);
        self.issues.into_iter().map(|(_, issue)| issue).collect()
    }

    /// Reads the top-level mapping.
    fn document(&mut self, text: &str) -> Option<Document> {
        let doc: serde_yaml::Value = match serde_yaml::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.push(Stage::Sections, "(file)", format!("not valid YAML: {e}"));
                return None;
            }
        };
        let serde_yaml::Value::Mapping(map) = doc else {
            self.push(
                Stage::Sections,
                "(file)",
                "the top level must be a mapping of sections",
            );
            return None;
        };
        let mut sections = Vec::new();
        for (k, val) in map {
            match k {
                serde_yaml::Value::String(key) => sections.push((key, val)),
                _ => self.push(Stage::Sections, "(file)", "section names must be strings"),
            }
        }
        Some(Document {
            sections,
            known: Vec::new(),
        })
    }

    /// Takes section `key` out of the document: `None` when it is absent or empty.
    fn take_value(&mut self, doc: &mut Document, key: &'static str) -> Option<serde_yaml::Value> {
        doc.known.push(key);
        let at = doc.sections.iter().position(|(k, _)| k == key)?;
        Some(doc.sections.remove(at).1).filter(|v| !v.is_null())
    }

    /// Takes section `key` and types it (its raw structure, whose keys are [`Checked`]).
    fn take<T: DeserializeOwned>(&mut self, doc: &mut Document, key: &'static str) -> Option<T> {
        let value = self.take_value(doc, key)?;
        self.typed(key, value)
    }

    /// Takes a section that is a list (`forests`, `relying_parties`): each entry typed on its
    /// own (`None` where it is not one), or `None` when the section is absent.
    fn take_list<T: DeserializeOwned>(
        &mut self,
        doc: &mut Document,
        key: &'static str,
        what: &str,
    ) -> Option<Vec<Option<T>>> {
        match self.take_value(doc, key)? {
            serde_yaml::Value::Sequence(items) => Some(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| self.typed(&format!("{key}[{i}]"), item))
                    .collect(),
            ),
            _ => {
                self.push(Stage::Structure, key, format!("must be a list of {what}"));
                Some(Vec::new())
            }
        }
    }

    /// Records a section that must be present but is not.
    fn missing(&mut self, key: &str, message: &str) {
        self.push(Stage::Structure, key, message);
    }

    /// Types the subtree at `path`, recording every problem in it with its own path (unknown
    /// keys, wrong types: see [`value::At`]); `None` when it is not a `T`.
    fn typed<T: DeserializeOwned>(&mut self, path: &str, value: serde_yaml::Value) -> Option<T> {
        let (typed, issues) = value::typed(path, value);
        self.issues
            .extend(issues.into_iter().map(|issue| (Stage::Structure, issue)));
        typed
    }

    /// Reports every section no validation took.
    fn unknown_sections(&mut self, doc: Document) {
        let expected = doc.known.join(", ");
        for (key, _) in doc.sections {
            self.push(
                Stage::Sections,
                key,
                format!("unknown section, expected one of: {expected}"),
            );
        }
    }

    /// A key as written, typed at `path`; `None` when absent or when it is not a `T` (the
    /// problem is recorded at `path`, or deeper for a structure or list).
    fn checked<T: DeserializeOwned>(&mut self, path: &str, raw: Option<Checked<T>>) -> Option<T> {
        self.typed(path, raw?.into_value())
    }

    /// A list key (`[a, b]`), each item typed on its own at `path[i]`: the items that are a
    /// `T`, each with its path. Empty when absent.
    fn list<T: DeserializeOwned>(
        &mut self,
        path: &str,
        raw: Option<CheckedList<T>>,
    ) -> Vec<(String, T)> {
        let items = self.checked(path, raw).unwrap_or_default();
        self.items(path, items)
    }

    /// The items of the list at `path`, each typed on its own at `path[i]` (see
    /// [`Validator::list`]).
    fn items<T: DeserializeOwned>(
        &mut self,
        path: &str,
        items: Vec<Checked<T>>,
    ) -> Vec<(String, T)> {
        let mut out = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let at = format!("{path}[{i}]");
            if let Some(v) = self.checked(&at, Some(item)) {
                out.push((at, v));
            }
        }
        out
    }

    /// A key that must be present: its value, or `None` with "required" recorded at `path`.
    fn required<T: DeserializeOwned>(
        &mut self,
        path: &str,
        raw: Option<Checked<T>>,
        example: &str,
    ) -> Option<T> {
        if raw.is_none() {
            self.err(path, format!("required{example}"));
        }
        self.checked(path, raw)
    }

    /// A duration longer than zero and at most `max` (the bound documented on the key);
    /// `default` when absent or refused.
    fn duration(
        &mut self,
        path: &str,
        raw: Option<Checked<HumanDuration>>,
        default: Duration,
        max: Duration,
    ) -> Duration {
        match self.positive_duration(path, raw) {
            Some(d) if d > max => {
                self.err(path, format!("must be at most {}", written(max)));
                default
            }
            Some(d) => d,
            None => default,
        }
    }

    /// A duration within `min..=max` (both documented on the key); `default` when absent or
    /// refused.
    fn bounded_duration(
        &mut self,
        path: &str,
        raw: Option<Checked<HumanDuration>>,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Duration {
        match self.positive_duration(path, raw) {
            Some(d) if d < min || d > max => {
                self.err(
                    path,
                    format!("must be between {} and {}", written(min), written(max)),
                );
                default
            }
            Some(d) => d,
            None => default,
        }
    }

    /// A duration that parsed and is longer than zero; `None` when absent or refused.
    fn positive_duration(
        &mut self,
        path: &str,
        raw: Option<Checked<HumanDuration>>,
    ) -> Option<Duration> {
        match self.checked(path, raw)? {
            HumanDuration(d) if d.is_zero() => {
                self.err(path, "must be longer than zero");
                None
            }
            HumanDuration(d) => Some(d),
        }
    }

    /// A count or size within `min..=max` (both documented on the key); `default` when absent
    /// or refused.
    fn bounded_count(
        &mut self,
        path: &str,
        raw: Option<Checked<u64>>,
        default: u64,
        min: u64,
        max: u64,
    ) -> u64 {
        self.checked(path, raw)
            .and_then(|n| self.count_within(path, n, min, max))
            .unwrap_or(default)
    }

    /// `n` when it is within `min..=max`; otherwise the problem is recorded at `path`.
    fn count_within(&mut self, path: &str, n: u64, min: u64, max: u64) -> Option<u64> {
        if (min..=max).contains(&n) {
            Some(n)
        } else {
            self.err(path, format!("must be between {min} and {max}"));
            None
        }
    }

    /// One of `allowed` (a word such as `log_only`, surrounding spaces ignored), mapped to its
    /// value; `default` when absent or refused (the problem names the words).
    fn word<T: Copy>(
        &mut self,
        path: &str,
        raw: Option<Checked<String>>,
        default: T,
        allowed: &[(&str, T)],
    ) -> T {
        let Some(word) = self.checked(path, raw) else {
            return default;
        };
        let word = word.trim();
        match allowed.iter().find(|(w, _)| *w == word) {
            Some((_, v)) => *v,
            None => {
                let words: Vec<&str> = allowed.iter().map(|(w, _)| *w).collect();
                self.err(
                    path,
                    format!("{word:?} is not one of: {}", words.join(", ")),
                );
                default
            }
        }
    }
}

/// A bound as a message writes it: humantime's way (`10ms`, `5m`, `1h`), whole days as days
/// (`30days`, `365days`, not months).
fn written(bound: Duration) -> String {
    let days = bound.as_secs() / DAY.as_secs();
    if days > 1 && bound == Duration::from_secs(days * DAY.as_secs()) {
        format!("{days}days")
    } else {
        humantime::format_duration(bound).to_string()
    }
}

/// A bounded count as a `usize` (every bound fits one).
fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A bounded count as a `u32` (every bound of such a key fits one).
fn u32_of(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A DNS name: dot-separated labels of letters, digits and hyphens.
fn is_dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
impl Validator {
    /// Validates section `key`, written as `yaml`, on its own with `validate` (one of the
    /// sections' methods): the typed value and every problem, in report order.
    fn section<T>(
        key: &'static str,
        yaml: &str,
        validate: fn(&mut Validator, &mut Document) -> T,
    ) -> (T, Vec<ConfigIssue>) {
        let mut v = Validator::default();
        let value: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
        let mut doc = Document {
            sections: vec![(key.to_string(), value)],
            known: Vec::new(),
        };
        let typed = validate(&mut v, &mut doc);
        (typed, v.finish())
    }
}

#[cfg(test)]
mod tests;

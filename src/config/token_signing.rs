//! `token_signing:`: the key that signs assertions and metadata, and the next certificate
//! published during a rollover. The files are loaded here so that check-config finds an
//! unusable key.

use super::{Checked, Document, HumanDuration, Validator};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

/// `token_signing:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTokenSigning {
    /// PEM certificate published in federation metadata. Required.
    pub cert_file: Option<Checked<String>>,
    /// PEM RSA private key (PKCS#1 or PKCS#8, 2048 bits or more). Required.
    pub key_file: Option<Checked<String>>,
    /// The next certificate, published during a rollover (Entra picks it up from metadata).
    pub next_cert_file: Option<Checked<String>>,
    /// The next certificate's key: where `altgate certs rollover` writes the next pair and
    /// `altgate certs promote` takes it from. With it, missing next files mean "no rollover in
    /// progress"; without it, `next_cert_file` must exist.
    pub next_key_file: Option<Checked<String>>,
    /// Demo/dev only: generate a self-signed RSA-2048 pair into these files when missing
    /// (default false).
    pub generate_dev_certificate: Option<Checked<bool>>,
    /// AD FS `AutoCertificateRollover`: generate and promote the next pair automatically.
    pub auto_rollover: Option<Checked<RawAutoRollover>>,
}

/// `token_signing.auto_rollover:` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAutoRollover {
    /// Generate the next pair when the current certificate expires within this (AD FS
    /// `CertificateGenerationThreshold`, 20 days); 1 day to 180 days.
    pub generate_before: Option<Checked<HumanDuration>>,
    /// Promote the next pair once it has been published this long (AD FS
    /// `CertificatePromotionThreshold`, 5 days); 0 to 60 days, and less than `generate_before`.
    pub promote_after: Option<Checked<HumanDuration>>,
    /// Validity of a generated certificate in days (AD FS `CertificateDuration`, 365); 30 to
    /// 3650.
    pub certificate_days: Option<Checked<u64>>,
    /// How often each node looks (1 hour; 1 second to 1 day).
    pub check_interval: Option<Checked<HumanDuration>>,
}

/// `token_signing:`.
#[derive(Debug, Clone)]
pub struct TokenSigning {
    /// PEM certificate.
    pub cert_file: PathBuf,
    /// PEM RSA key.
    pub key_file: PathBuf,
    /// Rollover certificate (configured; see [`TokenSigning::next_published`]).
    pub next_cert_file: Option<PathBuf>,
    /// Rollover key (`certs rollover` / `certs promote`).
    pub next_key_file: Option<PathBuf>,
    /// Generate a dev pair when missing.
    pub generate_dev_certificate: bool,
    /// Automatic rollover, when configured (needs `next_cert_file` and `next_key_file`).
    pub auto_rollover: Option<AutoRollover>,
}

/// `token_signing.auto_rollover`: every node checks the signing files every `check_interval`;
/// one (under a lock file beside the next key) generates the next pair `generate_before` the
/// current certificate expires and promotes it `promote_after` later, and every node reloads
/// when the files on disk are not the ones it signs with. Meant for nodes that share the
/// files (one server, or a shared directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoRollover {
    /// Generate the next pair when the current one expires within this.
    pub generate_before: Duration,
    /// Promote the next pair when it was written this long ago.
    pub promote_after: Duration,
    /// Validity of a generated certificate, in days.
    pub certificate_days: u32,
    /// How often each node looks.
    pub check_interval: Duration,
}

impl Validator {
    /// `token_signing:`; `None` (token endpoints off) when absent.
    pub(super) fn token_signing(&mut self, doc: &mut Document) -> Option<TokenSigning> {
        let raw: RawTokenSigning = self.take(doc, "token_signing")?;
        let cert_file = self.required("token_signing.cert_file", raw.cert_file, "");
        let key_file = self.required("token_signing.key_file", raw.key_file, "");
        let next_cert_file = self
            .checked::<String>("token_signing.next_cert_file", raw.next_cert_file)
            .map(PathBuf::from);
        let next_key_file = self
            .checked::<String>("token_signing.next_key_file", raw.next_key_file)
            .map(PathBuf::from);
        let generate_dev_certificate = self
            .checked(
                "token_signing.generate_dev_certificate",
                raw.generate_dev_certificate,
            )
            .unwrap_or(false);
        let auto_rollover = self
            .checked("token_signing.auto_rollover", raw.auto_rollover)
            .map(|r| self.auto_rollover(r));
        let t = TokenSigning {
            auto_rollover,
            cert_file: PathBuf::from(cert_file?),
            key_file: PathBuf::from(key_file?),
            next_cert_file,
            next_key_file,
            generate_dev_certificate,
        };
        let missing: Vec<(&str, &PathBuf)> =
            [("cert_file", &t.cert_file), ("key_file", &t.key_file)]
                .into_iter()
                .filter(|(_, p)| !p.is_file())
                .collect();
        if !t.generate_dev_certificate {
            for (key, p) in &missing {
                self.err(
                    format!("token_signing.{key}"),
                    format!("file not found: {}", p.display()),
                );
            }
        }
        if missing.is_empty() {
            if let Err(e) = crate::keys::SigningKey::load(&t.cert_file, &t.key_file) {
                self.err("token_signing", e.to_string());
            }
        }
        match (&t.next_cert_file, &t.next_key_file) {
            (None, Some(_)) => self.err(
                "token_signing.next_key_file",
                "needs token_signing.next_cert_file (where the next certificate goes)",
            ),
            (Some(next), None) => {
                if let Err(e) = crate::keys::read_cert_der(next) {
                    self.err("token_signing.next_cert_file", e.to_string());
                }
            }
            (Some(cert), Some(key)) => match (cert.exists(), key.exists()) {
                (false, false) => {}
                (true, true) => {
                    if let Err(e) = crate::keys::SigningKey::load(cert, key) {
                        self.err("token_signing.next_cert_file", e.to_string());
                    }
                }
                (cert_there, _) => self.err(
                    if cert_there {
                        "token_signing.next_key_file"
                    } else {
                        "token_signing.next_cert_file"
                    },
                    "file not found, while its partner exists: finish the rollover (altgate certs rollover --force) or remove both",
                ),
            },
            (None, None) => {}
        }
        if t.auto_rollover.is_some() && (t.next_cert_file.is_none() || t.next_key_file.is_none()) {
            self.err(
                "token_signing.auto_rollover",
                "needs token_signing.next_cert_file and next_key_file (where the next pair is written)",
            );
        }
        Some(t)
    }

    fn auto_rollover(&mut self, raw: RawAutoRollover) -> AutoRollover {
        let path = "token_signing.auto_rollover";
        let generate_before = self.bounded_duration(
            &format!("{path}.generate_before"),
            raw.generate_before,
            20 * DAY,
            DAY,
            180 * DAY,
        );
        let promote_after = match self.checked(&format!("{path}.promote_after"), raw.promote_after)
        {
            None => 5 * DAY,
            Some(HumanDuration(d)) if d > 60 * DAY || d >= generate_before => {
                self.err(
                    format!("{path}.promote_after"),
                    "must be at most 60d and shorter than generate_before",
                );
                5 * DAY
            }
            Some(HumanDuration(d)) => d,
        };
        let certificate_days = self.bounded_count(
            &format!("{path}.certificate_days"),
            raw.certificate_days,
            365,
            30,
            3650,
        );
        let check_interval = self.bounded_duration(
            &format!("{path}.check_interval"),
            raw.check_interval,
            Duration::from_secs(3600),
            Duration::from_secs(1),
            DAY,
        );
        AutoRollover {
            generate_before,
            promote_after,
            certificate_days: u32::try_from(certificate_days).unwrap_or(365),
            check_interval,
        }
    }
}

impl TokenSigning {
    /// The next certificate's file when a rollover is in progress (its file exists).
    pub fn next_published(&self) -> Option<&PathBuf> {
        self.next_cert_file.as_ref().filter(|p| p.exists())
    }
}

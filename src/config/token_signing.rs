//! `token_signing:`: the key that signs assertions and metadata, and the next certificate
//! published during a rollover. The files are loaded here so that check-config finds an
//! unusable key.

use super::{Checked, Document, Validator};
use serde::Deserialize;
use std::path::PathBuf;

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
        let t = TokenSigning {
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
        Some(t)
    }
}

impl TokenSigning {
    /// The next certificate's file when a rollover is in progress (its file exists).
    pub fn next_published(&self) -> Option<&PathBuf> {
        self.next_cert_file.as_ref().filter(|p| p.exists())
    }
}

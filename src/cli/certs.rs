//! `altgate certs`: every certificate the configuration names, and the token-signing
//! rollover AD FS's `AutoCertificateRollover` performs, by hand and in two steps:
//! `rollover` writes the next pair (published as the next certificate by every node after its
//! reload), `promote` makes it the current one once relying parties and Entra ID have it.
//! These commands work on the files; the running service picks them up at its next reload
//! (`systemctl reload altgate`), and its metrics say what it loaded.

use crate::config::Config;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use time::OffsetDateTime;

/// Days a generated token-signing certificate is valid by default (AD FS: one year).
const DEFAULT_DAYS: i64 = 365;
/// How long a next certificate is published before `promote` takes it without `--force`
/// (AD FS `CertificatePromotionThreshold`, 5 days).
const PROMOTION_THRESHOLD_DAYS: i64 = 5;

/// `altgate certs ...`.
#[derive(Debug, Subcommand)]
pub enum CertsAction {
    /// Every certificate the configuration names (TLS, admin TLS, token signing current and
    /// next), as the files on disk hold them: subject, SHA-1 thumbprint, expiry, days left; and
    /// whether the running service (asked through its admin API) holds the same. Exit 1 if one
    /// expires within 30 days, cannot be read, differs from what runs, or the service cannot be
    /// asked.
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Generate the next token-signing pair (RSA-2048, self-signed, as AD FS does) into
    /// `token_signing.next_cert_file` and `next_key_file`; after a reload every node publishes
    /// it in federation metadata and JWKS as the next certificate.
    Rollover {
        /// Validity in days (30 to 3650).
        #[arg(long, default_value_t = DEFAULT_DAYS)]
        days: i64,
        /// Replace a next pair that is already there.
        #[arg(long)]
        force: bool,
    },
    /// Make the next pair the current one (the current pair is kept as `<file>.previous`);
    /// after a reload every node signs with it.
    Promote {
        /// Promote a next certificate published for less than 5 days.
        #[arg(long)]
        force: bool,
    },
}

/// Runs `altgate certs`.
pub fn run(config: &Path, action: CertsAction) -> Result<ExitCode, ExitCode> {
    let config = super::load(config)?;
    let now = crate::clock::system_clock()();
    match action {
        CertsAction::Status { json } => {
            let answer = super::runtime()?.block_on(running(&config));
            Ok(status(&config, now, json, &answer))
        }
        CertsAction::Rollover { days, force } => rollover(&config, now, days, force),
        CertsAction::Promote { force } => promote(&config, now, force),
    }
}

/// One certificate file as read now.
struct Seen {
    role: &'static str,
    file: PathBuf,
    read: Result<(String, String, OffsetDateTime), String>,
}

fn thumbprint(der: &[u8]) -> String {
    crate::keys::thumbprint_hex(der)
}

fn read(file: &Path) -> Result<(String, String, OffsetDateTime), String> {
    let der = crate::keys::read_cert_der(file).map_err(|e| e.to_string())?;
    let (subject, not_after) = crate::keys::cert_info(&der).map_err(|e| e.to_string())?;
    Ok((subject, thumbprint(&der), not_after))
}

/// What the running service holds, by role: SHA-1 thumbprints, from its admin API.
type Running = Result<std::collections::BTreeMap<String, String>, String>;

async fn running(config: &Config) -> Running {
    let path = crate::endpoint::AdminEndpoint::Certificates.path();
    let answer = super::admin_client::request(config, "GET", path)
        .await
        .map_err(|e| e.to_string())?;
    if answer.status != 200 {
        return Err(format!(
            "the admin listener answered {}: {}",
            answer.status,
            answer.body.trim()
        ));
    }
    let v: serde_json::Value = serde_json::from_str(&answer.body)
        .map_err(|e| format!("the admin listener's answer is not JSON: {e}"))?;
    Ok(v.get("certificates")
        .and_then(serde_json::Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    Some((
                        c.get("certificate")?.as_str()?.to_string(),
                        c.get("thumbprint")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// How a file compares with what the service runs.
fn compare(running: &Running, role: &str, file_thumbprint: Option<&str>) -> &'static str {
    match running {
        Err(_) => "unknown",
        Ok(map) => match (map.get(role).map(String::as_str), file_thumbprint) {
            (Some(r), Some(f)) if r == f => "same",
            (Some(_), _) => "different",
            (None, _) => "not_loaded",
        },
    }
}

fn status(config: &Config, now: OffsetDateTime, json: bool, running: &Running) -> ExitCode {
    let mut seen = Vec::new();
    if let Some(t) = &config.server.tls {
        seen.push(("server_tls", t.cert_file.clone()));
    }
    if let Some(t) = config.admin.as_ref().and_then(|a| a.tls.as_ref()) {
        seen.push(("admin_tls", t.cert_file.clone()));
    }
    if let Some(ts) = &config.token_signing {
        seen.push(("token_signing_current", ts.cert_file.clone()));
        if let Some(next) = ts.next_published() {
            seen.push(("token_signing_next", next.clone()));
        }
    }
    let seen: Vec<Seen> = seen
        .into_iter()
        .map(|(role, file)| Seen {
            role,
            read: read(&file),
            file,
        })
        .collect();
    let days_left = |not_after: OffsetDateTime| (not_after - now).whole_days();
    // The admin certificate is not reported by the service (it is the one the CLI pins).
    let versus = |s: &Seen| {
        if s.role == "admin_tls" {
            return "same";
        }
        compare(running, s.role, s.read.as_ref().ok().map(|r| r.1.as_str()))
    };
    // Loaded by the service, but no longer in the files (a promoted next certificate).
    let stale: Vec<(&String, &String)> = match running {
        Ok(map) => map
            .iter()
            .filter(|(role, _)| !seen.iter().any(|s| s.role == role.as_str()))
            .collect(),
        Err(_) => Vec::new(),
    };
    let bad = running.is_err()
        || !stale.is_empty()
        || seen.iter().any(|s| match &s.read {
            Ok((_, _, not_after)) => days_left(*not_after) < 30 || versus(s) != "same",
            Err(_) => true,
        });
    if json {
        let mut list: Vec<serde_json::Value> = seen
            .iter()
            .map(|s| match &s.read {
                Ok((subject, thumbprint, not_after)) => serde_json::json!({
                    "certificate": s.role,
                    "file": s.file.display().to_string(),
                    "subject": subject,
                    "thumbprint": thumbprint,
                    "not_after": not_after.unix_timestamp(),
                    "days_left": days_left(*not_after),
                    "running": versus(s),
                }),
                Err(e) => serde_json::json!({
                    "certificate": s.role,
                    "file": s.file.display().to_string(),
                    "error": e,
                    "running": versus(s),
                }),
            })
            .collect();
        list.extend(stale.iter().map(|(role, thumbprint)| {
            serde_json::json!({ "certificate": role, "file": null, "thumbprint": thumbprint, "running": "only_running" })
        }));
        let out = match running {
            Ok(_) => serde_json::json!({ "certificates": list }),
            Err(e) => serde_json::json!({ "certificates": list, "running_error": e }),
        };
        println!("{out}");
    } else {
        println!("certificates in the files the configuration names, and whether the running service holds the same:");
        for s in &seen {
            let against = match versus(s) {
                "same" => "running: same".to_string(),
                "different" => format!(
                    "running: DIFFERENT ({}; reload to load the file)",
                    running
                        .as_ref()
                        .ok()
                        .and_then(|m| m.get(s.role))
                        .map_or("", String::as_str)
                ),
                "not_loaded" => "running: NOT LOADED (reload to load the file)".to_string(),
                _ => "running: unknown".to_string(),
            };
            match &s.read {
                Ok((subject, thumbprint, not_after)) => println!(
                    "  {:<22} {}  {}  thumbprint {}  expires {} ({} days){}  {against}",
                    s.role,
                    s.file.display(),
                    subject,
                    thumbprint,
                    not_after.date(),
                    days_left(*not_after),
                    if days_left(*not_after) < 30 {
                        "  WARNING: renew or roll over now"
                    } else {
                        ""
                    }
                ),
                Err(e) => println!("  {:<22} {}  UNREADABLE: {e}", s.role, s.file.display()),
            }
        }
        for (role, thumbprint) in &stale {
            println!("  {role:<22} (no file)  thumbprint {thumbprint}  running: ONLY IN THE RUNNING SERVICE (reload to drop it)");
        }
        if let Err(e) = running {
            println!("running service: not asked: {e}");
        }
    }
    if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The next pair's files, or why there are none.
fn next_files(config: &Config) -> Result<(PathBuf, PathBuf, PathBuf, PathBuf), ExitCode> {
    let Some(ts) = &config.token_signing else {
        eprintln!("altgate: no token_signing section: nothing signs tokens");
        return Err(ExitCode::from(super::EXIT_CONFIG));
    };
    match (&ts.next_cert_file, &ts.next_key_file) {
        (Some(c), Some(k)) => Ok((
            ts.cert_file.clone(),
            ts.key_file.clone(),
            c.clone(),
            k.clone(),
        )),
        _ => {
            eprintln!("altgate: set token_signing.next_cert_file and token_signing.next_key_file (where the next pair is written) first");
            Err(ExitCode::from(super::EXIT_CONFIG))
        }
    }
}

fn rollover(
    config: &Config,
    now: OffsetDateTime,
    days: i64,
    force: bool,
) -> Result<ExitCode, ExitCode> {
    let (cert, key, next_cert, next_key) = next_files(config)?;
    if !(30..=3650).contains(&days) {
        eprintln!("altgate: --days must be between 30 and 3650");
        return Err(ExitCode::from(super::EXIT_CONFIG));
    }
    if (next_cert.exists() || next_key.exists()) && !force {
        eprintln!(
            "altgate: a next token-signing certificate is already there ({}): promote it (altgate certs promote) or replace it (--force)",
            next_cert.display()
        );
        return Err(ExitCode::FAILURE);
    }
    let host = config.server.public_url.host();
    let der = crate::keys::write_next_pair((&cert, &key), (&next_cert, &next_key), host, now, days)
        .map_err(|e| {
            eprintln!("altgate: {e}");
            ExitCode::FAILURE
        })?;
    let not_after = crate::keys::cert_info(&der).map(|(_, t)| t).map_err(|e| {
        eprintln!("altgate: {e}");
        ExitCode::FAILURE
    })?;
    println!(
        "next token-signing certificate written: {}\n  subject CN={}\n  thumbprint {}\n  valid until {}\n  key {} (owner, group and mode of {})",
        next_cert.display(),
        crate::keys::signing_subject(host),
        thumbprint(&der),
        not_after.date(),
        next_key.display(),
        key.display()
    );
    println!("next steps:\n  1. copy both files to every node (same paths) and reload each: systemctl reload altgate\n     (federation metadata, JWKS and `altgate m365 federation-settings` then publish it as the next certificate)\n  2. after relying parties and Entra ID have it (AD FS waits {PROMOTION_THRESHOLD_DAYS} days), run: altgate certs promote");
    Ok(ExitCode::SUCCESS)
}

fn promote(config: &Config, now: OffsetDateTime, force: bool) -> Result<ExitCode, ExitCode> {
    let (cert, key, next_cert, next_key) = next_files(config)?;
    if !next_cert.exists() || !next_key.exists() {
        eprintln!(
            "altgate: no next token-signing pair at {} and {}: run altgate certs rollover first",
            next_cert.display(),
            next_key.display()
        );
        return Err(ExitCode::FAILURE);
    }
    let next = crate::keys::SigningKey::load(&next_cert, &next_key).map_err(|e| {
        eprintln!("altgate: the next pair is unusable: {e}");
        ExitCode::FAILURE
    })?;
    let written = crate::keys::written_at(&next_cert).unwrap_or(now);
    let published = now - written;
    if published < time::Duration::days(PROMOTION_THRESHOLD_DAYS) && !force {
        eprintln!(
            "altgate: the next certificate was written {} hours ago; relying parties and Entra ID may not have it yet (AD FS waits {PROMOTION_THRESHOLD_DAYS} days). Promote anyway with --force",
            published.whole_hours()
        );
        return Err(ExitCode::FAILURE);
    }
    crate::keys::promote_pair(&cert, &key, &next_cert, &next_key).map_err(|e| {
        eprintln!("altgate: {e}");
        ExitCode::FAILURE
    })?;
    let previous = crate::keys::previous_path;
    println!(
        "promoted: {} now signs tokens (thumbprint {}, valid until {}); the previous pair is in {} and {}",
        cert.display(),
        thumbprint(next.cert_der()),
        next.not_after().date(),
        previous(&cert).display(),
        previous(&key).display()
    );
    println!("next steps:\n  1. copy the files to every node and reload each: systemctl reload altgate\n  2. update Entra ID if it does not read the federation metadata: altgate m365 federation-settings");
    Ok(ExitCode::SUCCESS)
}

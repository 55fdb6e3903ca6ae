//! Automatic token-signing rollover (`token_signing.auto_rollover`), AD FS's
//! `AutoCertificateRollover` for nodes that share the signing files: every `check_interval`
//! each node looks at the files; when the current certificate expires within
//! `generate_before` and no next pair is there, one node (under a lock file beside the next
//! key) writes one, as `altgate certs rollover` does; once the next pair has been there for
//! `promote_after`, one node promotes it, as `altgate certs promote` does. Every node reloads
//! itself when the files on disk are not the ones it signs with and publishes, so the farm
//! follows whichever node took the step.

use super::live::Live;
use crate::config::token_signing::{AutoRollover, TokenSigning};
use crate::keys::{self, KeyError, RolloverLock};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// How often a node without `auto_rollover` looks whether a reload turned it on.
const IDLE_CHECK: Duration = Duration::from_secs(60);

/// What a round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Wrote the next pair.
    Generated,
    /// Made the next pair current.
    Promoted,
}

impl Step {
    fn id(self) -> &'static str {
        match self {
            Step::Generated => "generated",
            Step::Promoted => "promoted",
        }
    }
}

/// Runs the rollover loop until the task is dropped.
pub async fn run(live: Arc<Live>) {
    loop {
        let app = live.app();
        let Some((ts, auto)) = app
            .config
            .token_signing
            .as_ref()
            .and_then(|ts| ts.auto_rollover.clone().map(|a| (ts.clone(), a)))
        else {
            drop(app);
            tokio::time::sleep(IDLE_CHECK).await;
            continue;
        };
        let now = (app.clock)();
        let host = app.config.server.public_url.host().to_string();
        let files = ts.clone();
        let taken = tokio::task::spawn_blocking(move || round(&files, &auto, now, &host)).await;
        match taken {
            Ok(Ok(Some((step, der)))) => app.events.emit(&crate::events::TokenSigningRollover {
                step: step.id(),
                thumbprint: &crate::tokens::jwt::thumbprint(&der),
            }),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::error!(
                target: "altgate::ops",
                error = %e,
                "automatic token-signing rollover failed"
            ),
            Err(e) => tracing::error!(target: "altgate::ops", error = %e, "rollover task failed"),
        }
        if differs(&app, &ts) {
            let _ = live.reload().await;
        }
        let interval = app
            .config
            .token_signing
            .as_ref()
            .and_then(|t| t.auto_rollover.as_ref())
            .map_or(IDLE_CHECK, |a| a.check_interval);
        drop(app);
        tokio::time::sleep(interval).await;
    }
}

/// One look at the files: generate or promote if it is time and no other node holds the lock.
/// Returns the step taken and the certificate it concerns (DER).
pub fn round(
    ts: &TokenSigning,
    auto: &AutoRollover,
    now: OffsetDateTime,
    host: &str,
) -> Result<Option<(Step, Vec<u8>)>, KeyError> {
    let (Some(next_cert), Some(next_key)) = (&ts.next_cert_file, &ts.next_key_file) else {
        return Ok(None);
    };
    let lock = {
        let mut s = next_key.as_os_str().to_owned();
        s.push(".lock");
        std::path::PathBuf::from(s)
    };
    let next_there = || next_cert.exists() && next_key.exists();
    let current = keys::read_cert_der(&ts.cert_file)?;
    let (_, not_after) = keys::cert_info(&current)?;
    if !next_there() && not_after - now < auto.generate_before {
        let Some(_held) = RolloverLock::acquire(&lock, now)? else {
            return Ok(None);
        };
        if next_there() {
            return Ok(None);
        }
        let der = keys::write_next_pair(
            (&ts.cert_file, &ts.key_file),
            (next_cert, next_key),
            host,
            now,
            i64::from(auto.certificate_days),
        )?;
        return Ok(Some((Step::Generated, der)));
    }
    if next_there() {
        let written = keys::written_at(next_cert).unwrap_or(now);
        if now - written < auto.promote_after {
            return Ok(None);
        }
        let Some(_held) = RolloverLock::acquire(&lock, now)? else {
            return Ok(None);
        };
        if !next_there() {
            return Ok(None);
        }
        let promoted = keys::promote_pair(&ts.cert_file, &ts.key_file, next_cert, next_key)?;
        return Ok(Some((Step::Promoted, promoted.cert_der().to_vec())));
    }
    Ok(None)
}

/// Whether the signing files on disk are not the pair this node signs with and publishes.
fn differs(app: &crate::App, ts: &TokenSigning) -> bool {
    let Some(signing) = app.tokens.signing() else {
        return false;
    };
    let current = keys::read_cert_der(&ts.cert_file).ok();
    let next = ts
        .next_published()
        .and_then(|p| keys::read_cert_der(p).ok());
    current.as_deref() != Some(signing.key.cert_der()) || next != signing.next_cert_der
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &std::path::Path) -> TokenSigning {
        TokenSigning {
            cert_file: dir.join("s.crt"),
            key_file: dir.join("s.key"),
            next_cert_file: Some(dir.join("n.crt")),
            next_key_file: Some(dir.join("n.key")),
            generate_dev_certificate: false,
            auto_rollover: None,
        }
    }

    fn auto(promote_after: Duration) -> AutoRollover {
        AutoRollover {
            generate_before: Duration::from_secs(20 * 86_400),
            promote_after,
            certificate_days: 365,
            check_interval: Duration::from_secs(1),
        }
    }

    #[test]
    fn generates_when_due_promotes_when_published_long_enough_and_respects_the_lock() {
        let dir = tempfile::tempdir().expect("dir");
        let ts = files(dir.path());
        let now = crate::clock::system_clock()();
        let first = keys::generate_signing_pair(&ts.cert_file, &ts.key_file, "current", now, 30)
            .expect("current");
        // 30 days left: not yet due.
        assert_eq!(
            round(&ts, &auto(Duration::ZERO), now, "next").expect("round"),
            None
        );
        // 10 days later it is: the next pair is written, and not promoted before its time.
        let later = now + time::Duration::days(10);
        let (step, next) = round(&ts, &auto(Duration::from_secs(3600)), later, "next")
            .expect("round")
            .expect("a step");
        assert_eq!(step, Step::Generated);
        assert!(keys::SigningKey::load(
            ts.next_cert_file.as_ref().expect("n"),
            ts.next_key_file.as_ref().expect("n")
        )
        .is_ok());
        // (Written "10 days ago" as `later` sees it: not yet 11 days.)
        assert_eq!(
            round(&ts, &auto(Duration::from_secs(11 * 86_400)), later, "next").expect("round"),
            None
        );
        // Another node holding the lock: nothing happens.
        let lock = dir.path().join("n.key.lock");
        std::fs::write(&lock, "").expect("lock");
        std::fs::File::options()
            .write(true)
            .open(&lock)
            .and_then(|f| f.set_modified(std::time::SystemTime::from(later)))
            .expect("lock taken at `later`");
        assert_eq!(
            round(&ts, &auto(Duration::ZERO), later, "next").expect("round"),
            None
        );
        std::fs::remove_file(&lock).expect("unlock");
        // Published long enough: promoted, the previous pair kept, the lock released.
        let (step, promoted) = round(&ts, &auto(Duration::ZERO), later, "next")
            .expect("round")
            .expect("a step");
        assert_eq!((step, &promoted), (Step::Promoted, &next));
        assert_eq!(keys::read_cert_der(&ts.cert_file).expect("current"), next);
        assert_eq!(
            keys::read_cert_der(&keys::previous_path(&ts.cert_file)).expect("previous"),
            first
        );
        assert!(keys::SigningKey::load(&ts.cert_file, &ts.key_file).is_ok());
        assert!(!lock.exists());
        // The new pair is good for a year: nothing more to do.
        assert_eq!(
            round(&ts, &auto(Duration::ZERO), later, "next").expect("round"),
            None
        );
    }
}

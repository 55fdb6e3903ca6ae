//! Tokens issued and refused, browser sign-in requests and SSO sessions.

use super::{configured, counter_vec, gauge_vec, latency_buckets, vocabulary, Reg};
use crate::label::{kinds, Id};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec};

/// Token issuance.
#[derive(Clone)]
pub struct TokenMetrics {
    /// `altgate_tokens_issued_total{protocol,relying_party}`.
    pub issued: IntCounterVec,
    /// `altgate_token_failures_total{protocol,relying_party,reason}`.
    pub failed: IntCounterVec,
    /// `altgate_token_signing_duration_seconds`: building and signing one assertion.
    pub signing_duration: Histogram,
    /// `altgate_alternate_login_id_authentications_total`: password sign-ins whose login was an
    /// alternate login ID (AD FS "Alternate Login Id Authentications"; `rate()` gives "/Sec").
    pub alternate_login_id_authentications: IntCounter,
    /// `altgate_token_signing_certificate_expiry_timestamp_seconds{certificate}`: current, next.
    pub certificate_expiry: IntGaugeVec,
}

impl TokenMetrics {
    /// Counts one issued token.
    pub fn count_issued(&self, protocol: impl Into<Id<kinds::Protocol>>, relying_party: &str) {
        self.issued
            .with_label_values(&[protocol.into().as_str(), relying_party])
            .inc();
    }

    /// Counts one failed token request by reason: a request refusal or a sign-in failure.
    pub fn count_failed(
        &self,
        protocol: impl Into<Id<kinds::Protocol>>,
        relying_party: &str,
        reason: impl Into<Id<kinds::TokenFailure>>,
    ) {
        self.failed
            .with_label_values(&[
                protocol.into().as_str(),
                relying_party,
                reason.into().as_str(),
            ])
            .inc();
    }

    /// Records the expiry of the token-signing certificate in `role`.
    pub fn set_certificate_expiry(
        &self,
        role: impl Into<Id<kinds::SigningCertificate>>,
        not_after: time::OffsetDateTime,
    ) {
        self.certificate_expiry
            .with_label_values(&[role.into().as_str()])
            .set(not_after.unix_timestamp());
    }

    /// Registers the token metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        let signing_duration = Histogram::with_opts(
            HistogramOpts::new(
                "altgate_token_signing_duration_seconds",
                "Time to build and sign one assertion.",
            )
            .buckets(latency_buckets()),
        )?;
        r.add(signing_duration.clone(), "histogram", &[])?;
        let alt = IntCounter::new(
            "altgate_alternate_login_id_authentications_total",
            "Password sign-ins that used an alternate login ID (AD FS Alternate Login Id Authentications).",
        )?;
        r.add(alt.clone(), "counter", &[])?;
        Ok(TokenMetrics {
            issued: counter_vec(
                r,
                "altgate_tokens_issued_total",
                "Tokens issued by protocol and relying party.",
                &[
                    vocabulary::<kinds::Protocol>("protocol"),
                    configured("relying_party", "configured relying party identifiers"),
                ],
            )?,
            failed: counter_vec(
                r,
                "altgate_token_failures_total",
                "Token requests refused by protocol, relying party and reason.",
                &[
                    vocabulary::<kinds::Protocol>("protocol"),
                    configured(
                        "relying_party",
                        "configured relying party identifiers, `unknown`",
                    ),
                    vocabulary::<kinds::TokenFailure>("reason"),
                ],
            )?,
            signing_duration,
            alternate_login_id_authentications: alt,
            certificate_expiry: gauge_vec(
                r,
                "altgate_token_signing_certificate_expiry_timestamp_seconds",
                "Expiry (Unix time) of the token-signing certificates.",
                &[vocabulary::<kinds::SigningCertificate>("certificate")],
            )?,
        })
    }
}

/// Browser sign-in (`/adfs/ls/`) and SSO sessions.
#[derive(Clone)]
pub struct PassiveMetrics {
    /// `altgate_passive_requests_total{protocol,outcome}`: protocol wsfed, saml, idp_initiated
    /// or update_password; outcome a [`kinds::PassiveOutcome`] (token, sso_token,
    /// sign_in_page, password_change_page, page, no_passive, refused, signed_out).
    pub requests: IntCounterVec,
    /// `altgate_sso_sessions_total{result}`: a [`kinds::SsoResult`] (created, reused,
    /// hint_mismatch, or why a session was not used).
    pub sessions: IntCounterVec,
}

impl PassiveMetrics {
    /// Counts one `/adfs/ls/` request of `protocol` by how it ended.
    pub fn count_request(
        &self,
        protocol: impl Into<Id<kinds::Protocol>>,
        outcome: impl Into<Id<kinds::PassiveOutcome>>,
    ) {
        self.requests
            .with_label_values(&[protocol.into().as_str(), outcome.into().as_str()])
            .inc();
    }

    /// Counts an SSO session event (created, reused, or why one was not used).
    pub fn count_session(&self, result: impl Into<Id<kinds::SsoResult>>) {
        self.sessions
            .with_label_values(&[result.into().as_str()])
            .inc();
    }

    /// Registers the passive metrics.
    pub fn register(r: &Reg<'_>) -> prometheus::Result<Self> {
        Ok(PassiveMetrics {
            requests: counter_vec(
                r,
                "altgate_passive_requests_total",
                "Browser sign-in requests at /adfs/ls/ by protocol and outcome.",
                &[
                    vocabulary::<kinds::Protocol>("protocol"),
                    vocabulary::<kinds::PassiveOutcome>("outcome"),
                ],
            )?,
            sessions: counter_vec(
                r,
                "altgate_sso_sessions_total",
                "SSO session cookies by what happened to them.",
                &[vocabulary::<kinds::SsoResult>("result")],
            )?,
        })
    }
}

//! An account's extranet lockout activity as the admin API sends it and `altgate lockout`
//! prints it (AD FS `Get-AdfsAccountActivity`): one serializable shape, so what the CLI shows is
//! exactly what the running service read.

use crate::state::{AccountActivity, ClassActivity};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// One location class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassView {
    /// Bad passwords since the last successful sign-in or reset.
    pub bad_password_count: u32,
    /// The last bad password (Unix seconds).
    pub last_bad_password: Option<u64>,
    /// While locked out: when the next attempt is let through (Unix seconds).
    pub locked_until: Option<u64>,
}

/// A familiar location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationView {
    /// The client IP.
    pub ip: String,
    /// The last successful sign-in from it (Unix seconds).
    pub last_seen: Option<u64>,
}

/// An account's activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityView {
    /// The login as given.
    pub login: String,
    /// The account's lockout key (forest and objectGUID).
    pub account: String,
    /// Counts from familiar locations.
    pub familiar: ClassView,
    /// Counts from unfamiliar locations.
    pub unfamiliar: ClassView,
    /// Familiar client IPs, most recently seen first.
    pub familiar_locations: Vec<LocationView>,
}

fn unix(t: Option<SystemTime>) -> Option<u64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
}

fn rfc3339(secs: Option<u64>) -> String {
    secs.and_then(|s| i64::try_from(s).ok())
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "-".into())
}

impl ClassView {
    fn of(c: &ClassActivity) -> Self {
        ClassView {
            bad_password_count: c.count,
            last_bad_password: unix(c.last_bad),
            locked_until: unix(c.locked_until),
        }
    }
}

impl ActivityView {
    /// The view of `activity` for `login` (account key `account`).
    pub fn new(login: &str, account: &str, activity: &AccountActivity) -> Self {
        ActivityView {
            login: login.to_string(),
            account: account.to_string(),
            familiar: ClassView::of(&activity.familiar),
            unfamiliar: ClassView::of(&activity.unfamiliar),
            familiar_locations: activity
                .familiar_locations
                .iter()
                .map(|l| LocationView {
                    ip: l.ip.to_string(),
                    last_seen: unix(Some(l.last_seen)),
                })
                .collect(),
        }
    }

    /// The human-readable form.
    pub fn text(&self) -> String {
        let mut out = format!("{} ({})\n", self.login, self.account);
        for (name, c) in [
            ("familiar", &self.familiar),
            ("unfamiliar", &self.unfamiliar),
        ] {
            out.push_str(&format!(
                "  {name:<10} bad passwords: {}  last bad: {}  locked until: {}\n",
                c.bad_password_count,
                rfc3339(c.last_bad_password),
                rfc3339(c.locked_until)
            ));
        }
        if self.familiar_locations.is_empty() {
            out.push_str("  familiar locations: none\n");
        } else {
            out.push_str("  familiar locations:\n");
            for l in &self.familiar_locations {
                out.push_str(&format!(
                    "    {}  last sign-in {}\n",
                    l.ip,
                    rfc3339(l.last_seen)
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::FamiliarLocation;
    use std::time::Duration;

    #[test]
    fn views_round_trip_and_print() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let a = AccountActivity {
            familiar: ClassActivity::default(),
            unfamiliar: ClassActivity {
                count: 3,
                last_bad: Some(t),
                locked_until: Some(t + Duration::from_secs(1800)),
            },
            familiar_locations: vec![FamiliarLocation {
                ip: "192.0.2.1".parse().expect("ip"),
                last_seen: t,
            }],
        };
        let v = ActivityView::new("jdoe@contoso.com", "contoso.com:{g}", &a);
        let json = serde_json::to_string(&v).expect("json");
        let back: ActivityView = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, v);
        let text = v.text();
        assert!(text.contains("unfamiliar bad passwords: 3  last bad: 2023-11-14T22:13:20Z  locked until: 2023-11-14T22:43:20Z"), "{text}");
        assert!(
            text.contains("192.0.2.1  last sign-in 2023-11-14T22:13:20Z"),
            "{text}"
        );
    }
}

//! `forests.json`: how `scripts/ad-forests.sh` describes the two AD test forests it runs (in
//! `ALTGATE_AD_DIR`, by default `/var/tmp/altgate-ad`). Reading it needs no forest; bringing
//! them up is `tests/it/harness.rs`'s business. The load benches include this file alone.

use serde::Deserialize;
use std::path::PathBuf;

/// One forest as `scripts/ad-forests.sh` describes it in `forests.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Forest {
    pub name: String,
    pub netbios: String,
    pub ip: String,
    pub base_dn: String,
    pub gc_url: String,
    pub dc_url: String,
    pub ca_file: String,
    pub service_user: String,
    pub service_password: String,
    /// The domain Administrator, for tests that manage their own throwaway users
    /// (`ad_users`); empty in a `forests.json` written before it was added.
    #[serde(default)]
    pub admin_dn: String,
    #[serde(default)]
    pub admin_password: String,
}

/// `forests.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Forests {
    pub forests: Vec<Forest>,
    pub user_password: String,
}

impl Forests {
    pub fn get(&self, name: &str) -> &Forest {
        self.forests
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("forest {name} missing from forests.json"))
    }
}

/// Where `scripts/ad-forests.sh` keeps the forests' state.
pub fn state_dir() -> PathBuf {
    std::env::var_os("ALTGATE_AD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/altgate-ad"))
}

/// The forests' description, or why there is none.
pub fn read() -> Result<Forests, String> {
    let path = state_dir().join("forests.json");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))
}

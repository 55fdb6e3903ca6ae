//! Values as written, typed while the file is read: [`Checked`] keeps a bad value's problem
//! to itself so the rest of its section still deserializes (and every problem is reported at
//! once), and [`HumanDuration`] is a duration such as `30s` or `1h 30m`.

use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

/// A value deserialized on its own: the value, or what is wrong with it (serde's message,
/// which for an enum lists the allowed values). The validator reports the problem with the
/// key's path.
#[derive(Debug)]
pub struct Checked<T>(Result<T, String>);

impl<T> Checked<T> {
    /// The value or its problem.
    pub fn into_result(self) -> Result<T, String> {
        self.0
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(deserializer)?;
        Ok(Checked(
            serde_yaml::from_value(value).map_err(|e| e.to_string()),
        ))
    }
}

/// A duration written the humantime way: `30s`, `5m`, `1h 30m`, `500ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `30s`, `5m` or `1h 30m`")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<HumanDuration, E> {
                parse_duration(s).map(HumanDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// Parses `30s`, `5m`, `1h 30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

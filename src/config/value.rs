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

/// A duration written the humantime way: `30s`, `5m`, `1h 30m`, `500ms`. One too long to count
/// ([`parse_duration`] refuses it) is [`Duration::MAX`], which every key's bound refuses.
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
                if too_long_to_count(s) {
                    return Ok(HumanDuration(Duration::MAX));
                }
                parse_duration(s).map(HumanDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// The largest sum of the numbers written in one duration. humantime's largest unit is a year
/// (31,557,600 s), so below this no sum of terms it adds up can come near `u64::MAX` seconds,
/// where its `Duration::new` would panic (`18446744073709551615s 1000000000ns` does). Every
/// sensible duration is far below it: `2^38` seconds alone are about 8,700 years.
const MAX_WRITTEN_TOTAL: u128 = 1 << 38;

/// True when the numbers written in `s` add up to more than [`MAX_WRITTEN_TOTAL`]. Digits run
/// on across whitespace, as humantime reads them (`1 000s` is a thousand seconds), so every
/// number humantime forms is at most one counted here.
fn too_long_to_count(s: &str) -> bool {
    let mut total: u128 = 0;
    let mut number: u128 = 0;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            number = number.saturating_mul(10).saturating_add(u128::from(d));
        } else if !c.is_whitespace() {
            total = total.saturating_add(number);
            number = 0;
        }
    }
    total.saturating_add(number) > MAX_WRITTEN_TOTAL
}

/// Parses `30s`, `5m`, `1h 30m`. Never panics: a string whose numbers add up to more than
/// 2^38 is refused before humantime sees it.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if too_long_to_count(s) {
        return Err(format!("invalid duration {s:?}: number is too large"));
    }
    humantime::parse_duration(s.trim()).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

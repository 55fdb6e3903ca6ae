//! Values as written, typed at their key paths. A section is deserialized through [`At`], a
//! deserializer over the YAML value that knows where it is: every unknown key is reported
//! with its path and dropped (so the rest still deserializes; `deny_unknown_fields` stays on
//! the structures as a safety net), and every error is reported where it happened. A leaf
//! written as [`Checked`] accepts any YAML value and is typed only when the validator reads
//! it (`Validator::checked`), so one bad value never hides another: every problem of every
//! section is reported at once. [`HumanDuration`] is a duration such as `30s` or `1h 30m`.

use super::ConfigIssue;
use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor,
};
use serde::Deserialize;
use serde_yaml::Value;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

/// A value as written, typed when the validator reads it at its key path
/// (`Validator::checked`): whatever is wrong with it (serde's message, which for an enum lists
/// the allowed values) is reported with that path, and nothing else is held up. Every key of
/// a section's raw structure is one (nested structures and list items included).
pub struct Checked<T> {
    value: Value,
    typed: PhantomData<fn() -> T>,
}

impl<T> Checked<T> {
    /// The value as written.
    pub(super) fn into_value(self) -> Value {
        self.value
    }
}

impl<T> fmt::Debug for Checked<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Checked").field(&self.value).finish()
    }
}

impl<'de, T> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Checked {
            value: Value::deserialize(deserializer)?,
            typed: PhantomData,
        })
    }
}

/// A list key as written: the list, each item typed on its own (`Validator::list`).
pub type CheckedList<T> = Checked<Vec<Checked<T>>>;

/// Types `value` as a `T` at `path` (`""` for the top): the value, or `None` when it is not
/// one; either way every problem found is in the list, each with its path.
pub(super) fn typed<T: DeserializeOwned>(
    path: &str,
    value: Value,
) -> (Option<T>, Vec<ConfigIssue>) {
    let found = Cell::new(Vec::new());
    let result = T::deserialize(At {
        value,
        path: path.to_string(),
        found: &found,
    });
    let mut issues = found.take();
    match result {
        Ok(t) => (Some(t), issues),
        Err(Problem(message)) => {
            // Recorded where it happened; a problem that was not (none is expected) still
            // shows.
            if let Some(message) = message {
                issues.push(issue(path, message));
            }
            (None, issues)
        }
    }
}

fn issue(path: &str, message: impl Into<String>) -> ConfigIssue {
    ConfigIssue {
        path: if path.is_empty() {
            "(file)".into()
        } else {
            path.to_string()
        },
        message: message.into(),
    }
}

/// A deserialization error of [`At`]: its message, or `None` once it has been recorded with
/// its path (so the levels above only unwind).
#[derive(Debug)]
pub(super) struct Problem(Option<String>);

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or("reported at its path"))
    }
}

impl std::error::Error for Problem {}

impl serde::de::Error for Problem {
    fn custom<M: fmt::Display>(message: M) -> Self {
        Problem(Some(message.to_string()))
    }
}

impl From<serde_yaml::Error> for Problem {
    fn from(e: serde_yaml::Error) -> Self {
        Problem(Some(e.to_string()))
    }
}

/// A YAML value at its key path, deserializing the way the configuration is read: unknown keys
/// of a structure are recorded (with the fields it expects) and skipped, and every error is
/// recorded at the path where it happened.
pub(super) struct At<'a> {
    value: Value,
    path: String,
    found: &'a Cell<Vec<ConfigIssue>>,
}

impl<'a> At<'a> {
    fn record(found: &Cell<Vec<ConfigIssue>>, path: &str, message: String) {
        let mut list = found.take();
        list.push(issue(path, message));
        found.set(list);
    }

    /// Records an error that happened here (not one recorded further down already).
    fn settle<T>(
        found: &Cell<Vec<ConfigIssue>>,
        path: &str,
        result: Result<T, Problem>,
    ) -> Result<T, Problem> {
        result.map_err(|Problem(message)| {
            if let Some(message) = message {
                At::record(found, path, message);
            }
            Problem(None)
        })
    }

    /// Lets the plain YAML value deserialize itself (a leaf), recording its error here.
    fn leaf<T>(self, f: impl FnOnce(Value) -> Result<T, serde_yaml::Error>) -> Result<T, Problem> {
        let result = f(self.value).map_err(Problem::from);
        At::settle(self.found, &self.path, result)
    }
}

/// `parent.key`, or `key` at the top.
fn key_path(parent: &str, key: &Value) -> String {
    let key = match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "?".to_string(),
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

/// Entries of a mapping, each value an [`At`] at its key's path.
struct Entries<'a> {
    entries: std::vec::IntoIter<(Value, Value)>,
    next: Option<(String, Value)>,
    path: String,
    found: &'a Cell<Vec<ConfigIssue>>,
}

impl<'de> MapAccess<'de> for Entries<'_> {
    type Error = Problem;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Problem> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.next = Some((key_path(&self.path, &key), value));
        seed.deserialize(key).map(Some).map_err(Problem::from)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Problem> {
        let (path, value) = self
            .next
            .take()
            .ok_or_else(|| Problem::custom("a value without its key"))?;
        seed.deserialize(At {
            value,
            path,
            found: self.found,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// Items of a sequence, each an [`At`] at `path[i]`.
struct Items<'a> {
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
    path: String,
    found: &'a Cell<Vec<ConfigIssue>>,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Problem;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Problem> {
        let Some((i, value)) = self.items.next() else {
            return Ok(None);
        };
        seed.deserialize(At {
            value,
            path: format!("{}[{i}]", self.path),
            found: self.found,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// Deserializer methods that let the plain YAML value answer (leaves).
macro_rules! leaves {
    ($($method:ident $(, $arg:ident: $ty:ty)*;)*) => {
        $(
            fn $method<V: Visitor<'de>>(self $(, $arg: $ty)*, visitor: V) -> Result<V::Value, Problem> {
                self.leaf(|v| v.$method($($arg,)* visitor))
            }
        )*
    };
}

impl<'de> Deserializer<'de> for At<'_> {
    type Error = Problem;

    leaves! {
        deserialize_any;
        deserialize_bool;
        deserialize_i8;
        deserialize_i16;
        deserialize_i32;
        deserialize_i64;
        deserialize_i128;
        deserialize_u8;
        deserialize_u16;
        deserialize_u32;
        deserialize_u64;
        deserialize_u128;
        deserialize_f32;
        deserialize_f64;
        deserialize_char;
        deserialize_str;
        deserialize_string;
        deserialize_bytes;
        deserialize_byte_buf;
        deserialize_unit;
        deserialize_unit_struct, name: &'static str;
        deserialize_tuple, len: usize;
        deserialize_tuple_struct, name: &'static str, len: usize;
        deserialize_enum, name: &'static str, variants: &'static [&'static str];
        deserialize_identifier;
        deserialize_ignored_any;
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        if self.value.is_null() {
            return visitor.visit_none();
        }
        let (found, path) = (self.found, self.path.clone());
        At::settle(found, &path, visitor.visit_some(self))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Problem> {
        let (found, path) = (self.found, self.path.clone());
        At::settle(found, &path, visitor.visit_newtype_struct(self))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        match self.value {
            Value::Sequence(items) => {
                let items = Items {
                    items: items.into_iter().enumerate(),
                    path: self.path.clone(),
                    found: self.found,
                };
                At::settle(self.found, &self.path, visitor.visit_seq(items))
            }
            _ => self.leaf(|v| v.deserialize_seq(visitor)),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Problem> {
        self.mapping(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Problem> {
        self.mapping(Some(fields), visitor)
    }
}

impl At<'_> {
    /// A mapping: a map, or a structure with `fields` (any other key is recorded as unknown
    /// and skipped).
    fn mapping<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, Problem> {
        let Value::Mapping(map) = self.value else {
            return self.leaf(|v| v.deserialize_map(visitor));
        };
        let mut entries = Vec::new();
        for (key, value) in map {
            match (fields, key.as_str()) {
                (Some(fields), Some(name)) if !fields.contains(&name) => At::record(
                    self.found,
                    &key_path(&self.path, &key),
                    Problem::unknown_field(name, fields).to_string(),
                ),
                (Some(fields), None) => At::record(
                    self.found,
                    &key_path(&self.path, &key),
                    Problem::unknown_field(&key_path("", &key), fields).to_string(),
                ),
                _ => entries.push((key, value)),
            }
        }
        let entries = Entries {
            entries: entries.into_iter(),
            next: None,
            path: self.path.clone(),
            found: self.found,
        };
        At::settle(self.found, &self.path, visitor.visit_map(entries))
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

//! The sign-in page's branding, part of `passive:`: the logo file, the accent colour, the
//! help-desk link and per-language overrides of every string the pages show (English and
//! Japanese are built in; any other language can be added by giving all of its strings).
//!
//! Checked here so a page never renders something unusable: the logo is a bounded PNG, JPEG,
//! GIF, WebP or SVG file; the accent colour (button background with white text, links, focus
//! ring) has at least 4.5:1 contrast against white (WCAG AA); language tags are well formed.

use super::{Checked, Validator};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Largest logo file: 256 KiB (it is sent with every sign-in page view).
pub const MAX_LOGO_BYTES: usize = 256 * 1024;
/// Longest text override, in characters.
pub const MAX_TEXT_CHARS: usize = 1000;
/// Least contrast the accent colour must have against white (WCAG 2 AA for normal text).
pub const MIN_ACCENT_CONTRAST: f64 = 4.5;
/// The default accent colour (contrast 5.3:1 against white).
pub const DEFAULT_ACCENT: Color = Color {
    r: 0x0f,
    g: 0x6c,
    b: 0xbd,
};

/// A set of page strings for one language, as the configuration gives it.
trait LanguageTexts {
    /// Every key given, with its value.
    fn given(&self) -> Vec<(&'static str, &str)>;
    /// The keys left out.
    fn missing(&self) -> Vec<&'static str>;
}

/// A set of page strings as written, typed key by key.
trait RawTexts {
    /// The typed set.
    type Typed: LanguageTexts;
    /// Types every key at `path.<key>`; a key that is not a string is reported and left out.
    fn typed(self, v: &mut Validator, path: &str) -> Self::Typed;
}

/// Declares a set of page strings once ([`PageTexts`], [`PasswordPageTexts`]): its fields, the
/// list of their keys and the set as written ([`RawPageTexts`], [`RawPasswordPageTexts`]).
macro_rules! page_texts {
    ($(#[$smeta:meta])* $name:ident / $raw:ident { $( $(#[$meta:meta])* $field:ident ),* $(,)? }) => {
        $(#[$smeta])*
        #[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $( $(#[$meta])* pub $field: Option<String>, )*
        }

        #[doc = concat!("[`", stringify!($name), "`] as written: each string typed on its own.")]
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $raw {
            $( $(#[$meta])* pub $field: Option<Checked<String>>, )*
        }

        impl RawTexts for $raw {
            type Typed = $name;
            fn typed(self, v: &mut Validator, path: &str) -> $name {
                $name {
                    $( $field: v.checked(&format!("{path}.{}", stringify!($field)), self.$field), )*
                }
            }
        }

        impl LanguageTexts for $name {
            fn given(&self) -> Vec<(&'static str, &str)> {
                $name::given(self)
            }
            fn missing(&self) -> Vec<&'static str> {
                $name::missing(self)
            }
        }

        impl $name {
            /// Every key, in declaration order.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// The keys this set leaves out.
            pub fn missing(&self) -> Vec<&'static str> {
                let mut out = Vec::new();
                $( if self.$field.is_none() { out.push(stringify!($field)); } )*
                out
            }

            /// Takes every key `other` gives.
            pub fn overlay(&mut self, other: &$name) {
                $( if let Some(v) = &other.$field { self.$field = Some(v.clone()); } )*
            }

            /// Every key given, with its value.
            pub fn given(&self) -> Vec<(&'static str, &str)> {
                let mut out = Vec::new();
                $( if let Some(v) = &self.$field { out.push((stringify!($field), v.as_str())); } )*
                out
            }
        }
    };
}

page_texts! {
    /// The strings of the pages in one language, as `passive.texts.<language>` gives them;
    /// each key absent keeps the built-in text (English or Japanese). A language altgate does
    /// not ship must give every key.
    PageTexts / RawPageTexts {
    /// The sign-in page's heading ("Sign in").
    heading,
    /// The user name field's label.
    user_name,
    /// The text before the example identifier ("Sign in with your e-mail address, for example").
    hint,
    /// The password field's label.
    password,
    /// The sign-in button.
    submit,
    /// The one message for every credential failure.
    bad_credentials,
    /// Shown while the token is posted to the application ("Signing you in…").
    posting,
    /// The button that posts the token when scripts are off ("Continue").
    continue_button,
    /// The error page's heading.
    error_title,
    /// A malformed, unknown or refused request.
    bad_request,
    /// The sign-in page expired (CSRF check failed).
    form_expired,
    /// Sign-in is unavailable (no signing key, state store down).
    unavailable,
    /// The signed-out page.
    signed_out,
    /// The line before the activity ID and time on error pages.
    error_details,
    /// "Activity ID".
    activity_id,
    /// "Time (UTC)".
    time,
    /// The help-desk text: the link text when `help_desk_url` is set, otherwise shown as is
    /// (a phone number, say) when given.
    help_desk,
    }
}

page_texts! {
    /// The password-change pages' strings in one language, as
    /// `passive.password_texts.<language>` gives them; each key absent keeps the built-in text
    /// (English or Japanese). A language altgate does not ship must give every key; without
    /// any, its users see these pages in English.
    PasswordPageTexts / RawPasswordPageTexts {
    /// The heading ("Update password", AD FS's title).
    heading,
    /// Shown when AD answered that the password expired.
    expired,
    /// Shown when AD answered that the password must be changed at next logon.
    must_change,
    /// The voluntary page's introduction.
    voluntary,
    /// "Old password".
    old_password,
    /// "New password".
    new_password,
    /// "Confirm new password".
    confirm_password,
    /// The submit button.
    submit,
    /// The two new passwords differ.
    mismatch,
    /// AD refused the new password (history, length, complexity, minimum age).
    policy,
    /// The change could not be made right now.
    unavailable,
    /// The voluntary page's success message.
    changed,
    }
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Color {
    /// Red.
    pub r: u8,
    /// Green.
    pub g: u8,
    /// Blue.
    pub b: u8,
}

impl Color {
    /// Parses `#rrggbb` or `#rgb`.
    pub fn parse(s: &str) -> Option<Color> {
        let hex = s.trim().strip_prefix('#')?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let byte = |i: usize, n: usize| {
            let part = hex.get(i..i + n)?;
            let v = u8::from_str_radix(part, 16).ok()?;
            Some(if n == 1 { v * 17 } else { v })
        };
        match hex.len() {
            3 => Some(Color {
                r: byte(0, 1)?,
                g: byte(1, 1)?,
                b: byte(2, 1)?,
            }),
            6 => Some(Color {
                r: byte(0, 2)?,
                g: byte(2, 2)?,
                b: byte(4, 2)?,
            }),
            _ => None,
        }
    }

    /// `#rrggbb`.
    pub fn css(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }

    /// WCAG 2 relative luminance.
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.r) + 0.7152 * channel(self.g) + 0.0722 * channel(self.b)
    }

    /// WCAG 2 contrast ratio against white (1 to 21).
    pub fn contrast_with_white(self) -> f64 {
        1.05 / (self.luminance() + 0.05)
    }
}

/// A logo file, served by altgate itself (the pages load nothing from elsewhere).
#[derive(Clone, PartialEq, Eq)]
pub struct Logo {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Its media type, from its content (`image/png`, `image/svg+xml`, ...).
    pub content_type: &'static str,
}

impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Logo({}, {} bytes)", self.content_type, self.bytes.len())
    }
}

/// The media type of an image, from its first bytes; `None` for anything else.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    let head = bytes.get(..bytes.len().min(512)).unwrap_or(bytes);
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if head.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some("image/jpeg");
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some("image/gif");
    }
    if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP".as_slice()) {
        return Some("image/webp");
    }
    let text = String::from_utf8_lossy(head);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if (t.starts_with("<svg") || t.starts_with("<?xml") || t.starts_with("<!--"))
        && text.contains("<svg")
    {
        return Some("image/svg+xml");
    }
    None
}

/// The branding of the sign-in, error and signed-out pages.
#[derive(Debug, Clone, PartialEq)]
pub struct Branding {
    /// `logo_file`: shown above the heading, served at `/adfs/portal/logo` (at most
    /// [`MAX_LOGO_BYTES`], 256 KiB).
    pub logo: Option<Logo>,
    /// `accent_color` (default `#0f6cbd`): the button, links and the focus ring; at least
    /// [`MIN_ACCENT_CONTRAST`] (4.5:1) against white.
    pub accent_color: Color,
    /// `help_desk_url`: where the help-desk link goes (`https://`, `http://`, `mailto:` or
    /// `tel:`).
    pub help_desk_url: Option<String>,
    /// `texts`: per-language overrides (language tag, lower case, and its strings), by tag.
    /// Every value is at most [`MAX_TEXT_CHARS`] characters.
    pub texts: Vec<(String, PageTexts)>,
    /// `password_texts`: the same for the password-change pages.
    pub password_texts: Vec<(String, PasswordPageTexts)>,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            logo: None,
            accent_color: DEFAULT_ACCENT,
            help_desk_url: None,
            texts: Vec::new(),
            password_texts: Vec::new(),
        }
    }
}

/// The languages whose every string altgate ships.
pub const BUILT_IN_LANGUAGES: &[&str] = &["en", "ja"];

/// A language tag as `Accept-Language` carries it: `de`, `pt-br`, `zh-hant` (lower case).
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| {
            (1..=8).contains(&p.len())
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// A URL a help-desk link may point to.
fn is_help_url(url: &str) -> bool {
    ["https://", "http://", "mailto:", "tel:"]
        .iter()
        .any(|s| url.starts_with(s) && url.len() > s.len())
        && url.len() <= 2048
        && !url.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\'' | '`')
        })
}

/// `passive:` branding keys, typed (the language maps' entries are typed one by one).
#[derive(Debug, Default)]
pub(super) struct RawBranding {
    /// `passive.logo_file`.
    pub(super) logo_file: Option<String>,
    /// `passive.accent_color`.
    pub(super) accent_color: Option<String>,
    /// `passive.help_desk_url`.
    pub(super) help_desk_url: Option<String>,
    /// `passive.texts`.
    pub(super) texts: Option<BTreeMap<String, Checked<RawPageTexts>>>,
    /// `passive.password_texts`.
    pub(super) password_texts: Option<BTreeMap<String, Checked<RawPasswordPageTexts>>>,
}

impl Validator {
    /// The branding keys of `passive:`.
    pub(super) fn branding(&mut self, raw: RawBranding) -> Branding {
        let mut b = Branding::default();
        if let Some(file) = &raw.logo_file {
            b.logo = self.logo(file);
        }
        if let Some(c) = &raw.accent_color {
            match Color::parse(c) {
                None => self.err(
                    "passive.accent_color",
                    format!("{c:?} is not a colour: write #rrggbb or #rgb"),
                ),
                Some(color) if color.contrast_with_white() < MIN_ACCENT_CONTRAST => self.err(
                    "passive.accent_color",
                    format!(
                        "{} has a contrast of {:.1}:1 against white; the button's white text and the links need at least {MIN_ACCENT_CONTRAST}:1 (WCAG AA): choose a darker colour",
                        color.css(),
                        color.contrast_with_white()
                    ),
                ),
                Some(color) => b.accent_color = color,
            }
        }
        if let Some(url) = &raw.help_desk_url {
            if is_help_url(url) {
                b.help_desk_url = Some(url.clone());
            } else {
                self.err(
                    "passive.help_desk_url",
                    format!("{url:?} must be an https://, http://, mailto: or tel: URL without spaces or quotes"),
                );
            }
        }
        b.texts = self.language_texts("passive.texts", raw.texts);
        b.password_texts = self.language_texts("passive.password_texts", raw.password_texts);
        for (tag, _) in &b.password_texts {
            let spoken =
                BUILT_IN_LANGUAGES.contains(&tag.as_str()) || b.texts.iter().any(|(t, _)| t == tag);
            if !spoken {
                self.err(
                    format!("passive.password_texts.{tag}"),
                    format!("the sign-in pages do not speak this language: give passive.texts.{tag} too"),
                );
            }
        }
        b
    }

    /// One `<key>.<language>` map of page strings: language tags as browsers send them, no
    /// value longer than [`MAX_TEXT_CHARS`], and every string for a language altgate does not
    /// ship.
    fn language_texts<R: RawTexts + serde::de::DeserializeOwned>(
        &mut self,
        key: &str,
        raw: Option<BTreeMap<String, Checked<R>>>,
    ) -> Vec<(String, R::Typed)> {
        let mut out = Vec::new();
        for (tag, t) in raw.unwrap_or_default() {
            let path = format!("{key}.{tag}");
            if !is_language_tag(&tag) {
                self.err(
                    &path,
                    "not a language tag: write it as browsers send it, in lower case (de, fr, pt-br)",
                );
                continue;
            }
            let Some(t) = self.checked(&path, Some(t)) else {
                continue;
            };
            let t = t.typed(self, &path);
            for (key, value) in t.given() {
                if value.chars().count() > MAX_TEXT_CHARS {
                    self.err(
                        format!("{path}.{key}"),
                        format!("longer than {MAX_TEXT_CHARS} characters"),
                    );
                }
            }
            let missing = t.missing();
            if !BUILT_IN_LANGUAGES.contains(&tag.as_str()) && !missing.is_empty() {
                self.err(
                    &path,
                    format!(
                        "altgate does not ship this language, so every string must be given; missing: {}",
                        missing.join(", ")
                    ),
                );
                continue;
            }
            out.push((tag, t));
        }
        out
    }

    fn logo(&mut self, file: &str) -> Option<Logo> {
        let path = "passive.logo_file";
        let bytes = match std::fs::metadata(Path::new(file)) {
            Ok(m) if m.len() > MAX_LOGO_BYTES as u64 => {
                self.err(
                    path,
                    format!("{file} is {} bytes; at most {MAX_LOGO_BYTES}", m.len()),
                );
                return None;
            }
            Ok(_) => std::fs::read(file),
            Err(e) => Err(e),
        };
        match bytes {
            Err(e) => {
                self.err(path, format!("cannot read {file}: {e}"));
                None
            }
            Ok(bytes) => match image_type(&bytes) {
                Some(content_type) => Some(Logo {
                    bytes,
                    content_type,
                }),
                None => {
                    self.err(
                        path,
                        format!("{file} is not a PNG, JPEG, GIF, WebP or SVG image"),
                    );
                    None
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse_and_their_contrast_is_wcags() {
        assert_eq!(Color::parse("#0F6CBD"), Some(DEFAULT_ACCENT));
        assert_eq!(
            Color::parse("#fff").map(Color::css).as_deref(),
            Some("#ffffff")
        );
        assert!(Color::parse("0f6cbd").is_none() && Color::parse("#12345").is_none());
        assert!(Color::parse("#ggg").is_none());
        let black = Color { r: 0, g: 0, b: 0 };
        assert!((black.contrast_with_white() - 21.0).abs() < 1e-9);
        assert!(DEFAULT_ACCENT.contrast_with_white() >= MIN_ACCENT_CONTRAST);
        let yellow = Color::parse("#ffcc00").expect("colour");
        assert!(yellow.contrast_with_white() < 2.0);
    }

    #[test]
    fn images_are_known_by_their_content() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(
            image_type(b"  <svg xmlns='http://www.w3.org/2000/svg'/>"),
            Some("image/svg+xml")
        );
        assert_eq!(image_type(b"<html><script>"), None);
        assert_eq!(image_type(b""), None);
    }

    #[test]
    fn language_tags_and_help_urls() {
        for ok in ["de", "pt-br", "zh-hant", "ast"] {
            assert!(is_language_tag(ok), "{ok}");
        }
        for bad in ["DE", "d", "de_DE", "de-", "english", ""] {
            assert!(!is_language_tag(bad), "{bad}");
        }
        assert!(is_help_url("https://help.contoso.com/signin"));
        assert!(is_help_url("tel:+15550100"));
        assert!(!is_help_url("javascript:alert(1)"));
        assert!(!is_help_url("https://x\" onmouseover=\"y"));
    }
}

//! The HTML altgate shows browsers: the sign-in page (server-rendered, no JavaScript needed,
//! labelled fields, keyboard and screen-reader friendly), the auto-submitting form that carries
//! a token to the relying party (a button when scripts are off), error pages (with the activity
//! ID and time a help desk searches the audit log for) and the signed-out page; and the
//! Content-Security-Policy that allows exactly their one style and one script.
//!
//! [`Pages`] is built once from `passive:` (organisation name, logo, accent colour, help desk,
//! per-language texts): English and Japanese are built in, every string can be overridden per
//! language, and further languages come from the configuration. Everything a page shows that
//! came from a request or a configuration file is escaped.

mod password_change;

use super::texts::{english, english_password, japanese, japanese_password};
use crate::config::branding::{Branding, PageTexts, PasswordPageTexts, BUILT_IN_LANGUAGES};
use crate::xml::escape_attr;
use base64::Engine;
pub use password_change::{PasswordMessage, PasswordPage, PasswordPurpose, UPDATE_PASSWORD_PATH};
use time::OffsetDateTime;

/// Where the configured logo is served (the pages load nothing from elsewhere).
pub const LOGO_PATH: &str = crate::endpoint::Endpoint::Logo.path();

/// A page language: an index into the languages [`Pages`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lang(usize);

impl Lang {
    /// English (the default).
    pub const EN: Lang = Lang(0);
    /// Japanese.
    pub const JA: Lang = Lang(1);
}

/// One language's strings, every key present.
#[derive(Debug, Clone)]
struct Language {
    /// Lower-case tag (`en`, `ja`, `de`, `pt-br`).
    tag: String,
    texts: PageTexts,
    /// The password-change pages' strings.
    password: PasswordPageTexts,
    /// The configuration gave a help-desk text (shown even without a link).
    help_desk_given: bool,
}

impl Language {
    /// One string, HTML-escaped.
    fn t(&self, pick: fn(&PageTexts) -> &Option<String>) -> String {
        escape_attr(pick(&self.texts).as_deref().unwrap_or(""))
    }
}

/// Why an error page is shown (the user sees a short explanation, never internals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed, unknown or not allowed.
    BadRequest,
    /// The sign-in form expired or did not come from altgate (CSRF check failed).
    FormExpired,
    /// The service cannot issue tokens right now.
    Unavailable,
}

/// What ties an error page to the logs: the request's activity ID and when it failed.
#[derive(Debug, Clone, Copy)]
pub struct Trace<'a> {
    /// The activity ID (also in the `X-Request-Id` response header and every event of the
    /// request).
    pub activity_id: &'a str,
    /// When the request was refused.
    pub time: OffsetDateTime,
}

/// `2026-11-24T15:18:47Z`.
pub fn utc_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

const AUTO_SUBMIT: &str = "document.forms[0].submit();";

/// The one style sheet, with the accent colour.
fn style(accent: &str) -> String {
    format!(
        ":root{{--accent:{accent}}}*{{box-sizing:border-box}}\
         body{{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;margin:0;background:#f3f4f6;color:#1b1b1b;line-height:1.5}}\
         main{{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem 2.25rem;border-radius:8px;box-shadow:0 1px 6px rgba(0,0,0,.15)}}\
         main.wide{{max-width:52rem}}\
         .brand{{display:flex;align-items:center;min-height:48px;margin-bottom:1.25rem;font-size:1.3rem;font-weight:600}}\
         .brand img{{max-height:56px;max-width:240px}}\
         h1{{font-size:1.5rem;font-weight:600;margin:0 0 1rem}}h2{{font-size:1.1rem;margin:1.5rem 0 .5rem}}\
         label{{display:block;margin-top:1rem;font-weight:600}}\
         input{{width:100%;padding:.6rem .7rem;font:inherit;margin-top:.3rem;border:1px solid #767676;border-radius:4px;background:#fff;color:inherit}}\
         input[aria-invalid=true]{{border-color:#a80000}}\
         :focus-visible{{outline:3px solid var(--accent);outline-offset:2px}}\
         .hint{{color:#555;font-size:.9rem;margin:.3rem 0 0}}\
         button,.button{{display:inline-block;margin:1.5rem .5rem 0 0;padding:.65rem 1.75rem;font:inherit;font-weight:600;border:0;border-radius:4px;background:var(--accent);color:#fff;cursor:pointer;text-decoration:none}}\
         button:hover,.button:hover{{filter:brightness(.88)}}\
         a{{color:var(--accent)}}\
         .error{{color:#a80000;background:#fdf3f4;border-left:4px solid #a80000;padding:.5rem .75rem;margin:1rem 0}}\
         .done{{color:#0e5c1f;background:#f1faf3;border-left:4px solid #107c10;padding:.5rem .75rem;margin:1rem 0}}\
         .details{{font-size:.9rem;color:#444;border-top:1px solid #ddd;margin-top:1.5rem;padding-top:.75rem}}\
         .details dt{{font-weight:600}}.details dd{{margin:0 0 .5rem;font-family:ui-monospace,Consolas,monospace;overflow-wrap:anywhere}}\
         .help{{margin-top:1.5rem;font-size:.9rem}}\
         table{{border-collapse:collapse;width:100%;font-size:.85rem}}\
         th,td{{text-align:left;vertical-align:top;padding:.35rem .5rem;border-bottom:1px solid #e5e5e5;overflow-wrap:anywhere}}\
         th{{width:34%;font-weight:600}}code{{font-family:ui-monospace,Consolas,monospace}}th code{{font-weight:400;font-size:.75rem;color:#555}}"
    )
}

fn sha256_b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()))
}

/// The origin (`scheme://host[:port]`) of an absolute URL.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// What the sign-in page shows.
#[derive(Debug, Clone)]
pub struct SignInPage<'a> {
    /// Language.
    pub lang: Lang,
    /// The original request, carried through the form.
    pub ctx: &'a str,
    /// CSRF token (also in a cookie).
    pub csrf: &'a str,
    /// Show the generic credentials error.
    pub error: bool,
    /// Prefill the user name (after an error).
    pub username: &'a str,
}

/// Every page altgate renders, built once from the configuration.
#[derive(Debug, Clone)]
pub struct Pages {
    languages: Vec<Language>,
    /// English, for an index that is out of range (never, as [`Lang`] values come from here).
    fallback: Language,
    organization: String,
    hint_example: String,
    logo: bool,
    help_desk_url: Option<String>,
    style: String,
    style_hash: String,
}

impl Pages {
    /// The pages for `passive:` settings.
    pub fn new(settings: &crate::config::PassiveConfig) -> Pages {
        Pages::with_branding(
            &settings.organization_name,
            &settings.sign_in_hint,
            &settings.branding,
        )
    }

    /// The pages for an organisation name, an example identifier and a branding.
    pub fn with_branding(organization: &str, hint_example: &str, branding: &Branding) -> Pages {
        let mut languages: Vec<Language> = [
            ("en", english(), english_password()),
            ("ja", japanese(), japanese_password()),
        ]
        .into_iter()
        .map(|(tag, texts, password)| Language {
            tag: tag.to_string(),
            texts,
            password,
            help_desk_given: false,
        })
        .collect();
        for (tag, over) in &branding.texts {
            let given = over.help_desk.is_some();
            match languages.iter_mut().find(|l| &l.tag == tag) {
                Some(l) => {
                    l.texts.overlay(over);
                    l.help_desk_given |= given;
                }
                None => {
                    // Check-config made sure a new language gives every string; English fills
                    // anything missing all the same.
                    let mut texts = english();
                    texts.overlay(over);
                    languages.push(Language {
                        tag: tag.clone(),
                        texts,
                        password: english_password(),
                        help_desk_given: given,
                    });
                }
            }
        }
        // The password-change strings of a language the sign-in page does not speak are never
        // shown (the page's language comes from the same list), so only known tags take them.
        for (tag, over) in &branding.password_texts {
            if let Some(l) = languages.iter_mut().find(|l| &l.tag == tag) {
                l.password.overlay(over);
            }
        }
        debug_assert!(BUILT_IN_LANGUAGES
            .iter()
            .zip(&languages)
            .all(|(t, l)| *t == l.tag));
        let style = style(&branding.accent_color.css());
        Pages {
            fallback: Language {
                tag: "en".into(),
                texts: english(),
                password: english_password(),
                help_desk_given: false,
            },
            languages,
            organization: organization.to_string(),
            hint_example: hint_example.to_string(),
            logo: branding.logo.is_some(),
            help_desk_url: branding.help_desk_url.clone(),
            style_hash: sha256_b64(&style),
            style,
        }
    }

    fn language(&self, lang: Lang) -> &Language {
        self.languages.get(lang.0).unwrap_or(&self.fallback)
    }

    /// The language tag of `lang` (`en`, `ja`, ...).
    pub fn tag(&self, lang: Lang) -> &str {
        &self.language(lang).tag
    }

    /// Picks the language the browser prefers most among those the pages speak: an exact tag,
    /// else one whose primary subtag matches (`de-CH` → `de`); English when none does.
    pub fn lang(&self, accept_language: Option<&str>) -> Lang {
        let mut best = (Lang::EN, -1.0f32);
        for part in accept_language.unwrap_or("").split(',').take(32) {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            if tag.is_empty() || q <= 0.0 {
                continue;
            }
            let primary = tag.split('-').next().unwrap_or("");
            let found = if tag == "*" {
                Some(0)
            } else {
                self.languages
                    .iter()
                    .position(|l| l.tag == tag)
                    .or_else(|| self.languages.iter().position(|l| l.tag == primary))
                    .or_else(|| {
                        self.languages
                            .iter()
                            .position(|l| l.tag.split('-').next() == Some(primary))
                    })
            };
            if let Some(i) = found {
                if q > best.1 {
                    best = (Lang(i), q);
                }
            }
        }
        best.0
    }

    /// The Content-Security-Policy: nothing but altgate's one style and one script and its own
    /// logo, forms only to altgate itself and to `form_target` (the relying party being posted
    /// to), never framed.
    pub fn csp(&self, form_target: Option<&str>) -> String {
        let extra = form_target
            .and_then(origin)
            .map(|o| format!(" {o}"))
            .unwrap_or_default();
        format!(
            "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; img-src 'self'; form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'none'",
            self.style_hash,
            sha256_b64(AUTO_SUBMIT)
        )
    }

    /// The organisation's logo or, without one, its name.
    fn brand(&self) -> String {
        let org = escape_attr(&self.organization);
        if self.logo {
            format!("<div class=\"brand\"><img src=\"{LOGO_PATH}\" alt=\"{org}\"></div>")
        } else {
            format!("<div class=\"brand\" id=\"organization\">{org}</div>")
        }
    }

    /// The help-desk line: a link when `help_desk_url` is set, the configured text otherwise.
    fn help(&self, l: &Language) -> String {
        let text = l.t(|t| &t.help_desk);
        match &self.help_desk_url {
            Some(url) => format!(
                "<p class=\"help\"><a id=\"helpDesk\" href=\"{}\">{text}</a></p>",
                escape_attr(url)
            ),
            None if l.help_desk_given && !text.is_empty() => {
                format!("<p class=\"help\" id=\"helpDesk\">{text}</p>")
            }
            None => String::new(),
        }
    }

    /// A whole page: `body` (already escaped HTML) after the brand, in `lang`. `wide` for the
    /// demo application's tables; `script` adds the auto-submit script.
    pub fn page(&self, lang: Lang, title: &str, body: &str, wide: bool, script: bool) -> String {
        format!(
            "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>{}</title><style>{}</style></head><body><main{}>{}{body}</main>{}</body></html>",
            escape_attr(self.tag(lang)),
            escape_attr(title),
            self.style,
            if wide { " class=\"wide\"" } else { "" },
            self.brand(),
            if script { format!("<script>{AUTO_SUBMIT}</script>") } else { String::new() }
        )
    }

    fn title(&self, what: &str) -> String {
        format!("{what} - {}", self.organization)
    }

    /// The sign-in form. It posts `UserName`, `Password`, `AuthMethod=FormsAuthentication`
    /// (the fields AD FS uses), the CSRF token and the original request back to `/adfs/ls/`.
    pub fn sign_in(&self, p: &SignInPage<'_>) -> String {
        let l = self.language(p.lang);
        let (error, invalid) = if p.error {
            (
                format!(
                    "<p class=\"error\" id=\"errorText\" role=\"alert\">{}</p>",
                    l.t(|t| &t.bad_credentials)
                ),
                " aria-invalid=\"true\"",
            )
        } else {
            (String::new(), "")
        };
        let described = if p.error {
            "errorText userHint"
        } else {
            "userHint"
        };
        let (user_focus, password_focus) = if p.username.is_empty() {
            (" autofocus", "")
        } else {
            ("", " autofocus")
        };
        let body = format!(
            "<h1>{heading}</h1>{error}\
             <form method=\"post\" id=\"loginForm\" action=\"{passive}\" autocomplete=\"off\" novalidate>\
             <label for=\"userNameInput\">{user}</label>\
             <input id=\"userNameInput\" name=\"UserName\" type=\"text\" inputmode=\"email\" value=\"{username}\" autocomplete=\"username\" required aria-required=\"true\" aria-describedby=\"{described}\"{invalid} spellcheck=\"false\" autocapitalize=\"off\"{user_focus}>\
             <p class=\"hint\" id=\"userHint\">{hint_text} {hint}</p>\
             <label for=\"passwordInput\">{password}</label>\
             <input id=\"passwordInput\" name=\"Password\" type=\"password\" autocomplete=\"current-password\" required aria-required=\"true\"{invalid}{password_focus}>\
             <input type=\"hidden\" name=\"AuthMethod\" value=\"FormsAuthentication\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"ctx\" value=\"{ctx}\">\
             <button type=\"submit\" id=\"submitButton\">{submit}</button></form>{help}",
            heading = l.t(|t| &t.heading),
            passive = crate::endpoint::Endpoint::Passive.path(),
            user = l.t(|t| &t.user_name),
            username = escape_attr(p.username),
            hint_text = l.t(|t| &t.hint),
            hint = escape_attr(&self.hint_example),
            password = l.t(|t| &t.password),
            csrf = escape_attr(p.csrf),
            ctx = escape_attr(p.ctx),
            submit = l.t(|t| &t.submit),
            help = self.help(l),
        );
        let heading = l.texts.heading.as_deref().unwrap_or("");
        self.page(p.lang, &self.title(heading), &body, false, false)
    }

    /// The page that posts a token to the relying party.
    pub fn auto_post(&self, lang: Lang, action: &str, fields: &[(&str, &str)]) -> String {
        let l = self.language(lang);
        let inputs: String = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    escape_attr(k),
                    escape_attr(v)
                )
            })
            .collect();
        let body = format!(
            "<p role=\"status\">{}</p><form method=\"post\" action=\"{}\">{inputs}<button type=\"submit\">{}</button></form>",
            l.t(|t| &t.posting),
            escape_attr(action),
            l.t(|t| &t.continue_button)
        );
        let posting = l.texts.posting.as_deref().unwrap_or("");
        self.page(lang, &self.title(posting), &body, false, true)
    }

    /// An error page, with what a help desk needs to find the request in the audit log.
    pub fn error(&self, lang: Lang, kind: ErrorKind, trace: &Trace<'_>) -> String {
        let l = self.language(lang);
        let message = match kind {
            ErrorKind::BadRequest => l.t(|t| &t.bad_request),
            ErrorKind::FormExpired => l.t(|t| &t.form_expired),
            ErrorKind::Unavailable => l.t(|t| &t.unavailable),
        };
        let body = format!(
            "<h1>{title}</h1><p id=\"errorText\" role=\"alert\">{message}</p>\
             <div class=\"details\"><p>{details}</p><dl>\
             <dt>{activity}</dt><dd id=\"activityId\">{id}</dd>\
             <dt>{time}</dt><dd id=\"errorTime\">{when}</dd></dl></div>{help}",
            title = l.t(|t| &t.error_title),
            details = l.t(|t| &t.error_details),
            activity = l.t(|t| &t.activity_id),
            id = escape_attr(trace.activity_id),
            time = l.t(|t| &t.time),
            when = utc_time(trace.time),
            help = self.help(l),
        );
        let title = l.texts.error_title.as_deref().unwrap_or("");
        self.page(lang, &self.title(title), &body, false, false)
    }

    /// The signed-out page.
    pub fn signed_out(&self, lang: Lang) -> String {
        let l = self.language(lang);
        let body = format!(
            "<h1 id=\"signedOut\">{}</h1>{}",
            l.t(|t| &t.signed_out),
            self.help(l)
        );
        let title = l.texts.signed_out.as_deref().unwrap_or("");
        self.page(lang, &self.title(title), &body, false, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::branding::{Color, Logo};

    fn plain() -> Pages {
        Pages::with_branding("altgate", "someone@example.com", &Branding::default())
    }

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        let p = plain();
        assert_eq!(p.lang(Some("ja,en-US;q=0.8")), Lang::JA);
        assert_eq!(p.lang(Some("en-US,ja;q=0.5")), Lang::EN);
        assert_eq!(p.lang(Some("fr-FR,ja-JP;q=0.7")), Lang::JA);
        assert_eq!(p.lang(Some("fr")), Lang::EN);
        assert_eq!(p.lang(Some("ja;q=0")), Lang::EN);
        assert_eq!(p.lang(None), Lang::EN);
    }

    #[test]
    fn pages_escape_what_they_echo_and_match_the_csp() {
        let p = Pages::with_branding("Contoso <Ltd>", "a\"b", &Branding::default());
        let html = p.sign_in(&SignInPage {
            lang: Lang::EN,
            ctx: "x\"><script>",
            csrf: "t",
            error: true,
            username: "\"><img src=x>",
        });
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("id=\"errorText\"") && html.contains("aria-invalid=\"true\""));
        let csp = p.csp(Some("https://sp.example.org/acs?x=1"));
        assert!(
            csp.contains("form-action 'self' https://sp.example.org;"),
            "{csp}"
        );
        assert!(csp.contains(&format!("'sha256-{}'", sha256_b64(&p.style))));
        assert!(html.contains(&format!("<style>{}</style>", p.style)));
        let post = p.auto_post(Lang::JA, "https://sp/acs", &[("SAMLResponse", "PHg+")]);
        assert!(post.contains(&format!("<script>{AUTO_SUBMIT}</script>")));
        assert!(post.contains("lang=\"ja\""));
    }

    #[test]
    fn every_label_names_its_field_and_the_page_declares_its_language() {
        let html = plain().sign_in(&SignInPage {
            lang: Lang::EN,
            ctx: "c",
            csrf: "t",
            error: false,
            username: "",
        });
        for id in ["userNameInput", "passwordInput"] {
            assert!(html.contains(&format!("<label for=\"{id}\">")), "{id}");
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        }
        assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
        assert!(html.contains("<button type=\"submit\" id=\"submitButton\">Sign in</button>"));
        assert!(html.contains(":focus-visible{outline:3px solid var(--accent)"));
        assert!(
            !html.contains("id=\"helpDesk\""),
            "no help line unless configured"
        );
    }

    #[test]
    fn branding_sets_logo_colour_help_desk_and_texts_including_a_new_language() {
        let german = PageTexts {
            heading: Some("Anmelden".into()),
            error_title: Some("Anmeldung nicht möglich".into()),
            help_desk: Some("Hilfe bei der Anmeldung".into()),
            ..english()
        };
        let branding = Branding {
            logo: Some(Logo {
                bytes: b"\x89PNG\r\n\x1a\n".to_vec(),
                content_type: "image/png",
            }),
            accent_color: Color::parse("#8a2be2").expect("colour"),
            help_desk_url: Some("https://help.contoso.com/?a=1&b=2".into()),
            texts: vec![
                (
                    "en".into(),
                    PageTexts {
                        heading: Some("Sign in to Contoso".into()),
                        ..PageTexts::default()
                    },
                ),
                ("de".into(), german),
            ],
            password_texts: vec![
                (
                    "de".into(),
                    PasswordPageTexts {
                        heading: Some("Kennwort aktualisieren".into()),
                        expired: Some(
                            "Ihr Kennwort ist abgelaufen & muss <neu> gesetzt werden.".into(),
                        ),
                        ..PasswordPageTexts::default()
                    },
                ),
                (
                    "ja".into(),
                    PasswordPageTexts {
                        submit: Some("変更".into()),
                        ..PasswordPageTexts::default()
                    },
                ),
            ],
        };
        let p = Pages::with_branding("Contoso", "jdoe@contoso.com", &branding);
        let en = p.sign_in(&SignInPage {
            lang: Lang::EN,
            ctx: "c",
            csrf: "t",
            error: false,
            username: "",
        });
        assert!(en.contains("<h1>Sign in to Contoso</h1>"), "{en}");
        assert!(en.contains(&format!("<img src=\"{LOGO_PATH}\" alt=\"Contoso\">")));
        assert!(en.contains("--accent:#8a2be2"));
        assert!(en.contains(
            "<a id=\"helpDesk\" href=\"https://help.contoso.com/?a=1&amp;b=2\">Get help signing in</a>"
        ));
        assert!(en.contains("for example jdoe@contoso.com"));
        let de = p.lang(Some("de-CH,en;q=0.5"));
        assert_eq!(p.tag(de), "de");
        let trace = Trace {
            activity_id: "00000000-0000-0000-0000-000000000001",
            time: OffsetDateTime::UNIX_EPOCH,
        };
        let err = p.error(de, ErrorKind::BadRequest, &trace);
        assert!(err.contains("lang=\"de\"") && err.contains("Anmeldung nicht möglich"));
        assert!(err.contains(">Hilfe bei der Anmeldung</a>"));
        assert!(err.contains("<dd id=\"activityId\">00000000-0000-0000-0000-000000000001</dd>"));
        assert!(err.contains("<dd id=\"errorTime\">1970-01-01T00:00:00Z</dd>"));
        // Japanese keeps its own strings.
        assert!(p
            .signed_out(p.lang(Some("ja")))
            .contains("サインアウトしました。"));
        // The password-change page takes its strings from the same language, escaped; a key
        // the configuration leaves out keeps the built-in (English for a new language).
        let change = |lang| {
            p.password_change(&PasswordPage {
                lang,
                purpose: PasswordPurpose::Expired,
                csrf: "t",
                state: "s",
                username: "jdoe@contoso.com",
                message: Some(PasswordMessage::Mismatch),
            })
        };
        let de_change = change(de);
        assert!(
            de_change.contains("<h1>Kennwort aktualisieren</h1>"),
            "{de_change}"
        );
        assert!(
            de_change.contains("Ihr Kennwort ist abgelaufen &amp; muss &lt;neu"),
            "{de_change}"
        );
        assert!(
            de_change.contains("<title>Kennwort aktualisieren - Contoso</title>"),
            "{de_change}"
        );
        assert!(
            de_change.contains("The new passwords don't match"),
            "English where the configuration gives nothing: {de_change}"
        );
        let ja_change = change(p.lang(Some("ja")));
        assert!(ja_change.contains(">変更</button>"), "{ja_change}");
        assert!(
            ja_change.contains("<h1>パスワードの更新</h1>"),
            "{ja_change}"
        );
    }
}

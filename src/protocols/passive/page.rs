//! The HTML altgate shows browsers: the sign-in page (server-rendered, no JavaScript needed,
//! labelled fields, English or Japanese from `Accept-Language`), the auto-submitting form that
//! carries a token to the relying party (a button when scripts are off), error and signed-out
//! pages; and the Content-Security-Policy that allows exactly their one style and one script.

use crate::xml::escape_attr;
use base64::Engine;

/// Page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// Picks the language the browser prefers most among those altgate speaks.
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let mut best = (Lang::En, -1.0f32);
        for part in header.unwrap_or("").split(',').take(32) {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag == "ja" || tag.starts_with("ja-") {
                Some(Lang::Ja)
            } else if tag == "en" || tag.starts_with("en-") || tag == "*" {
                Some(Lang::En)
            } else {
                None
            };
            if let Some(l) = lang {
                if q > best.1 {
                    best = (l, q);
                }
            }
        }
        best.0
    }

    fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }
}

struct Texts {
    title: &'static str,
    heading: &'static str,
    user: &'static str,
    hint: &'static str,
    password: &'static str,
    submit: &'static str,
    bad_credentials: &'static str,
    continue_: &'static str,
    posting: &'static str,
    error_title: &'static str,
    signed_out: &'static str,
}

fn texts(lang: Lang) -> Texts {
    match lang {
        Lang::En => Texts {
            title: "Sign in",
            heading: "Sign in",
            user: "User name",
            hint: "Sign in with your e-mail address, for example",
            password: "Password",
            submit: "Sign in",
            bad_credentials: "Incorrect user ID or password. Type the correct user ID and password, and try again.",
            continue_: "Continue",
            posting: "Signing you in…",
            error_title: "Sign-in cannot continue",
            signed_out: "You have signed out.",
        },
        Lang::Ja => Texts {
            title: "サインイン",
            heading: "サインイン",
            user: "ユーザー名",
            hint: "メール アドレスでサインインしてください。例:",
            password: "パスワード",
            submit: "サインイン",
            bad_credentials: "ユーザー ID またはパスワードが正しくありません。正しいユーザー ID とパスワードを入力して、もう一度やり直してください。",
            continue_: "続行",
            posting: "サインインしています…",
            error_title: "サインインを続行できません",
            signed_out: "サインアウトしました。",
        },
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

fn error_text(lang: Lang, kind: ErrorKind) -> &'static str {
    match (lang, kind) {
        (Lang::En, ErrorKind::BadRequest) => "The sign-in request is not valid. Go back to the application and try again.",
        (Lang::En, ErrorKind::FormExpired) => "The sign-in page expired. Go back to the application and sign in again.",
        (Lang::En, ErrorKind::Unavailable) => "Sign-in is not available right now. Try again later.",
        (Lang::Ja, ErrorKind::BadRequest) => "サインイン要求が無効です。アプリケーションに戻って、もう一度やり直してください。",
        (Lang::Ja, ErrorKind::FormExpired) => "サインイン ページの有効期限が切れました。アプリケーションに戻って、もう一度サインインしてください。",
        (Lang::Ja, ErrorKind::Unavailable) => "現在サインインできません。しばらくしてからもう一度お試しください。",
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f4;color:#1b1b1b}main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:4px}label{display:block;margin-top:1rem;font-weight:600}input{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem;margin-top:.25rem}button{margin-top:1.5rem;padding:.6rem 1.5rem;font-size:1rem}.hint{color:#555;font-size:.9rem}.error{color:#a80000;margin-top:1rem}";
const AUTO_SUBMIT: &str = "document.forms[0].submit();";

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

/// The Content-Security-Policy: nothing but altgate's one style and one script, forms only to
/// altgate itself and to `form_target` (the relying party being posted to), never framed.
pub fn csp(form_target: Option<&str>) -> String {
    let extra = form_target
        .and_then(origin)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src 'sha256-{}'; script-src 'sha256-{}'; form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'none'",
        sha256_b64(STYLE),
        sha256_b64(AUTO_SUBMIT)
    )
}

fn shell(lang: Lang, title: &str, body: &str, script: bool) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>{}</title><style>{STYLE}</style></head><body><main>{body}</main>{}</body></html>",
        lang.code(),
        escape_attr(title),
        if script { format!("<script>{AUTO_SUBMIT}</script>") } else { String::new() }
    )
}

/// What the sign-in page shows.
#[derive(Debug, Clone)]
pub struct SignInPage<'a> {
    /// Language.
    pub lang: Lang,
    /// Organisation name.
    pub organization: &'a str,
    /// Example identifier.
    pub hint: &'a str,
    /// The original request, carried through the form.
    pub ctx: &'a str,
    /// CSRF token (also in a cookie).
    pub csrf: &'a str,
    /// Show the generic credentials error.
    pub error: bool,
    /// Prefill the user name (after an error).
    pub username: &'a str,
}

/// The sign-in form. It posts `UserName`, `Password`, `AuthMethod=FormsAuthentication` (the
/// fields AD FS uses), the CSRF token and the original request back to `/adfs/ls/`.
pub fn sign_in(p: &SignInPage<'_>) -> String {
    let t = texts(p.lang);
    let error = if p.error {
        format!(
            "<p class=\"error\" id=\"errorText\" role=\"alert\">{}</p>",
            t.bad_credentials
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>{heading}</h1><p>{org}</p>{error}\
         <form method=\"post\" id=\"loginForm\" action=\"/adfs/ls/\" autocomplete=\"off\">\
         <label for=\"userNameInput\">{user}</label>\
         <input id=\"userNameInput\" name=\"UserName\" type=\"text\" inputmode=\"email\" value=\"{username}\" autocomplete=\"username\" required aria-describedby=\"userHint\" spellcheck=\"false\">\
         <p class=\"hint\" id=\"userHint\">{hint_text} {hint}</p>\
         <label for=\"passwordInput\">{password}</label>\
         <input id=\"passwordInput\" name=\"Password\" type=\"password\" autocomplete=\"current-password\" required>\
         <input type=\"hidden\" name=\"AuthMethod\" value=\"FormsAuthentication\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <input type=\"hidden\" name=\"ctx\" value=\"{ctx}\">\
         <button type=\"submit\" id=\"submitButton\">{submit}</button></form>",
        heading = t.heading,
        org = escape_attr(p.organization),
        user = t.user,
        username = escape_attr(p.username),
        hint_text = t.hint,
        hint = escape_attr(p.hint),
        password = t.password,
        csrf = escape_attr(p.csrf),
        ctx = escape_attr(p.ctx),
        submit = t.submit,
    );
    shell(
        p.lang,
        &format!("{} - {}", t.title, p.organization),
        &body,
        false,
    )
}

/// The page that posts a token to the relying party.
pub fn auto_post(lang: Lang, action: &str, fields: &[(&str, &str)]) -> String {
    let t = texts(lang);
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
        "<p>{}</p><form method=\"post\" action=\"{}\">{inputs}<button type=\"submit\">{}</button></form>",
        t.posting,
        escape_attr(action),
        t.continue_
    );
    shell(lang, t.posting, &body, true)
}

/// An error page.
pub fn error(lang: Lang, kind: ErrorKind) -> String {
    let t = texts(lang);
    let body = format!(
        "<h1>{}</h1><p id=\"errorText\">{}</p>",
        t.error_title,
        error_text(lang, kind)
    );
    shell(lang, t.error_title, &body, false)
}

/// The signed-out page.
pub fn signed_out(lang: Lang) -> String {
    let t = texts(lang);
    shell(
        lang,
        t.signed_out,
        &format!("<h1 id=\"signedOut\">{}</h1>", t.signed_out),
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(Lang::from_accept_language(Some("ja,en-US;q=0.8")), Lang::Ja);
        assert_eq!(Lang::from_accept_language(Some("en-US,ja;q=0.5")), Lang::En);
        assert_eq!(
            Lang::from_accept_language(Some("fr-FR,ja-JP;q=0.7")),
            Lang::Ja
        );
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
    }

    #[test]
    fn pages_escape_what_they_echo_and_match_the_csp() {
        let html = sign_in(&SignInPage {
            lang: Lang::En,
            organization: "Contoso <Ltd>",
            hint: "a\"b",
            ctx: "x\"><script>",
            csrf: "t",
            error: true,
            username: "\"><img src=x>",
        });
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        assert!(html.contains("id=\"errorText\""));
        let csp = csp(Some("https://sp.example.org/acs?x=1"));
        assert!(
            csp.contains("form-action 'self' https://sp.example.org;"),
            "{csp}"
        );
        assert!(csp.contains(&format!("'sha256-{}'", sha256_b64(STYLE))));
        let post = auto_post(Lang::Ja, "https://sp/acs", &[("SAMLResponse", "PHg+")]);
        assert!(post.contains(&format!("<script>{AUTO_SUBMIT}</script>")));
        assert!(post.contains("lang=\"ja\""));
    }
}

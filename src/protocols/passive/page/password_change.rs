//! The password-change page: after AD answered "expired" or "must change" to the sign-in form
//! (new password twice; the old one stays inside the sealed form state, never in the page), and
//! the voluntary page at [`UPDATE_PASSWORD_PATH`] (user name, old password, new password twice).
//! Messages: the generic credentials error, the two new passwords differ, AD's policy refused
//! the new one, the change is unavailable, and the voluntary page's success.

use super::{Lang, Pages};
use crate::config::branding::PasswordPageTexts;
use crate::xml::escape_attr;

/// AD FS's voluntary change page (`passive.update_password_page`).
pub const UPDATE_PASSWORD_PATH: &str = crate::endpoint::Endpoint::UpdatePassword.path();

/// Why the page is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordPurpose {
    /// AD answered that the password expired (sign-in in flight).
    Expired,
    /// AD answered that the password must be changed (sign-in in flight).
    MustChange,
    /// The voluntary page.
    Voluntary,
}

/// A message above the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordMessage {
    /// The generic credentials error (the same words as the sign-in page's).
    BadCredentials,
    /// The two new passwords differ.
    Mismatch,
    /// AD refused the new password (history, length, complexity, minimum age).
    Policy,
    /// The change could not be made right now.
    Unavailable,
    /// The password was changed (voluntary page: no form follows).
    Changed,
}

/// What the password-change page shows.
#[derive(Debug, Clone)]
pub struct PasswordPage<'a> {
    /// Language.
    pub lang: Lang,
    /// Why the page is shown.
    pub purpose: PasswordPurpose,
    /// CSRF token (also in a cookie).
    pub csrf: &'a str,
    /// The sealed state of the sign-in in flight (empty on the voluntary page).
    pub state: &'a str,
    /// The login: shown (sign-in in flight) or prefilled (voluntary page).
    pub username: &'a str,
    /// A message above the form.
    pub message: Option<PasswordMessage>,
}

impl Pages {
    /// The password-change page.
    pub fn password_change(&self, p: &PasswordPage<'_>) -> String {
        let l = self.language(p.lang);
        // One password-change string, HTML-escaped.
        let pt = |pick: fn(&PasswordPageTexts) -> &Option<String>| {
            escape_attr(pick(&l.password).as_deref().unwrap_or(""))
        };
        let e = |s: &str| escape_attr(s);
        let message = p.message.map(|m| {
            let (text, role, class) = match m {
                PasswordMessage::BadCredentials => (l.t(|t| &t.bad_credentials), "alert", "error"),
                PasswordMessage::Mismatch => (pt(|t| &t.mismatch), "alert", "error"),
                PasswordMessage::Policy => (pt(|t| &t.policy), "alert", "error"),
                PasswordMessage::Unavailable => (pt(|t| &t.unavailable), "alert", "error"),
                PasswordMessage::Changed => (pt(|t| &t.changed), "status", "done"),
            };
            format!(
                "<p class=\"{class}\" id=\"{}\" role=\"{role}\">{text}</p>",
                if m == PasswordMessage::Changed {
                    "passwordChanged"
                } else {
                    "errorText"
                }
            )
        });
        let intro = match p.purpose {
            PasswordPurpose::Expired => pt(|t| &t.expired),
            PasswordPurpose::MustChange => pt(|t| &t.must_change),
            PasswordPurpose::Voluntary => pt(|t| &t.voluntary),
        };
        let voluntary = p.purpose == PasswordPurpose::Voluntary;
        let invalid_new = matches!(
            p.message,
            Some(PasswordMessage::Mismatch | PasswordMessage::Policy)
        );
        let new_invalid = if invalid_new {
            " aria-invalid=\"true\""
        } else {
            ""
        };
        let form = if p.message == Some(PasswordMessage::Changed) {
            String::new()
        } else {
            let (action, who) = if voluntary {
                (
                    UPDATE_PASSWORD_PATH,
                    format!(
                        "<label for=\"userNameInput\">{user}</label>\
                         <input id=\"userNameInput\" name=\"UserName\" type=\"text\" inputmode=\"email\" value=\"{username}\" autocomplete=\"username\" required aria-required=\"true\" spellcheck=\"false\" autocapitalize=\"off\"{focus}>\
                         <label for=\"oldPasswordInput\">{old}</label>\
                         <input id=\"oldPasswordInput\" name=\"OldPassword\" type=\"password\" autocomplete=\"current-password\" required aria-required=\"true\"{focus_old}>",
                        user = l.t(|t| &t.user_name),
                        username = e(p.username),
                        focus = if p.username.is_empty() { " autofocus" } else { "" },
                        old = pt(|t| &t.old_password),
                        focus_old = if p.username.is_empty() { "" } else { " autofocus" },
                    ),
                )
            } else {
                (
                    crate::endpoint::Endpoint::Passive.path(),
                    format!(
                        "<p id=\"userName\">{}</p><input type=\"hidden\" name=\"PasswordChangeState\" value=\"{}\">",
                        e(p.username),
                        e(p.state)
                    ),
                )
            };
            format!(
                "<form method=\"post\" id=\"updatePasswordForm\" action=\"{action}\" autocomplete=\"off\" novalidate>{who}\
                 <label for=\"newPasswordInput\">{new}</label>\
                 <input id=\"newPasswordInput\" name=\"NewPassword\" type=\"password\" autocomplete=\"new-password\" required aria-required=\"true\"{new_invalid}{focus_new}>\
                 <label for=\"confirmNewPasswordInput\">{confirm}</label>\
                 <input id=\"confirmNewPasswordInput\" name=\"ConfirmNewPassword\" type=\"password\" autocomplete=\"new-password\" required aria-required=\"true\"{new_invalid}>\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <button type=\"submit\" id=\"submitButton\">{submit}</button></form>",
                new = pt(|t| &t.new_password),
                confirm = pt(|t| &t.confirm_password),
                focus_new = if voluntary { "" } else { " autofocus" },
                csrf = e(p.csrf),
                submit = pt(|t| &t.submit),
            )
        };
        let body = format!(
            "<h1>{heading}</h1><p id=\"passwordIntro\">{intro}</p>{message}{form}{help}",
            heading = pt(|t| &t.heading),
            intro = intro,
            message = message.unwrap_or_default(),
            help = self.help(l),
        );
        self.page(
            p.lang,
            &self.title(l.password.heading.as_deref().unwrap_or("")),
            &body,
            false,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::branding::Branding;

    fn page(purpose: PasswordPurpose, message: Option<PasswordMessage>, lang: Lang) -> String {
        Pages::with_branding("altgate", "x@example.com", &Branding::default()).password_change(
            &PasswordPage {
                lang,
                purpose,
                csrf: "t\"",
                state: "s<",
                username: "<b>jdoe",
                message,
            },
        )
    }

    #[test]
    fn the_change_page_carries_the_state_never_a_password_field_for_the_old_one() {
        let html = page(PasswordPurpose::Expired, None, Lang::EN);
        assert!(
            html.contains("name=\"PasswordChangeState\" value=\"s&lt;\""),
            "{html}"
        );
        assert!(
            !html.contains("OldPassword") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("action=\"/adfs/ls/\"") && html.contains("expired"));
        for id in ["newPasswordInput", "confirmNewPasswordInput"] {
            assert!(html.contains(&format!("<label for=\"{id}\">")), "{id}");
        }
        let vol = page(
            PasswordPurpose::Voluntary,
            Some(PasswordMessage::Policy),
            Lang::JA,
        );
        assert!(vol.contains("name=\"OldPassword\"") && vol.contains(UPDATE_PASSWORD_PATH));
        assert!(
            vol.contains("lang=\"ja\"") && vol.contains("パスワード要件"),
            "{vol}"
        );
        assert!(vol.contains("aria-invalid=\"true\""));
        let done = page(
            PasswordPurpose::Voluntary,
            Some(PasswordMessage::Changed),
            Lang::EN,
        );
        assert!(done.contains("id=\"passwordChanged\"") && !done.contains("<form"));
    }
}

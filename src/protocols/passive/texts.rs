//! The pages' built-in strings, English and Japanese (the same keys `passive.texts` overrides).

use crate::config::branding::PageTexts;

/// Every string in English.
pub(super) fn english() -> PageTexts {
    let s = |v: &str| Some(v.to_string());
    PageTexts {
        heading: s("Sign in"),
        user_name: s("User name"),
        hint: s("Sign in with your e-mail address, for example"),
        password: s("Password"),
        submit: s("Sign in"),
        bad_credentials: s(
            "Incorrect user ID or password. Type the correct user ID and password, and try again.",
        ),
        posting: s("Signing you in…"),
        continue_button: s("Continue"),
        error_title: s("Sign-in cannot continue"),
        bad_request: s(
            "The sign-in request is not valid. Go back to the application and try again.",
        ),
        form_expired: s("The sign-in page expired. Go back to the application and sign in again."),
        unavailable: s("Sign-in is not available right now. Try again later."),
        signed_out: s("You have signed out."),
        error_details: s("If you contact your help desk, give them these details:"),
        activity_id: s("Activity ID"),
        time: s("Time (UTC)"),
        help_desk: s("Get help signing in"),
    }
}

/// Every string in Japanese.
pub(super) fn japanese() -> PageTexts {
    let s = |v: &str| Some(v.to_string());
    PageTexts {
        heading: s("サインイン"),
        user_name: s("ユーザー名"),
        hint: s("メール アドレスでサインインしてください。例:"),
        password: s("パスワード"),
        submit: s("サインイン"),
        bad_credentials: s("ユーザー ID またはパスワードが正しくありません。正しいユーザー ID とパスワードを入力して、もう一度やり直してください。"),
        posting: s("サインインしています…"),
        continue_button: s("続行"),
        error_title: s("サインインを続行できません"),
        bad_request: s("サインイン要求が無効です。アプリケーションに戻って、もう一度やり直してください。"),
        form_expired: s("サインイン ページの有効期限が切れました。アプリケーションに戻って、もう一度サインインしてください。"),
        unavailable: s("現在サインインできません。しばらくしてからもう一度お試しください。"),
        signed_out: s("サインアウトしました。"),
        error_details: s("ヘルプデスクに問い合わせる場合は、次の情報を伝えてください:"),
        activity_id: s("アクティビティ ID"),
        time: s("時刻 (UTC)"),
        help_desk: s("サインインのヘルプ"),
    }
}

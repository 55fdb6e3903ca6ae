//! The pages' built-in strings, English and Japanese (the same keys `passive.texts` overrides).

use crate::config::branding::{PageTexts, PasswordPageTexts};

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

/// The password-change strings in English.
pub(super) fn english_password() -> PasswordPageTexts {
    let s = |v: &str| Some(v.to_string());
    PasswordPageTexts {
        heading: s("Update password"),
        expired: s("Your password has expired. Choose a new password to continue signing in."),
        must_change: s("You must change your password before you can sign in. Choose a new password to continue."),
        voluntary: s("Type your user name, your current password and a new password."),
        old_password: s("Old password"),
        new_password: s("New password"),
        confirm_password: s("Confirm new password"),
        submit: s("Submit"),
        mismatch: s("The new passwords don't match. Type the same new password in both boxes."),
        policy: s("The new password doesn't meet your organization's password requirements: it may be too short or too simple, one you used before, or your password was changed too recently. Choose a different password."),
        unavailable: s("Your password cannot be changed right now. Try again later."),
        changed: s("Your password has been updated."),
    }
}

/// The password-change strings in Japanese.
pub(super) fn japanese_password() -> PasswordPageTexts {
    let s = |v: &str| Some(v.to_string());
    PasswordPageTexts {
        heading: s("パスワードの更新"),
        expired: s("パスワードの有効期限が切れています。サインインを続行するには、新しいパスワードを設定してください。"),
        must_change: s("サインインする前にパスワードを変更する必要があります。続行するには、新しいパスワードを設定してください。"),
        voluntary: s("ユーザー名、現在のパスワード、新しいパスワードを入力してください。"),
        old_password: s("現在のパスワード"),
        new_password: s("新しいパスワード"),
        confirm_password: s("新しいパスワードの確認入力"),
        submit: s("送信"),
        mismatch: s("新しいパスワードが一致しません。両方のボックスに同じ新しいパスワードを入力してください。"),
        policy: s("新しいパスワードが組織のパスワード要件を満たしていません。短すぎる、単純すぎる、以前に使用したパスワードである、またはパスワードの変更から十分な時間が経過していない可能性があります。別のパスワードを選んでください。"),
        unavailable: s("現在パスワードを変更できません。しばらくしてからもう一度お試しください。"),
        changed: s("パスワードが更新されました。"),
    }
}

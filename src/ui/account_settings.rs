//! The account page's settings: a new password (the current one asked, every other way in
//! ended), and deleting the account with its files.

use crate::api::account_settings::{ChangePassword as Change, DeleteAccount as Delete};
use leptos::prelude::*;

#[component]
pub fn ChangePassword() -> impl IntoView {
    let change = ServerAction::<Change>::new();
    let said = move || {
        change.value().get().map(|result| match result {
            Ok(done) => view! { <p role="status">{done.to_string()}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <section class="change-password">
            <h2>"Change password"</h2>
            <p>"Every other browser signed in to this account is signed out, and every API token ends."</p>
            <ActionForm action=change attr:class="credentials">
                <label>
                    "Current password"
                    <input type="password" name="current_password" required autocomplete="current-password"/>
                </label>
                <label>
                    "New password"
                    <input type="password" name="new_password" required minlength="8" autocomplete="new-password"/>
                </label>
                <button type="submit" class="button" disabled=move || change.pending().get()>
                    "Change password"
                </button>
            </ActionForm>
            {said}
        </section>
    }
}

#[component]
pub fn DeleteAccount() -> impl IntoView {
    let delete = ServerAction::<Delete>::new();
    // Gone: the browser is a guest now, and the page starts afresh as one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = delete.value().get() {
            go_home();
        }
    });
    let error = move || {
        delete
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })
    };
    view! {
        <section class="delete-account">
            <h2>"Delete account"</h2>
            <p>"Your files, sessions and API tokens are deleted for good. This cannot be undone."</p>
            <ActionForm action=delete attr:class="credentials">
                <label>
                    "Your password"
                    <input type="password" name="password" required autocomplete="current-password"/>
                </label>
                <button type="submit" class="button danger" disabled=move || delete.pending().get()>
                    "Delete my account and files"
                </button>
            </ActionForm>
            {error}
        </section>
    }
}

fn go_home() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href("/");
    }
}

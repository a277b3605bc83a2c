//! The account page: API tokens for programs — made with a name and the password, shown
//! once, listed with when each was last used and when it ends, revoked — and the account's
//! own settings (see [`super::account_settings`]).

use crate::{
    api::account::{list_tokens, CreateToken, RevokeToken},
    format,
    model::TokenView,
    ui::account_settings::{ChangePassword, DeleteAccount},
};
use leptos::prelude::*;

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| list_tokens(),
    );
    let created = move || {
        create.value().get().map(|result| match result {
            Ok(new) => view! {
                <div class="new-token" role="status">
                    <p>"Your new token for " <strong>{new.token.name}</strong>
                        ". Copy it now: it is not shown again."</p>
                    <code class="secret">{new.secret}</code>
                </div>
            }
            .into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <main>
            <header class="page-head">
                <h1>"Your account"</h1>
                <a href="/">"Back to uploads"</a>
            </header>
            <h2>"API tokens"</h2>
            <p class="tagline">
                "Programs send a token as " <code>"Authorization: Bearer …"</code>
                " and act as your account."
            </p>
            <ActionForm action=create attr:class="token-form">
                <label>"Name" <input type="text" name="name" required maxlength="100"/></label>
                <label>
                    "Lasts"
                    <select name="expires_in_days">
                        <option value="30">"30 days"</option>
                        <option value="90" selected>"90 days"</option>
                        <option value="365">"a year"</option>
                        <option value="">"until revoked"</option>
                    </select>
                </label>
                <label>
                    "Your password"
                    <input type="password" name="password" required autocomplete="current-password"/>
                </label>
                <button type="submit" class="button">"Create token"</button>
            </ActionForm>
            {created}
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    tokens
                        .get()
                        .map(|result| match result {
                            Ok(list) if list.is_empty() => {
                                view! { <p class="empty">"No tokens yet."</p> }.into_any()
                            }
                            Ok(list) => view! { <TokenTable list revoke/> }.into_any(),
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        })
                }}
            </Transition>
            <ChangePassword/>
            <DeleteAccount/>
        </main>
    }
}

#[component]
fn TokenTable(list: Vec<TokenView>, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let rows = list
        .into_iter()
        .map(|token| {
            let used = token
                .last_used_at_ms
                .map_or_else(|| "never".to_string(), format::utc_time);
            let ends = token
                .expires_at_ms
                .map_or_else(|| "when revoked".to_string(), format::utc_time);
            let id = token.id.clone();
            view! {
                <tr data-token-id=id>
                    <td>{token.name}</td>
                    <td>{format::utc_time(token.created_at_ms)}</td>
                    <td>{used}</td>
                    <td>{ends}</td>
                    <td>
                        <ActionForm action=revoke>
                            <input type="hidden" name="token_id" value=token.id/>
                            <button type="submit" class="link">"Revoke"</button>
                        </ActionForm>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="tokens">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col">"Ends"</th>
                    <th scope="col"></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

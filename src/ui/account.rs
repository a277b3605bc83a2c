//! The header's account corner: who is uploading and how much room is left, and the forms to
//! sign up, sign in and sign out.

use crate::{
    api::account::{whoami, SignIn, SignUp},
    error::ApiError,
    format,
    model::{Me, SignUpMode},
};
use leptos::prelude::*;

#[component]
pub fn AccountBar(
    /// Bumped here on signing in, so the library reloads as the account's.
    library_version: RwSignal<u32>,
    /// What the library's latest first page said is used: the meter follows uploads and
    /// deletes without a call of its own.
    used: RwSignal<Option<u64>>,
) -> impl IntoView {
    // Who is signed in changes only here.
    let signed = RwSignal::new(0u32);
    let me = Resource::new(move || signed.get(), |_| whoami());
    view! {
        <div class="account">
            <Transition fallback=|| ()>
                {move || {
                    me.get()
                        .map(|result| match result {
                            Ok(me) => view! { <Corner me library_version signed used/> }.into_any(),
                            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                        })
                }}
            </Transition>
        </div>
    }
}

#[component]
fn Corner(
    me: Me,
    library_version: RwSignal<u32>,
    signed: RwSignal<u32>,
    used: RwSignal<Option<u64>>,
) -> impl IntoView {
    let at_sign_in = me.used;
    let used = Signal::derive(move || used.get().unwrap_or(at_sign_in));
    let meter = view! { <StorageMeter used quota=me.quota/> };
    // Said as long as this session lasts: those uploads are out of its reach.
    let stayed = me
        .stayed_with_guest
        .map(|s| view! { <p class="notice" role="status">{s.to_string()}</p> });
    match me.email {
        Some(email) => view! {
            <div class="signed-in">
                <span class="email">{email}</span>
                {meter}
                <a href="/account">"Account"</a>
                <SignOut/>
                {stayed}
            </div>
        }
        .into_any(),
        None => view! {
            <div class="guest">
                {me.guest_uploads.then_some(meter)}
                <SignInOrUp library_version signed sign_up_mode=me.sign_up/>
            </div>
        }
        .into_any(),
    }
}

/// "3.2 GiB of 10 GiB", as a meter and in words.
#[component]
fn StorageMeter(used: Signal<u64>, quota: u64) -> impl IntoView {
    let words = move || {
        format!(
            "{} of {}",
            format::bytes_short(used.get()),
            format::bytes_short(quota)
        )
    };
    // A meter's numbers are floats; at these sizes the rounding is invisible.
    view! {
        <span class="storage">
            <meter
                min="0"
                max=quota as f64
                high=quota as f64 * 0.9
                value=move || used.get() as f64
                aria-label="Storage used"
                aria-valuetext=words
            ></meter>
            <span class="usage">{words}</span>
        </span>
    }
}

#[component]
fn SignOut() -> impl IntoView {
    let sign_out = ServerAction::<crate::api::account::SignOut>::new();
    // The page starts afresh as a guest: uploads under way belonged to the account.
    Effect::new(move |_| {
        if let Some(Ok(_)) = sign_out.value().get() {
            reload();
        }
    });
    view! {
        <ActionForm action=sign_out>
            <button type="submit" class="link">"Sign out"</button>
        </ActionForm>
    }
}

/// Which form is open.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    SignIn,
    SignUp,
}

#[component]
fn SignInOrUp(
    library_version: RwSignal<u32>,
    signed: RwSignal<u32>,
    sign_up_mode: SignUpMode,
) -> impl IntoView {
    let open = RwSignal::new(Open::None);
    // A second click on the open form's button closes it.
    let toggle = move |form: Open| open.update(|o| *o = if *o == form { Open::None } else { form });
    let sign_in = ServerAction::<SignIn>::new();
    let sign_up = ServerAction::<SignUp>::new();
    // Signing up signs nothing in (its answer must not tell whether the email had an account):
    // the form's email and password then sign in, which fails only if the email had an
    // account with another password.
    let signing_up = StoredValue::new(None::<SignUp>);
    Effect::new(move |_| {
        if let Some(input) = sign_up.input().get() {
            signing_up.set_value(Some(input));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = sign_up.value().get() {
            if let Some(SignUp {
                email, password, ..
            }) = signing_up.get_value()
            {
                sign_in.dispatch(SignIn { email, password });
            }
        }
    });
    // Signed in: the guest's uploads are the account's now, so uploads under way go on; the
    // library and the meter reload.
    Effect::new(move |_| {
        if matches!(sign_in.value().get(), Some(Ok(_))) {
            signed.update(|v| *v += 1);
            library_version.update(|v| *v += 1);
        }
    });
    let error_of = move |which: Open| {
        Signal::derive(move || {
            let sign_in_error = move || sign_in.value().get().and_then(Result::err);
            match which {
                // The sign-in that follows a sign-up speaks on the sign-up form.
                Open::SignUp => sign_up
                    .value()
                    .get()
                    .and_then(Result::err)
                    .or_else(sign_in_error),
                _ => sign_in_error(),
            }
        })
    };
    let opener = move |form: Open, label: &'static str| {
        view! {
            <button
                type="button"
                class="link"
                aria-expanded=move || (open.get() == form).to_string()
                on:click=move |_| toggle(form)
            >
                {label}
            </button>
        }
    };
    view! {
        <div class="sign">
        <div class="sign-buttons">
            {opener(Open::SignIn, "Sign in")}
            {(sign_up_mode != SignUpMode::Closed).then(|| opener(Open::SignUp, "Sign up"))}
        </div>
        <Show when=move || open.get() == Open::SignIn>
            <ActionForm action=sign_in attr:class="credentials" attr:aria-label="Sign in">
                <Fields error=error_of(Open::SignIn) new_password=false/>
                <button type="submit" class="button" disabled=move || sign_in.pending().get()>
                    "Sign in"
                </button>
            </ActionForm>
        </Show>
        <Show when=move || open.get() == Open::SignUp>
            <ActionForm action=sign_up attr:class="credentials" attr:aria-label="Sign up">
                <Fields error=error_of(Open::SignUp) new_password=true/>
                {(sign_up_mode == SignUpMode::Invite).then(|| view! {
                    <label>
                        "Invitation code"
                        <input type="text" name="invite" required autocomplete="off"/>
                    </label>
                })}
                <button
                    type="submit"
                    class="button"
                    disabled=move || sign_up.pending().get() || sign_in.pending().get()
                >
                    "Sign up"
                </button>
            </ActionForm>
        </Show>
        </div>
    }
}

/// Where an error belongs: next to the field that caused it, or under the form.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Email,
    Password,
    Form,
}

fn field_of(error: &ApiError) -> Field {
    match error {
        ApiError::BadEmail | ApiError::EmailTaken => Field::Email,
        ApiError::BadInvite | ApiError::SignUpClosed => Field::Form,
        ApiError::BadPassword { .. } | ApiError::WrongCredentials => Field::Password,
        _ => Field::Form,
    }
}

#[component]
fn Fields(error: Signal<Option<ApiError>>, new_password: bool) -> impl IntoView {
    let message = move |field: Field| {
        error
            .get()
            .filter(|e| field_of(e) == field)
            .map(|e| e.to_string())
    };
    let invalid = move |field: Field| message(field).is_some().then_some("true");
    let autocomplete = if new_password {
        "new-password"
    } else {
        "current-password"
    };
    view! {
        <label>
            "Email"
            <input
                type="email"
                name="email"
                required
                autocomplete="username"
                aria-invalid=move || invalid(Field::Email)
                aria-describedby="email-error"
            />
        </label>
        <p id="email-error" class="field-error" role="alert">{move || message(Field::Email)}</p>
        <label>
            "Password"
            <input
                type="password"
                name="password"
                required
                autocomplete=autocomplete
                aria-invalid=move || invalid(Field::Password)
                aria-describedby="password-error"
            />
        </label>
        <p id="password-error" class="field-error" role="alert">
            {move || message(Field::Password)}
        </p>
        <p class="field-error" role="alert">{move || message(Field::Form)}</p>
    }
}

fn reload() {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().reload();
    }
}

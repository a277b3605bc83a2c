use super::{config::Config, limits::Limits, session::Sessions, Uploads};
use crate::{accounts::Accounts, files::Files, live::feed::Feed};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

/// Built once at start-up and handed to every handler and server function.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub uploads: Arc<Uploads>,
    pub accounts: Arc<Accounts>,
    /// Signs and reads session cookies.
    pub cookies: Sessions,
    pub limits: Arc<Limits>,
    pub files: Arc<Files>,
    /// Upload events, for `/events`.
    pub feed: Arc<Feed>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

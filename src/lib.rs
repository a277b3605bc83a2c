//! Hoist: uploads of any size from the browser straight into S3-compatible storage.
//!
//! - `app`, `ui`: what people see (Leptos components).
//! - `engine`: the browser upload engine (slicing, parallel PUTs, progress).
//! - `api`: server functions, the browser's only way into the server.
//! - `model`, `error`, `format`, `checksum`: shared by both sides.
//! - `parse`: how a setting's text becomes a value, for every module's settings (server only).
//! - Server only: `server` (settings, routes, session cookie, rate limits), `accounts`
//!   (people, sessions, tokens, quotas), `uploads` (the protocol), `storage` (S3), `db`
//!   (SQLite), `background` (the reaper and the orphan sweep), `processing` (the job queue's
//!   workers: hash, thumbnail, media metadata, poster), `files` (viewing and sharing an
//!   arrived file), `live` (upload events over Server-Sent Events), `client` (the terminal
//!   client, `hoist upload`, in the same binary).

// Release builds keep every component's view type (debug builds erase them); the page's
// nested views go deeper than the compiler's default limit when it lays those types out.
#![recursion_limit = "256"]

pub mod api;
pub mod app;
pub mod checksum;
pub mod engine;
pub mod error;
pub mod format;
pub mod model;
pub mod protocol;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod accounts;
#[cfg(feature = "ssr")]
pub mod background;
#[cfg(feature = "ssr")]
pub mod client;
#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod files;
#[cfg(feature = "ssr")]
pub mod live;
#[cfg(feature = "ssr")]
pub mod observe;
#[cfg(feature = "ssr")]
pub mod parse;
#[cfg(feature = "ssr")]
pub mod processing;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod storage;
#[cfg(feature = "ssr")]
pub mod uploads;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}

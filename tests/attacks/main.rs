//! Hostile clients against the real server: the `hoist` binary over HTTP with cookie jars, a
//! real Garage, a real SQLite file. Every hole once found in Hoist has a test here that an
//! attacker could have run with curl, and that failed before the hole was closed.

#[path = "../common/mod.rs"]
mod common;

mod doors;
mod fuzz;
mod requests;

use common::{
    app::{assert_not_found_through_every_door, by_id, form, sign_for, start, url_for, App},
    bytes, media, pending_at, s3_settings, send, store_client,
};
use futures::StreamExt;
use hoist::{
    checksum::{self, ChecksumAlgorithm},
    error::ApiError,
    model::{LibraryPage, StartedUpload, UploadStatus, UploadView},
    storage::s3::S3Store,
};
use std::time::Duration;

fn store() -> S3Store {
    S3Store::new(&s3_settings())
}

/// The object's bytes as the store holds them, if it holds any.
async fn object(key: &str) -> Option<Vec<u8>> {
    let store = store();
    let out = store
        .client()
        .get_object()
        .bucket(store.bucket())
        .key(key)
        .send()
        .await
        .ok()?;
    Some(out.body.collect().await.ok()?.into_bytes().to_vec())
}

/// Where the server keeps the upload's bytes (a random key the row names).
async fn key(app: &App, started: &StartedUpload) -> String {
    sqlx::query_scalar("SELECT object_key FROM uploads WHERE id = $1")
        .bind(&started.upload_id)
        .fetch_one(&app.database().await)
        .await
        .expect("the row")
}

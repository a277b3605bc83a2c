//! The server process: settings, shared state, the session cookie, routes and start-up.

pub mod config;
pub mod failures;
pub mod guard;
pub mod limits;
pub mod routes;
pub mod serve;
pub mod session;
pub mod state;
pub mod traced;

use crate::{storage::s3::S3Store, uploads::UploadService};

/// The upload service as the running server uses it.
pub type Uploads = UploadService<S3Store>;

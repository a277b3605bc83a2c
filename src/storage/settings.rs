//! Where the store is and how to reach it, as settings (environment variable and default named
//! once, here), and the limits S3 puts on parts (kept with the part plan every client shares).

use crate::parse;
pub use crate::protocol::plan::{MAX_PART_SIZE, MIN_PART_SIZE};

#[derive(clap::Args, Clone, Debug)]
pub struct S3Settings {
    /// The store, as the server reaches it. The default is the local Garage of scripts/dev.sh.
    #[arg(long = "s3-endpoint", env = "HOIST_S3_ENDPOINT", default_value = "http://127.0.0.1:3900", value_parser = parse::url)]
    pub endpoint: String,
    /// The store as browsers reach it, if not at `endpoint`: part URLs are signed for it.
    #[arg(long = "s3-public-endpoint", env = "HOIST_S3_PUBLIC_ENDPOINT", value_parser = parse::url)]
    pub public_endpoint: Option<String>,
    #[arg(
        long = "s3-region",
        env = "HOIST_S3_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,
    #[arg(long = "s3-bucket", env = "HOIST_S3_BUCKET", default_value = "hoist")]
    pub bucket: String,
    /// Path-style URLs (endpoint/bucket/key) work with every S3-compatible store.
    #[arg(long = "s3-path-style", env = "HOIST_S3_PATH_STYLE", default_value = "true", value_parser = parse::boolean, action = clap::ArgAction::Set)]
    pub path_style: bool,
    /// Put a CORS rule on the bucket that lets the site's origin PUT and GET.
    #[arg(long = "s3-set-cors", env = "HOIST_S3_SET_CORS", default_value = "true", value_parser = parse::boolean, action = clap::ArgAction::Set)]
    pub set_cors: bool,
    /// The S3 access key (scripts/dev.sh sets it for the local store).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub access_key_id: String,
    /// The S3 secret key (scripts/dev.sh sets it for the local store).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: String,
}

impl S3Settings {
    /// Where browsers send parts and fetch files.
    pub fn browser_endpoint(&self) -> &str {
        self.public_endpoint.as_deref().unwrap_or(&self.endpoint)
    }
}

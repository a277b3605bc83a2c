//! Death row's schedule, as settings (environment variable and default named once, here).

use crate::parse;
use std::time::Duration;

#[derive(clap::Args, Clone, Debug)]
pub struct BackgroundSettings {
    /// How often expired uploads are looked for.
    #[arg(long = "reaper-interval", env = "HOIST_REAPER_INTERVAL", default_value = "60s", value_parser = parse::duration)]
    pub interval: Duration,
    /// How often the bucket's in-progress multipart uploads are checked for orphans; `None`:
    /// never.
    #[arg(long = "orphan-sweep-interval", env = "HOIST_ORPHAN_SWEEP_INTERVAL", default_value = "1h", value_parser = parse::duration_or_off)]
    pub orphan_sweep: ::std::option::Option<Duration>,
    /// Put an AbortIncompleteMultipartUpload lifecycle rule on the bucket at start-up.
    #[arg(long = "s3-lifecycle-rule", env = "HOIST_S3_LIFECYCLE_RULE", default_value = "true", value_parser = parse::boolean, action = clap::ArgAction::Set)]
    pub lifecycle_rule: bool,
    /// How long an upload that ended without a file (aborted, rejected, expired) stays in its
    /// owner's library, saying why, before its row is removed.
    #[arg(long = "closed-retention", env = "HOIST_CLOSED_RETENTION", default_value = "30d", value_parser = parse::duration)]
    pub closed_retention: Duration,
}

//! Metrics in Prometheus's text format at `/metrics`. Events are counted where they happen,
//! through the `metrics` facade (a no-op until [`install`] runs, as in unit tests and the
//! terminal client); levels that live elsewhere (the job queue in the database, the pool, the
//! live connections) are read when a scrape asks.
//!
//! Every name is here, so what a dashboard can rely on is in one place.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

pub const UPLOADS_STARTED: &str = "hoist_uploads_started_total";
/// Label `stage`: `start` (refused before a byte was sent: name, type, size, quota) or
/// `verify` (what arrived was not what was announced).
pub const UPLOADS_REJECTED: &str = "hoist_uploads_rejected_total";
pub const UPLOADS_COMPLETED: &str = "hoist_uploads_completed_total";
pub const UPLOADS_COMPLETED_BYTES: &str = "hoist_uploads_completed_bytes_total";
/// Completed without a byte sent: the account held the content already.
pub const UPLOADS_ALREADY_STORED: &str = "hoist_uploads_already_stored_total";
pub const UPLOADS_ABORTED: &str = "hoist_uploads_aborted_total";
pub const UPLOADS_EXPIRED: &str = "hoist_uploads_expired_total";
/// Expired uploads whose cleanup failed and waits for the reaper's next pass.
pub const REAPER_FAILED: &str = "hoist_reaper_failed_total";
pub const SWEEP_LISTED: &str = "hoist_orphan_sweep_listed_total";
pub const SWEEP_ABORTED: &str = "hoist_orphan_sweep_aborted_total";
pub const SWEEP_FAILED: &str = "hoist_orphan_sweep_failed_total";
/// Labels `name` (the server function) and `status` (the HTTP status answered).
pub const SERVER_FN_REQUESTS: &str = "hoist_server_fn_requests_total";
/// Label `name`.
pub const SERVER_FN_SECONDS: &str = "hoist_server_fn_duration_seconds";
/// Labels `kind` and `outcome` (`done`, `skipped`, `queued` for a retry, `failed`).
pub const JOB_SECONDS: &str = "hoist_job_duration_seconds";
/// Label `kind`: jobs waiting or running, read from the database at scrape time.
pub const JOBS_QUEUED: &str = "hoist_jobs_queued";
pub const JOBS_RUNNING: &str = "hoist_jobs_running";
pub const DB_POOL_CONNECTIONS: &str = "hoist_db_pool_connections";
pub const DB_POOL_IDLE: &str = "hoist_db_pool_idle_connections";
pub const DB_POOL_MAX: &str = "hoist_db_pool_max_connections";
/// How long a writer waited for the database, and held its transaction open (recorded by
/// `db::writer`, which names them): the wait is where a busy database shows first.
pub use crate::db::writer::{DB_WRITE_HELD_SECONDS, DB_WRITE_WAIT_SECONDS};
/// Open `/events` connections in this process.
pub const LIVE_CLIENTS: &str = "hoist_live_clients";
/// `/events` streams refused, label `why`: `no_session` (no cookie or token was presented),
/// `owner`, `network` or `full` (which cap bound), `error`.
pub const LIVE_REFUSED: &str = "hoist_live_refused_total";

/// Latency buckets, in seconds: control-plane calls take milliseconds; the last buckets catch
/// a store or database in trouble.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Jobs read whole objects: seconds to minutes.
const JOB_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once: a second call gets the first handle).
pub fn install() -> Result<&'static PrometheusHandle, String> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(SERVER_FN_SECONDS.into()), SECONDS_BUCKETS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(JOB_SECONDS.into()), JOB_BUCKETS))
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Prefix("hoist_db_write_".into()), SECONDS_BUCKETS)
        })
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())?;
    describe();
    Ok(HANDLE.get_or_init(|| handle))
}

/// The text a scrape gets; empty when no recorder is installed.
pub fn render() -> String {
    HANDLE
        .get()
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// Histograms keep their samples until folded into buckets; without a scrape for a long time
/// they would grow, so fold them now and then.
pub async fn keep_up() {
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(5));
    loop {
        ticks.tick().await;
        if let Some(handle) = HANDLE.get() {
            handle.run_upkeep();
        }
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(UPLOADS_STARTED, "Uploads started (rows created).");
    describe_counter!(
        UPLOADS_REJECTED,
        "Files refused at start, or rejected at verification."
    );
    describe_counter!(UPLOADS_COMPLETED, "Uploads verified and marked uploaded.");
    describe_counter!(
        UPLOADS_COMPLETED_BYTES,
        Unit::Bytes,
        "Bytes of verified uploads."
    );
    describe_counter!(
        UPLOADS_ALREADY_STORED,
        "Uploads answered from content the account held."
    );
    describe_counter!(UPLOADS_ABORTED, "Uploads aborted by their owner.");
    describe_counter!(UPLOADS_EXPIRED, "Unfinished uploads the reaper deleted.");
    describe_counter!(
        REAPER_FAILED,
        "Expired uploads whose cleanup failed (retried later)."
    );
    describe_counter!(SWEEP_LISTED, "Multipart uploads the orphan sweep listed.");
    describe_counter!(
        SWEEP_ABORTED,
        "Multipart uploads no row knew, aborted by the sweep."
    );
    describe_counter!(
        SWEEP_FAILED,
        "Orphaned multipart uploads the sweep failed to abort."
    );
    describe_counter!(
        SERVER_FN_REQUESTS,
        "Server-function requests by name and status."
    );
    describe_histogram!(SERVER_FN_SECONDS, Unit::Seconds, "Server-function latency.");
    describe_histogram!(JOB_SECONDS, Unit::Seconds, "Processing job durations.");
    describe_histogram!(
        DB_WRITE_WAIT_SECONDS,
        Unit::Seconds,
        "Time a database writer waited: for the writer connection (kind=transaction) or for the owners it serialises with (kind=owner)."
    );
    describe_histogram!(
        DB_WRITE_HELD_SECONDS,
        Unit::Seconds,
        "Time a database write transaction was open."
    );
    describe_gauge!(JOBS_QUEUED, "Processing jobs waiting.");
    describe_gauge!(JOBS_RUNNING, "Processing jobs held by a worker.");
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "Database connections open in this process."
    );
    describe_gauge!(DB_POOL_IDLE, "Database connections open and idle.");
    describe_gauge!(
        DB_POOL_MAX,
        "The most database connections this process opens."
    );
    describe_gauge!(LIVE_CLIENTS, "Open /events connections in this process.");
    describe_counter!(
        LIVE_REFUSED,
        "/events streams refused, by why: no_session, owner, network, full, error."
    );
}

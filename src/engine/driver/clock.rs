//! The page's clock: a few times a second the figures people see (bytes, percent, speed, time
//! left) are refreshed, and an upload whose parts are on their way tells the server it is
//! alive.

use super::Engine;
use crate::{
    api::keep_upload_alive,
    engine::{browser, task::Phase},
};
use leptos::{prelude::*, task::spawn_local};
use std::time::Duration;

/// How often the page's figures are refreshed. Progress events arrive far more often (every
/// few ms across six requests); redrawing on each would spend on the page the CPU the upload
/// needs.
const TICK: Duration = Duration::from_millis(250);
/// An upload with parts on their way tells the server it is alive at least this often, as a
/// share of the upload TTL (a part on a slow link can take longer than the TTL).
const KEEP_ALIVE_SHARE: f64 = 0.25;

impl Engine {
    pub(super) fn start_clock(self) {
        browser::every(TICK, move || self.tick());
    }

    fn tick(&self) {
        let now = browser::now_ms();
        for upload_id in self.refresh_files(now) {
            spawn_local(async move {
                // A failure here is not the file's: its parts go on, and a closed upload
                // shows itself through them.
                if let Err(e) = keep_upload_alive(upload_id.clone()).await {
                    leptos::logging::warn!("could not keep upload {upload_id} alive: {e}");
                }
            });
        }
        self.refresh_total(now);
    }

    /// Each uploading file's figures; returns the uploads the server should hear from.
    fn refresh_files(&self, now: f64) -> Vec<String> {
        let keep_alive_after =
            self.settings.get().upload_ttl_secs as f64 * 1000.0 * KEEP_ALIVE_SHARE;
        let mut alive = Vec::new();
        for job in self.jobs.borrow_mut().values_mut() {
            if job.task.phase.get_untracked() != Phase::Uploading {
                continue;
            }
            if !job.in_flight.is_empty() && now - job.heard_at > keep_alive_after {
                job.heard_at = now;
                alive.extend(job.upload_id.clone());
            }
            if job.task.sent.get_untracked() != job.progress.sent() {
                job.task.show(&job.progress);
            }
            job.rate.record(now, job.progress.sent());
            job.task.speed.set(job.rate.bytes_per_second());
            job.task.seconds_left.set(
                job.rate
                    .seconds_left(job.progress.total() - job.progress.sent()),
            );
        }
        alive
    }

    fn refresh_total(&self, now: f64) {
        let view = self.view;
        let summary = view.frame.sums();
        let mut rate = self.total_rate.borrow_mut();
        if summary.uploading > 0 {
            rate.record(now, summary.sent);
            view.total_speed.set(rate.bytes_per_second());
            view.total_seconds_left
                .set(rate.seconds_left(summary.size.saturating_sub(summary.sent)));
        } else {
            rate.reset();
            view.total_speed.set(None);
            view.total_seconds_left.set(None);
        }
    }
}

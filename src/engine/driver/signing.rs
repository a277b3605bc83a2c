//! Part URLs: used while fresh, signed in batches — this part, the parts starting beside it and
//! the ones due next — so one `sign_parts` call feeds the whole pool.

use super::Engine;
use crate::{
    api::sign_parts,
    engine::{browser, scheduler::FileId},
    error::ApiError,
    model::{PartToSign, SignedRequest},
    protocol::plan,
};

/// A URL is used only in the first three quarters of its life, so it cannot expire between
/// the check and the store reading the request (counted on the browser's own clock).
const URL_LIFE_USED: f64 = 0.75;

impl Engine {
    /// A fresh URL for `part`, signing it (and the parts due next) if none is at hand.
    pub(super) async fn url_for(&self, id: FileId, part: u32) -> Result<SignedRequest, ApiError> {
        let Some(lock) = self.with_job(id, |j| j.signing.clone()) else {
            return Err(ApiError::NotFound);
        };
        let _signing = lock.lock().await;
        let now = browser::now_ms();
        let cached = self
            .with_job(id, |j| {
                j.urls
                    .get(&part)
                    .filter(|(_, until)| *until > now)
                    .map(|(r, _)| r.clone())
            })
            .flatten();
        if let Some(request) = cached {
            return Ok(request);
        }
        let upload_id = self
            .with_job(id, |j| j.upload_id.clone())
            .flatten()
            .ok_or(ApiError::NotFound)?;
        let batch = self.batch(id, part, now);
        let signed = sign_parts(upload_id, batch).await?;
        self.with_job_mut(id, |j| {
            j.heard_at = browser::now_ms();
            for p in signed {
                let until = fresh_until(&p.request);
                j.urls.insert(p.part_number, (p.request, until));
            }
            j.urls.get(&part).map(|(r, _)| r.clone())
        })
        .flatten()
        .ok_or_else(ApiError::internal)
    }

    /// This part first (its checksum is known and its URL is not, or we would not be here),
    /// then the others already running without a URL (parts start together) and the ones due
    /// next — each once its checksum is known, if the upload wants one.
    fn batch(&self, id: FileId, part: u32, now: f64) -> Vec<PartToSign> {
        let batch_len = plan::sign_batch(self.scheduler.borrow().limit());
        let candidates = {
            let s = self.scheduler.borrow();
            let mut c = s.running(id);
            c.extend(s.upcoming(id, 0, batch_len));
            c
        };
        let to_sign = |n: u32| {
            self.with_job(id, |j| {
                let fresh = j.urls.get(&n).is_some_and(|(_, until)| *until > now);
                let checksum = j.checksums.get(&n).cloned();
                (!fresh && (j.checksum.is_none() || checksum.is_some())).then_some(PartToSign {
                    part_number: n,
                    checksum,
                })
            })
            .flatten()
        };
        std::iter::once(part)
            .chain(candidates.into_iter().filter(|n| *n != part))
            .filter_map(to_sign)
            .take(batch_len)
            .collect()
    }
}

pub(super) fn fresh_until(request: &SignedRequest) -> f64 {
    browser::now_ms() + request.valid_for_secs as f64 * 1000.0 * URL_LIFE_USED
}

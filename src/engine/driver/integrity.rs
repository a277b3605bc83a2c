//! A part's checksum, read from the file before the part is signed, and read again when the
//! store refuses the bytes: the same value means they were damaged on the way; another means
//! the file changed under the upload.

use super::Engine;
use crate::{
    checksum::ChecksumAlgorithm,
    engine::{digest, scheduler::FileId},
};

impl Engine {
    /// Computes the part's checksum from the file, once, when the upload wants one.
    pub(super) async fn read_checksum(&self, id: FileId, part: u32) -> Result<(), String> {
        let needed = self
            .with_job(id, |j| {
                j.checksum.filter(|_| !j.checksums.contains_key(&part))
            })
            .flatten();
        let Some(algorithm) = needed else {
            return Ok(());
        };
        let value = self.digest(id, part, algorithm).await?;
        self.with_job_mut(id, |j| {
            j.checksums.entry(part).or_insert(value);
        });
        Ok(())
    }

    /// Reads the part again after the store refused its bytes.
    pub(super) async fn recheck(&self, id: FileId, part: u32) -> Result<(), String> {
        let Some((Some(algorithm), first, name)) = self.with_job(id, |j| {
            (
                j.checksum,
                j.checksums.get(&part).cloned(),
                j.fingerprint.name.clone(),
            )
        }) else {
            return Ok(());
        };
        let now = self.digest(id, part, algorithm).await?;
        if first.is_some_and(|first| first != now) {
            return Err(format!(
                "{name} changed while it was being uploaded, so the parts sent no longer fit \
                 together. Pick it again to upload it as it is now."
            ));
        }
        Ok(())
    }

    async fn digest(
        &self,
        id: FileId,
        part: u32,
        algorithm: ChecksumAlgorithm,
    ) -> Result<String, String> {
        let (blob, len) = self.slice(id, part).ok_or_else(|| self.unreadable(id))?;
        digest::of(&blob, len, algorithm)
            .await
            .map_err(|digest::Unreadable| self.unreadable(id))
    }

    /// Can the part still be read from the file? (After a network failure: the browser
    /// reports a file moved away the same way.)
    pub(super) async fn readable(&self, id: FileId, part: u32) -> bool {
        match self.slice(id, part) {
            Some((blob, _)) => digest::readable(&blob).await,
            None => false,
        }
    }

    pub(super) fn unreadable(&self, id: FileId) -> String {
        let name = self
            .with_job(id, |j| j.fingerprint.name.clone())
            .unwrap_or_default();
        format!(
            "{name} can no longer be read: it was changed, moved or deleted after it was \
             picked. Pick it again to continue."
        )
    }
}

//! SHA-256 of the whole object, read as a stream of ranges: the worker holds one network chunk
//! at a time, whatever the file's size. Deduplication will look files up by it.

use super::{Finished, JobError};
use crate::{
    db::jobs::Findings,
    storage::{s3::S3Store, StorageError},
};
use sha2::{Digest, Sha256};

/// One ranged GET per this many bytes: a dropped connection costs at most one range again.
const RANGE: u64 = 64 << 20;

pub async fn run(store: &S3Store, key: &str, size: u64) -> Result<Finished, JobError> {
    let mut hasher = Sha256::new();
    let mut at = 0;
    while at < size {
        let len = RANGE.min(size - at);
        let mut body = store
            .read_range(key, at, len)
            .await?
            .ok_or_else(|| StorageError::Refused(format!("no object at {key}")))?;
        let mut got = 0;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| StorageError::Unreachable(e.to_string()))?
        {
            got += chunk.len() as u64;
            hasher.update(&chunk);
        }
        if got != len {
            return Err(StorageError::Unreachable(format!(
                "the store sent {got} of {len} bytes from offset {at}"
            ))
            .into());
        }
        at += len;
    }
    let digest = hasher.finalize();
    let hex = crate::format::hex(&digest);
    Ok(Finished::Found(Findings {
        sha256: Some(hex),
        ..Findings::default()
    }))
}

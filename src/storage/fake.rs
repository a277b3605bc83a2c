//! An object store in memory, for unit tests of the services above the trait: fast, and able
//! to be "down" on demand. Integration tests run the real [`super::s3::S3Store`] against a
//! real Garage; this one only keeps the trait's promises (already-gone is success, parts in
//! number order, an object appears only when its upload completes).

use super::{
    Checksum, ObjectInfo, ObjectStart, ObjectStore, PendingUpload, StorageError, StorageResult,
    StoredPart,
};
use crate::{checksum::ChecksumAlgorithm, model::SignedRequest};
use std::{
    collections::BTreeMap,
    sync::{Mutex, MutexGuard},
    time::Duration,
};

#[derive(Default)]
pub struct FakeStore {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    pending: BTreeMap<String, Pending>,
    objects: BTreeMap<String, Object>,
    down: bool,
    calls: Vec<String>,
}

struct Pending {
    key: String,
    content_type: String,
    parts: BTreeMap<u32, Vec<u8>>,
}

struct Object {
    bytes: Vec<u8>,
    content_type: String,
}

impl FakeStore {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records the call and fails it while the store is down.
    fn call(&self, what: String) -> StorageResult<MutexGuard<'_, State>> {
        let mut state = self.state();
        state.calls.push(what);
        if state.down {
            return Err(StorageError::Unreachable("the fake store is down".into()));
        }
        Ok(state)
    }

    /// What a browser's PUT of a part does.
    pub fn put_part(&self, upload_id: &str, part_number: u32, bytes: &[u8]) {
        let mut state = self.state();
        let pending = state
            .pending
            .get_mut(upload_id)
            .expect("a multipart upload");
        pending.parts.insert(part_number, bytes.to_vec());
    }

    pub fn set_down(&self, down: bool) {
        self.state().down = down;
    }

    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.state().objects.get(key).map(|o| o.bytes.clone())
    }

    /// Multipart uploads neither completed nor aborted.
    pub fn pending_count(&self) -> usize {
        self.state().pending.len()
    }

    /// Every call so far, as "operation key".
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }
}

impl ObjectStore for FakeStore {
    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        _checksum: Option<ChecksumAlgorithm>,
    ) -> StorageResult<String> {
        let mut state = self.call(format!("create {key}"))?;
        state.next_id += 1;
        let id = format!("fake-{}", state.next_id);
        let pending = Pending {
            key: key.into(),
            content_type: content_type.into(),
            parts: BTreeMap::new(),
        };
        state.pending.insert(id.clone(), pending);
        Ok(id)
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        len: u64,
        _checksum: Option<&Checksum>,
        ttl: Duration,
    ) -> StorageResult<SignedRequest> {
        drop(self.call(format!("sign {key} {part_number}"))?);
        Ok(SignedRequest {
            method: "PUT".into(),
            url: format!("fake://{key}?uploadId={upload_id}&partNumber={part_number}"),
            headers: vec![("content-length".into(), len.to_string())],
            valid_for_secs: ttl.as_secs(),
        })
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> StorageResult<Vec<StoredPart>> {
        let state = self.call(format!("list {key}"))?;
        let pending = state
            .pending
            .get(upload_id)
            .ok_or(StorageError::NoSuchUpload)?;
        Ok(pending
            .parts
            .iter()
            .map(|(n, bytes)| StoredPart {
                part_number: *n,
                size: bytes.len() as u64,
                etag: format!("\"{n}-{}\"", bytes.len()),
                checksum: None,
            })
            .collect())
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[StoredPart],
    ) -> StorageResult<()> {
        let mut state = self.call(format!("complete {key}"))?;
        let pending = state
            .pending
            .remove(upload_id)
            .ok_or(StorageError::NoSuchUpload)?;
        let mut bytes = Vec::new();
        for part in parts {
            bytes.extend_from_slice(&pending.parts[&part.part_number]);
        }
        let object = Object {
            bytes,
            content_type: pending.content_type,
        };
        state.objects.insert(pending.key, object);
        Ok(())
    }

    async fn abort_multipart(&self, key: &str, upload_id: &str) -> StorageResult<bool> {
        let mut state = self.call(format!("abort {key}"))?;
        Ok(state.pending.remove(upload_id).is_some())
    }

    async fn head(&self, key: &str) -> StorageResult<Option<ObjectInfo>> {
        let state = self.call(format!("head {key}"))?;
        Ok(state.objects.get(key).map(|o| ObjectInfo {
            size: o.bytes.len() as u64,
            content_type: Some(o.content_type.clone()),
        }))
    }

    async fn read_start(&self, key: &str, len: u64) -> StorageResult<Option<ObjectStart>> {
        let state = self.call(format!("read {key}"))?;
        Ok(state.objects.get(key).map(|o| ObjectStart {
            info: ObjectInfo {
                size: o.bytes.len() as u64,
                content_type: Some(o.content_type.clone()),
            },
            bytes: o.bytes.iter().take(len as usize).copied().collect(),
        }))
    }

    async fn pending_uploads(&self, prefix: &str) -> StorageResult<Vec<PendingUpload>> {
        let state = self.call(format!("pending {prefix}"))?;
        Ok(state
            .pending
            .iter()
            .filter(|(_, p)| p.key.starts_with(prefix))
            .map(|(id, p)| PendingUpload {
                key: p.key.clone(),
                upload_id: id.clone(),
                initiated_ms: None,
            })
            .collect())
    }

    async fn delete(&self, key: &str) -> StorageResult<()> {
        let mut state = self.call(format!("delete {key}"))?;
        state.objects.remove(key);
        Ok(())
    }

    async fn presign_get(&self, key: &str, name: &str, ttl: Duration) -> StorageResult<String> {
        drop(self.call(format!("get {key}"))?);
        Ok(format!("fake://{key}?name={name}&ttl={}", ttl.as_secs()))
    }
}

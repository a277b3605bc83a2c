//! Each use case of the upload service against a real database (SQLite, or PostgreSQL on the
//! test command's second pass) and an object store in memory: what the service decides, and
//! what it leaves in the store, without a network. The same protocol against a real Garage
//! is `tests/upload_protocol.rs`.

use super::*;
use crate::{model::MAX_START_BATCH, storage::fake::FakeStore};

mod abort;
mod complete;
mod list;
mod sign;
mod start;

const OWNER: &str = "guest:owner";
const STRANGER: &str = "guest:stranger";
const PART: u64 = 5 << 20;

struct Harness {
    _dir: tempfile::TempDir,
    service: UploadService<FakeStore>,
}

fn rules() -> UploadRules {
    UploadRules {
        max_file_size: 1 << 30,
        allowed_types: Vec::new(),
        part_size: PART,
        max_part_size: PART,
        url_ttl: Duration::from_secs(600),
        upload_ttl: Duration::from_secs(3600),
        max_upload_duration: Duration::from_secs(7 * 86_400),
        key_prefix: "t/".into(),
        part_checksum: None,
        parallel_parts: 6,
        browser_hash_max: 0,
    }
}

fn allowance() -> Allowance {
    Allowance {
        quota: 1 << 30,
        max_active: 1_000,
        max_files: 1_000,
        network: None,
    }
}

fn request(name: &str, size: u64) -> NewUpload {
    NewUpload {
        name: name.into(),
        size,
        content_type: "application/octet-stream".into(),
        checksum: None,
        sha256: None,
        layout: Default::default(),
    }
}

async fn harness() -> Harness {
    harness_with(rules()).await
}

async fn harness_with(rules: UploadRules) -> Harness {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = db::testing::fresh_url(dir.path()).await;
    let pool = db::connect(&url).await.expect("the test database");
    Harness {
        _dir: dir,
        service: UploadService::new(pool, FakeStore::default(), rules),
    }
}

impl Harness {
    fn store(&self) -> &FakeStore {
        self.service.store()
    }

    async fn start(&self, name: &str, size: u64) -> StartedUpload {
        self.service
            .start(OWNER, allowance(), request(name, size))
            .await
            .expect("the upload starts")
    }

    async fn row(&self, id: &str) -> UploadRow {
        db::uploads::find(self.service.db(), id)
            .await
            .expect("a read")
            .expect("the row")
    }

    /// What a browser does between start and complete: every part PUT, as planned.
    async fn send(&self, started: &StartedUpload, bytes: &[u8]) {
        let s3_id = self
            .row(&started.upload_id)
            .await
            .s3_upload_id
            .expect("opened");
        let part_size = started.plan.part_size as usize;
        for (i, part) in bytes.chunks(part_size).enumerate() {
            self.store().put_part(&s3_id, i as u32 + 1, part);
        }
    }

    /// An upload started, sent and completed: a file in the library.
    async fn upload(&self, name: &str, bytes: &[u8]) -> UploadView {
        let started = self.start(name, bytes.len() as u64).await;
        self.send(&started, bytes).await;
        self.service
            .complete(OWNER, &started.upload_id)
            .await
            .expect("the upload completes")
    }
}

fn bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

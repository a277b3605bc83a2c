//! What the integration tests share: the upload service wired to the real S3-compatible store
//! named by the environment (scripts/test.sh starts a Garage and sets it), a fresh database per
//! test (SQLite, or PostgreSQL on the test command's second pass), and an HTTP client that plays the browser's part.
#![allow(dead_code)]

pub mod app;
pub mod client;
pub mod events;
pub mod proxy;

use hoist::{
    checksum,
    clock::ManualClock,
    db,
    model::{PartToSign, SignedRequest, StartedUpload},
    storage::{s3::S3Store, S3Settings},
    uploads::{NewUpload, UploadRules, UploadService},
};
use std::{sync::Arc, time::Duration};

pub const MIB: u64 = 1 << 20;
pub const PART: u64 = 5 * MIB;
/// The session most tests upload as.
pub const OWNER: &str = "session-a";
/// What the tests' owner may hold: far more than any test uploads.
pub const ROOMY: db::uploads::Allowance = db::uploads::Allowance {
    quota: 1 << 40,
    max_active: 10_000,
    max_files: 1_000_000,
    network: None,
};
/// Where the tests' uploads go in the bucket, as `HOIST_S3_PREFIX` puts them by default.
pub const KEY_PREFIX: &str = "hoist/";

pub struct Harness {
    pub service: UploadService<S3Store>,
    /// The service's clock: it stands still until a test moves it.
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test.sh, which starts a local S3 store and sets it")
    })
}

pub fn s3_settings() -> S3Settings {
    let endpoint = env("HOIST_S3_ENDPOINT");
    S3Settings {
        public_endpoint: None,
        endpoint,
        region: env("HOIST_S3_REGION"),
        bucket: env("HOIST_S3_BUCKET"),
        path_style: true,
        set_cors: false,
        access_key_id: env("AWS_ACCESS_KEY_ID"),
        secret_access_key: env("AWS_SECRET_ACCESS_KEY"),
    }
}

pub fn rules() -> UploadRules {
    UploadRules {
        max_file_size: 1 << 30,
        allowed_types: Vec::new(),
        part_size: PART,
        max_part_size: PART,
        url_ttl: Duration::from_secs(600),
        upload_ttl: Duration::from_secs(3600),
        max_upload_duration: Duration::from_secs(7 * 86_400),
        key_prefix: KEY_PREFIX.into(),
        part_checksum: None,
        parallel_parts: 6,
        browser_hash_max: 0,
    }
}

/// Parts to sign without checksums.
pub fn plain(parts: &[u32]) -> Vec<PartToSign> {
    parts.iter().copied().map(PartToSign::plain).collect()
}

pub async fn harness() -> Harness {
    harness_with(rules()).await
}

pub async fn harness_with(rules: UploadRules) -> Harness {
    harness_on(s3_settings(), rules).await
}

pub async fn harness_on(settings: S3Settings, rules: UploadRules) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = db::testing::fresh_url(dir.path()).await;
    let pool = db::connect(&url).await.expect("database");
    let store = S3Store::new(&settings);
    let clock = ManualClock::new();
    Harness {
        service: UploadService::new(pool, store, rules).with_clock(clock.clone()),
        clock,
        http: store_client(),
        _dir: dir,
    }
}

/// Deterministic, non-repeating test bytes (a repeated pattern would hide swapped parts).
pub fn bytes(len: u64, seed: u64) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as u8
        })
        .collect()
}

/// Test bytes that really are a file of `content_type`: its magic number, then [`bytes`].
/// (The server reads the start of every upload and rejects content that is not what was
/// announced.)
pub fn media(content_type: &str, len: u64, seed: u64) -> Vec<u8> {
    let signature: &[u8] = match content_type {
        "image/png" => b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        "video/mp4" => b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2",
        "video/x-matroska" => b"\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska",
        "video/quicktime" => b"\0\0\0\x14ftypqt  \0\0\0\0qt  ",
        "application/pdf" => b"%PDF-1.7\n",
        other => panic!("no signature for {other} in the tests"),
    };
    let mut data = bytes(len, seed);
    data[..signature.len()].copy_from_slice(signature);
    data
}

/// A client for the store's presigned URLs, without pooled connections: the store may refuse a
/// PUT before reading its body and close the connection, and a pooled connection closed that
/// way fails the next request sent on it (hyper's IncompleteMessage) — a flaky test, not a
/// finding.
pub fn store_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client")
}

/// Sends a presigned request the way a browser would: the signed headers, the body, nothing else.
/// A 503 (Garage busy with an earlier test's gigabyte) is sent again, as the engine would,
/// until the store takes it or ten seconds have passed: it says nothing of what a test checks.
pub async fn send(
    http: &reqwest::Client,
    request: &SignedRequest,
    body: Vec<u8>,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut ticks = tokio::time::interval(Duration::from_millis(250));
    loop {
        ticks.tick().await;
        let mut builder = http
            .request(method.clone(), &request.url)
            .body(body.clone());
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let answer = builder.send().await.expect("the store answers");
        if answer.status() != 503 || tokio::time::Instant::now() >= deadline {
            return answer;
        }
    }
}

impl Harness {
    pub fn store(&self) -> &S3Store {
        self.service.store()
    }

    pub async fn start(&self, name: &str, size: u64, content_type: &str) -> StartedUpload {
        self.service
            .start(
                OWNER,
                ROOMY,
                NewUpload {
                    name: name.into(),
                    size,
                    content_type: content_type.into(),
                    checksum: None,
                    sha256: None,
                    layout: Default::default(),
                },
            )
            .await
            .expect("start_upload")
    }

    /// Completing succeeds, and the store holds exactly `data`.
    pub async fn assert_arrives_whole(&self, started: &StartedUpload, data: &[u8]) {
        let view = self
            .service
            .complete(OWNER, &started.upload_id)
            .await
            .expect("complete");
        assert_eq!(view.status, hoist::model::UploadStatus::Uploaded);
        let key = self.row(OWNER, &started.upload_id).await.object_key;
        assert_eq!(self.object(&key).await.expect("object"), data);
    }

    /// A freshly signed URL for part `n` of `data` (with its checksum when the upload requires
    /// one), as the browser gets it.
    pub async fn sign(&self, started: &StartedUpload, data: &[u8], n: u32) -> SignedRequest {
        let (start, end) = started.plan.range(n).expect("planned part");
        let part = PartToSign {
            part_number: n,
            checksum: started
                .checksum
                .map(|a| checksum::of(a, &data[start as usize..end as usize])),
        };
        self.service
            .sign_parts(OWNER, &started.upload_id, &[part])
            .await
            .expect("sign_parts")
            .remove(0)
            .request
    }

    /// PUTs the given parts of `data` to freshly signed part URLs, with their checksums when
    /// the upload requires them (computed as the browser does).
    pub async fn put_parts(&self, started: &StartedUpload, data: &[u8], parts: &[u32]) {
        let bytes_of = |n: u32| {
            let (start, end) = started.plan.range(n).expect("planned part");
            &data[start as usize..end as usize]
        };
        let to_sign: Vec<PartToSign> = parts
            .iter()
            .map(|&n| PartToSign {
                part_number: n,
                checksum: started.checksum.map(|a| checksum::of(a, bytes_of(n))),
            })
            .collect();
        let signed = self
            .service
            .sign_parts(OWNER, &started.upload_id, &to_sign)
            .await
            .expect("sign_parts");
        for part in signed {
            let (start, end) = started.plan.range(part.part_number).expect("planned part");
            let response = send(
                &self.http,
                &part.request,
                data[start as usize..end as usize].to_vec(),
            )
            .await;
            assert!(
                response.status().is_success(),
                "part {} → {}",
                part.part_number,
                response.status()
            );
        }
    }

    /// The object's bytes, read back from the store with the server's credentials.
    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let out = self
            .store()
            .client()
            .get_object()
            .bucket(self.store().bucket())
            .key(key)
            .send()
            .await
            .ok()?;
        Some(
            out.body
                .collect()
                .await
                .expect("object body")
                .into_bytes()
                .to_vec(),
        )
    }

    pub async fn row(&self, owner: &str, id: &str) -> db::uploads::UploadRow {
        db::uploads::find_owned(self.service.db(), id, owner)
            .await
            .expect("query")
            .expect("row exists")
    }

    /// Multipart uploads the store still holds at `key`.
    pub async fn pending_multipart(&self, key: &str) -> usize {
        pending_at(self.store(), key).await
    }
}

/// Multipart uploads in progress at exactly `key`, as ListMultipartUploads reports them.
pub async fn pending_at(store: &S3Store, key: &str) -> usize {
    use hoist::storage::ObjectStore;
    store
        .pending_uploads(key)
        .await
        .expect("ListMultipartUploads")
        .iter()
        .filter(|p| p.key == key)
        .count()
}

/// The real store, with every call it is asked to make written down: which operation, on
/// which key (or prefix). Nothing is faked; it only counts.
#[derive(Clone)]
pub struct CountingStore<S> {
    pub inner: S,
    pub calls: std::sync::Arc<std::sync::Mutex<Vec<(&'static str, String)>>>,
}

impl<S> CountingStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Default::default(),
        }
    }

    fn record(&self, op: &'static str, key: &str) {
        self.calls
            .lock()
            .expect("calls")
            .push((op, key.to_string()));
    }

    pub fn calls(&self) -> Vec<(&'static str, String)> {
        self.calls.lock().expect("calls").clone()
    }

    pub fn count(&self, op: &str) -> usize {
        self.calls().iter().filter(|(o, _)| *o == op).count()
    }

    /// ListMultipartUploads over the whole bucket (an empty prefix).
    pub fn bucket_listings(&self) -> usize {
        self.calls()
            .iter()
            .filter(|(o, k)| *o == "pending_uploads" && k.is_empty())
            .count()
    }
}

impl<S: hoist::storage::ObjectStore> hoist::storage::ObjectStore for CountingStore<S> {
    async fn create_multipart(
        &self,
        key: &str,
        content_type: &str,
        checksum: Option<hoist::checksum::ChecksumAlgorithm>,
    ) -> hoist::storage::StorageResult<String> {
        self.record("create_multipart", key);
        self.inner
            .create_multipart(key, content_type, checksum)
            .await
    }

    async fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u32,
        len: u64,
        checksum: Option<&hoist::storage::Checksum>,
        ttl: Duration,
    ) -> hoist::storage::StorageResult<SignedRequest> {
        self.record("presign_part", key);
        self.inner
            .presign_part(key, upload_id, part_number, len, checksum, ttl)
            .await
    }

    async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> hoist::storage::StorageResult<Vec<hoist::storage::StoredPart>> {
        self.record("list_parts", key);
        self.inner.list_parts(key, upload_id).await
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[hoist::storage::StoredPart],
    ) -> hoist::storage::StorageResult<()> {
        self.record("complete_multipart", key);
        self.inner.complete_multipart(key, upload_id, parts).await
    }

    async fn abort_multipart(
        &self,
        key: &str,
        upload_id: &str,
    ) -> hoist::storage::StorageResult<bool> {
        self.record("abort_multipart", key);
        self.inner.abort_multipart(key, upload_id).await
    }

    async fn head(
        &self,
        key: &str,
    ) -> hoist::storage::StorageResult<Option<hoist::storage::ObjectInfo>> {
        self.record("head", key);
        self.inner.head(key).await
    }

    async fn read_start(
        &self,
        key: &str,
        len: u64,
    ) -> hoist::storage::StorageResult<Option<hoist::storage::ObjectStart>> {
        self.record("read_start", key);
        self.inner.read_start(key, len).await
    }

    async fn pending_uploads(
        &self,
        prefix: &str,
    ) -> hoist::storage::StorageResult<Vec<hoist::storage::PendingUpload>> {
        self.record("pending_uploads", prefix);
        self.inner.pending_uploads(prefix).await
    }

    async fn delete(&self, key: &str) -> hoist::storage::StorageResult<()> {
        self.record("delete", key);
        self.inner.delete(key).await
    }

    async fn presign_get(
        &self,
        key: &str,
        download_name: &str,
        ttl: Duration,
    ) -> hoist::storage::StorageResult<String> {
        self.record("presign_get", key);
        self.inner.presign_get(key, download_name, ttl).await
    }
}

/// Whether the test store holds an object at `key`.
pub async fn object_exists(key: &str) -> bool {
    use hoist::storage::ObjectStore;
    S3Store::new(&s3_settings())
        .head(key)
        .await
        .expect("the store answers")
        .is_some()
}

/// Polls `check` every 100 ms until it holds, failing the test after `deadline`.
pub async fn eventually<F, Fut>(deadline: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let polling = async {
        let mut ticks = tokio::time::interval(Duration::from_millis(100));
        loop {
            ticks.tick().await;
            if check().await {
                return;
            }
        }
    };
    tokio::time::timeout(deadline, polling)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {deadline:?}"));
}

/// Writes `n` expired uploads straight into the database (keys no store has heard of, with
/// made-up upload ids; half of them one-part), as a long outage would leave them: expired
/// by `now` (Unix milliseconds).
pub async fn plant_expired(pool: &db::Pool, n: usize, now: i64) -> usize {
    let batch = uuid::Uuid::new_v4().simple().to_string();
    let result = sqlx::query(
        "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < $1) \
         INSERT INTO uploads (id, owner, name, object_key, content_type, size, part_size, \
                              s3_upload_id, status, created_at, expires_at) \
         SELECT 'planted-' || i || '-' || $4, 'planted', 'fake.bin', \
                'hoist/' || $4 || '/fake-' || i || '.bin', \
                'application/octet-stream', \
                CASE i % 2 WHEN 0 THEN 20971520 ELSE 1000 END, 5242880, \
                'fake-' || $4 || '-' || i, \
                'uploading', $2, $3 - (i % 1000) FROM seq",
    )
    .bind(n as i64)
    .bind(now)
    .bind(now - 1)
    .bind(batch)
    .execute(pool.writer())
    .await
    .expect("plant rows");
    result.rows_affected() as usize
}

/// The database of the server whose data folder is `dir`: SQLite in it, or, on the test
/// command's PostgreSQL pass, a database of its own on that server (named after the folder,
/// so that every process started on the folder finds the same one). Made if missing.
pub async fn database_url(dir: &std::path::Path) -> String {
    if !db::testing::on_postgres() {
        return format!("sqlite://{}", dir.join("hoist.db").display());
    }
    use std::hash::{Hash, Hasher};
    let mut hash = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hash);
    let name = format!("hoist_dir_{:016x}", hash.finish());
    db::testing::create_postgres_database(&db::testing::required_postgres_server(), &name).await
}

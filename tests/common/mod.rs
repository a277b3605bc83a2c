//! What the integration tests share: the upload service wired to the real S3-compatible store
//! named by the environment (scripts/test.sh starts a Garage and sets it), a fresh SQLite file
//! per test, and an HTTP client that plays the browser's part.
#![allow(dead_code)]

use hoist::{
    db,
    model::{SignedRequest, StartedUpload},
    server::config::{S3Settings, UploadRules},
    storage::s3::S3Store,
    uploads::{NewUpload, UploadService},
};
use std::time::Duration;

pub const MIB: u64 = 1 << 20;
pub const PART: u64 = 5 * MIB;
/// The session most tests upload as.
pub const OWNER: &str = "session-a";

pub struct Harness {
    pub service: UploadService<S3Store>,
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
        public_endpoint: endpoint.clone(),
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
    }
}

pub async fn harness() -> Harness {
    harness_with(rules()).await
}

pub async fn harness_with(rules: UploadRules) -> Harness {
    harness_on(s3_settings(), rules).await
}

pub async fn harness_on(settings: S3Settings, rules: UploadRules) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("hoist.db").display());
    let pool = db::connect(&url).await.expect("database");
    let store = S3Store::new(&settings);
    Harness {
        service: UploadService::new(pool, store, rules),
        http: reqwest::Client::new(),
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

/// Sends a presigned request the way a browser would: the signed headers, the body, nothing else.
pub async fn send(
    http: &reqwest::Client,
    request: &SignedRequest,
    body: Vec<u8>,
) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let mut builder = http.request(method, &request.url).body(body);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    builder.send().await.expect("the store answers")
}

impl Harness {
    pub fn store(&self) -> &S3Store {
        self.service.store()
    }

    pub async fn start(&self, name: &str, size: u64, content_type: &str) -> StartedUpload {
        self.service
            .start(
                OWNER,
                NewUpload {
                    name: name.into(),
                    size,
                    content_type: content_type.into(),
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

    /// PUTs the given parts of `data` to freshly signed part URLs.
    pub async fn put_parts(&self, started: &StartedUpload, data: &[u8], parts: &[u32]) {
        let signed = self
            .service
            .sign_parts(OWNER, &started.upload_id, parts)
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

    /// Multipart uploads the store still holds under `key`.
    pub async fn pending_multipart(&self, key: &str) -> usize {
        let out = self
            .store()
            .client()
            .list_multipart_uploads()
            .bucket(self.store().bucket())
            .prefix(key)
            .send()
            .await
            .expect("ListMultipartUploads");
        out.uploads().len()
    }
}

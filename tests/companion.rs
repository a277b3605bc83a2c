//! Companion's S3 routes (`/s3/multipart…`) as `@uppy/aws-s3` calls them, through the real
//! binary and Garage: a file sent in Uppy's own parts arrives verified like any other, and the
//! routes refuse a forged key, another caller's upload and a start without a size, each with a
//! sentence in `{message}` and in the reason phrase.

mod common;

use common::{
    app::{raw_answer, App},
    bytes, store_client,
};
use hoist::model::SignedRequest;
use serde_json::{json, Value};

const MIB: u64 = 1 << 20;

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut request = client.request(method, url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let answer = request.send().await.expect("an answer");
    let status = answer.status();
    let phrase = status.canonical_reason().unwrap_or_default().to_string();
    let body = answer.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status.as_u16(), phrase, body)
}

/// Starts a Companion upload of `size` bytes; returns (uploadId, key).
async fn create(app: &App, client: &reqwest::Client, size: u64) -> (String, String) {
    let (status, _, body) = call(
        client,
        reqwest::Method::POST,
        &format!("{}/s3/multipart", app.base),
        Some(json!({
            "filename": "movie.bin",
            "type": "application/octet-stream",
            "metadata": {"size": size.to_string(), "relativePath": null}
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (
        body["uploadId"].as_str().expect("uploadId").to_string(),
        body["key"].as_str().expect("key").to_string(),
    )
}

#[tokio::test]
async fn a_file_sent_in_uppys_parts_arrives_verified_and_whole() {
    let app = App::start(&[]).await;
    let owner = app.browser();
    let data = bytes(12 * MIB, 41);
    let (id, key) = create(&app, &owner, data.len() as u64).await;
    let base = format!("{}/s3/multipart/{id}", app.base);

    // Uppy's parts: 5 MiB, 5 MiB and the rest, each signed alone and sent with no checksum.
    let mut parts = Vec::new();
    for (n, chunk) in data.chunks(5 * MIB as usize).enumerate() {
        let n = n + 1;
        let (status, _, signed) = call(
            &owner,
            reqwest::Method::GET,
            &format!("{base}/{n}?key={key}"),
            None,
        )
        .await;
        assert_eq!(status, 200, "{signed}");
        let request = SignedRequest {
            method: signed["method"].as_str().unwrap_or("PUT").to_string(),
            url: signed["url"].as_str().expect("url").to_string(),
            headers: signed["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            valid_for_secs: 0,
        };
        let sent = common::send(&store_client(), &request, chunk.to_vec()).await;
        assert!(sent.status().is_success(), "part {n}: {}", sent.status());
        let etag = sent.headers()["etag"].to_str().expect("etag").to_string();
        parts.push(json!({"PartNumber": n, "ETag": etag}));
    }

    // ListParts: every part, numbered, with its ETag and size.
    let (status, _, listed) = call(
        &owner,
        reqwest::Method::GET,
        &format!("{base}?key={key}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let listed = listed.as_array().expect("a list").clone();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(listed[2]["PartNumber"], json!(3));
    assert_eq!(listed[2]["Size"], json!(2 * MIB));

    // Completed with the client's list (which the server does not need), verified by the
    // server, and in the owner's library; the bytes come back whole.
    // Padded as a 20 GiB file's list of 4,000 parts would be: past every other request's limit.
    let padding: Vec<Value> = (4..4_000)
        .map(|n| json!({"PartNumber": n, "ETag": "\"0123456789abcdef0123456789abcdef\""}))
        .collect();
    let (status, _, done) = call(
        &owner,
        reqwest::Method::POST,
        &format!("{base}/complete?key={key}"),
        Some(json!({ "parts": parts, "padding": padding })),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert!(
        done["location"]
            .as_str()
            .is_some_and(|l| l.ends_with(&format!("/files/{id}"))),
        "{done}"
    );
    let fetched = owner
        .get(format!("{}/files/{id}/download", app.base))
        .send()
        .await
        .expect("the download")
        .bytes()
        .await
        .expect("bytes");
    assert!(fetched.as_ref() == data.as_slice(), "the bytes differ");
}

#[tokio::test]
async fn a_forged_key_another_callers_upload_and_a_start_without_a_size_are_refused() {
    let app = App::start(&[]).await;
    let owner = app.browser();
    let stranger = app.browser();
    let (id, key) = create(&app, &owner, 6 * MIB).await;
    let base = format!("{}/s3/multipart/{id}", app.base);

    // A key other than the one answered: as if the upload did not exist.
    for forged in ["other/object", "", "..%2F..%2Fsecret"] {
        let (status, _, body) = call(
            &owner,
            reqwest::Method::GET,
            &format!("{base}/1?key={forged}"),
            None,
        )
        .await;
        assert_eq!(status, 404, "{forged}: {body}");
        assert!(body["message"].is_string(), "{body}");
    }
    // Another caller, with the right key: not found either, through every route.
    for (method, url) in [
        (reqwest::Method::GET, format!("{base}/1?key={key}")),
        (reqwest::Method::GET, format!("{base}?key={key}")),
        (reqwest::Method::POST, format!("{base}/complete?key={key}")),
        (reqwest::Method::DELETE, format!("{base}?key={key}")),
    ] {
        let (status, _, body) = call(&stranger, method.clone(), &url, None).await;
        assert_eq!(status, 404, "{method} {url}: {body}");
    }
    // The owner's upload is untouched by all that: its part is signed.
    let (status, _, _) = call(
        &owner,
        reqwest::Method::GET,
        &format!("{base}/1?key={key}"),
        None,
    )
    .await;
    assert_eq!(status, 200);

    // No size: a sentence Uppy 5 shows (`message`) and Uppy 6 shows (the reason phrase).
    let answer = owner
        .post(format!("{}/s3/multipart", app.base))
        .header("content-type", "application/json")
        .body(json!({"filename": "a.bin", "type": "text/plain", "metadata": {}}).to_string())
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 400);
    let body: Value = serde_json::from_slice(&answer.bytes().await.expect("bytes")).expect("json");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("needs each file's size")),
        "{body}"
    );

    // Uppy 6 reads only the status line: the sentence is its reason phrase.
    let answer = raw_answer(
        &app,
        "POST /s3/multipart HTTP/1.1\r\nContent-Type: application/json",
        br#"{"filename": "a.bin", "type": "text/plain", "metadata": {"size": "x"}}"#,
    )
    .await;
    let line = answer.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("HTTP/1.1 400 This server needs each file's size"),
        "{line}"
    );

    // Aborting twice answers `{}` both times; the upload is gone afterwards.
    for _ in 0..2 {
        let (status, _, body) = call(
            &owner,
            reqwest::Method::DELETE,
            &format!("{base}?key={key}"),
            None,
        )
        .await;
        assert_eq!((status, body), (200, json!({})));
    }
}

/// Every call on the `/s3` routes counts against the caller's rate limit, as a server
/// function's does: signing and listing in a loop meets 429 with `Retry-After`.
#[tokio::test]
async fn companion_calls_meet_the_callers_rate_limit() {
    let app = App::start(&[("HOIST_RATE_LIMIT", "1"), ("HOIST_RATE_BURST", "6")]).await;
    let owner = app.browser();
    let (id, key) = create(&app, &owner, 6 * MIB).await;
    let mut answers = Vec::new();
    for n in 0..12 {
        let url = match n % 2 {
            0 => format!("{}/s3/multipart/{id}/1?key={key}", app.base),
            _ => format!("{}/s3/multipart/{id}?key={key}", app.base),
        };
        let answer = owner.get(url).send().await.expect("an answer");
        answers.push((
            answer.status().as_u16(),
            answer.headers().contains_key("retry-after"),
        ));
    }
    assert_eq!(answers[0], (200, false), "{answers:?}");
    assert!(answers.contains(&(429, true)), "{answers:?}");
}

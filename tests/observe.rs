//! What an operator sees of a running server: `/metrics` counting what users did, and every
//! request tied to its log lines by an id that its error sentence also carries. The real
//! binary, a real Garage, a real SQLite file.

mod common;

use common::{
    app::{by_id, form, raw, start, upload, App},
    bytes, eventually,
};
use std::time::Duration;

/// The value of one sample line (`name{labels} value`) of a scrape, if present.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok()).flatten()
    })
}

/// The sum of a series' samples over all its labels, if it has any.
fn total(scrape: &str, series: &str) -> Option<f64> {
    let labelled = format!("{series}{{");
    scrape
        .lines()
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(name, _)| *name == series || name.starts_with(&labelled))
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .reduce(|a, b| a + b)
}

async fn scrape(app: &App) -> String {
    let answer = reqwest::get(format!("{}/metrics", app.base))
        .await
        .expect("metrics");
    assert_eq!(answer.status(), 200);
    answer.text().await.expect("a body")
}

#[tokio::test]
async fn metrics_count_what_users_did() {
    let app = App::start(&[
        ("HOIST_ALLOWED_TYPES", "application/octet-stream"),
        // Short enough for the reaper to come by within the test, long enough that a URL is
        // still alive when a busy machine gets round to sending 7 MiB to it.
        ("HOIST_UPLOAD_TTL", "6s"),
        ("HOIST_URL_TTL", "5s"),
        ("HOIST_REAPER_INTERVAL", "1s"),
    ])
    .await;
    let alice = app.browser();
    let data = bytes(7 << 20, 1);
    upload(&app, &alice, "a.bin", "application/octet-stream", &data).await;
    // Refused at start: a type the server does not take.
    let refused = app
        .call(
            &alice,
            "start_upload",
            &form(&[
                ("name", "a.exe"),
                ("size", "10"),
                ("content_type", "text/html"),
            ]),
        )
        .await;
    assert_eq!(refused.status, 400, "{refused:?}");
    let aborted = start(&app, &alice, "b.bin", 100, "application/octet-stream").await;
    let abort = by_id(&app, &alice, "abort_upload", &aborted.upload_id).await;
    assert_eq!(abort.status, 200, "{abort:?}");
    // Left alone: expires after 6 s, and the reaper takes it.
    start(&app, &alice, "c.bin", 100, "application/octet-stream").await;

    let app = &app;
    eventually(
        Duration::from_secs(30),
        "the reaper counted",
        || async move { sample(&scrape(app).await, "hoist_uploads_expired_total") == Some(1.0) },
    )
    .await;
    let text = scrape(app).await;
    for (series, value) in [
        ("hoist_uploads_started_total", 3.0),
        ("hoist_uploads_completed_total", 1.0),
        ("hoist_uploads_completed_bytes_total", data.len() as f64),
        ("hoist_uploads_rejected_total{stage=\"start\"}", 1.0),
        ("hoist_uploads_aborted_total", 1.0),
        ("hoist_uploads_expired_total", 1.0),
        (
            "hoist_server_fn_duration_seconds_count{name=\"start_upload\"}",
            4.0,
        ),
        (
            "hoist_server_fn_requests_total{name=\"start_upload\",status=\"400\"}",
            1.0,
        ),
        (
            "hoist_server_fn_requests_total{name=\"complete_upload\",status=\"200\"}",
            1.0,
        ),
        ("hoist_db_pool_max_connections", 8.0),
        ("hoist_live_clients", 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    assert!(text.contains("# TYPE hoist_server_fn_duration_seconds histogram"));
    assert!(
        sample(&text, "hoist_db_pool_connections").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // Starting, completing and aborting wrote: each waited for its turn and held it.
    for series in [
        "hoist_db_write_wait_seconds_count",
        "hoist_db_write_held_seconds_count",
    ] {
        assert!(
            total(&text, series).is_some_and(|n| n >= 3.0),
            "{series} in\n{text}"
        );
    }
    // An octet-stream file is only hashed: its job was queued, ran, and left the queue.
    eventually(Duration::from_secs(20), "the hash job ran", || async move {
        let text = scrape(app).await;
        sample(&text, "hoist_jobs_queued{kind=\"hash\"}") == Some(0.0)
            && sample(&text, "hoist_jobs_running{kind=\"hash\"}") == Some(0.0)
            && text.contains("hoist_job_duration_seconds_count{kind=\"hash\",outcome=\"done\"} 1")
    })
    .await;
}

#[tokio::test]
async fn a_caller_cannot_mint_time_series() {
    let app = App::start(&[]).await;
    // Sent as written: an HTTP client library would fold `..` and `%2e%2e` away before sending.
    for path in [
        "/api/no_such_fn",
        "/api/start_upload/../x",
        "/api/start_upload/%2e%2e/x",
        "/api/%2e%2e",
        "/api/..",
        "/api/sign_parts/..%2fno_such_fn",
    ] {
        let (status, body) = raw(
            &app,
            &format!("POST {path} HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"),
            b"",
        )
        .await;
        assert!((400..500).contains(&status), "{path}: {status} {body}");
    }
    let text = scrape(&app).await;
    assert!(!text.contains("no_such_fn"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("hoist_server_fn") && l.contains("..")),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_can_be_kept_for_the_scraper() {
    let app = App::start(&[("HOIST_METRICS_TOKEN", "scrape-me")]).await;
    let url = format!("{}/metrics", app.base);
    let http = reqwest::Client::new();
    let open = http.get(&url).send().await.expect("metrics");
    assert_eq!(open.status(), 401);
    let wrong = http
        .get(&url)
        .bearer_auth("scrape-you")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let right = http
        .get(&url)
        .bearer_auth("scrape-me")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right.text().await.unwrap().contains("hoist_live_clients"));
}

#[tokio::test]
async fn metrics_are_closed_on_a_public_site_until_a_token_is_set() {
    let app = App::start(&[("HOIST_PUBLIC_URL", "https://uploads.example")]).await;
    let answer = reqwest::get(format!("{}/metrics", app.base))
        .await
        .expect("metrics");
    assert_eq!(answer.status(), 401);
    let sentence = answer.text().await.expect("a body");
    assert!(sentence.contains("HOIST_METRICS_TOKEN"), "{sentence}");
    assert!(!sentence.contains("hoist_"), "{sentence}");
}

/// The store is away: the sentence a person sees names the request, and the server's JSON log
/// line for it carries the same id.
#[tokio::test]
async fn a_failed_request_is_named_in_its_sentence_and_its_log_lines() {
    let dead = common::app::free_port();
    let app = App::start(&[
        ("HOIST_S3_ENDPOINT", &format!("http://127.0.0.1:{dead}")),
        ("HOIST_LOG_FORMAT", "json"),
    ])
    .await;
    let client = app.browser();
    let response = client
        .post(format!("{}/api/start_upload", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[
            ("name", "a.bin"),
            ("size", "10"),
            ("content_type", "application/octet-stream"),
        ]))
        .send()
        .await
        .expect("hoist answers");
    assert_eq!(response.status(), 503);
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a request id")
        .to_string();
    assert_eq!(id.len(), 16, "{id}");
    let body: serde_json::Value =
        serde_json::from_str(&response.text().await.expect("a body")).expect("json");
    assert_eq!(body["request_id"], id.as_str(), "{body}");
    let message = body["message"].as_str().expect("a sentence");
    assert!(message.contains(&format!("(Request {id}.)")), "{message}");
    // The page decodes the error itself: the id is in its data, so it shows there too.
    let error: hoist::error::ApiError = serde_json::from_value(body.clone()).expect("an ApiError");
    assert!(error.to_string().contains(&id), "{error}");

    // A client's mistake is not ours: no reference in its sentence, but the id beside it.
    let mistake = app.call(&client, "start_upload", "name=a.bin").await;
    assert_eq!(mistake.status, 400);
    let mistake: serde_json::Value = serde_json::from_str(&mistake.body).unwrap();
    assert!(mistake["request_id"]
        .as_str()
        .is_some_and(|r| r.len() == 16));
    assert!(!mistake["message"].as_str().unwrap().contains("Request "));

    let app = &app;
    let id = &id;
    eventually(
        Duration::from_secs(10),
        "the request's lines logged",
        || async move {
            let log = app.log();
            // Leptos prints a notice of its own at start-up (outside cargo-leptos); every line of
            // Hoist's is an object.
            let lines: Vec<serde_json::Value> = log
                .lines()
                .filter(|l| l.starts_with('{'))
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
            let mine: Vec<&serde_json::Value> = lines
                .iter()
                .filter(|l| l["span"]["id"] == id.as_str())
                .collect();
            // The store's failure, logged inside the request, and the answer.
            mine.iter().any(|l| l["level"] == "WARN")
                && mine.iter().any(|l| {
                    l["fields"]["status"] == 503 && l["span"]["path"] == "/api/start_upload"
                })
        },
    )
    .await;
}

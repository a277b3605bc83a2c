//! Hostile clients against the real server: the `hoist` binary over HTTP with cookie jars, a
//! real Garage, a real SQLite file. Every hole once found in Hoist has a test here that an
//! attacker could have run with curl, and that failed before the hole was closed.

mod common;

use common::{
    app::{assert_not_found_through_every_door, by_id, form, sign_for, start, url_for, App},
    bytes, media, pending_at, s3_settings, send, store_client,
};
use futures::StreamExt;
use hoist::{
    checksum::{self, ChecksumAlgorithm},
    error::ApiError,
    model::{LibraryPage, StartedUpload, UploadStatus, UploadView},
    storage::s3::S3Store,
};
use std::time::Duration;

fn store() -> S3Store {
    S3Store::new(&s3_settings())
}

/// The object's bytes as the store holds them, if it holds any.
async fn object(key: &str) -> Option<Vec<u8>> {
    let store = store();
    let out = store
        .client()
        .get_object()
        .bucket(store.bucket())
        .key(key)
        .send()
        .await
        .ok()?;
    Some(out.body.collect().await.ok()?.into_bytes().to_vec())
}

/// Where the server keeps the upload's bytes (a random key the row names).
async fn key(app: &App, started: &StartedUpload) -> String {
    sqlx::query_scalar("SELECT object_key FROM uploads WHERE id = $1")
        .bind(&started.upload_id)
        .fetch_one(&app.database().await)
        .await
        .expect("the row")
}

#[tokio::test]
async fn a_verified_file_cannot_be_swapped_by_a_url_signed_before() {
    let app = App::start(&[]).await;
    let mallory = app.browser();
    let http = store_client();
    let innocent = media("image/png", 4000, 1);
    let evil = {
        let mut e = bytes(4000, 2);
        e[..4].copy_from_slice(b"\x7fELF");
        e
    };

    // Two URLs for part 1 before anything arrived, one for each content.
    let started = start(&app, &mallory, "cat.png", 4000, "image/png").await;
    let first = url_for(&app, &mallory, &started.upload_id, &innocent).await;
    let second = url_for(&app, &mallory, &started.upload_id, &evil).await;
    assert!(send(&http, &first.request, innocent.clone())
        .await
        .status()
        .is_success());
    let done = by_id(&app, &mallory, "complete_upload", &started.upload_id).await;
    assert_eq!(done.status, 200, "{done:?}");
    assert_eq!(done.json::<UploadView>().status, UploadStatus::Uploaded);

    // After verification the second URL is dead: the multipart upload it names is gone.
    let swap = send(&http, &second.request, evil.clone()).await;
    assert!(
        swap.status().is_client_error(),
        "swap answered {}",
        swap.status()
    );
    assert_eq!(
        object(&key(&app, &started).await).await.as_deref(),
        Some(&innocent[..])
    );

    // Once a part has arrived, it is never signed again for other content.
    let started = start(&app, &mallory, "dog.png", 4000, "image/png").await;
    let url = url_for(&app, &mallory, &started.upload_id, &innocent).await;
    assert!(send(&http, &url.request, innocent.clone())
        .await
        .status()
        .is_success());
    let again = sign_for(&app, &mallory, &started.upload_id, &evil).await;
    assert_eq!(again.status, 409, "{again:?}");
    assert_eq!(again.error(), ApiError::PartAlreadyStored { part: 1 });
    // The same content may be signed again (a lost URL, a retry).
    assert_eq!(
        sign_for(&app, &mallory, &started.upload_id, &innocent)
            .await
            .status,
        200
    );

    // Aborted: a URL signed before recreates nothing.
    let started = start(&app, &mallory, "bird.png", 4000, "image/png").await;
    let url = url_for(&app, &mallory, &started.upload_id, &innocent).await;
    assert_eq!(
        by_id(&app, &mallory, "abort_upload", &started.upload_id)
            .await
            .status,
        200
    );
    assert!(send(&http, &url.request, innocent.clone())
        .await
        .status()
        .is_client_error());
    assert_eq!(object(&key(&app, &started).await).await, None);
    assert_eq!(pending_at(&store(), &key(&app, &started).await).await, 0);

    // Rejected (the bytes are not the PNG announced): likewise.
    let started = start(&app, &mallory, "fish.png", 4000, "image/png").await;
    let bad = url_for(&app, &mallory, &started.upload_id, &evil).await;
    let late = url_for(&app, &mallory, &started.upload_id, &evil).await;
    assert!(send(&http, &bad.request, evil.clone())
        .await
        .status()
        .is_success());
    let rejected = by_id(&app, &mallory, "complete_upload", &started.upload_id).await;
    assert_eq!(rejected.status, 422, "{rejected:?}");
    assert!(send(&http, &late.request, evil.clone())
        .await
        .status()
        .is_client_error());
    assert_eq!(object(&key(&app, &started).await).await, None);
}

/// The batch doors: a URL handed out with the start takes only the bytes whose checksum came
/// with it and dies with the upload; a refused file holds back no other; batches are bounded.
#[tokio::test]
async fn a_url_that_comes_with_the_start_takes_only_the_announced_bytes_and_dies_with_the_upload() {
    let app = App::start(&[]).await;
    let mallory = app.browser();
    let http = store_client();
    let innocent = media("image/png", 4000, 4);
    let evil = bytes(4000, 5);
    let sum = checksum::of(ChecksumAlgorithm::Crc32c, &innocent);
    let answer = app
        .call(
            &mallory,
            "start_uploads",
            &form(&[
                ("files[0][name]", "cat.png"),
                ("files[0][size]", "4000"),
                ("files[0][content_type]", "image/png"),
                ("files[0][checksum]", &sum),
                ("files[1][name]", "nothing.png"),
                ("files[1][size]", "0"),
                ("files[1][content_type]", "image/png"),
            ]),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let mut answers = answer.json::<Vec<Result<StartedUpload, ApiError>>>();
    assert!(
        matches!(answers[1], Err(ApiError::Invalid(_))),
        "{answers:?}"
    );
    let started = answers.remove(0).expect("cat.png started");
    let url = &started.signed[0].request;

    assert_eq!(send(&http, url, evil.clone()).await.status(), 400);
    assert!(send(&http, url, innocent.clone())
        .await
        .status()
        .is_success());
    let other = sign_for(&app, &mallory, &started.upload_id, &evil).await;
    assert_eq!(other.status, 409, "{other:?}");
    let done = app
        .call(
            &mallory,
            "complete_uploads",
            &form(&[("upload_ids[0]", &started.upload_id)]),
        )
        .await;
    assert_eq!(done.status, 200, "{done:?}");
    let views = done.json::<Vec<Result<UploadView, ApiError>>>();
    assert_eq!(
        views[0].as_ref().map(|v| v.status),
        Ok(UploadStatus::Uploaded)
    );
    assert!(send(&http, url, innocent.clone())
        .await
        .status()
        .is_client_error());
    assert_eq!(object(&key(&app, &started).await).await, Some(innocent));

    let many: Vec<(String, String)> = (0..51)
        .flat_map(|i| {
            [
                (format!("files[{i}][name]"), format!("{i}.bin")),
                (format!("files[{i}][size]"), "1".to_string()),
                (format!("files[{i}][content_type]"), String::new()),
            ]
        })
        .collect();
    let pairs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let too_many = app.call(&mallory, "start_uploads", &form(&pairs)).await;
    assert_eq!(too_many.status, 400, "{too_many:?}");
    let none = app.call(&mallory, "complete_uploads", "").await;
    assert_eq!(none.status, 400, "{none:?}");
}

#[tokio::test]
async fn another_sessions_upload_is_not_found_through_every_door() {
    let app = App::start(&[]).await;
    let (alice, mallory) = (app.browser(), app.browser());
    let data = media("image/png", 3000, 3);
    let started = start(&app, &alice, "private.png", 3000, "image/png").await;
    let url = url_for(&app, &alice, &started.upload_id, &data).await;
    assert!(send(&store_client(), &url.request, data)
        .await
        .status()
        .is_success());
    assert_eq!(
        by_id(&app, &alice, "complete_upload", &started.upload_id)
            .await
            .status,
        200
    );

    assert_not_found_through_every_door(&app, &mallory, &started.upload_id).await;
    let theirs: LibraryPage = app.call(&mallory, "list_uploads", "").await.json();
    assert!(theirs.uploads.is_empty());
    let mine: LibraryPage = app.call(&alice, "list_uploads", "").await.json();
    assert_eq!(mine.uploads.len(), 1);

    // Every function the server registers, including any added after this test was written,
    // called by the stranger with the id in every field that could carry one: none tells them
    // anything of the file, and none changes it.
    let id = started.upload_id.as_str();
    common::app::processed(&app, &alice, id, Duration::from_secs(30)).await;
    let before = serde_json::to_value(common::app::row(&app, &alice, id).await).expect("json");
    let body = form(&[
        ("upload_id", id),
        ("upload_ids[0]", id),
        ("token_id", id),
        ("key", id),
        ("cursor", id),
        ("title", "taken over"),
        ("description", "taken over"),
        ("visibility", "public"),
    ]);
    for name in common::app::server_functions() {
        let answer = app.call(&mallory, &name, &body).await;
        assert!(answer.status < 500, "{name}: {answer:?}");
        assert!(
            !answer.body.contains("private.png"),
            "{name} told a stranger the file's name: {answer:?}"
        );
    }
    let after = serde_json::to_value(common::app::row(&app, &alice, id).await).expect("json");
    assert_eq!(before, after, "a stranger changed the file");
}

/// The cookie the server gave `client`, as `name=value`.
async fn session_cookie(app: &App, client: &reqwest::Client) -> String {
    let response = client
        .get(format!("{}/healthz", app.base))
        .send()
        .await
        .expect("answer");
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("hoist_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

#[tokio::test]
async fn forged_unsigned_and_doubled_session_cookies_capture_nothing() {
    let app = App::start(&[]).await;
    let alice = reqwest::Client::new();
    let cookie = session_cookie(&app, &alice).await;
    let as_alice = |name: &str, body: String| {
        app.call_with(
            alice
                .post(format!("{}/api/{name}", app.base))
                .header("cookie", &cookie),
            body.into_bytes(),
        )
    };
    let answer = as_alice(
        "start_upload",
        form(&[("name", "mine.bin"), ("size", "10"), ("content_type", "")]),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let id = answer.json::<StartedUpload>().upload_id;

    let value = cookie.trim_start_matches("hoist_session=");
    let (bare_id, _tag) = value.split_once('.').expect("id.tag");
    let forged_tag = format!("{bare_id}.{}", "0".repeat(64));
    let other_secret = {
        // A cookie signed by another Hoist (another secret) is no session here.
        let other = App::start(&[]).await;
        session_cookie(&other, &reqwest::Client::new()).await
    };
    for planted in [
        format!("hoist_session={bare_id}"),
        format!("hoist_session={forged_tag}"),
        other_secret,
        "hoist_session=../../etc/passwd".to_string(),
    ] {
        let answer = app
            .call_with(
                reqwest::Client::new()
                    .post(format!("{}/api/complete_upload", app.base))
                    .header("cookie", &planted),
                form(&[("upload_id", &id)]).into_bytes(),
            )
            .await;
        assert_eq!(answer.status, 404, "{planted}: {answer:?}");
    }

    // A second cookie planted beside the real one (from a sibling subdomain, say) is refused
    // outright, whichever comes first.
    for both in [
        format!("hoist_session={forged_tag}; {cookie}"),
        format!("{cookie}; hoist_session={forged_tag}"),
    ] {
        let answer = app
            .call_with(
                reqwest::Client::new()
                    .post(format!("{}/api/list_uploads", app.base))
                    .header("cookie", &both),
                Vec::new(),
            )
            .await;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert_eq!(answer.error(), ApiError::DuplicateSession);
    }
    // Alice herself is unaffected.
    assert_eq!(as_alice("list_uploads", String::new()).await.status, 200);
}

#[tokio::test]
async fn posts_from_other_sites_are_refused() {
    let app = App::start(&[]).await;
    let victim = app.browser();
    let body = form(&[("name", "csrf.bin"), ("size", "10"), ("content_type", "")]).into_bytes();
    let post = || victim.post(format!("{}/api/start_upload", app.base));
    for (header, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
    ] {
        let answer = app
            .call_with(post().header(header, value), body.clone())
            .await;
        assert_eq!(answer.status, 403, "{header}: {value}: {answer:?}");
        assert_eq!(answer.error(), ApiError::CrossSite);
    }
    let page: LibraryPage = app.call(&victim, "list_uploads", "").await.json();
    assert!(page.uploads.is_empty(), "nothing was started");

    // The site's own page passes, under either name.
    let own = app
        .call_with(post().header("origin", &app.base), body.clone())
        .await;
    assert_eq!(own.status, 200, "{own:?}");
    let same = app
        .call_with(post().header("sec-fetch-site", "same-origin"), body)
        .await;
    assert_eq!(same.status, 200, "{same:?}");
}

#[tokio::test]
async fn malformed_and_oversized_requests_get_a_4xx_and_a_sentence() {
    let mut app = App::start(&[]).await;
    let client = app.browser();
    let start =
        |body: Vec<u8>| app.call_with(client.post(format!("{}/api/start_upload", app.base)), body);
    for (body, status) in [
        (b"name=a.bin&size=-1&content_type=".to_vec(), 400),
        (
            b"name=a.bin&size=18446744073709551616&content_type=".to_vec(),
            400,
        ),
        (b"name=a.bin&content_type=".to_vec(), 400),
        (b"name=\xff\xfe.bin&size=10&content_type=".to_vec(), 400),
        (b"\xc3\x28=\xa0\xa1".to_vec(), 400),
        (
            form(&[
                ("name", "a"),
                ("size", "1"),
                ("content_type", &format!("image/{}", "x".repeat(200))),
            ])
            .into_bytes(),
            400,
        ),
        (
            form(&[
                ("name", &"n".repeat(5000)),
                ("size", "1"),
                ("content_type", ""),
            ])
            .into_bytes(),
            400,
        ),
    ] {
        let answer = start(body.clone()).await;
        assert_eq!(
            answer.status,
            status,
            "{:?}: {answer:?}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        if status == 400 {
            let sentence = answer.error().to_string();
            assert!(
                sentence.ends_with('.') && sentence.len() < 400,
                "{sentence}"
            );
            // The sentence travels too, for clients that do not decode the error (curl).
            let sent: serde_json::Value = answer.json();
            assert_eq!(sent["message"], sentence, "{answer:?}");
        }
    }
    // A body of 1.9 MB (a type that long, say) is refused on its announced length, unread.
    assert_eq!(
        status_for_announced_body(&app, "start_upload", 1_900_000).await,
        413
    );

    let cursor = app
        .call(
            &client,
            "list_uploads",
            &form(&[("cursor", "not-a-cursor")]),
        )
        .await;
    assert_eq!(cursor.status, 400, "{cursor:?}");
    assert!(app.is_running());
    let log = app.log();
    assert!(
        !log.contains("ERROR"),
        "a client's mistake logged as an error:\n{log}"
    );
}

/// Returns once the store holds an object at `key` (HeadObject, asked again at once: the
/// window to hit is a few milliseconds wide); fails the test after 10 s.
async fn until_stored(store: &S3Store, key: &str) {
    use hoist::storage::ObjectStore;
    let polling = async {
        while !matches!(store.head(key).await, Ok(Some(_))) {
            tokio::task::yield_now().await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), polling)
        .await
        .unwrap_or_else(|_| panic!("{key} never appeared in the store"));
}

/// Sends only the headers of a POST announcing a body of `len` bytes, and reads the status the
/// server answers with before any of the body was sent.
async fn status_for_announced_body(app: &App, function: &str, len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/{function} HTTP/1.1\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("headers");
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("an answer before the body")
        .expect("read");
    let text = String::from_utf8_lossy(&answer[..n]);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_racing_complete_leaves_the_row_and_the_bucket_agreeing() {
    const ROUNDS: usize = 50;
    let app = App::start(&[]).await;
    let client = app.browser();
    let http = store_client();
    let store = store();
    let mut outcomes = Vec::new();
    for round in 0..ROUNDS {
        let data = bytes(2000 + round as u64, round as u64);
        let started = start(
            &app,
            &client,
            &format!("race-{round}.bin"),
            data.len() as u64,
            "",
        )
        .await;
        let url = url_for(&app, &client, &started.upload_id, &data).await;
        assert!(send(&http, &url.request, data).await.status().is_success());
        // Three kinds of round: both at once (the abort usually wins); the abort sent once the
        // store holds the object, so it lands after CompleteMultipartUpload and before the row
        // says uploaded (the window where an abort once left an object behind a row marked
        // aborted); and the abort sent after the completion answered (the file stays).
        let key = key(&app, &started).await;
        let id = started.upload_id.as_str();
        let (complete, abort) = match round % 3 {
            0 => tokio::join!(
                by_id(&app, &client, "complete_upload", id),
                by_id(&app, &client, "abort_upload", id),
            ),
            1 => tokio::join!(by_id(&app, &client, "complete_upload", id), async {
                until_stored(&store, &key).await;
                by_id(&app, &client, "abort_upload", id).await
            }),
            _ => {
                let complete = by_id(&app, &client, "complete_upload", id).await;
                (complete, by_id(&app, &client, "abort_upload", id).await)
            }
        };
        for answer in [&complete, &abort] {
            assert!(answer.status < 500, "round {round}: {answer:?}");
        }
        outcomes.push(started);
    }
    let mut library = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let body = cursor
            .as_deref()
            .map(|c| form(&[("cursor", c)]))
            .unwrap_or_default();
        let page: LibraryPage = app.call(&client, "list_uploads", &body).await.json();
        library.extend(page.uploads);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let (mut uploaded, mut aborted) = (0, 0);
    for started in &outcomes {
        let view = library
            .iter()
            .find(|u| u.id == started.upload_id)
            .expect("listed");
        let object = object(&key(&app, started).await).await;
        match view.status {
            UploadStatus::Uploaded => {
                uploaded += 1;
                assert!(object.is_some(), "{} uploaded without an object", view.name);
            }
            UploadStatus::Aborted => {
                aborted += 1;
                assert!(
                    object.is_none(),
                    "{} aborted with an object left",
                    view.name
                );
                assert_eq!(pending_at(&store, &key(&app, started).await).await, 0);
            }
            other => panic!("{} ended {other}", view.name),
        }
    }
    println!("abort racing complete, {ROUNDS} rounds: {uploaded} uploaded, {aborted} aborted, all agreeing with the bucket");
}

#[tokio::test]
async fn a_thousand_half_sent_headers_neither_stall_the_server_nor_stay_open() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const SLOW: usize = 1_000;
    let app = App::start(&[("HOIST_HEADER_TIMEOUT", "2s")]).await;
    let address = app.base.trim_start_matches("http://").to_string();
    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut stream = tokio::net::TcpStream::connect(&address)
            .await
            .expect("connect");
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: hoist\r\nX-Slow: ")
            .await
            .expect("half a header");
        slow.push(stream);
    }
    let health = tokio::time::timeout(
        Duration::from_secs(1),
        reqwest::get(format!("{}/healthz", app.base)),
    )
    .await;
    assert!(
        matches!(&health, Ok(Ok(r)) if r.status().is_success()),
        "/healthz with {SLOW} slow clients: {health:?}"
    );
    // Each slow connection is closed by the server once its header time is up.
    let closed = futures::future::join_all(slow.iter_mut().map(|stream| async move {
        let mut buf = [0u8; 512];
        let ended = tokio::time::timeout(Duration::from_secs(15), async {
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        ended.is_ok()
    }))
    .await;
    let open = closed.iter().filter(|c| !**c).count();
    assert_eq!(open, 0, "{open} of {SLOW} slow connections still open");
}

#[tokio::test]
async fn the_library_comes_in_pages_and_a_forged_cursor_finds_nothing() {
    const FILES: usize = 230;
    // The files are left unfinished: more than one account may have on its way by default.
    let app = App::start(&[("HOIST_MAX_ACTIVE_UPLOADS", "1000")]).await;
    let client = app.browser();
    for n in 0..FILES {
        start(&app, &client, &format!("page-{n}.bin"), 10, "").await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let body = cursor
            .as_deref()
            .map(|c| form(&[("cursor", c)]))
            .unwrap_or_default();
        let page: LibraryPage = app.call(&client, "list_uploads", &body).await.json();
        pages += 1;
        assert!(page.uploads.len() <= 100);
        seen.extend(page.uploads.into_iter().map(|u| (u.created_at_ms, u.id)));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), FILES, "every upload once");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), FILES, "no upload twice");
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");

    // Another browser with this browser's cursor still sees only its own (none).
    let other: LibraryPage = app
        .call(
            &app.browser(),
            "list_uploads",
            &form(&[("cursor", cursor.as_deref().unwrap_or("0.x"))]),
        )
        .await
        .json();
    assert!(other.uploads.is_empty());
}

#[tokio::test]
async fn pages_forbid_framing_foreign_scripts_and_shared_caches() {
    let app = App::start(&[]).await;
    let page = reqwest::get(format!("{}/", app.base)).await.expect("page");
    let header = |name: &str| {
        page.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let csp = header("content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("cache-control"), "private, no-store");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce")
        .to_string();
    let html = page.text().await.expect("html");
    // Every inline script is the one the policy allows.
    let scripts = html.matches("<script").count();
    let allowed = html.matches(&format!("nonce=\"{nonce}\"")).count();
    assert!(
        scripts > 0 && allowed >= scripts,
        "{scripts} scripts, {allowed} with the nonce"
    );

    let api = app.call(&app.browser(), "list_uploads", "").await;
    assert_eq!(api.status, 200);
    let listed = reqwest::Client::new()
        .post(format!("{}/api/list_uploads", app.base))
        .send()
        .await
        .expect("answer");
    assert_eq!(
        listed
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("private, no-store")
    );
}

/// The attack run: random form bodies, shaped like each registered server function's
/// arguments with hostile values, then pure noise, then random requests to every route — while
/// a watcher reads the server's memory and asks `/healthz` every 200 ms. Never a 5xx, the
/// server alive, healthy throughout, and its memory within 64 MiB of where it started.
/// `bench/attack.sh` prints these figures into docs/security.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_bodies_per_server_function_and_route_never_get_a_5xx() {
    const BODIES: usize = 10_000;
    let mut app = App::start(&[]).await;
    let client = app.browser();
    let began = std::time::Instant::now();
    // The fields each function takes, for bodies shaped like its arguments. A function not
    // named here (added since) is still fuzzed, with every field any function takes.
    let known: &[(&str, &[&str])] = &[
        ("start_upload", &["name", "size", "content_type"]),
        (
            "start_uploads",
            &[
                "files[0][name]",
                "files[0][size]",
                "files[0][content_type]",
                "files[0][checksum]",
                "files[1][name]",
                "files[1][size]",
            ],
        ),
        ("complete_uploads", &["upload_ids[0]", "upload_ids[1]"]),
        (
            "sign_parts",
            &[
                "upload_id",
                "parts[0][part_number]",
                "parts[0][checksum]",
                "parts[1][part_number]",
            ],
        ),
        ("resume_upload", &["upload_id", "size", "content_type"]),
        ("keep_upload_alive", &["upload_id"]),
        ("complete_upload", &["upload_id"]),
        ("abort_upload", &["upload_id"]),
        ("delete_upload", &["upload_id"]),
        ("delete_uploads", &["upload_ids[0]", "upload_ids[1]"]),
        ("list_uploads", &["cursor", "search", "sort"]),
        ("engine_settings", &[]),
        ("get_file", &["upload_id", "key"]),
        (
            "describe_file",
            &["upload_id", "title", "description", "visibility"],
        ),
        ("public_files", &[]),
        ("new_share_link", &["upload_id"]),
        ("change_password", &["current_password", "new_password"]),
        ("delete_account", &["password"]),
        ("sign_up", &["email", "password", "invite"]),
        ("sign_in", &["email", "password"]),
        ("sign_out", &[]),
        ("whoami", &[]),
        ("create_token", &["name", "password", "expires_in_days"]),
        ("list_tokens", &[]),
        ("revoke_token", &["token_id"]),
    ];
    let every_field: Vec<&str> = {
        let mut all: Vec<&str> = known.iter().flat_map(|(_, f)| f.iter().copied()).collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    let registered = common::app::server_functions();
    let functions: Vec<(String, Vec<&str>)> = registered
        .iter()
        .map(|name| {
            let fields = known
                .iter()
                .find(|(k, _)| k == name)
                .map_or_else(|| every_field.clone(), |(_, f)| f.to_vec());
            (name.clone(), fields)
        })
        .collect();
    // One real upload, so some guesses name something that exists.
    let real = start(&app, &client, "real.bin", 10, "").await.upload_id;
    let values = [
        "",
        "0",
        "1",
        "-1",
        "10001",
        "4294967296",
        "18446744073709551616",
        "1e9",
        "NaN",
        "%00",
        "%ff%fe",
        "%E2%80%AE",
        "..%2F..%2Fetc",
        "a%5Bb%5D",
        "true",
        "%20",
        "image%2Fpng",
        "%2F%2F",
        "x%3Dy%26z",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut fives = Vec::new();
    let mut sent = 0usize;
    // Warmed up (one upload made, the pool open): memory is measured from here.
    let start_rss = common::app::resident_bytes(app.pid());
    let watch = common::app::Watch::start(&app);
    for (name, fields) in functions {
        let mut bodies = Vec::with_capacity(BODIES);
        for i in 0..BODIES {
            let body: Vec<u8> = if i % 4 == 3 {
                (0..next() % 200).map(|_| (next() % 256) as u8).collect()
            } else {
                let mut parts = Vec::new();
                for field in &fields {
                    if next() % 5 == 0 {
                        continue;
                    }
                    let value = match next() % 4 {
                        0 => real.clone(),
                        _ => values[(next() % values.len() as u64) as usize].to_string(),
                    };
                    parts.push(format!("{field}={value}"));
                }
                parts.join("&").into_bytes()
            };
            bodies.push(body);
        }
        let url = format!("{}/api/{name}", app.base);
        let answers = futures::stream::iter(bodies)
            .map(|body| {
                let request = client.post(&url);
                let app = &app;
                async move { (app.call_with(request, body.clone()).await, body) }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        sent += answers.len();
        println!(
            "attack run, {name}: server memory {:.1} MiB",
            common::app::resident_bytes(app.pid()) as f64 / 1048576.0
        );
        for (answer, body) in answers {
            if answer.status >= 500 {
                fives.push(format!(
                    "{name} {:?} → {answer:?}",
                    String::from_utf8_lossy(&body)
                ));
            }
        }
    }
    // Every route, with hostile paths, queries and headers.
    let routes = random_route_requests(&app, &real, BODIES, &mut next);
    // Redirects are not followed: the server's answer is what is judged, not the store's.
    let quick = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let answers = futures::stream::iter(routes)
        .map(|(method, path, header)| {
            let (client, quick, base) = (&client, &quick, &app.base);
            async move {
                // A live feed answers its head at once and then streams: the head is enough.
                let with_cookie = path.starts_with("/events");
                let http = if with_cookie { client } else { quick };
                let mut request = http.request(method.clone(), format!("{base}{path}"));
                if let Some((name, value)) = &header {
                    request = request.header(*name, value.as_str());
                }
                let status =
                    match tokio::time::timeout(Duration::from_secs(5), request.send()).await {
                        Ok(Ok(answer)) => answer.status().as_u16(),
                        Ok(Err(e)) if e.is_builder() => 400,
                        Ok(Err(e)) => panic!("{method} {path}: no answer: {e}"),
                        Err(_) => panic!("{method} {path}: no head within 5 s"),
                    };
                (status, format!("{method} {path} {header:?}"))
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    sent += answers.len();
    fives.extend(
        answers
            .into_iter()
            .filter(|(status, _)| *status >= 500)
            .map(|(status, what)| format!("{what} → {status}")),
    );
    let watched = watch.stop().await;
    let grew = watched.max_rss.saturating_sub(start_rss);
    println!(
        "attack run: {sent} requests in {:.0} s, {} answered 5xx; server memory {:.1} MiB at the \
         start, at most {:.1} MiB (+{:.1} MiB); /healthz asked {} times, {} failed or slower than \
         1 s, slowest {} ms",
        began.elapsed().as_secs_f64(),
        fives.len(),
        start_rss as f64 / 1048576.0,
        watched.max_rss as f64 / 1048576.0,
        grew as f64 / 1048576.0,
        watched.samples,
        watched.unhealthy,
        watched.slowest_health_ms,
    );
    assert!(
        fives.is_empty(),
        "{} 5xx answers, first: {:?}",
        fives.len(),
        fives.first()
    );
    assert!(app.is_running());
    assert!(
        watched.samples >= 10,
        "watched only {} times",
        watched.samples
    );
    assert_eq!(watched.unhealthy, 0, "{watched:?}");
    assert!(
        grew < 64 << 20,
        "the server grew by {grew} bytes: {watched:?}"
    );
    let health = reqwest::get(format!("{}/healthz", app.base))
        .await
        .expect("alive");
    assert!(health.status().is_success());
}

/// `count` requests to each of the server's routes (not server functions): a file's doors
/// with real, forged and hostile ids, doors and keys; the live feed with hostile cursors; the
/// health check, metrics, the page and made-up paths, with methods and headers of an
/// attacker's choice.
fn random_route_requests(
    app: &App,
    real: &str,
    count: usize,
    next: &mut impl FnMut() -> u64,
) -> Vec<(reqwest::Method, String, Option<(&'static str, String)>)> {
    let _ = app;
    let ids = [
        real,
        "00000000-0000-0000-0000-000000000000",
        "..",
        "%2e%2e%2f%2e%2e",
        "%00",
        "a%2Fb",
        "%E2%80%AE",
        "x",
    ];
    let doors = [
        "content",
        "download",
        "thumbnail",
        "poster",
        "..",
        "%00",
        "",
        "CONTENT",
    ];
    let keys = [
        "",
        "?key=",
        "?key=%00",
        "?key=..%2F",
        "?key=aaaaaaaa",
        "?key[]=1&key=2",
    ];
    let cursors = [
        "",
        "?after=-1",
        "?after=99999999999999999999",
        "?after=x",
        "?after=%00",
    ];
    let pages = [
        "/", "/files/", "/files", "/public", "/tokens", "/account", "/%00", "/..%2F..",
    ];
    let methods = [
        reqwest::Method::GET,
        reqwest::Method::GET,
        reqwest::Method::HEAD,
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::OPTIONS,
    ];
    let headers: [(&str, &str); 6] = [
        ("last-event-id", "-5"),
        ("last-event-id", "18446744073709551617"),
        ("x-forwarded-for", "1.2.3.4, x"),
        ("range", "bytes=99999999999-"),
        ("authorization", "Bearer nope"),
        ("cookie", "hoist_session=forged.00"),
    ];
    let mut pick = |n: usize| (next() % n as u64) as usize;
    let mut out = Vec::new();
    for route in 0..5 {
        for _ in 0..count {
            let path = match route {
                0 => format!(
                    "/files/{}/{}{}",
                    ids[pick(ids.len())],
                    doors[pick(doors.len())],
                    keys[pick(keys.len())]
                ),
                1 => format!("/events{}", cursors[pick(cursors.len())]),
                2 => "/healthz".to_string(),
                3 => "/metrics".to_string(),
                _ => pages[pick(pages.len())].to_string(),
            };
            let method = methods[pick(methods.len())].clone();
            let header = (pick(3) == 0).then(|| {
                let (name, value) = headers[pick(headers.len())];
                (name, value.to_string())
            });
            out.push((method, path, header));
        }
    }
    out
}

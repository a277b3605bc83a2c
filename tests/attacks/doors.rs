//! The doors an upload has: URLs signed before a file was verified or with its start, another
//! session's uploads, forged cookies, and posts from other sites.

use super::*;

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

//! Accounts, quotas and limits against the real server: the `hoist` binary over HTTP with
//! cookie jars (or bearer tokens), a real Garage, a real SQLite file — as a person, or an
//! attacker with curl, would meet them.

mod common;

use common::{
    app::{
        assert_not_found_through_every_door, by_id, form, start, url_for, Answer, App, PASSWORD,
    },
    eventually, media, object_exists, s3_settings, send, store_client, MIB,
};
use futures::future::join_all;
use hoist::{
    error::ApiError,
    model::{LibraryPage, NewToken, StartedUpload},
    storage::{s3::S3Store, ObjectStore},
};
use std::time::{Duration, Instant};

/// The value of the session cookie a response sets, if it sets one.
fn set_session(answer_headers: &reqwest::header::HeaderMap) -> Option<String> {
    answer_headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("hoist_session="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

/// POSTs to a server function with exactly this cookie (no jar), and what it set.
async fn with_cookie(app: &App, cookie: &str, name: &str, body: &str) -> (Answer, Option<String>) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/{name}", app.base))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .expect("answer");
    let set = set_session(response.headers());
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    (Answer { status, body }, set)
}

fn credentials(email: &str, password: &str) -> String {
    form(&[("email", email), ("password", password)])
}

/// A small file, stored and verified, as `client`.
async fn upload_small(app: &App, client: &reqwest::Client, name: &str, seed: u64) -> String {
    let data = media("image/png", 3000, seed);
    let started = start(app, client, name, 3000, "image/png").await;
    let url = url_for(app, client, &started.upload_id, &data).await;
    assert!(send(&store_client(), &url.request, data)
        .await
        .status()
        .is_success());
    let done = by_id(app, client, "complete_upload", &started.upload_id).await;
    assert_eq!(done.status, 200, "{done:?}");
    started.upload_id
}

fn library(answer: Answer) -> Vec<String> {
    answer
        .json::<LibraryPage>()
        .uploads
        .into_iter()
        .map(|u| u.id)
        .collect()
}

#[tokio::test]
async fn signing_in_rotates_the_session_and_signing_out_ends_it_for_every_copy_of_the_cookie() {
    let app = App::start(&[]).await;
    // A guest first: the cookie it is given is not the one it will have once signed in.
    let (_, guest_cookie) = with_cookie(&app, "", "whoami", "").await;
    let guest_cookie = guest_cookie.expect("a guest cookie");
    let (up, kept) = with_cookie(
        &app,
        &guest_cookie,
        "sign_up",
        &credentials("  Ann@Example.COM ", PASSWORD),
    )
    .await;
    assert_eq!(up.status, 200, "{up:?}");
    assert_eq!(kept, None, "signing up signs nothing in");
    let (signed_in, account_cookie) = with_cookie(
        &app,
        &guest_cookie,
        "sign_in",
        &credentials("ann@example.com", PASSWORD),
    )
    .await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    let account_cookie = account_cookie.expect("signing in sets a new cookie");
    assert_ne!(account_cookie, guest_cookie);
    let (me, _) = with_cookie(&app, &account_cookie, "whoami", "").await;
    assert_eq!(
        me.json::<hoist::model::Me>().email.as_deref(),
        Some("ann@example.com")
    );
    let started = {
        let (answer, _) = with_cookie(
            &app,
            &account_cookie,
            "start_upload",
            &form(&[("name", "a.bin"), ("size", "10"), ("content_type", "")]),
        )
        .await;
        answer.json::<StartedUpload>()
    };

    // The same email in another case is the same account, and taken: signing up again says
    // what it says to anyone (who has an account is not told), changes nothing, and signs
    // nothing in.
    let (twice, _) = with_cookie(
        &app,
        "",
        "sign_up",
        &credentials("ann@example.com", "another password"),
    )
    .await;
    assert_eq!(twice.status, 200, "{twice:?}");
    assert_eq!(twice.body, up.body);

    // Signing out ends the session: a copy of its cookie kept anywhere opens nothing more.
    let (out, after_out) = with_cookie(&app, &account_cookie, "sign_out", "").await;
    assert_eq!(out.status, 200, "{out:?}");
    assert!(after_out.is_some_and(|c| c != account_cookie));
    let (me, replaced) = with_cookie(&app, &account_cookie, "whoami", "").await;
    assert_eq!(me.json::<hoist::model::Me>().email, None);
    assert!(replaced.is_some(), "an ended session's cookie is replaced");
    let (list, _) = with_cookie(&app, &account_cookie, "list_uploads", "").await;
    assert!(library(list).is_empty());
    for name in ["abort_upload", "keep_upload_alive", "complete_upload"] {
        let (answer, _) = with_cookie(
            &app,
            &account_cookie,
            name,
            &form(&[("upload_id", &started.upload_id)]),
        )
        .await;
        assert_eq!(answer.status, 404, "{name}: {answer:?}");
    }

    // Signing in again: a new id, not the old one brought back.
    let (again, again_cookie) = with_cookie(
        &app,
        &guest_cookie,
        "sign_in",
        &credentials("ANN@example.com", PASSWORD),
    )
    .await;
    assert_eq!(again.status, 200, "{again:?}");
    let again_cookie = again_cookie.expect("a new cookie");
    assert_ne!(again_cookie, account_cookie);
    let (list, _) = with_cookie(&app, &again_cookie, "list_uploads", "").await;
    assert_eq!(library(list), vec![started.upload_id.clone()]);
    // Signing in over a live session replaces it: the older cookie opens nothing.
    let (third, third_cookie) = with_cookie(
        &app,
        &again_cookie,
        "sign_in",
        &credentials("ann@example.com", PASSWORD),
    )
    .await;
    assert_eq!(third.status, 200, "{third:?}");
    assert!(third_cookie.is_some_and(|c| c != again_cookie));
    let (me, _) = with_cookie(&app, &again_cookie, "whoami", "").await;
    assert_eq!(me.json::<hoist::model::Me>().email, None);

    // A wrong password and an unknown email: the same answer, word for word.
    let browser = app.browser();
    let mut timings = Vec::new();
    let mut answers = Vec::new();
    for (email, password) in [
        ("ann@example.com", "not the password"),
        ("nobody@example.com", PASSWORD),
    ] {
        let began = Instant::now();
        let answer = app
            .call(&browser, "sign_in", &credentials(email, password))
            .await;
        timings.push(began.elapsed());
        assert_eq!(answer.status, 401, "{answer:?}");
        // Every answer names its own request; that id is random, not a tell.
        let mut body: serde_json::Value = answer.json();
        let request = body.as_object_mut().and_then(|o| o.remove("request_id"));
        assert!(request.is_some(), "{body}");
        answers.push(body.to_string());
    }
    assert_eq!(answers[0], answers[1]);
    println!(
        "sign-in refused: wrong password {:?}, unknown email {:?}",
        timings[0], timings[1]
    );
}

#[tokio::test]
async fn one_account_cannot_reach_anothers_uploads_through_any_door() {
    let app = App::start(&[]).await;
    let alice = app.account("alice@example.com").await;
    let bob = app.account("bob@example.com").await;
    let finished = upload_small(&app, &alice, "alice.png", 1).await;
    let open = start(
        &app,
        &alice,
        "open.bin",
        12 * MIB,
        "application/octet-stream",
    )
    .await;

    for id in [finished.as_str(), open.upload_id.as_str()] {
        assert_not_found_through_every_door(&app, &bob, id).await;
    }
    assert!(library(app.call(&bob, "list_uploads", "").await).is_empty());
    // Nothing Bob did touched them.
    let mine = library(app.call(&alice, "list_uploads", "").await);
    assert_eq!(mine.len(), 2);
    let alive = by_id(&app, &alice, "keep_upload_alive", &open.upload_id).await;
    assert_eq!(alive.status, 200, "{alive:?}");
}

#[tokio::test]
async fn a_guests_uploads_become_the_accounts_at_sign_up_and_at_sign_in() {
    let app = App::start(&[]).await;
    app.account("carol@example.com").await;
    for (function, email) in [
        ("sign_up", "dave@example.com"),
        ("sign_in", "carol@example.com"),
    ] {
        let browser = app.browser();
        let id = upload_small(&app, &browser, "before.png", 7).await;
        let answer = app
            .call(&browser, function, &credentials(email, PASSWORD))
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        // Signing up signs nothing in; the sign-in that follows it takes the uploads.
        let answer = app
            .call(&browser, "sign_in", &credentials(email, PASSWORD))
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(library(app.call(&browser, "list_uploads", "").await).contains(&id));
        // Signed out, the browser is a new guest with an empty library.
        app.call(&browser, "sign_out", "").await;
        assert!(library(app.call(&browser, "list_uploads", "").await).is_empty());
    }
}

/// Sizes of 7 MiB against a 100 MiB quota: 14 fit, the 15th would not.
#[tokio::test]
async fn fifty_concurrent_starts_never_pass_the_quota_and_refused_ones_leave_nothing_in_the_store()
{
    let prefix = format!("quota-{}/", uuid_ish());
    let app = App::start(&[
        ("HOIST_DEFAULT_QUOTA", "100MiB"),
        ("HOIST_S3_PREFIX", &prefix),
    ])
    .await;
    let client = app.account("erin@example.com").await;
    let size = (7 * MIB).to_string();
    let calls = (0..50).map(|n| {
        let (app, client, size) = (&app, &client, &size);
        async move {
            let name = format!("f{n}.bin");
            app.call(
                client,
                "start_upload",
                &form(&[("name", &name), ("size", size), ("content_type", "")]),
            )
            .await
        }
    });
    let answers = join_all(calls).await;
    let admitted = answers.iter().filter(|a| a.status == 200).count();
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status != 200).collect();
    println!(
        "quota race: {admitted} of 50 concurrent starts admitted, {} fit",
        100 / 7
    );
    assert_eq!(admitted, 100 / 7);
    for answer in &refused {
        assert_eq!(answer.status, 413, "{answer:?}");
        let error = answer.error();
        assert!(matches!(error, ApiError::OverQuota { .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "This file (7.0 MiB) does not fit in your storage: 2.0 MiB of 100 MiB left."
        );
    }
    let me = app.whoami(&client).await;
    assert_eq!(me.used, 14 * 7 * MIB);
    // Only the admitted uploads exist in the store.
    let pending = S3Store::new(&s3_settings())
        .pending_uploads(&prefix)
        .await
        .expect("the store lists");
    assert_eq!(
        pending
            .iter()
            .filter(|p| p.key.starts_with(&prefix))
            .count(),
        admitted
    );
}

#[tokio::test]
async fn abort_rejection_expiry_and_delete_give_the_room_back() {
    let app = App::start(&[
        ("HOIST_DEFAULT_QUOTA", "12MiB"),
        // A presigned URL's date is whole seconds, so a 1 s URL can be dead 1 ms after it was
        // signed; 2 s leaves at least one second for the PUT that follows.
        ("HOIST_UPLOAD_TTL", "5s"),
        ("HOIST_URL_TTL", "2s"),
        ("HOIST_REAPER_INTERVAL", "1s"),
        ("HOIST_ALLOWED_TYPES", "image/*, application/octet-stream"),
    ])
    .await;
    let client = app.account("frank@example.com").await;
    let ten = (10 * MIB).to_string();
    let start_ten = || async {
        app.call(
            &client,
            "start_upload",
            &form(&[("name", "ten.bin"), ("size", &ten), ("content_type", "")]),
        )
        .await
    };
    let first = start_ten().await.json::<StartedUpload>();
    assert_eq!(start_ten().await.status, 413);

    // Aborted: the reservation goes with it.
    assert_eq!(
        by_id(&app, &client, "abort_upload", &first.upload_id)
            .await
            .status,
        200
    );
    assert_eq!(app.whoami(&client).await.used, 0);

    // Expired: left alone, the reaper ends it and the room comes back.
    let second = start_ten().await;
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(app.whoami(&client).await.used, 10 * MIB);
    let (app_ref, client_ref) = (&app, &client);
    eventually(
        Duration::from_secs(30),
        "the expired upload's room is freed",
        move || async move { app_ref.whoami(client_ref).await.used == 0 },
    )
    .await;

    // Rejected: what arrived is not what was announced.
    let started = start(&app, &client, "fake.png", 3000, "image/png").await;
    let not_png = media("application/pdf", 3000, 2);
    let url = url_for(&app, &client, &started.upload_id, &not_png).await;
    assert!(send(&store_client(), &url.request, not_png)
        .await
        .status()
        .is_success());
    let done = by_id(&app, &client, "complete_upload", &started.upload_id).await;
    assert_eq!(done.status, 422, "{done:?}");
    assert_eq!(app.whoami(&client).await.used, 0);

    // Deleted: the object goes, and so does the row.
    let kept = upload_small(&app, &client, "kept.png", 9).await;
    assert_eq!(app.whoami(&client).await.used, 3000);
    let key: String = sqlx::query_scalar("SELECT object_key FROM uploads WHERE id = $1")
        .bind(&kept)
        .fetch_one(&app.database().await)
        .await
        .expect("the row");
    assert!(object_exists(&key).await, "the object is stored at {key}");
    let deleted = by_id(&app, &client, "delete_upload", &kept).await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    // The row and the room go at once; the object right after, through the outbox.
    assert_eq!(app.whoami(&client).await.used, 0);
    eventually(Duration::from_secs(10), "the object is deleted", || async {
        !object_exists(&key).await
    })
    .await;
    assert!(!library(app.call(&client, "list_uploads", "").await).contains(&kept));
    assert_eq!(
        by_id(&app, &client, "delete_upload", &kept).await.status,
        404
    );
    // A closed upload (the rejected one) is removed from the library the same way.
    let gone = by_id(&app, &client, "delete_upload", &started.upload_id).await;
    assert_eq!(gone.status, 200, "{gone:?}");
    assert!(!library(app.call(&client, "list_uploads", "").await).contains(&started.upload_id));
}

fn uuid_ish() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

#[tokio::test]
async fn a_burst_meets_429_with_retry_after_and_other_callers_are_not_slowed() {
    let app = App::start(&[("HOIST_RATE_LIMIT", "2"), ("HOIST_RATE_BURST", "10")]).await;
    let hammer = app.browser();
    let mut limited = None;
    for n in 0..40 {
        let response = hammer
            .post(format!("{}/api/list_uploads", app.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .expect("answer");
        if response.status() == 429 {
            let retry: u64 = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .expect("Retry-After in seconds");
            let body = response.text().await.unwrap_or_default();
            limited = Some((n, retry, body));
            break;
        }
    }
    let (n, retry, body) = limited.expect("the burst is limited");
    println!(
        "caller limit: call {} refused, Retry-After {retry} s",
        n + 1
    );
    assert!(n >= 10, "the burst of 10 passes first (refused at {n})");
    assert!((1..=2).contains(&retry), "{retry}");
    assert!(matches!(
        serde_json::from_str::<ApiError>(&body),
        Ok(ApiError::RateLimited { .. })
    ));
    // Another browser has its own bucket.
    assert_eq!(
        app.call(&app.browser(), "list_uploads", "").await.status,
        200
    );

    // Per IP: fresh cookies every time do not escape it.
    let app = App::start(&[("HOIST_IP_RATE_LIMIT", "1"), ("HOIST_IP_RATE_BURST", "5")]).await;
    let statuses = join_all(
        (0..12).map(|_| async { app.call(&app.browser(), "list_uploads", "").await.status }),
    )
    .await;
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s == 200).count() <= 6,
        "{statuses:?}"
    );

    // Sign-in guesses for one account slow down long before they get anywhere.
    let app = App::start(&[]).await;
    app.account("gina@example.com").await;
    let mut answers = Vec::new();
    for _ in 0..12 {
        let answer = app
            .call(
                &app.browser(),
                "sign_in",
                &credentials("gina@example.com", "guess"),
            )
            .await;
        answers.push(answer.status);
    }
    assert_eq!(answers[..10], [401; 10], "{answers:?}");
    assert_eq!(answers[10..], [429; 2], "{answers:?}");
}

#[tokio::test]
async fn a_bearer_token_acts_as_its_account_until_revoked() {
    let app = App::start(&[]).await;
    let browser = app.account("hana@example.com").await;
    let created = app
        .call(
            &browser,
            "create_token",
            &form(&[("name", "laptop script"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(created.status, 200, "{created:?}");
    let NewToken { secret, token } = created.json();
    let program = reqwest::Client::new();
    let as_program = |name: &'static str, body: String| {
        let request = program
            .post(format!("{}/api/{name}", app.base))
            .header("authorization", format!("Bearer {secret}"));
        app.call_with(request, body.into_bytes())
    };
    let me = as_program("whoami", String::new()).await;
    assert_eq!(
        me.json::<hoist::model::Me>().email.as_deref(),
        Some("hana@example.com")
    );
    let started = as_program(
        "start_upload",
        form(&[
            ("name", "from-script.bin"),
            ("size", "10"),
            ("content_type", ""),
        ]),
    )
    .await;
    assert_eq!(started.status, 200, "{started:?}");
    let id = started.json::<StartedUpload>().upload_id;
    // The browser sees what the program started: one account.
    assert!(library(app.call(&browser, "list_uploads", "").await).contains(&id));
    let listed = app.call(&browser, "list_tokens", "").await;
    assert_eq!(listed.json::<Vec<hoist::model::TokenView>>().len(), 1);

    let revoked = app
        .call(&browser, "revoke_token", &form(&[("token_id", &token.id)]))
        .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let after = as_program("list_uploads", String::new()).await;
    assert_eq!(after.status, 401, "{after:?}");
    assert_eq!(after.error(), ApiError::BadToken);
    for bad in ["hoist_0000", "Basic abc", ""] {
        let answer = app
            .call_with(
                reqwest::Client::new()
                    .post(format!("{}/api/list_uploads", app.base))
                    .header("authorization", bad),
                Vec::new(),
            )
            .await;
        assert_eq!(answer.status, 401, "{bad}: {answer:?}");
    }
    // Tokens are for accounts: a guest cannot make one.
    let guest = app
        .call(
            &app.browser(),
            "create_token",
            &form(&[("name", "x"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(guest.status, 401, "{guest:?}");
}

#[tokio::test]
async fn a_disabled_account_is_locked_out_everywhere_and_its_files_stay() {
    let app = App::start(&[]).await;
    let browser = app.account("ivan@example.com").await;
    let id = upload_small(&app, &browser, "keep.png", 4).await;
    let NewToken { secret, .. } = app
        .call(
            &browser,
            "create_token",
            &form(&[("name", "ci"), ("password", PASSWORD)]),
        )
        .await
        .json();

    let out = app.admin(&["users", "disable", "Ivan@Example.com"], "");
    assert!(out.status.success(), "{out:?}");

    assert_eq!(app.whoami(&browser).await.email, None, "the session ended");
    let with_token = app
        .call_with(
            reqwest::Client::new()
                .post(format!("{}/api/whoami", app.base))
                .header("authorization", format!("Bearer {secret}")),
            Vec::new(),
        )
        .await;
    assert_eq!(with_token.status, 401, "{with_token:?}");
    let again = app
        .call(
            &app.browser(),
            "sign_in",
            &credentials("ivan@example.com", PASSWORD),
        )
        .await;
    assert_eq!(again.status, 403, "{again:?}");
    assert_eq!(again.error(), ApiError::AccountDisabled);

    let listed = app.admin(&["users", "list"], "");
    let text = String::from_utf8_lossy(&listed.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("ivan@example.com"))
        .unwrap_or_else(|| panic!("listed: {text}"));
    assert!(
        line.contains("2.9 KiB") && line.ends_with("disabled"),
        "{line}"
    );
    let _ = id;
}

#[tokio::test]
async fn users_are_made_and_given_room_from_the_terminal() {
    let app = App::start(&[]).await;
    let made = app.admin(&["users", "create", "Jo@Example.com"], "a long password\n");
    assert!(made.status.success(), "{made:?}");
    let quota = app.admin(&["users", "set-quota", "jo@example.com", "3GiB"], "");
    assert!(quota.status.success(), "{quota:?}");
    let browser = app.browser();
    let answer = app
        .call(
            &browser,
            "sign_in",
            &credentials("jo@example.com", "a long password"),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(app.whoami(&browser).await.quota, 3 << 30);
    // A new password ends the sessions signed in with the old one.
    let changed = app.admin(
        &["users", "set-password", "jo@example.com"],
        "another long one\n",
    );
    assert!(changed.status.success(), "{changed:?}");
    assert_eq!(app.whoami(&browser).await.email, None);
    let old = app
        .call(
            &app.browser(),
            "sign_in",
            &credentials("jo@example.com", "a long password"),
        )
        .await;
    assert_eq!(old.status, 401, "{old:?}");
    let new = app
        .call(
            &app.browser(),
            "sign_in",
            &credentials("jo@example.com", "another long one"),
        )
        .await;
    assert_eq!(new.status, 200, "{new:?}");
    // Generated when none is given, and shown once.
    let generated = app.admin(&["users", "create", "kim@example.com"], "");
    let text = String::from_utf8_lossy(&generated.stdout);
    let password = text
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap_or_else(|| panic!("{text}"));
    let answer = app
        .call(
            &app.browser(),
            "sign_in",
            &credentials("kim@example.com", password),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    // Mistakes are said, with a failing exit status.
    let unknown = app.admin(&["users", "disable", "nobody@example.com"], "");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no account with this email"));
}

#[tokio::test]
async fn with_guest_uploads_off_a_guest_is_asked_to_sign_in() {
    let app = App::start(&[("HOIST_GUEST_UPLOADS", "false")]).await;
    let guest = app.browser();
    let answer = app
        .call(
            &guest,
            "start_upload",
            &form(&[("name", "a.bin"), ("size", "10"), ("content_type", "")]),
        )
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.error(), ApiError::SignInRequired);
    let member = app.account("lee@example.com").await;
    start(&app, &member, "a.bin", 10, "").await;
}

#[tokio::test]
async fn guests_of_one_network_share_a_quota_that_a_new_cookie_does_not_escape() {
    let app = App::start(&[
        ("HOIST_GUEST_QUOTA", "10MiB"),
        ("HOIST_GUEST_NETWORK_QUOTA", "15MiB"),
    ])
    .await;
    let eight = (8 * MIB).to_string();
    let start_eight = |client: reqwest::Client| {
        let (app, eight) = (&app, eight.clone());
        async move {
            app.call(
                &client,
                "start_upload",
                &form(&[
                    ("name", "eight.bin"),
                    ("size", &eight),
                    ("content_type", ""),
                ]),
            )
            .await
        }
    };
    let first = app.browser();
    assert_eq!(start_eight(first.clone()).await.status, 200);
    // Every test client calls from 127.0.0.1: one network. A fresh cookie is a fresh guest,
    // and still finds the network's room taken.
    let fresh = start_eight(app.browser()).await;
    assert_eq!(fresh.status, 413, "{fresh:?}");
    assert_eq!(fresh.error(), ApiError::GuestNetworkFull { size: 8 * MIB });
    assert_eq!(
        fresh.error().to_string(),
        "Guests from your network have no room left for this file (8.0 MiB): sign up or sign in to upload it."
    );
    // A guest's own quota is met first when it is the smaller room.
    let again = start_eight(first.clone()).await;
    assert!(
        matches!(again.error(), ApiError::OverQuota { .. }),
        "{again:?}"
    );
    // An account's room is its own.
    let member = app.account("mia@example.com").await;
    assert_eq!(start_eight(member).await.status, 200);
    // Once the first guest signs up, its upload is the account's, not the network's.
    let signed_up = app
        .call(&first, "sign_up", &credentials("ned@example.com", PASSWORD))
        .await;
    assert_eq!(signed_up.status, 200, "{signed_up:?}");
    let signed_in = app
        .call(&first, "sign_in", &credentials("ned@example.com", PASSWORD))
        .await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    assert_eq!(start_eight(app.browser()).await.status, 200);
}

#[tokio::test]
async fn a_session_ends_when_idle_too_long_and_at_its_lifetime_however_busy() {
    // Idle: kept alive by use, ended by silence.
    let app = App::start(&[("HOIST_SESSION_IDLE", "3s")]).await;
    let busy = app.account("olga@example.com").await;
    // Calls back to back for longer than the idle lifetime: in use, it stays.
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(5) {
        assert!(
            app.whoami(&busy).await.email.is_some(),
            "ended while in use"
        );
    }
    // Then silence: the session's last use, as the database has it, grows older than the idle
    // lifetime (read there, since a call with the cookie would itself be a use).
    let db = app.database().await;
    let db = &db;
    eventually(
        Duration::from_secs(20),
        "the session goes idle",
        move || async move {
            let last_seen: i64 = sqlx::query_scalar("SELECT MAX(last_seen_at) FROM sessions")
                .fetch_one(db)
                .await
                .expect("query");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            now - last_seen > 3_500
        },
    )
    .await;
    assert_eq!(app.whoami(&busy).await.email, None, "an idle session ends");

    // Absolute: ends however busy.
    let app = App::start(&[("HOIST_SESSION_LIFETIME", "3s")]).await;
    let busy = app.account("pia@example.com").await;
    let (app_ref, busy_ref) = (&app, &busy);
    eventually(
        Duration::from_secs(20),
        "the session ends at its lifetime",
        move || async move { app_ref.whoami(busy_ref).await.email.is_none() },
    )
    .await;
}

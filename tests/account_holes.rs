//! Issue 28, holes 5 and 8, against the real server: what a guest hands over at sign-in stays
//! within the account's limits, and a password guards what an account's tokens and the
//! account itself can become.

mod common;

use common::{
    app::{by_id, form, start, url_for, Answer, App, PASSWORD},
    media, object_exists, send, store_client, MIB,
};
use hoist::{
    error::{ApiError, PasswordChanged},
    model::{LibraryPage, Me, NewToken, TokenView, UploadStatus},
};

const KIB: u64 = 1 << 10;

fn credentials(email: &str, password: &str) -> String {
    form(&[("email", email), ("password", password)])
}

/// A small PNG, stored and completed, as `client`; its id.
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

fn library(answer: Answer) -> LibraryPage {
    answer.json()
}

/// A program's call with `Authorization: Bearer <secret>`.
async fn as_program(app: &App, secret: &str, name: &str) -> Answer {
    app.call_with(
        reqwest::Client::new()
            .post(format!("{}/api/{name}", app.base))
            .header("authorization", format!("Bearer {secret}")),
        Vec::new(),
    )
    .await
}

async fn new_token(app: &App, client: &reqwest::Client, name: &str) -> NewToken {
    let made = app
        .call(
            client,
            "create_token",
            &form(&[("name", name), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(made.status, 200, "{made:?}");
    made.json()
}

/// Quota 10 MiB and at most 3 unfinished uploads. The account holds 8 MiB + 1 KiB on their
/// way (2 unfinished); the guest then starts 1 MiB, 8 MiB and 1 KiB and stores a small PNG.
/// The PNG and the 1 MiB fit; the 8 MiB passes the quota and the 1 KiB the cap of 3.
#[tokio::test]
async fn sign_in_adopts_only_the_guest_uploads_that_fit_and_says_what_stayed() {
    let app = App::start(&[
        ("HOIST_DEFAULT_QUOTA", "10MiB"),
        ("HOIST_MAX_ACTIVE_UPLOADS", "3"),
    ])
    .await;
    let browser = app.account("lena@example.com").await;
    start(&app, &browser, "mine.bin", 8 * MIB, "").await;
    start(&app, &browser, "mine-small.bin", KIB, "").await;
    app.call(&browser, "sign_out", "").await;

    let png = upload_small(&app, &browser, "guest.png", 3).await;
    let fits = start(&app, &browser, "fits.bin", MIB, "").await.upload_id;
    let big = start(&app, &browser, "big.bin", 8 * MIB, "")
        .await
        .upload_id;
    let extra = start(&app, &browser, "extra.bin", KIB, "").await.upload_id;

    let signed_in = app
        .call(
            &browser,
            "sign_in",
            &credentials("lena@example.com", PASSWORD),
        )
        .await;
    assert_eq!(signed_in.status, 200, "{signed_in:?}");
    let me: Me = signed_in.json();
    assert!(
        me.used <= 10 * MIB,
        "the account holds {} of its 10 MiB quota",
        me.used
    );
    assert_eq!(me.used, 8 * MIB + KIB + 3000 + MIB);
    let stayed = me.stayed_with_guest.expect("the answer says what stayed");
    assert_eq!((stayed.files, stayed.bytes), (2, 8 * MIB + KIB));
    assert_eq!(
        stayed.to_string(),
        "2 files (8.0 MiB) uploaded as a guest stayed with the guest session: \
         they did not fit your storage or your limit of unfinished uploads."
    );
    // whoami says it too, for the page that reloads after signing in.
    assert_eq!(app.whoami(&browser).await.stayed_with_guest, Some(stayed));

    let page = library(app.call(&browser, "list_uploads", "").await);
    let ids: Vec<&str> = page.uploads.iter().map(|u| u.id.as_str()).collect();
    assert!(
        ids.contains(&png.as_str()) && ids.contains(&fits.as_str()),
        "{ids:?}"
    );
    assert!(
        !ids.contains(&big.as_str()) && !ids.contains(&extra.as_str()),
        "{ids:?}"
    );
    let unfinished = page
        .uploads
        .iter()
        .filter(|u| u.status == UploadStatus::Uploading)
        .count();
    assert_eq!(unfinished, 3);
}

#[tokio::test]
async fn a_new_password_from_the_terminal_ends_the_accounts_tokens() {
    let app = App::start(&[]).await;
    let browser = app.account("mia@example.com").await;
    let NewToken { secret, .. } = new_token(&app, &browser, "backup").await;
    assert_eq!(as_program(&app, &secret, "whoami").await.status, 200);

    let changed = app.admin(
        &["users", "set-password", "mia@example.com"],
        "a brand new password\n",
    );
    assert!(changed.status.success(), "{changed:?}");
    let said = String::from_utf8_lossy(&changed.stdout);
    assert!(said.contains("its tokens"), "{said}");

    let after = as_program(&app, &secret, "whoami").await;
    assert_eq!(
        after.status, 401,
        "the token outlived the password: {after:?}"
    );
    assert_eq!(after.error(), ApiError::BadToken);
}

#[tokio::test]
async fn a_token_is_made_only_with_the_accounts_password() {
    let app = App::start(&[]).await;
    let browser = app.account("noor@example.com").await;
    let without = app
        .call(&browser, "create_token", &form(&[("name", "ci")]))
        .await;
    assert_eq!(
        without.status, 400,
        "made without the password: {without:?}"
    );
    let wrong = app
        .call(
            &browser,
            "create_token",
            &form(&[("name", "ci"), ("password", "not the password")]),
        )
        .await;
    assert_eq!(wrong.status, 403, "made with a wrong password: {wrong:?}");
    assert_eq!(wrong.error(), ApiError::WrongPassword);
    assert!(
        wrong.body.contains("The password is not right"),
        "{wrong:?}"
    );
    let listed: Vec<TokenView> = app.call(&browser, "list_tokens", "").await.json();
    assert!(listed.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn a_token_past_its_expiry_is_refused_and_its_last_use_is_shown() {
    let app = App::start(&[]).await;
    let browser = app.account("omar@example.com").await;
    let made = app
        .call(
            &browser,
            "create_token",
            &form(&[
                ("name", "month"),
                ("password", PASSWORD),
                ("expires_in_days", "30"),
            ]),
        )
        .await;
    assert_eq!(made.status, 200, "{made:?}");
    let NewToken { secret, token } = made.json();
    let month = 30 * 24 * 3600 * 1000;
    let expires = token.expires_at_ms.expect("an expiry");
    assert!(
        (expires - token.created_at_ms - month).abs() < 5_000,
        "{token:?}"
    );
    let forever = new_token(&app, &browser, "forever").await;
    assert_eq!(forever.token.expires_at_ms, None);

    assert_eq!(as_program(&app, &secret, "whoami").await.status, 200);
    let listed: Vec<TokenView> = app.call(&browser, "list_tokens", "").await.json();
    let used = listed.iter().find(|t| t.id == token.id).expect("listed");
    assert!(used.last_used_at_ms.is_some(), "{used:?}");
    let unused = listed
        .iter()
        .find(|t| t.id == forever.token.id)
        .expect("listed");
    assert_eq!(unused.last_used_at_ms, None);

    // A month later, as far as the token is concerned.
    let db = app.database().await;
    sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE id = $2")
        .bind(token.created_at_ms - 1)
        .bind(&token.id)
        .execute(db.writer())
        .await
        .expect("the token's expiry moved");
    let late = as_program(&app, &secret, "whoami").await;
    assert_eq!(late.status, 401, "an expired token was taken: {late:?}");
    assert_eq!(late.error(), ApiError::BadToken);
    assert_eq!(
        as_program(&app, &forever.secret, "whoami").await.status,
        200
    );
    // Bounded: no token lives longer than the most days allowed.
    let too_long = app
        .call(
            &browser,
            "create_token",
            &form(&[
                ("name", "x"),
                ("password", PASSWORD),
                ("expires_in_days", "100000"),
            ]),
        )
        .await;
    assert_eq!(too_long.status, 400, "{too_long:?}");
}

#[tokio::test]
async fn changing_the_password_on_the_page_ends_tokens_and_other_sessions() {
    let app = App::start(&[]).await;
    let here = app.account("pia@example.com").await;
    let there = app.browser();
    let signed = app
        .call(&there, "sign_in", &credentials("pia@example.com", PASSWORD))
        .await;
    assert_eq!(signed.status, 200, "{signed:?}");
    let NewToken { secret, .. } = new_token(&app, &here, "sync").await;

    let change = |current: &str| {
        form(&[
            ("current_password", current),
            ("new_password", "the new pass phrase"),
        ])
    };
    let wrong = app
        .call(&here, "change_password", &change("not my password"))
        .await;
    assert_eq!(wrong.status, 403, "{wrong:?}");
    assert_eq!(wrong.error(), ApiError::WrongPassword);
    let changed = app.call(&here, "change_password", &change(PASSWORD)).await;
    assert_eq!(changed.status, 200, "{changed:?}");
    let said = changed.json::<PasswordChanged>();
    assert_eq!(said.other_sessions, 1, "{said:?}");
    assert!(
        said.to_string().contains("1 other session was signed out"),
        "{said}"
    );

    assert_eq!(
        app.whoami(&here).await.email.as_deref(),
        Some("pia@example.com"),
        "the session that changed it stays"
    );
    assert_eq!(
        app.whoami(&there).await.email,
        None,
        "the other session ended"
    );
    assert_eq!(as_program(&app, &secret, "whoami").await.status, 401);
    let old = app
        .call(
            &app.browser(),
            "sign_in",
            &credentials("pia@example.com", PASSWORD),
        )
        .await;
    assert_eq!(old.status, 401, "{old:?}");
    let new = app
        .call(
            &app.browser(),
            "sign_in",
            &credentials("pia@example.com", "the new pass phrase"),
        )
        .await;
    assert_eq!(new.status, 200, "{new:?}");
}

#[tokio::test]
async fn deleting_the_account_removes_it_its_sessions_tokens_and_files() {
    let app = App::start(&[]).await;
    let browser = app.account("quinn@example.com").await;
    let kept = upload_small(&app, &browser, "kept.png", 5).await;
    let unfinished = start(&app, &browser, "half.bin", 3 * MIB, "")
        .await
        .upload_id;
    let NewToken { secret, .. } = new_token(&app, &browser, "cron").await;
    let db = app.database().await;
    let key: String = sqlx::query_scalar("SELECT object_key FROM uploads WHERE id = $1")
        .bind(&kept)
        .fetch_one(&db)
        .await
        .expect("the upload's key");
    assert!(object_exists(&key).await);

    let wrong = app
        .call(
            &browser,
            "delete_account",
            &form(&[("password", "not the password")]),
        )
        .await;
    assert_eq!(wrong.status, 403, "{wrong:?}");
    let deleted = app
        .call(&browser, "delete_account", &form(&[("password", PASSWORD)]))
        .await;
    assert_eq!(deleted.status, 200, "{deleted:?}");

    // The outbox deletes it from the store just after the answer, not before it.
    let key = &key;
    common::eventually(
        std::time::Duration::from_secs(10),
        "the file's object is deleted from the store",
        || async move { !object_exists(key).await },
    )
    .await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM uploads WHERE id IN ($1, $2)")
        .bind(&kept)
        .bind(&unfinished)
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(rows, 0);
    for (table, sql) in [
        ("accounts", "SELECT COUNT(*) FROM accounts"),
        ("sessions", "SELECT COUNT(*) FROM sessions"),
        ("api_tokens", "SELECT COUNT(*) FROM api_tokens"),
    ] {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&db).await.expect("count");
        assert_eq!(n, 0, "{table} still has rows");
    }
    assert_eq!(app.whoami(&browser).await.email, None);
    assert_eq!(as_program(&app, &secret, "whoami").await.status, 401);
    let again = app
        .call(
            &app.browser(),
            "sign_in",
            &credentials("quinn@example.com", PASSWORD),
        )
        .await;
    assert_eq!(again.status, 401, "{again:?}");
}

/// The cap of 50 tokens is counted and the token inserted in one transaction: ten asking at
/// once (as many password checks as one network may start at once) for the last five places
/// get exactly five tokens between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_asked_for_at_once_never_pass_the_cap() {
    let app = App::start(&[]).await;
    let client = app.account("many@example.com").await;
    for n in 0..45 {
        let out = app.admin(
            &["tokens", "create", "many@example.com", &format!("t{n}")],
            "",
        );
        assert!(out.status.success(), "{out:?}");
    }
    let asks = (0..10).map(|n| {
        let (app, client) = (&app, &client);
        async move {
            app.call(
                client,
                "create_token",
                &form(&[("name", &format!("race{n}")), ("password", PASSWORD)]),
            )
            .await
        }
    });
    let answers = futures::future::join_all(asks).await;
    let made = answers.iter().filter(|a| a.status == 200).count();
    let refused = answers
        .iter()
        .filter(|a| a.status == 409 && matches!(a.error(), ApiError::TooManyTokens { .. }))
        .count();
    assert_eq!((made, refused), (5, 5), "{answers:?}");
    let tokens: Vec<TokenView> = app.call(&client, "list_tokens", "").await.json();
    assert_eq!(tokens.len(), 50);
}

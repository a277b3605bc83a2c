//! What others see of a shared file, and how its owner takes a share back: the real binary over
//! HTTP, a real Garage, a real database.

mod common;

use common::{
    app::{form, processed, row, upload, App},
    media,
};
use hoist::model::{FilePage, UploadView};
use std::time::Duration;

async fn page(app: &App, client: &reqwest::Client, id: &str, key: Option<&str>) -> (u16, String) {
    let mut pairs = vec![("upload_id", id)];
    if let Some(key) = key {
        pairs.push(("key", key));
    }
    let answer = app.call(client, "get_file", &form(&pairs)).await;
    (answer.status, answer.body)
}

fn key_of(page: &FilePage) -> String {
    let path = page.share_path.as_deref().expect("the owner's share link");
    path.split_once("key=").expect("a key").1.to_owned()
}

async fn content_status(app: &App, id: &str, key: Option<&str>) -> u16 {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let suffix = key.map(|k| format!("?key={k}")).unwrap_or_default();
    client
        .get(format!("{}/files/{id}/content{suffix}", app.base))
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16()
}

#[tokio::test]
async fn viewers_get_a_public_view_a_new_link_retires_the_old_and_a_disabled_owner_shares_nothing()
{
    let app = App::start(&[]).await;
    let owner = app.account("sharer@example.com").await;
    // Only the magic number of a PNG: hashed, then its thumbnail fails, so the owner's record
    // carries both a hash and an error that no one else should read.
    let id = upload(
        &app,
        &owner,
        "notes.png",
        "image/png",
        &media("image/png", 4000, 9),
    )
    .await;
    processed(&app, &owner, &id, Duration::from_secs(60)).await;
    // The hash may land after the thumbnail failed: wait for both.
    common::eventually(Duration::from_secs(60), "hashed and failed", || async {
        let info = row(&app, &owner, &id).await.file.expect("arrived");
        info.sha256.is_some() && info.error.is_some()
    })
    .await;
    let info = row(&app, &owner, &id).await.file.expect("arrived");
    let (sha, error) = (
        info.sha256.clone().expect("hashed"),
        info.error.clone().expect("a failure to hide"),
    );
    let link = |visibility: &'static str| {
        let (app, owner, id) = (&app, &owner, id.clone());
        async move {
            let body = form(&[
                ("upload_id", &id),
                ("title", "Notes"),
                ("description", ""),
                ("visibility", visibility),
            ]);
            assert_eq!(app.call(owner, "describe_file", &body).await.status, 200);
        }
    };
    link("link").await;
    let (status, body) = page(&app, &owner, &id, None).await;
    assert_eq!(status, 200);
    let mine: FilePage = serde_json::from_str(&body).expect("a page");
    let old_key = key_of(&mine);

    // A viewer with the link: name, size, type and title; no hash, no error.
    let stranger = app.browser();
    let (status, body) = page(&app, &stranger, &id, Some(&old_key)).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains(&sha) && !body.contains(&error), "{body}");
    let seen: FilePage = serde_json::from_str(&body).expect("a page");
    assert_eq!(seen.upload.name, "notes.png");
    assert_eq!(seen.upload.file.map(|f| f.title), Some("Notes".into()));

    // Only the owner makes a new link; after it, the old one opens nothing, the new one does.
    let renew = form(&[("upload_id", &id)]);
    assert_eq!(
        app.call(&stranger, "new_share_link", &renew).await.status,
        404
    );
    let renewed = app.call(&owner, "new_share_link", &renew).await;
    assert_eq!(renewed.status, 200, "{renewed:?}");
    let new_key = key_of(&renewed.json());
    assert_ne!(new_key, old_key);
    assert_eq!(page(&app, &stranger, &id, Some(&old_key)).await.0, 404);
    assert_eq!(content_status(&app, &id, Some(&old_key)).await, 404);
    assert_eq!(page(&app, &stranger, &id, Some(&new_key)).await.0, 200);

    // Public: listed, without the hash. Then the account is disabled: its files go dark.
    link("public").await;
    let listed = app.call(&stranger, "public_files", "").await;
    assert!(!listed.body.contains(&sha), "{listed:?}");
    let listed: Vec<UploadView> = listed.json();
    assert!(listed.iter().any(|u| u.id == id));
    assert_eq!(content_status(&app, &id, None).await, 303);
    let out = app.admin(&["users", "disable", "sharer@example.com"], "");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(page(&app, &stranger, &id, None).await.0, 404);
    assert_eq!(content_status(&app, &id, None).await, 404);
    let listed: Vec<UploadView> = app.call(&stranger, "public_files", "").await.json();
    assert!(listed.iter().all(|u| u.id != id));
}

/// Content stored once: a second upload of the same bytes points at the first one's object.
/// Publishing the copy must not show anyone what the original was called.
#[tokio::test]
async fn a_published_copy_does_not_reveal_the_name_of_the_upload_it_shares_an_object_with() {
    let app = App::start(&[]).await;
    let owner = app.account("keeper@example.com").await;
    let data = common::bytes(4000, 31);
    let kind = "application/octet-stream";
    let first = upload(&app, &owner, "merger-plan-confidential.bin", kind, &data).await;
    let sha = processed(&app, &owner, &first, Duration::from_secs(60))
        .await
        .sha256
        .expect("hashed");
    let answer = app
        .call(
            &owner,
            "start_uploads",
            &form(&[
                ("files[0][name]", "brochure.bin"),
                ("files[0][size]", &data.len().to_string()),
                ("files[0][content_type]", kind),
                ("files[0][sha256]", &sha),
            ]),
        )
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let started: Vec<Result<hoist::model::StartedUpload, hoist::error::ApiError>> = answer.json();
    let copy = started.into_iter().next().expect("one").expect("started");
    assert!(copy.already_stored, "the copy shares the object");
    let body = form(&[
        ("upload_id", &copy.upload_id),
        ("title", "Brochure"),
        ("description", ""),
        ("visibility", "public"),
    ]);
    assert_eq!(app.call(&owner, "describe_file", &body).await.status, 200);

    let viewer = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for door in ["content", "download"] {
        let answer = viewer
            .get(format!("{}/files/{}/{door}", app.base, copy.upload_id))
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 303, "{door}");
        let to = answer
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .expect("a URL")
            .to_owned();
        assert!(!to.contains("merger"), "{door}: {to}");
        let got = viewer.get(&to).send().await.expect("the store answers");
        assert_eq!(got.bytes().await.expect("bytes").to_vec(), data);
    }
}

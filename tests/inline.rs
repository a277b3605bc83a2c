//! The `content` door, through the real binary and Garage: which files a page may show inline,
//! and which come from the store as bytes to save, whatever type their uploader announced.

mod common;

use common::{
    app::{no_redirects, upload, App},
    store_client,
};

fn png() -> Vec<u8> {
    let image = image::RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8, y as u8, 0]));
    let mut out = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG");
    out.into_inner()
}

/// Follows `/files/{id}/content` to the store and returns the store's Content-Type and
/// Content-Disposition.
async fn served(app: &App, client: &reqwest::Client, id: &str) -> (String, String) {
    let answer = client
        .get(format!("{}/files/{id}/content", app.base))
        .send()
        .await
        .expect("hoist answers");
    assert_eq!(answer.status(), 303, "{id}");
    let to = answer
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("a URL")
        .to_owned();
    let got = store_client()
        .get(&to)
        .send()
        .await
        .expect("the store answers");
    assert_eq!(got.status(), 200, "{to}");
    let header = |name: &str| {
        got.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    (header("content-type"), header("content-disposition"))
}

#[tokio::test]
async fn documents_a_browser_would_render_are_always_downloaded() {
    let app = App::start(&[]).await;
    let guest = no_redirects();
    let script = "<script>alert(document.domain)</script>";
    let documents: [(&str, &str, String); 5] = [
        (
            "style.xsl",
            "text/xsl",
            format!(
                "<?xml version=\"1.0\"?><xsl:stylesheet version=\"1.0\" \
                 xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\"><xsl:template match=\"/\">\
                 <html><body>{script}</body></html></xsl:template></xsl:stylesheet>"
            ),
        ),
        (
            "page.html",
            "text/html",
            format!("<!DOCTYPE html><html><body>{script}</body></html>"),
        ),
        (
            "drawing.svg",
            "image/svg+xml",
            format!("<svg xmlns=\"http://www.w3.org/2000/svg\">{script}</svg>"),
        ),
        (
            "page.xhtml",
            "application/xhtml+xml",
            format!("<html xmlns=\"http://www.w3.org/1999/xhtml\"><body>{script}</body></html>"),
        ),
        (
            "feed.xml",
            "application/xml",
            "<?xml version=\"1.0\"?><?xml-stylesheet type=\"text/xsl\" href=\"s.xsl\"?><a/>".into(),
        ),
    ];
    for (name, kind, body) in &documents {
        let id = upload(&app, &guest, name, kind, body.as_bytes()).await;
        let (served_as, disposition) = served(&app, &guest, &id).await;
        assert_eq!(served_as, "application/octet-stream", "{kind}");
        assert!(
            disposition.starts_with("attachment"),
            "{kind}: {disposition}"
        );
    }

    // A picture is still shown, as what it is.
    let id = upload(&app, &guest, "dot.png", "image/png", &png()).await;
    let (served_as, disposition) = served(&app, &guest, &id).await;
    assert_eq!(served_as, "image/png");
    assert!(disposition.starts_with("inline"), "{disposition}");
}

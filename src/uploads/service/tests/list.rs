use super::*;

/// Starts every upload of `batch` as the owner's, a start call at a time, `between` after each.
async fn start_all(h: &Harness, batch: Vec<NewUpload>, mut between: impl FnMut()) {
    for chunk in batch.chunks(MAX_START_BATCH) {
        let answers = h
            .service
            .start_many(OWNER, allowance(), chunk.to_vec())
            .await
            .unwrap();
        assert!(answers.iter().all(Result::is_ok));
        between();
    }
}

#[tokio::test]
async fn the_library_comes_newest_first_in_pages_that_neither_skip_nor_repeat() {
    let clock = crate::clock::ManualClock::new();
    let mut h = harness().await;
    h.service = h.service.with_clock(clock.clone());
    let total = LIBRARY_PAGE + 3;
    let batch = (0..total)
        .map(|i| request(&format!("{i}.bin"), 1))
        .collect::<Vec<_>>();
    start_all(&h, batch, || clock.advance(Duration::from_secs(1))).await;
    let first = h.service.list(OWNER, None).await.unwrap();
    assert_eq!(first.uploads.len(), LIBRARY_PAGE);
    assert_eq!(first.uploads[0].name, format!("{}.bin", total - 1));
    let second = h.service.list(OWNER, first.next.as_deref()).await.unwrap();
    assert_eq!(second.uploads.len(), 3);
    assert_eq!(second.next, None);
    let mut names: Vec<String> = first
        .uploads
        .iter()
        .chain(&second.uploads)
        .map(|u| u.name.clone())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), total);
    assert!(h
        .service
        .list(STRANGER, None)
        .await
        .unwrap()
        .uploads
        .is_empty());
}

#[tokio::test]
async fn a_malformed_cursor_is_refused_and_a_forged_one_finds_nothing() {
    let h = harness().await;
    h.start("a.bin", 1).await;
    for bad in ["", "x", "12", "x.y", &format!("1.{}", "a".repeat(65))] {
        let answer = h.service.list(OWNER, Some(bad)).await;
        assert!(
            matches!(answer, Err(UploadError::Invalid(Invalid::NoSuchPage))),
            "{bad:?}"
        );
    }
    let forged = h.service.list(OWNER, Some("0.zzz")).await.unwrap();
    assert!(forged.uploads.is_empty());
}

#[tokio::test]
async fn only_a_file_that_has_arrived_can_be_downloaded_and_only_by_its_owner() {
    let h = harness().await;
    let started = h.start("a.bin", 10).await;
    let early = h.service.download_url(OWNER, &started.upload_id).await;
    assert!(matches!(
        early,
        Err(UploadError::Closed(UploadStatus::Uploading))
    ));
    let view = h.upload("b.bin", &bytes(10)).await;
    let url = h.service.download_url(OWNER, &view.id).await.unwrap();
    assert!(url.contains("name=b.bin"), "{url}");
    let stranger = h.service.download_url(STRANGER, &view.id).await;
    assert!(matches!(stranger, Err(UploadError::NotFound)));
}

#[tokio::test]
async fn every_order_pages_through_ties_without_skipping_or_repeating() {
    use crate::model::LibrarySort;
    let h = harness().await;
    let total = LIBRARY_PAGE + 3;
    // Few distinct sizes and names, in both cases and beyond ASCII (where Rust and SQLite
    // lower letters differently): most rows tie with another on the key.
    let names = [
        "Same.bin",
        "same.bin",
        "Ärger.bin",
        "Öl.bin",
        "über.bin",
        "İz.bin",
    ];
    let batch = (0..total)
        .map(|i| request(names[i % names.len()], 1 + (i % 3) as u64))
        .collect::<Vec<_>>();
    start_all(&h, batch, || {}).await;
    for sort in LibrarySort::ALL {
        let first = h.service.list_in(OWNER, sort, "", None).await.unwrap();
        let next = first.next.as_deref();
        let second = h.service.list_in(OWNER, sort, "", next).await.unwrap();
        assert_eq!(second.next, None, "{sort:?}");
        let mut ids: Vec<&str> = first
            .uploads
            .iter()
            .chain(&second.uploads)
            .map(|u| u.id.as_str())
            .collect();
        if sort != LibrarySort::Name {
            // The page's own order for names beyond ASCII is the database's.
            let all: Vec<_> = first.uploads.iter().chain(&second.uploads).collect();
            assert!(
                all.windows(2).all(|w| !sort.before(w[1], w[0])),
                "{sort:?} out of order"
            );
        }
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), total, "{sort:?}");
    }
    let found = h
        .service
        .list_in(OWNER, LibrarySort::Name, "SAME", None)
        .await;
    let found = found.unwrap().uploads;
    assert_eq!(
        found.len(),
        2 * total.div_ceil(names.len()) - 1,
        "{found:?}"
    );
    assert!(found
        .iter()
        .all(|u| u.name.eq_ignore_ascii_case("same.bin")));
    // Beyond ASCII, as the database lowers letters, on both sides alike.
    let found = h
        .service
        .list_in(OWNER, LibrarySort::Name, "Ärg", None)
        .await;
    assert_eq!(found.unwrap().uploads.len(), total / names.len());
}

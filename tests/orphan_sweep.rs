//! The orphan sweep against a real Garage: a multipart upload no row knows is aborted once it
//! is older than the TTL; a living upload older than the TTL, and another application's upload
//! in the same bucket, are left alone. (Its own test binary: the sweep lists the whole bucket,
//! so no other test may be uploading beside it.)

mod common;

use common::{harness_with, pending_at, rules, KEY_PREFIX, OWNER, PART};
use hoist::{background::sweep::OrphanSweep, storage::ObjectStore, uploads::UploadRules};
use std::time::Duration;

const TTL: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn the_sweep_aborts_only_old_uploads_of_ours_that_no_living_upload_owns() {
    let h = harness_with(UploadRules {
        upload_ttl: TTL,
        ..rules()
    })
    .await;
    let store = h.store().clone();
    let living = h
        .start("still-going.bin", 2 * PART + 1, "application/octet-stream")
        .await;
    let living_key = h.row(OWNER, &living.upload_id).await.object_key;
    let orphan_key = format!("{KEY_PREFIX}{}/nobody-knows-me.bin", uuid::Uuid::new_v4());
    store
        .create_multipart(&orphan_key, "application/octet-stream", None)
        .await
        .expect("orphan");
    // Shaped like ours, but outside Hoist's prefix: another application's.
    let foreign_key = format!("{}/other-app.bin", uuid::Uuid::new_v4());
    let foreign_id = store
        .create_multipart(&foreign_key, "application/octet-stream", None)
        .await
        .expect("another application's upload");

    let sweep = OrphanSweep::new(h.service.db().clone(), store.clone(), KEY_PREFIX, TTL)
        .with_clock(h.clock.clone());
    let first = sweep.run_once().await.expect("sweep");
    assert_eq!(
        pending_at(&store, &orphan_key).await,
        1,
        "too young to be swept: {first:?}"
    );

    // Two TTLs pass; the living upload signs a part every half TTL, so it never expires.
    for _ in 0..4 {
        h.clock.advance(TTL / 2);
        h.service
            .sign_parts(OWNER, &living.upload_id, &common::plain(&[1]))
            .await
            .expect("still alive");
    }
    let swept = sweep.run_once().await.expect("sweep");
    assert_eq!(
        pending_at(&store, &orphan_key).await,
        0,
        "old enough to be swept: {swept:?}"
    );

    assert_eq!(
        pending_at(&store, &living_key).await,
        1,
        "a living upload is never swept"
    );
    assert_eq!(
        pending_at(&store, &foreign_key).await,
        1,
        "another application's upload is left alone"
    );
    store
        .abort_multipart(&foreign_key, &foreign_id)
        .await
        .expect("clean up");
}

//! A small JPEG of a JPEG, PNG, WebP or GIF (its first frame), and the image's dimensions.
//! The decoder reads the object through ranged GETs; the limits stop a decompression bomb (a
//! small file that claims a huge canvas) before it allocates.

use super::{reader::ObjectReader, thumbnail_key, Finished, JobError};
use crate::{db::jobs::Findings, storage::s3::S3Store};
use image::{codecs::jpeg::JpegEncoder, DynamicImage, ImageReader, Limits};
use std::io::BufReader;
use tokio::runtime::Handle;

/// The thumbnail fits this square.
pub const SIDE: u32 = 320;
const QUALITY: u8 = 80;
/// What one decode may allocate: a 12,000-pixel-square RGBA image is 576 MB, so the side
/// limit bites first for square images and this one for long thin ones.
const MAX_ALLOC: u64 = 600 << 20;
/// Fetched from the store at a time.
pub(super) const WINDOW: usize = 1 << 20;
/// The largest file a thumbnail is made from. The JPEG decoder reads its whole input before
/// decoding, so this also bounds what a file can make a worker hold; no photograph comes near.
const MAX_INPUT: u64 = 128 << 20;

pub fn can_read(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/jpeg" | "image/png" | "image/webp" | "image/gif"
    )
}

pub async fn run(
    store: &S3Store,
    object_key: &str,
    size: u64,
    max_side: u32,
) -> Result<Finished, JobError> {
    let reader = ObjectReader::new(store.clone(), object_key, size, WINDOW, Handle::current());
    let (jpeg, width, height) = thumbnail_of(reader, size, max_side).await?;
    let key = thumbnail_key(object_key);
    store.put_small(&key, jpeg, "image/jpeg").await?;
    Ok(Finished::Found(Findings {
        width: Some(width),
        height: Some(height),
        thumbnail_key: Some(key),
        ..Findings::default()
    }))
}

/// The thumbnail as JPEG bytes, and the image's width and height, from any reader of the
/// image (the store's in the server, a presigned GET's in the decoding child).
pub(super) async fn thumbnail_of(
    reader: ObjectReader,
    size: u64,
    max_side: u32,
) -> Result<(Vec<u8>, u32, u32), JobError> {
    if size > MAX_INPUT {
        return Err(JobError::TooLarge {
            why: format!("{size} bytes; thumbnails are made from files up to {MAX_INPUT}"),
        });
    }
    tokio::task::spawn_blocking(move || make(reader, max_side))
        .await
        .map_err(|e| JobError::Thread(e.to_string()))?
}

fn make(reader: ObjectReader, max_side: u32) -> Result<(Vec<u8>, u32, u32), JobError> {
    let unreadable = |e: image::ImageError| match e {
        image::ImageError::Limits(l) => JobError::TooLarge { why: l.to_string() },
        image::ImageError::IoError(io)
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<crate::storage::StorageError>()) =>
        {
            JobError::Storage(crate::storage::StorageError::Unreachable(io.to_string()))
        }
        other => JobError::Unreadable {
            what: "the image",
            why: other.to_string(),
        },
    };
    let mut decoder = ImageReader::new(BufReader::new(reader))
        .with_guessed_format()
        .map_err(|e| unreadable(e.into()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(max_side);
    limits.max_image_height = Some(max_side);
    limits.max_alloc = Some(MAX_ALLOC);
    decoder.limits(limits);
    let image = decoder.decode().map_err(unreadable)?;
    let (width, height) = (image.width(), image.height());
    let small = image.thumbnail(SIDE, SIDE);
    // JPEG has no transparency: what was see-through shows white, as on the page.
    let flat = flatten_on_white(small);
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, QUALITY)
        .encode_image(&flat)
        .map_err(|e| JobError::Unreadable {
            what: "the thumbnail",
            why: e.to_string(),
        })?;
    Ok((jpeg, width, height))
}

fn flatten_on_white(image: DynamicImage) -> DynamicImage {
    if !image.color().has_alpha() {
        return DynamicImage::ImageRgb8(image.into_rgb8());
    }
    let rgba = image.into_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = px.0;
        let blend =
            |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        *out = image::Rgb([blend(r), blend(g), blend(b)]);
    }
    DynamicImage::ImageRgb8(rgb)
}

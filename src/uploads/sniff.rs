//! The type a file really is, told from its first bytes (magic numbers), against the type it
//! was announced as. The browser's type comes from the file's extension, which anyone can
//! change: an executable renamed `cat.png` must not be kept as a picture.

use crate::model::{Detected, Rejection};

/// Bytes read from the start of an object: every signature `infer` knows lies within them.
pub const HEAD_LEN: u64 = 16 * 1024;

/// `Ok` if the bytes agree with `declared` (a normalised media type); otherwise what they are.
pub fn check(declared: &str, head: &[u8]) -> Result<(), Rejection> {
    let mismatch = |found| Rejection::ContentMismatch {
        declared: declared.to_string(),
        found,
    };
    match infer::get(head) {
        Some(found) if agree(declared, found.mime_type()) => Ok(()),
        Some(found) => Err(mismatch(Some(Detected {
            media_type: found.mime_type().to_string(),
            extension: found.extension().to_string(),
        }))),
        // Unrecognised bytes are fine for types without a signature (text, JSON, SVG…), but a
        // type that has one must show it.
        None if has_signature(declared) => Err(mismatch(None)),
        None => Ok(()),
    }
}

/// The declared and the detected type name the same kind of file.
fn agree(declared: &str, found: &str) -> bool {
    if declared == found || declared == "application/octet-stream" {
        return true;
    }
    let (d_kind, d_sub) = split(declared);
    let (f_kind, f_sub) = split(found);
    let textual = |kind: &str, sub: &str| {
        kind == "text"
            || ["xml", "json", "javascript"]
                .iter()
                .any(|t| sub.contains(t))
    };
    // Containers hold audio or video alike: an audio-only MP4 or WebM is sniffed as video.
    let media = |kind: &str| kind == "audio" || kind == "video";
    let zip_family = |t: &str| {
        t == "application/zip"
            || t.ends_with("+zip")
            || t.starts_with("application/vnd.openxmlformats")
            || t.starts_with("application/vnd.oasis.opendocument")
            || t == "application/java-archive"
            || t == "application/vnd.android.package-archive"
    };
    plain(d_sub) == plain(f_sub) && (d_kind == f_kind || media(d_kind) && media(f_kind))
        || textual(d_kind, d_sub) && textual(f_kind, f_sub)
        || zip_family(declared) && zip_family(found)
}

fn split(media_type: &str) -> (&str, &str) {
    media_type.split_once('/').unwrap_or((media_type, ""))
}

/// `x-wav` and `wav`, `jpg` and `jpeg`, `x-matroska` and `matroska` are the same thing.
fn plain(sub: &str) -> &str {
    match sub.strip_prefix("x-").unwrap_or(sub) {
        "jpg" | "pjpeg" => "jpeg",
        "vnd.microsoft.icon" => "icon",
        "mp3" => "mpeg",
        "quicktime" => "mov",
        "zip-compressed" => "zip",
        other => other,
    }
}

fn has_signature(declared: &str) -> bool {
    let (kind, sub) = split(declared);
    match kind {
        // SVG is XML text; every other image, sound and video format has a signature.
        "image" => sub != "svg+xml",
        "audio" | "video" => true,
        _ => declared != "application/octet-stream" && infer::is_mime_supported(declared),
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::model::{Detected, Rejection};

    fn found(declared: &str, head: &[u8]) -> Option<Detected> {
        match check(declared, head) {
            Err(Rejection::ContentMismatch { found, .. }) => found,
            other => panic!("{declared}: {other:?}"),
        }
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    /// The start of an x86-64 executable: its 64-byte header, as `infer` wants it whole.
    fn elf() -> Vec<u8> {
        let mut header = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01".to_vec();
        header.resize(64, 0);
        header
    }
    const ZIP: &[u8] = b"PK\x03\x04\x14\0\0\0\x08\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";

    #[test]
    fn a_png_declared_as_png_passes() {
        assert_eq!(check("image/png", PNG), Ok(()));
        assert_eq!(check("image/jpeg", JPEG), Ok(()));
        assert_eq!(check("image/jpg", JPEG), Ok(()));
    }

    #[test]
    fn executables_and_archives_posing_as_images_are_refused() {
        assert_eq!(
            found("image/png", &elf()),
            Some(Detected {
                media_type: "application/x-executable".into(),
                extension: "elf".into()
            })
        );
        let zip = found("image/png", ZIP).map(|d| d.media_type);
        assert_eq!(zip.as_deref(), Some("application/zip"));
        assert!(check("text/plain", &elf()).is_err());
    }

    #[test]
    fn a_type_with_a_signature_must_show_it() {
        for declared in ["image/png", "video/mp4", "application/pdf"] {
            assert_eq!(found(declared, b"just some words"), None);
        }
    }

    #[test]
    fn text_and_unknown_bytes_pass_where_no_signature_is_expected() {
        assert_eq!(check("text/plain", b"hello"), Ok(()));
        assert_eq!(check("text/csv", b"a,b\n1,2\n"), Ok(()));
        assert_eq!(check("image/svg+xml", b"<svg xmlns='x'/>"), Ok(()));
        assert_eq!(check("application/octet-stream", &elf()), Ok(()));
        assert_eq!(check("application/octet-stream", &[7, 1, 2, 3]), Ok(()));
    }

    #[test]
    fn zip_based_formats_are_zips() {
        assert_eq!(check("application/zip", ZIP), Ok(()));
        assert_eq!(check("application/epub+zip", ZIP), Ok(()));
        assert_eq!(check("application/x-zip-compressed", ZIP), Ok(()));
    }
}

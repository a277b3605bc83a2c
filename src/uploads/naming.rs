//! Turning a name a browser sent into a name and an object key that are safe to store.
//! The key is always `<prefix><server-generated id>/<name>`: the client never chooses where its
//! bytes go.

use crate::error::Invalid;
use unicode_normalization::UnicodeNormalization;

/// S3 keys, file systems and download dialogs all cope with 255 bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// A name sent longer than this is refused rather than cut: no file system makes one, and
/// cutting would mean reading it all first.
pub const MAX_SENT_NAME_BYTES: usize = 4096;
/// An extension longer than this is not worth keeping when a name must be shortened.
const MAX_KEPT_EXTENSION: usize = 16;

/// The last path component in Unicode's composed form (NFC: `é` is one character however the
/// browser's file system spelled it), without control, bidirectional-override, zero-width or
/// line-separator characters, trimmed, and shortened to [`MAX_NAME_BYTES`] keeping its
/// extension.
pub fn sanitize_name(raw: &str) -> Result<String, Invalid> {
    if raw.len() > MAX_SENT_NAME_BYTES {
        return Err(Invalid::NameTooLong {
            bytes: raw.len(),
            max: MAX_SENT_NAME_BYTES,
        });
    }
    // Hidden characters go first: one between a letter and its accent would otherwise keep
    // the two from composing until a second pass.
    let visible: String = raw.chars().filter(|c| !is_hidden_control(*c)).collect();
    let composed: String = visible.nfc().collect();
    let last = composed.rsplit(['/', '\\']).next().unwrap_or_default();
    let trimmed = last.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        return Err(Invalid::EmptyName);
    }
    Ok(shorten(trimmed, MAX_NAME_BYTES))
}

/// Where an upload's bytes are kept: the prefix, the id of the upload that first sent them,
/// and a word that says nothing. Never the name: one object may serve several uploads of the
/// same content (stored once), and the URL a viewer of one gets must not say what another was
/// called. Names live in the database and in the `Content-Disposition` of the URL given out.
/// (The id is a random one; to a stranger it opens nothing.)
pub fn object_key(prefix: &str, upload_id: &str) -> String {
    format!("{prefix}{upload_id}/{OBJECT}")
}

/// The last part of every key [`object_key`] makes.
const OBJECT: &str = "object";

/// Was `key` made by [`object_key`] with this prefix? (A bucket may hold other applications'
/// objects.)
pub fn is_object_key(prefix: &str, key: &str) -> bool {
    key.strip_prefix(prefix)
        .and_then(|rest| rest.split_once('/'))
        .is_some_and(|(id, name)| !name.is_empty() && uuid::Uuid::parse_str(id).is_ok())
}

fn is_hidden_control(c: char) -> bool {
    // Bidi overrides can make `exe.png` display as `png.exe`; zero-width characters make two
    // names that look the same differ; line separators break log lines and headers.
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{2060}'
                | '\u{FEFF}'
        )
}

fn shorten(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let extension = name
        .rfind('.')
        .filter(|&dot| dot > 0 && name.len() - dot <= MAX_KEPT_EXTENSION)
        .map(|dot| &name[dot..])
        .unwrap_or("");
    let stem = &name[..name.len() - extension.len()];
    let mut cut = max - extension.len();
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", stem[..cut].trim_end(), extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_traversal_keeps_only_the_file_name() {
        assert_eq!(sanitize_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(sanitize_name("..\\..\\boot.ini").unwrap(), "boot.ini");
        assert_eq!(sanitize_name("/absolute/name.txt").unwrap(), "name.txt");
        assert_eq!(sanitize_name("dir/.."), Err(Invalid::EmptyName));
        assert_eq!(sanitize_name("  "), Err(Invalid::EmptyName));
    }

    #[test]
    fn control_and_bidi_characters_are_removed() {
        assert_eq!(sanitize_name("a\u{0}b\nc\t.txt").unwrap(), "abc.txt");
        assert_eq!(
            sanitize_name("invoice\u{202E}gnp.exe").unwrap(),
            "invoicegnp.exe"
        );
    }

    #[test]
    fn names_are_composed_and_lose_invisible_characters() {
        // "é" as e + combining acute (how macOS spells it) becomes the one character.
        assert_eq!(sanitize_name("cafe\u{301}.png").unwrap(), "caf\u{e9}.png");
        assert_eq!(
            sanitize_name("in\u{200B}voice\u{FEFF}.pdf\u{2028}").unwrap(),
            "invoice.pdf"
        );
        assert_eq!(sanitize_name("\u{200D}\u{2029}"), Err(Invalid::EmptyName));
        let sent = "a".repeat(MAX_SENT_NAME_BYTES + 1);
        assert_eq!(
            sanitize_name(&sent),
            Err(Invalid::NameTooLong {
                bytes: MAX_SENT_NAME_BYTES + 1,
                max: MAX_SENT_NAME_BYTES
            })
        );
    }

    #[test]
    fn unicode_is_kept() {
        assert_eq!(
            sanitize_name("Über café 日本語 🎉.png").unwrap(),
            "Über café 日本語 🎉.png"
        );
    }

    #[test]
    fn long_names_are_cut_at_a_character_boundary_keeping_the_extension() {
        let long = format!("{}.jpeg", "é".repeat(150)); // 305 bytes
        let safe = sanitize_name(&long).unwrap();
        assert!(safe.len() <= MAX_NAME_BYTES, "{} bytes", safe.len());
        assert!(safe.ends_with(".jpeg"));
        assert!(safe.starts_with("éé"));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        fn check(raw: &str) -> Result<(), TestCaseError> {
            let Ok(name) = sanitize_name(raw) else {
                return Ok(());
            };
            prop_assert!(!name.is_empty() && name != "." && name != "..");
            prop_assert!(name.len() <= MAX_NAME_BYTES, "{} bytes", name.len());
            prop_assert!(!name.contains(['/', '\\']));
            prop_assert!(!name.chars().any(is_hidden_control));
            prop_assert_eq!(sanitize_name(&name), Ok(name.clone()), "idempotent");
            Ok(())
        }

        proptest! {
            #[test]
            fn any_string_becomes_a_safe_name_or_is_refused(raw in any::<String>()) {
                check(&raw)?;
            }

            #[test]
            fn path_like_and_long_names_become_one_safe_name(
                raw in "[a-zé. /\\\\\u{200B}\u{301}\u{202E}\u{2028}日🎉]{0,400}"
            ) {
                check(&raw)?;
            }
        }
    }

    #[test]
    fn keys_are_the_prefix_then_the_upload_id_and_never_a_name() {
        let id = "6f1c1f5e-8a4e-4f64-9a43-0d3f5b8f2a11";
        assert_eq!(object_key("hoist/", id), format!("hoist/{id}/object"));
        assert!(is_object_key("hoist/", &object_key("hoist/", id)));
        // Keys of earlier versions, which carried the name, are still Hoist's.
        assert!(is_object_key("hoist/", &format!("hoist/{id}/a.png")));
        assert!(!is_object_key("hoist/", &format!("{id}/a.png")));
        assert!(!is_object_key("hoist/", "hoist/backup/a.png"));
    }
}

//! Turning a name a browser sent into a name and an object key that are safe to store.
//! The key is always `<server-generated id>/<name>`: the client never chooses where its bytes go.

/// S3 keys, file systems and download dialogs all cope with 255 bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// An extension longer than this is not worth keeping when a name must be shortened.
const MAX_KEPT_EXTENSION: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("The file name is empty.")]
    Empty,
}

/// The last path component, without control or bidirectional-override characters, trimmed,
/// and shortened to [`MAX_NAME_BYTES`] keeping its extension.
pub fn sanitize_name(raw: &str) -> Result<String, NameError> {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last.chars().filter(|c| !is_hidden_control(*c)).collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        return Err(NameError::Empty);
    }
    Ok(shorten(trimmed, MAX_NAME_BYTES))
}

pub fn object_key(upload_id: &str, safe_name: &str) -> String {
    format!("{upload_id}/{safe_name}")
}

/// Was `key` made by [`object_key`]? (A bucket may hold other applications' objects.)
pub fn is_object_key(key: &str) -> bool {
    key.split_once('/')
        .is_some_and(|(id, name)| !name.is_empty() && uuid::Uuid::parse_str(id).is_ok())
}

fn is_hidden_control(c: char) -> bool {
    // Bidi overrides can make `exe.png` display as `png.exe`.
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
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
        assert_eq!(sanitize_name("dir/.."), Err(NameError::Empty));
        assert_eq!(sanitize_name("  "), Err(NameError::Empty));
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

    #[test]
    fn keys_are_prefixed_by_the_upload_id() {
        assert_eq!(object_key("abc", "passwd"), "abc/passwd");
    }
}

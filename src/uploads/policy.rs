//! What an upload may be: its size, its type, and how it is cut into parts.

use crate::server::config::{MAX_PART_SIZE, MIN_PART_SIZE};

/// S3 numbers parts from 1 to 10,000.
pub const MAX_PARTS: u64 = 10_000;
const MIB: u64 = 1 << 20;

/// The configured part size, raised (in whole MiB) when the file would need more than
/// [`MAX_PARTS`] parts. `None` if even 5 GiB parts are not enough.
pub fn choose_part_size(size: u64, configured: u64) -> Option<u64> {
    let needed = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
    let part_size = configured.max(needed).max(MIN_PART_SIZE);
    (part_size <= MAX_PART_SIZE).then_some(part_size)
}

/// A media type in canonical form: lower case, without parameters. An empty type (the browser
/// did not know) becomes `application/octet-stream`.
pub fn normalize_type(declared: &str) -> Result<String, String> {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if essence.is_empty() {
        return Ok("application/octet-stream".into());
    }
    let valid_token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if valid_token(kind) && valid_token(sub) => Ok(essence),
        _ => Err(format!("{declared:?} is not a valid file type.")),
    }
}

/// An empty list allows everything; `image/*` allows every image type.
pub fn type_allowed(content_type: &str, allowed: &[String]) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|rule| match rule.strip_suffix("/*") {
            Some(kind) => content_type.split('/').next() == Some(kind),
            None => rule == content_type,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_size_grows_only_when_ten_thousand_parts_are_not_enough() {
        let configured = 16 * MIB;
        assert_eq!(choose_part_size(1, configured), Some(configured));
        assert_eq!(choose_part_size(5 * MIB, configured), Some(configured));
        assert_eq!(choose_part_size(5 << 30, configured), Some(configured));
        let five_tib = 5u64 << 40;
        let chosen = choose_part_size(five_tib, configured).unwrap();
        assert!(five_tib.div_ceil(chosen) <= MAX_PARTS);
        assert_eq!(chosen % MIB, 0);
        assert_eq!(
            choose_part_size(MAX_PARTS * MAX_PART_SIZE + 1, configured),
            None
        );
    }

    #[test]
    fn types_are_normalised() {
        assert_eq!(normalize_type("Image/PNG").unwrap(), "image/png");
        assert_eq!(
            normalize_type("text/plain; charset=utf-8").unwrap(),
            "text/plain"
        );
        assert_eq!(normalize_type("").unwrap(), "application/octet-stream");
        assert!(normalize_type("png").is_err());
        assert!(normalize_type("image/png\r\nx-evil: 1").is_err());
    }

    #[test]
    fn wildcards_match_a_whole_kind() {
        let allowed = vec!["image/*".to_string(), "video/mp4".to_string()];
        assert!(type_allowed("image/png", &allowed));
        assert!(type_allowed("video/mp4", &allowed));
        assert!(!type_allowed("video/webm", &allowed));
        assert!(!type_allowed("application/x-executable", &allowed));
        assert!(type_allowed("anything/at-all", &[]));
    }
}

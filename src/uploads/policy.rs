//! What an upload may be: its size, its type, and how it is cut into parts.

use crate::{
    error::Invalid,
    storage::{MAX_PART_SIZE, MIN_PART_SIZE},
};

/// S3 numbers parts from 1 to 10,000.
pub const MAX_PARTS: u64 = 10_000;
const MIB: u64 = 1 << 20;

/// A file is cut into about this many parts before its parts grow past the configured size:
/// enough to keep the pool of parallel PUTs busy.
const TARGET_PARTS: u64 = 16;

/// The part size for a file of `size` bytes, in whole MiB: `configured` for files of up to
/// [`TARGET_PARTS`] parts; bigger files get bigger parts, up to `largest`, because every
/// request costs the browser a fixed amount of work (about 20 ms of CPU per part in Chromium,
/// measured in docs/benchmarks.md) and fewer requests upload faster; and never more than
/// [`MAX_PARTS`] parts, whatever `largest` says. `None` if even 5 GiB parts are not enough.
pub fn choose_part_size(size: u64, configured: u64, largest: u64) -> Option<u64> {
    let round_up = |n: u64| n.div_ceil(MIB) * MIB;
    let for_throughput = round_up(size.div_ceil(TARGET_PARTS)).min(largest);
    let needed = round_up(size.div_ceil(MAX_PARTS));
    let part_size = configured
        .max(for_throughput)
        .max(needed)
        .max(MIN_PART_SIZE);
    (part_size <= MAX_PART_SIZE).then_some(part_size)
}

/// RFC 6838 allows 127 characters on each side of the slash; a type and subtype longer than
/// that together is not a media type.
pub const MAX_TYPE_BYTES: usize = 127;
/// With parameters (`; charset=utf-8`), which are dropped.
const MAX_DECLARED_TYPE_BYTES: usize = 255;

/// A media type in canonical form: lower case, without parameters. An empty type (the browser
/// did not know) becomes `application/octet-stream`.
pub fn normalize_type(declared: &str) -> Result<String, Invalid> {
    if declared.len() > MAX_DECLARED_TYPE_BYTES {
        return Err(Invalid::TypeTooLong {
            bytes: declared.len(),
            max: MAX_TYPE_BYTES,
        });
    }
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
        Some((kind, sub))
            if valid_token(kind) && valid_token(sub) && essence.len() <= MAX_TYPE_BYTES =>
        {
            Ok(essence)
        }
        _ => Err(Invalid::NotAType {
            declared: declared.to_string(),
        }),
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
    fn part_sizes_for_tiny_to_huge_files() {
        let (configured, largest) = (16 * MIB, 64 * MIB);
        let choose = |size| choose_part_size(size, configured, largest);
        // Up to one part: a one-part upload.
        assert_eq!(choose(1), Some(configured));
        assert_eq!(choose(5 * MIB), Some(configured));
        // Up to 16 parts: the configured size.
        assert_eq!(choose(200 * MIB), Some(configured));
        // Bigger: parts grow, to the largest size.
        assert_eq!(choose(512 * MIB), Some(32 * MIB));
        assert_eq!(choose(1 << 30), Some(64 * MIB));
        assert_eq!(choose(5 << 30), Some(64 * MIB));
        // Huge: as big as 10,000 parts need, in whole MiB.
        let five_tib = 5u64 << 40;
        let chosen = choose(five_tib).unwrap();
        assert!(five_tib.div_ceil(chosen) <= MAX_PARTS);
        assert!(chosen > largest && chosen % MIB == 0);
        assert_eq!(choose(MAX_PARTS * MAX_PART_SIZE + 1), None);
        // Parts pinned to one size (both settings equal), and never under S3's minimum.
        assert_eq!(choose_part_size(1 << 30, 8 * MIB, 8 * MIB), Some(8 * MIB));
        assert_eq!(choose_part_size(1 << 30, 1, 1), Some(MIN_PART_SIZE));
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
        let long = format!("image/{}", "x".repeat(MAX_TYPE_BYTES));
        assert!(normalize_type(&long).is_err());
        assert!(normalize_type(&"a/b; q=1".repeat(1000)).is_err());
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

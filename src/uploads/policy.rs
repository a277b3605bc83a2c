//! What an upload may be: its size and its type. How it is cut into parts is the rule every
//! client shares ([`crate::protocol::plan`]).

use crate::error::Invalid;

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

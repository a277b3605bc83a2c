//! How a setting's text becomes a value. Each module's settings name their parser in their
//! `#[arg(value_parser = …)]`; a parser's error is the sentence clap prints after the
//! setting's name.

use std::time::Duration;

/// `1048576`, `16MiB`, `5 GB`, `50GiB`.
pub fn size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| "expected a number of bytes such as 16MiB".to_string())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "tib" | "t" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "unknown unit {other:?}; use B, KiB, MiB, GiB or TiB"
            ))
        }
    };
    number
        .checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| "must be more than 0 and less than 16EiB".to_string())
}

/// As [`size`], or `0` (the feature it bounds is off).
pub fn size_or_zero(text: &str) -> Result<u64, String> {
    match text.trim() {
        "0" => Ok(0),
        text => size(text),
    }
}

/// `90` (seconds), `90s`, `15m`, `1h 30m`, `7d`, `500ms`: humantime's forms, plus bare seconds.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let parsed = match text.parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => humantime::parse_duration(text)
            .map_err(|e| format!("expected a duration such as 90s, 15m or 1h ({e})")),
    }?;
    if parsed.is_zero() {
        return Err("must be longer than zero".into());
    }
    Ok(parsed)
}

/// A duration, or `off` for never.
pub fn duration_or_off(text: &str) -> Result<Option<Duration>, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "off" | "never" | "false" => Ok(None),
        _ => duration(text).map(Some),
    }
}

pub fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// An http(s) URL with a host, without a trailing slash (the S3 SDK wants it so).
pub fn url(text: &str) -> Result<String, String> {
    let parsed = http_url(text)?;
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// An origin as browsers send it in the `Origin` header: scheme, host and port, no path.
pub fn origin(text: &str) -> Result<String, String> {
    let parsed = http_url(text)?;
    if parsed.path() != "/" || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(
            "expected an origin such as https://uploads.example.com, without a path".into(),
        );
    }
    Ok(parsed.origin().ascii_serialization())
}

fn http_url(text: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(text.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("expected a URL starting with http:// or https://".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials do not belong in the URL".into());
    }
    Ok(parsed)
}

/// A whole number within `range`.
pub fn number_in<T>(
    range: std::ops::RangeInclusive<T>,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy + Send + Sync + 'static,
{
    move |text: &str| {
        text.trim()
            .parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                format!(
                    "expected a whole number from {} to {}",
                    range.start(),
                    range.end()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(size("1048576"), Ok(1 << 20));
        assert_eq!(size("16MiB"), Ok(16 << 20));
        assert_eq!(size("50 GiB"), Ok(50 << 30));
        assert_eq!(size("5MB"), Ok(5_000_000));
        assert!(size("0").is_err());
        assert!(size("lots").is_err());
        assert!(size("5 parsecs").is_err());
        assert_eq!(size_or_zero("0"), Ok(0));
        assert_eq!(size_or_zero("64MiB"), Ok(64 << 20));
        assert!(size_or_zero("0MiB").is_err());
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(duration("0s").is_err());
        assert!(duration("soon").is_err());
        assert_eq!(duration_or_off("off"), Ok(None));
    }

    #[test]
    fn origins_have_no_path() {
        assert_eq!(
            origin("https://uploads.example.com"),
            Ok("https://uploads.example.com".into())
        );
        assert_eq!(
            origin("http://127.0.0.1:3000/"),
            Ok("http://127.0.0.1:3000".into())
        );
        assert!(origin("https://example.com/app").is_err());
        assert!(origin("ftp://example.com").is_err());
        assert!(origin("example.com").is_err());
        assert_eq!(
            url("http://127.0.0.1:3900/"),
            Ok("http://127.0.0.1:3900".into())
        );
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        const SIZE_UNITS: [(&str, u64); 6] = [
            ("", 1),
            ("KiB", 1 << 10),
            ("MiB", 1 << 20),
            ("GiB", 1 << 30),
            ("TiB", 1 << 40),
            ("MB", 1_000_000),
        ];
        const DURATION_UNITS: [(&str, u64); 4] = [("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)];

        proptest! {
            #[test]
            fn sizes_are_exact_or_refused(n in any::<u64>(), unit in 0..SIZE_UNITS.len(), space in any::<bool>()) {
                let (name, factor) = SIZE_UNITS[unit];
                let text = format!("{n}{}{name}", if space { " " } else { "" });
                match n.checked_mul(factor).filter(|b| *b > 0) {
                    Some(bytes) => prop_assert_eq!(size(&text), Ok(bytes)),
                    None => prop_assert!(size(&text).is_err()),
                }
            }

            #[test]
            fn durations_are_exact_or_refused(n in any::<u64>(), unit in 0..DURATION_UNITS.len()) {
                let (name, factor) = DURATION_UNITS[unit];
                let text = format!("{n}{name}");
                match n.checked_mul(factor).filter(|s| *s > 0) {
                    Some(secs) => prop_assert_eq!(duration(&text), Ok(Duration::from_secs(secs))),
                    None => prop_assert!(duration(&text).is_err()),
                }
            }

            #[test]
            fn no_text_makes_the_parsers_panic(text in any::<String>()) {
                let _ = size(&text);
                let _ = duration(&text);
                let _ = origin(&text);
            }
        }
    }
}

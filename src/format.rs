//! How numbers are written for people, the same on the server and in the browser.

/// `0 B`, `512 B`, `1.5 KiB`, `20.0 MiB`, `3.25 GiB`.
pub fn bytes(n: u64) -> String {
    let Some((value, unit)) = scaled(n) else {
        return format!("{n} B");
    };
    let digits = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.digits$} {unit}")
}

/// `9,812`: counts people read at a glance.
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` in the largest binary unit it reaches; `None` below 1 KiB.
fn scaled(n: u64) -> Option<(f64, &'static str)> {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return None;
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    Some((value, UNITS[unit]))
}

/// Sizes in sentences and meters: `512 B`, `4.0 GiB`, `10 GiB`, `12.5 MiB`, `300 GiB`.
pub fn bytes_short(n: u64) -> String {
    let Some((value, unit)) = scaled(n) else {
        return format!("{n} B");
    };
    let whole = (value - value.round()).abs() < 0.05;
    let digits = usize::from(value < 10.0 || (value < 100.0 && !whole));
    format!("{value:.digits$} {unit}")
}

/// `12.5 MiB/s · 1 min 20 s left`; empty until a speed is known.
pub fn rate(bytes_per_second: Option<f64>, seconds_left: Option<f64>) -> String {
    let Some(speed) = bytes_per_second else {
        return String::new();
    };
    let speed = format!("{}/s", bytes(speed.max(0.0) as u64));
    match seconds_left {
        Some(left) => format!("{speed} · {} left", duration(left)),
        None => speed,
    }
}

/// `5 s`, `1 min 20 s`, `2 h 05 min`: precise enough for a time left, never falsely exact.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).ceil() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s % 3600 / 60),
    }
}

/// A media length as a player shows it: `0:07`, `3:05`, `1:02:09`.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=3599 => format!("{}:{:02}", s / 60, s % 60),
        _ => format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60),
    }
}

/// What processing found, in one line: `1920 × 1080 · 0:07 · avc1, mp4a`.
pub fn media_details(file: &crate::model::FileInfo) -> String {
    let mut parts = Vec::new();
    if let (Some(w), Some(h)) = (file.width, file.height) {
        parts.push(format!("{w} × {h}"));
    }
    if let Some(ms) = file.duration_ms {
        parts.push(clock(ms));
    }
    if let Some(codecs) = &file.codecs {
        parts.push(codecs.clone());
    }
    parts.join(" · ")
}

/// Bytes as lower-case hexadecimal (digests, token secrets).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unix milliseconds as `2026-11-23 14:05 UTC`.
pub fn utc_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(9812), "9,812");
        assert_eq!(count(1_234_567), "1,234,567");
    }

    #[test]
    fn speeds_and_times_left_read_naturally() {
        assert_eq!(rate(None, Some(3.0)), "");
        assert_eq!(rate(Some(1.5 * 1048576.0), None), "1.50 MiB/s");
        assert_eq!(
            rate(Some(10.0 * 1048576.0), Some(80.2)),
            "10.0 MiB/s · 1 min 21 s left"
        );
        assert_eq!(duration(7_500.0), "2 h 05 min");
        assert_eq!(duration(0.2), "1 s");
    }

    #[test]
    fn short_sizes_keep_one_decimal_where_it_says_something() {
        assert_eq!(bytes_short(100), "100 B");
        assert_eq!(bytes_short(4 << 30), "4.0 GiB");
        assert_eq!(bytes_short(10 << 30), "10 GiB");
        assert_eq!(bytes_short((25 << 20) / 2), "12.5 MiB");
        assert_eq!(bytes_short(300 << 30), "300 GiB");
    }

    #[test]
    fn bytes_are_written_with_binary_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.50 KiB");
        assert_eq!(bytes(20 << 20), "20.0 MiB");
        assert_eq!(bytes(300 << 30), "300 GiB");
    }

    #[test]
    fn media_lengths_read_like_a_player() {
        assert_eq!(clock(7_400), "0:07");
        assert_eq!(clock(185_000), "3:05");
        assert_eq!(clock(3_729_000), "1:02:09");
    }

    #[test]
    fn times_are_written_in_utc() {
        assert_eq!(utc_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_time(1_795_442_700_000), "2026-11-23 14:05 UTC");
        assert_eq!(utc_time(951_825_600_000), "2000-02-29 12:00 UTC");
    }
}

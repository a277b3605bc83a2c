//! ISO base media (MP4, MOV, M4A) boxes read from bytes already in memory: a box header, and
//! the few facts the library shows (duration, width × height, codecs) from a `moov` box.
//!
//! Deliberately not a general parser: sample tables, fragments and metadata are never
//! decoded, so nothing here allocates in proportion to what a box claims — only a list of at
//! most [`MAX_TRACKS`] small records. Every length is checked against the bytes held, so a
//! crafted box can make this fail, never panic or read past its parent.

/// Tracks looked at; a real file has a handful, a crafted one could list millions.
pub const MAX_TRACKS: usize = 32;

/// A box header: its kind, the header's own length and the box's whole length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: [u8; 4],
    pub header_len: u64,
    pub len: u64,
}

/// Why a box cannot be used, for the person whose file it is.
pub type Bad = String;

/// The header at the start of `bytes`, in a space of `room` bytes (the rest of the file or of
/// the parent box: a length of 0 means "to the end" of it). `Ok(None)`: `bytes` is too short
/// to hold the whole header (the caller fetches more, or the file ends inside it).
pub fn header(bytes: &[u8], room: u64) -> Result<Option<Header>, Bad> {
    let Some(first) = bytes.get(..8) else {
        return Ok(None);
    };
    let kind = [first[4], first[5], first[6], first[7]];
    let (header_len, len) = match u32::from_be_bytes([first[0], first[1], first[2], first[3]]) {
        0 => (8, room),
        1 => {
            let Some(large) = bytes.get(8..16) else {
                return Ok(None);
            };
            let mut b = [0u8; 8];
            b.copy_from_slice(large);
            (16, u64::from_be_bytes(b))
        }
        n => (8, u64::from(n)),
    };
    let name = printable(kind);
    if len < header_len {
        return Err(format!("a {name} box is shorter than its own header"));
    }
    if len > room {
        return Err(format!(
            "a {name} box claims {len} bytes where {room} remain"
        ));
    }
    Ok(Some(Header {
        kind,
        header_len,
        len,
    }))
}

/// The boxes directly inside `body`, each as (kind, its body).
fn children(body: &[u8]) -> Children<'_> {
    Children { rest: body }
}

struct Children<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Children<'a> {
    type Item = Result<([u8; 4], &'a [u8]), Bad>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let found = match header(self.rest, self.rest.len() as u64) {
            Ok(Some(h)) => h,
            Ok(None) => {
                self.rest = &[];
                return Some(Err("a box ends inside its header".into()));
            }
            Err(bad) => {
                self.rest = &[];
                return Some(Err(bad));
            }
        };
        // Both lengths were checked against `rest.len()` above, so they fit in usize.
        let start = usize::try_from(found.header_len).unwrap_or(usize::MAX);
        let end = usize::try_from(found.len).unwrap_or(usize::MAX);
        let (Some(body), Some(after)) = (self.rest.get(start..end), self.rest.get(end..)) else {
            self.rest = &[];
            return Some(Err("a box claims more than its parent holds".into()));
        };
        self.rest = after;
        Some(Ok((found.kind, body)))
    }
}

/// The first child of `kind` in `body`.
fn child<'a>(body: &'a [u8], kind: &[u8; 4]) -> Result<Option<&'a [u8]>, Bad> {
    for found in children(body) {
        let (k, b) = found?;
        if &k == kind {
            return Ok(Some(b));
        }
    }
    Ok(None)
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_be_bytes(a))
}

/// A four-character code as text, if it is one (`avc1`, `mp4a`, `hvc1`…).
fn printable(code: [u8; 4]) -> String {
    if code.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        String::from_utf8_lossy(&code).trim_end().to_string()
    } else {
        format!("0x{:08x}", u32::from_be_bytes(code))
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub duration_ms: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// The sample entry of each track (`avc1`, `mp4a`…), in track-id order.
    pub codecs: Vec<String>,
}

struct Track {
    id: u32,
    handler: Option<[u8; 4]>,
    size: Option<(u32, u32)>,
    codec: Option<String>,
}

/// What the library shows, from the body of a `moov` box.
pub fn facts(moov: &[u8]) -> Result<Facts, Bad> {
    let mut duration_ms = None;
    let mut seen_mvhd = false;
    let mut tracks = Vec::new();
    for found in children(moov) {
        let (kind, body) = found?;
        match &kind {
            b"mvhd" if !seen_mvhd => {
                seen_mvhd = true;
                duration_ms = movie_duration(body)?;
            }
            b"trak" if tracks.len() < MAX_TRACKS => tracks.push(track(body)?),
            _ => {}
        }
    }
    if !seen_mvhd {
        return Err("its moov box has no mvhd box".into());
    }
    tracks.sort_by_key(|t| t.id);
    let video = tracks
        .iter()
        .find(|t| t.handler == Some(*b"vide"))
        .and_then(|t| t.size);
    Ok(Facts {
        duration_ms,
        width: video.map(|(w, _)| w),
        height: video.map(|(_, h)| h),
        codecs: tracks.into_iter().filter_map(|t| t.codec).collect(),
    })
}

/// `None` when the movie does not say: a timescale of 0 (which would divide by zero) or the
/// all-ones duration that means "unknown".
fn movie_duration(mvhd: &[u8]) -> Result<Option<u64>, Bad> {
    let short = || "its mvhd box is cut short".to_string();
    let (timescale, duration) = match mvhd.first() {
        Some(1) => (u32_at(mvhd, 20), u64_at(mvhd, 24)),
        Some(_) => (u32_at(mvhd, 12), u32_at(mvhd, 16).map(u64::from)),
        None => return Err(short()),
    };
    let (timescale, duration) = (timescale.ok_or_else(short)?, duration.ok_or_else(short)?);
    let unknown = duration == u64::MAX || (mvhd[0] != 1 && duration == u64::from(u32::MAX));
    if timescale == 0 || unknown {
        return Ok(None);
    }
    let ms = u128::from(duration) * 1000 / u128::from(timescale);
    Ok(u64::try_from(ms).ok())
}

fn track(trak: &[u8]) -> Result<Track, Bad> {
    let mut found = Track {
        id: u32::MAX,
        handler: None,
        size: None,
        codec: None,
    };
    if let Some(tkhd) = child(trak, b"tkhd")? {
        // Version 1 has 64-bit times: every later field moves 12 bytes on.
        let shift = if tkhd.first() == Some(&1) { 12 } else { 0 };
        found.id = u32_at(tkhd, 12 + shift).unwrap_or(u32::MAX);
        // Width and height are 16.16 fixed point; the library shows whole pixels.
        // A matrix whose first entry is 0 (and second not) turns the picture a quarter, as a
        // phone held upright records: the library shows it as people see it.
        let turned =
            u32_at(tkhd, 40 + shift) == Some(0) && u32_at(tkhd, 44 + shift).is_some_and(|b| b != 0);
        found.size = u32_at(tkhd, 76 + shift)
            .zip(u32_at(tkhd, 80 + shift))
            .map(|(w, h)| (w >> 16, h >> 16))
            .map(|(w, h)| if turned { (h, w) } else { (w, h) });
    }
    let Some(mdia) = child(trak, b"mdia")? else {
        return Ok(found);
    };
    if let Some(hdlr) = child(mdia, b"hdlr")? {
        found.handler = u32_at(hdlr, 8).map(u32::to_be_bytes);
    }
    let stsd = match child(mdia, b"minf")? {
        Some(minf) => match child(minf, b"stbl")? {
            Some(stbl) => child(stbl, b"stsd")?,
            None => None,
        },
        None => None,
    };
    // A full box (version, flags, entry count), then the sample entries: the first names the
    // codec.
    if let Some(entries) = stsd.and_then(|s| s.get(8..)) {
        if let Ok(Some(entry)) = header(entries, entries.len() as u64) {
            found.codec = Some(printable(entry.kind));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = (8 + body.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn mvhd(timescale: u32, duration: u32) -> Vec<u8> {
        let mut body = vec![0u8; 100];
        body[12..16].copy_from_slice(&timescale.to_be_bytes());
        body[16..20].copy_from_slice(&duration.to_be_bytes());
        boxed(b"mvhd", &body)
    }

    fn trak(id: u32, handler: &[u8; 4], width: u32, height: u32, codec: &[u8; 4]) -> Vec<u8> {
        let mut tkhd = vec![0u8; 84];
        tkhd[12..16].copy_from_slice(&id.to_be_bytes());
        tkhd[76..80].copy_from_slice(&(width << 16).to_be_bytes());
        tkhd[80..84].copy_from_slice(&(height << 16).to_be_bytes());
        let mut hdlr = vec![0u8; 24];
        hdlr[8..12].copy_from_slice(handler);
        let mut stsd = vec![0, 0, 0, 0, 0, 0, 0, 1];
        stsd.extend(boxed(codec, &[0u8; 30]));
        let stbl = boxed(b"stbl", &boxed(b"stsd", &stsd));
        let minf = boxed(b"minf", &stbl);
        let mdia = boxed(b"mdia", &[boxed(b"hdlr", &hdlr), minf].concat());
        boxed(b"trak", &[boxed(b"tkhd", &tkhd), mdia].concat())
    }

    #[test]
    fn a_movie_gives_its_duration_picture_size_and_codecs() {
        let moov = [
            mvhd(1000, 3_040),
            trak(2, b"soun", 0, 0, b"mp4a"),
            trak(1, b"vide", 320, 240, b"avc1"),
        ]
        .concat();
        assert_eq!(
            facts(&moov),
            Ok(Facts {
                duration_ms: Some(3_040),
                width: Some(320),
                height: Some(240),
                codecs: vec!["avc1".into(), "mp4a".into()],
            })
        );
    }

    #[test]
    fn a_picture_its_matrix_turns_a_quarter_is_shown_turned() {
        // ffmpeg's matrix for a phone held upright: a = 0, b = 1.0, c = -1.0, d = 0.
        let mut trak = trak(1, b"vide", 1280, 720, b"avc1");
        let tkhd = trak.windows(4).position(|w| w == b"tkhd").expect("tkhd") + 4;
        trak[tkhd + 44..tkhd + 48].copy_from_slice(&0x0001_0000u32.to_be_bytes());
        trak[tkhd + 48..tkhd + 52].copy_from_slice(&0xFFFF_0000u32.to_be_bytes());
        let facts = facts(&[mvhd(1000, 1000), trak].concat()).expect("facts");
        assert_eq!((facts.width, facts.height), (Some(720), Some(1280)));
    }

    #[test]
    fn a_timescale_of_zero_or_an_unknown_duration_gives_no_duration_and_no_panic() {
        for moov in [mvhd(0, 3_040), mvhd(0, 0), mvhd(1000, u32::MAX)] {
            assert_eq!(facts(&moov).map(|f| f.duration_ms), Ok(None));
        }
        // Version 1: 64-bit times, the largest duration over a timescale of 1.
        let mut v1 = vec![0u8; 112];
        v1[0] = 1;
        v1[20..24].copy_from_slice(&1u32.to_be_bytes());
        v1[24..32].copy_from_slice(&(u64::MAX - 1).to_be_bytes());
        assert_eq!(facts(&boxed(b"mvhd", &v1)).map(|f| f.duration_ms), Ok(None));
        v1[20..24].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(facts(&boxed(b"mvhd", &v1)).map(|f| f.duration_ms), Ok(None));
    }

    #[test]
    fn crafted_lengths_fail_with_a_reason_and_never_read_past_the_box() {
        // A child that claims more than its parent, one shorter than its header, a
        // 64-bit length cut short, an mvhd cut short, no mvhd at all.
        let mut claims_more = mvhd(1000, 1);
        claims_more[..4].copy_from_slice(&4096u32.to_be_bytes());
        let mut too_short = mvhd(1000, 1);
        too_short[..4].copy_from_slice(&3u32.to_be_bytes());
        let mut large = 1u32.to_be_bytes().to_vec();
        large.extend_from_slice(b"trak");
        large.extend_from_slice(&u64::MAX.to_be_bytes());
        for moov in [
            claims_more,
            too_short,
            large,
            boxed(b"mvhd", &[0u8; 10]),
            trak(1, b"vide", 1, 1, b"avc1"),
            Vec::new(),
        ] {
            assert!(facts(&moov).is_err(), "{moov:?}");
        }
        // A track past the cap is not looked at; the movie still is.
        let mut many = mvhd(1000, 1);
        for id in 0..(MAX_TRACKS as u32 + 10) {
            many.extend(trak(id + 1, b"soun", 0, 0, b"mp4a"));
        }
        assert_eq!(facts(&many).map(|f| f.codecs.len()), Ok(MAX_TRACKS));
    }

    #[test]
    fn a_header_says_when_it_needs_more_bytes() {
        assert_eq!(header(b"\0\0\0", 100), Ok(None));
        assert_eq!(header(b"\0\0\0\x01moov\0\0", 100), Ok(None));
        let h = header(b"\0\0\0\0mdat", 1000).expect("a header");
        assert_eq!(h.map(|h| (h.header_len, h.len)), Some((8, 1000)));
        assert!(header(b"\0\0\x10\0moov", 100).is_err());
    }
}

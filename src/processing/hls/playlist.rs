//! The playlists of a ladder. ffmpeg writes each rendition's media playlist (segments as byte
//! ranges of one fMP4 file, `EXT-X-BYTERANGE`); it is kept as written and served with the
//! file's name replaced by the stable address of the rendition (a link that redirects to a
//! fresh presigned GET on every request, so no URL a player holds can expire under it). The
//! master playlist is made from the rows.

/// The name ffmpeg is told to give each rendition's file: the word the served playlist replaces.
pub const FILE_NAME: &str = "rendition.mp4";
/// The playlist ffmpeg writes beside it.
pub const PLAYLIST_NAME: &str = "rendition.m3u8";

/// One segment: its duration and its byte range in the rendition's file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    pub seconds: f64,
    pub length: u64,
}

/// The segments of a media playlist, in order (the init section, `EXT-X-MAP`, is not one).
pub fn segments(playlist: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut seconds = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(value) = line.strip_prefix("#EXTINF:") {
            seconds = value
                .split(',')
                .next()
                .and_then(|s| s.trim().parse::<f64>().ok());
        } else if let Some(range) = line.strip_prefix("#EXT-X-BYTERANGE:") {
            let length = range.split('@').next().and_then(|n| n.trim().parse().ok());
            if let (Some(seconds), Some(length)) = (seconds.take(), length) {
                out.push(Segment { seconds, length });
            }
        }
    }
    out
}

/// Where each segment after the first starts, in seconds: the keyframes every other rung is
/// cut at, so that a player switches rungs at any segment's edge.
pub fn boundaries(playlist: &str) -> Vec<f64> {
    let mut at = 0.0;
    let mut out = Vec::new();
    for segment in segments(playlist) {
        if at > 0.0 {
            out.push(at);
        }
        at += segment.seconds;
    }
    out
}

/// The longest segment, in seconds (0 for none).
pub fn longest(playlist: &str) -> f64 {
    segments(playlist)
        .iter()
        .map(|s| s.seconds)
        .fold(0.0, f64::max)
}

/// The peak bit rate over the segments (bits per second), as `BANDWIDTH` wants it.
pub fn peak_bandwidth(playlist: &str) -> u64 {
    segments(playlist)
        .iter()
        .filter(|s| s.seconds > 0.0)
        .map(|s| (s.length as f64 * 8.0 / s.seconds).ceil() as u64)
        .max()
        .unwrap_or(0)
}

/// The media playlist as served: the file's name replaced by `uri`.
pub fn served(playlist: &str, uri: &str) -> String {
    let mut out = String::with_capacity(playlist.len() + 64);
    for line in playlist.lines() {
        if line.trim() == FILE_NAME {
            out.push_str(uri);
        } else {
            out.push_str(&line.replace(&format!("URI=\"{FILE_NAME}\""), &format!("URI=\"{uri}\"")));
        }
        out.push('\n');
    }
    out
}

/// One rung as the master playlist lists it.
pub struct Variant<'a> {
    pub height: u32,
    pub width: u32,
    pub bandwidth: u64,
    pub codecs: &'a str,
    pub uri: String,
}

pub fn master(variants: &[Variant<'_>]) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in variants {
        out.push_str(&format!(
            "#EXT-X-STREAM-INF:BANDWIDTH={},RESOLUTION={}x{}",
            v.bandwidth.max(1),
            v.width,
            v.height
        ));
        if !v.codecs.is_empty() {
            out.push_str(&format!(",CODECS=\"{}\"", v.codecs));
        }
        out.push_str(&format!("\n{}\n", v.uri));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITTEN: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:8\n\
        #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n\
        #EXT-X-MAP:URI=\"rendition.mp4\",BYTERANGE=\"1373@0\"\n\
        #EXTINF:8.333333,\n#EXT-X-BYTERANGE:179869@1373\nrendition.mp4\n\
        #EXTINF:8.333333,\n#EXT-X-BYTERANGE:180278@181242\nrendition.mp4\n\
        #EXTINF:3.333333,\n#EXT-X-BYTERANGE:77288@361520\nrendition.mp4\n#EXT-X-ENDLIST\n";

    #[test]
    fn segments_boundaries_and_bandwidth_come_from_what_ffmpeg_wrote() {
        let segments = segments(WRITTEN);
        assert_eq!(segments.len(), 3);
        assert_eq!(segments[1].length, 180_278);
        let cuts = boundaries(WRITTEN);
        assert_eq!(cuts.len(), 2);
        assert!((cuts[1] - 16.666666).abs() < 1e-6);
        assert!((longest(WRITTEN) - 8.333333).abs() < 1e-6);
        assert_eq!(peak_bandwidth(WRITTEN), 185_492);
    }

    #[test]
    fn the_served_playlist_names_the_stable_address_and_nothing_else_changes() {
        let served = served(WRITTEN, "720.mp4?key=abc");
        assert!(served.contains("#EXT-X-MAP:URI=\"720.mp4?key=abc\",BYTERANGE=\"1373@0\""));
        assert_eq!(served.matches("\n720.mp4?key=abc\n").count(), 3);
        assert!(!served.contains(FILE_NAME));
        assert_eq!(segments(&served), segments(WRITTEN));
    }
}

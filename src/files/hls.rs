//! A video's ladder as players fetch it (`/files/{id}/hls/…`): the master playlist, each
//! rendition's media playlist, and each rendition's bytes. Playlists are small texts made
//! here from the rows; the bytes are a redirect to a fresh presigned GET on every request, so
//! the addresses a player holds never expire, however long it plays. Whoever may see the file
//! may fetch its ladder; anyone else gets "not found", as from every other door.

use super::{FileError, FileResult, Files, Scan, URL_TTL};
use crate::{db, processing::hls::playlist};

/// What a player asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HlsPart {
    /// `index.m3u8`: the rungs.
    Master,
    /// `{height}.m3u8`: one rung's segments.
    Playlist(u32),
    /// `{height}.mp4`: one rung's bytes (ranged).
    Rendition(u32),
}

impl HlsPart {
    /// The part a file name names; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        if name == "index.m3u8" {
            return Some(Self::Master);
        }
        let height = |stem: &str| {
            stem.parse::<u32>()
                .ok()
                .filter(|h| (2..=16_384).contains(h) && !stem.starts_with('0'))
        };
        if let Some(stem) = name.strip_suffix(".m3u8") {
            return height(stem).map(Self::Playlist);
        }
        name.strip_suffix(".mp4")
            .and_then(height)
            .map(Self::Rendition)
    }
}

/// The answer: a playlist's text, or where the bytes are.
#[derive(Debug, PartialEq, Eq)]
pub enum HlsAnswer {
    Playlist(String),
    Redirect(String),
}

impl Files {
    pub async fn hls(
        &self,
        owner: &str,
        id: &str,
        key: Option<&str>,
        part: HlsPart,
    ) -> FileResult<HlsAnswer> {
        let seen = self.visible(owner, id, key).await?;
        if let Some(file) = seen.file.as_ref().filter(|f| f.scan == Scan::Infected) {
            return Err(FileError::Infected {
                signature: file.scan_detail.clone().unwrap_or_default(),
            });
        }
        let rows = db::renditions::of_upload(&self.db, id).await?;
        let published = rows.iter().filter(|r| r.playlist.is_some());
        // A link's viewer needs its key on every address the playlists name: the stored key,
        // never the caller's text (which `visible` checked only for a link file's visitors).
        let shared_by_link = !seen.mine
            && seen
                .file
                .as_ref()
                .is_some_and(|f| f.visibility == crate::model::Visibility::Link);
        let suffix = match seen.file.as_ref().filter(|_| shared_by_link) {
            Some(file) => format!("?key={}", file.share_key),
            None => String::new(),
        };
        let height_of = |r: &db::renditions::RenditionRow| u32::try_from(r.height).unwrap_or(0);
        match part {
            HlsPart::Master => {
                let variants: Vec<playlist::Variant<'_>> = published
                    .map(|r| playlist::Variant {
                        height: u32::try_from(r.picture_height()).unwrap_or(0),
                        width: u32::try_from(r.width).unwrap_or(0),
                        bandwidth: u64::try_from(r.bandwidth).unwrap_or(0),
                        codecs: &r.codecs,
                        uri: format!("{}.m3u8{suffix}", r.height),
                    })
                    .collect();
                if variants.is_empty() {
                    return Err(FileError::NoLadder);
                }
                Ok(HlsAnswer::Playlist(playlist::master(&variants)))
            }
            HlsPart::Playlist(height) => {
                let row = published
                    .into_iter()
                    .find(|r| height_of(r) == height)
                    .ok_or(FileError::NoLadder)?;
                let written = row.playlist.as_deref().unwrap_or_default();
                let uri = format!("{height}.mp4{suffix}");
                Ok(HlsAnswer::Playlist(playlist::served(written, &uri)))
            }
            HlsPart::Rendition(height) => {
                let row = published
                    .into_iter()
                    .find(|r| height_of(r) == height)
                    .ok_or(FileError::NoLadder)?;
                let name = format!("{}.{height}p.mp4", seen.upload.name);
                let url = self
                    .store
                    .presign_view(&row.object_key, &name, "video/mp4", URL_TTL)
                    .await?;
                Ok(HlsAnswer::Redirect(url))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_ladder_s_own_names_are_parts() {
        assert_eq!(HlsPart::parse("index.m3u8"), Some(HlsPart::Master));
        assert_eq!(HlsPart::parse("720.m3u8"), Some(HlsPart::Playlist(720)));
        assert_eq!(HlsPart::parse("360.mp4"), Some(HlsPart::Rendition(360)));
        for bad in [
            "",
            "x.m3u8",
            "0720.mp4",
            "-1.mp4",
            "720.ts",
            "../720.mp4",
            "1.mp4",
            "99999.mp4",
        ] {
            assert_eq!(HlsPart::parse(bad), None, "{bad}");
        }
    }
}

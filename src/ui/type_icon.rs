//! A small badge for a file without a picture: its kind by colour, its extension in letters,
//! so that a PDF, a zip and a spreadsheet are told apart at a glance.

use leptos::prelude::*;

/// The kind of a file, as its badge is coloured (`data-kind` in the style).
pub fn kind(content_type: &str) -> &'static str {
    let (top, sub) = content_type.split_once('/').unwrap_or((content_type, ""));
    match top {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        "text" => "text",
        _ if sub.contains("zip") || sub.contains("tar") || sub.contains("compressed") => "archive",
        _ if sub == "pdf" || sub.contains("document") || sub.contains("sheet") => "document",
        _ => "other",
    }
}

/// The letters on the badge: the name's extension (at most four letters), else the kind.
fn letters(name: &str, kind: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| {
            (1..=4).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .map_or_else(|| short(kind).to_owned(), str::to_uppercase)
}

fn short(kind: &str) -> &'static str {
    match kind {
        "image" => "IMG",
        "video" => "VID",
        "audio" => "AUD",
        "text" => "TXT",
        "archive" => "ZIP",
        "document" => "DOC",
        _ => "FILE",
    }
}

/// Decorative: the name and type are written beside it.
#[component]
pub fn TypeIcon(name: String, content_type: String) -> impl IntoView {
    let kind = kind(&content_type);
    view! { <span class="type-icon" data-kind=kind aria-hidden="true">{letters(&name, kind)}</span> }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn badges_say_the_extension_or_the_kind() {
        assert_eq!(letters("report.pdf", "document"), "PDF");
        assert_eq!(letters("archive.tar.gz", "archive"), "GZ");
        assert_eq!(letters("README", "text"), "TXT");
        assert_eq!(letters("clip.quicktime", "video"), "VID");
        assert_eq!(kind("application/zip"), "archive");
        assert_eq!(kind("video/mp4"), "video");
        assert_eq!(kind("nonsense"), "other");
    }
}

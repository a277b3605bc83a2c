//! Recognising a file picked again after a reload. The browser remembers, for each unfinished
//! upload, the server's id and the file's fingerprint (name, size, last modified, type); the
//! bytes themselves cannot be kept, so the person offers the file again and the fingerprint
//! says whether it is the same one. The server's ListParts then says what is still missing.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub name: String,
    pub size: u64,
    /// Milliseconds since the epoch, as `File.lastModified` gives it.
    pub last_modified: i64,
    pub content_type: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unfinished {
    pub upload_id: String,
    pub file: Fingerprint,
}

impl Fingerprint {
    /// Why `offered` is not this file, in words for people; `None` when it is.
    pub fn mismatch(&self, offered: &Fingerprint) -> Option<String> {
        let name = &self.name;
        if offered.name != self.name {
            Some(format!("this file is {}, not {name}", offered.name))
        } else if offered.size != self.size {
            Some(format!(
                "it is {} bytes long, but {name} was {} bytes",
                offered.size, self.size
            ))
        } else if offered.last_modified != self.last_modified {
            Some(format!("{name} has been modified since the upload started"))
        } else if offered.content_type != self.content_type {
            Some(format!(
                "its type is {:?}, but {name} was {:?}",
                offered.content_type, self.content_type
            ))
        } else {
            None
        }
    }
}

/// Every unfinished upload this browser remembers, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub entries: Vec<Unfinished>,
}

impl Ledger {
    /// Reads what was saved; anything unreadable (an older format, a hand edit) counts as empty
    /// rather than breaking the page.
    pub fn from_json(text: Option<&str>) -> Self {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The unfinished upload `file` belongs to, if any: same fingerprint in every field.
    /// Uploads in `busy` (already running on this page) are not offered twice.
    pub fn matching(&self, file: &Fingerprint, busy: &[String]) -> Option<&Unfinished> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.file == *file && !busy.contains(&e.upload_id))
    }

    pub fn remember(&mut self, entry: Unfinished) {
        self.forget(&entry.upload_id);
        self.entries.push(entry);
    }

    pub fn forget(&mut self, upload_id: &str) {
        self.entries.retain(|e| e.upload_id != upload_id);
    }

    /// Keeps only the uploads the server still calls unfinished.
    pub fn retain_open(&mut self, open: &[String]) {
        self.entries.retain(|e| open.contains(&e.upload_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video() -> Fingerprint {
        Fingerprint {
            name: "holiday.mp4".into(),
            size: 20 << 30,
            last_modified: 1_763_900_000_000,
            content_type: "video/mp4".into(),
        }
    }

    fn ledger() -> Ledger {
        let mut ledger = Ledger::default();
        ledger.remember(Unfinished {
            upload_id: "u1".into(),
            file: video(),
        });
        ledger
    }

    #[test]
    fn the_same_file_picked_again_finds_its_upload() {
        let ledger = ledger();
        assert_eq!(
            ledger.matching(&video(), &[]).map(|e| e.upload_id.as_str()),
            Some("u1")
        );
        assert_eq!(
            ledger.matching(&video(), &["u1".into()]),
            None,
            "already running here"
        );
    }

    #[test]
    fn a_different_file_matches_nothing_and_the_reason_is_named() {
        let ledger = ledger();
        let changed = Fingerprint {
            last_modified: video().last_modified + 1,
            ..video()
        };
        assert_eq!(ledger.matching(&changed, &[]), None);
        assert_eq!(
            video().mismatch(&changed).unwrap(),
            "holiday.mp4 has been modified since the upload started"
        );
        let shorter = Fingerprint {
            size: 10,
            ..video()
        };
        assert!(video()
            .mismatch(&shorter)
            .unwrap()
            .contains("10 bytes long"));
        let renamed = Fingerprint {
            name: "other.mp4".into(),
            ..video()
        };
        assert!(video().mismatch(&renamed).unwrap().contains("other.mp4"));
        assert_eq!(video().mismatch(&video()), None);
    }

    #[test]
    fn the_ledger_survives_a_round_trip_and_garbage_reads_as_empty() {
        let ledger = ledger();
        assert_eq!(Ledger::from_json(Some(&ledger.to_json())), ledger);
        assert_eq!(Ledger::from_json(Some("{not json")), Ledger::default());
        assert_eq!(Ledger::from_json(None), Ledger::default());
    }

    #[test]
    fn finished_uploads_are_forgotten() {
        let mut ledger = ledger();
        ledger.remember(Unfinished {
            upload_id: "u2".into(),
            file: video(),
        });
        ledger.retain_open(&["u2".into()]);
        assert_eq!(ledger.entries.len(), 1);
        ledger.forget("u2");
        assert!(ledger.entries.is_empty());
    }
}

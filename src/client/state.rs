//! The client's memory between runs: which upload each unfinished file went into, so that the
//! same command run again continues it. Only a map from files to upload ids: what the store
//! holds is asked of the server (its ListParts), never remembered here.
//!
//! Kept as JSON in the user's cache folder (`$XDG_CACHE_HOME/hoist/uploads.json`), rewritten
//! whole through a temporary file and a rename, so a run killed mid-write leaves the old file.

use super::{local::LocalFile, ClientError};
use serde::{Deserialize, Serialize};
use std::{path::PathBuf, sync::Mutex};

/// An unfinished upload of a local file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub server: String,
    pub path: PathBuf,
    pub size: u64,
    pub modified_ns: i128,
    pub upload_id: String,
    /// The whole file's SHA-256, when it was read before the upload started.
    pub sha256: Option<String>,
}

impl Entry {
    fn is_for(&self, server: &str, file: &LocalFile) -> bool {
        self.server == server
            && self.path == file.path
            && self.size == file.size
            && self.modified_ns == file.modified_ns
    }
}

#[derive(Default, Serialize, Deserialize)]
struct Saved {
    uploads: Vec<Entry>,
}

pub struct StateFile {
    path: PathBuf,
    entries: Mutex<Vec<Entry>>,
}

impl StateFile {
    /// The file in the user's cache folder. A file that cannot be read as ours is started
    /// afresh (what it named will expire on the server by itself).
    pub fn open() -> Result<Self, ClientError> {
        let dir = dirs::cache_dir()
            .ok_or_else(|| {
                ClientError::Usage("no cache folder: set HOME or XDG_CACHE_HOME".into())
            })?
            .join("hoist");
        let path = dir.join("uploads.json");
        let saved: Saved = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Ok(Self {
            path,
            entries: Mutex::new(saved.uploads),
        })
    }

    pub fn find(&self, server: &str, file: &LocalFile) -> Option<Entry> {
        self.lock().iter().find(|e| e.is_for(server, file)).cloned()
    }

    pub fn remember(&self, entry: Entry) -> Result<(), ClientError> {
        let mut entries = self.lock();
        entries.retain(|e| !(e.server == entry.server && e.path == entry.path));
        entries.push(entry);
        self.save(&entries)
    }

    pub fn forget(&self, server: &str, file: &LocalFile) -> Result<(), ClientError> {
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|e| !(e.server == server && e.path == file.path));
        if entries.len() == before {
            return Ok(());
        }
        self.save(&entries)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        // A panic elsewhere leaves the list whole: every change is one push or retain.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save(&self, entries: &[Entry]) -> Result<(), ClientError> {
        let fail = |e: std::io::Error| ClientError::local(&self.path, e);
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let saved = Saved {
            uploads: entries.to_vec(),
        };
        let text =
            serde_json::to_vec_pretty(&saved).map_err(|e| ClientError::local(&self.path, e))?;
        let temporary = self
            .path
            .with_extension(format!("json.{}", std::process::id()));
        std::fs::write(&temporary, text).map_err(fail)?;
        std::fs::rename(&temporary, &self.path).map_err(fail)
    }
}

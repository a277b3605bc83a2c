//! The client's memory between runs: which upload each unfinished file went into, so that the
//! same command run again continues it. Only a map from files to upload ids: what the store
//! holds is asked of the server (its ListParts), never remembered here.
//!
//! Kept as JSON in the user's cache folder (`$XDG_CACHE_HOME/hoist/uploads.json`), readable by
//! its owner alone (it names their files and uploads), rewritten whole through a temporary file
//! of its own and a rename, so a run killed mid-write leaves the old file. Several runs may
//! share it: each change is made under a lock on `uploads.json.lock` to what the file holds
//! at that moment, so no run loses another's entries.

use super::{local::LocalFile, ClientError};
use serde::{Deserialize, Serialize};
use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

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
    /// What the file held after this run's last change; our own threads change it one at a
    /// time.
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
        Ok(Self::at(dir.join("uploads.json")))
    }

    pub fn at(path: PathBuf) -> Self {
        let entries = read(&path);
        Self {
            path,
            entries: Mutex::new(entries),
        }
    }

    pub fn find(&self, server: &str, file: &LocalFile) -> Option<Entry> {
        self.lock().iter().find(|e| e.is_for(server, file)).cloned()
    }

    pub fn remember(&self, entry: Entry) -> Result<(), ClientError> {
        self.change(|entries| {
            entries.retain(|e| !(e.server == entry.server && e.path == entry.path));
            entries.push(entry);
            true
        })
    }

    pub fn forget(&self, server: &str, file: &LocalFile) -> Result<(), ClientError> {
        self.change(|entries| {
            let before = entries.len();
            entries.retain(|e| !(e.server == server && e.path == file.path));
            entries.len() != before
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        // A panic elsewhere leaves the list whole: every change replaces it at once.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `edit` (true if it changed anything) to what the file holds now, not to what
    /// this run read earlier, and writes the result, all under the file lock other runs take
    /// too. The lock is held for one read and one small write; waiting for it blocks this
    /// thread, which is brief enough for a runtime worker.
    fn change(&self, edit: impl FnOnce(&mut Vec<Entry>) -> bool) -> Result<(), ClientError> {
        let fail = |e: std::io::Error| ClientError::local(&self.path, e);
        let mut entries = self.lock();
        let dir = self.folder();
        private_folder(dir).map_err(fail)?;
        let lock_path = self.path.with_extension("json.lock");
        let lock =
            private_file(&lock_path, false).map_err(|e| ClientError::local(&lock_path, e))?;
        lock.lock().map_err(|e| ClientError::local(&lock_path, e))?;
        let mut current = read(&self.path);
        if edit(&mut current) {
            self.write(&current)?;
        }
        *entries = current;
        // Closing the lock file releases the lock.
        drop(lock);
        Ok(())
    }

    fn folder(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    fn write(&self, entries: &[Entry]) -> Result<(), ClientError> {
        let fail = |e: std::io::Error| ClientError::local(&self.path, e);
        let saved = Saved {
            uploads: entries.to_vec(),
        };
        let text =
            serde_json::to_vec_pretty(&saved).map_err(|e| ClientError::local(&self.path, e))?;
        let temporary = self
            .folder()
            .join(format!(".uploads.{}.tmp", uuid::Uuid::new_v4().simple()));
        let written = private_file(&temporary, true).and_then(|mut file| {
            file.write_all(&text)?;
            file.sync_all()
        });
        let renamed = written.and_then(|()| std::fs::rename(&temporary, &self.path));
        if renamed.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        renamed.map_err(fail)
    }
}

/// The entries the file holds; none if it is missing or not ours.
fn read(path: &Path) -> Vec<Entry> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Saved>(&bytes).ok())
        .map(|saved| saved.uploads)
        .unwrap_or_default()
}

/// A file only its owner may read or write; `new` refuses one that exists.
fn private_file(path: &Path, new: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true);
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(false);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn private_folder(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(run: usize, n: usize) -> Entry {
        Entry {
            server: "http://127.0.0.1:3000/".into(),
            path: PathBuf::from(format!("/data/run-{run}/file-{n}.bin")),
            size: 1,
            modified_ns: 0,
            upload_id: format!("{run}-{n}"),
            sha256: None,
        }
    }

    /// What the file holds, read as another program would.
    fn saved(path: &Path) -> Vec<Entry> {
        let bytes = std::fs::read(path).expect("the state file");
        serde_json::from_slice::<Saved>(&bytes)
            .expect("JSON")
            .uploads
    }

    #[test]
    fn two_runs_at_once_keep_each_others_entries() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("hoist/uploads.json");
        // Both runs read the (missing) file before either writes, as two commands started
        // together do.
        let runs = [StateFile::at(path.clone()), StateFile::at(path.clone())];
        std::thread::scope(|scope| {
            for (run, state) in runs.iter().enumerate() {
                scope.spawn(move || {
                    for n in 0..40 {
                        state.remember(entry(run, n)).expect("remembered");
                    }
                });
            }
        });
        let kept = saved(&path);
        for run in 0..2 {
            for n in 0..40 {
                assert!(kept.contains(&entry(run, n)), "run {run} lost entry {n}");
            }
        }
        assert_eq!(kept.len(), 80);
    }

    #[cfg(unix)]
    #[test]
    fn the_state_file_is_its_owners_alone_and_leaves_no_temporary_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("hoist/uploads.json");
        let state = StateFile::at(path.clone());
        state.remember(entry(0, 0)).expect("remembered");
        state.remember(entry(0, 1)).expect("remembered");
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600, "the state file");
        assert_eq!(mode(path.parent().expect("dir")), 0o700, "its folder");
        let mut names: Vec<String> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["uploads.json", "uploads.json.lock"]);
    }
}

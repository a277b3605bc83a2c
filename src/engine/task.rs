//! One file being uploaded, as the page shows it. The engine writes these signals; the
//! components only read them.

use super::progress::Progress;
use crate::format;
use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Uploading,
    Verifying,
    Uploaded,
    Failed,
}

impl Phase {
    /// The word shown next to the file.
    pub fn word(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Uploading => "uploading",
            Self::Verifying => "verifying",
            Self::Uploaded => "uploaded",
            Self::Failed => "failed",
        }
    }
}

#[derive(Clone, Copy)]
pub struct UploadTask {
    /// Local, for the list's keys; the server's id is not known until the upload starts.
    pub key: u64,
    /// The name as picked; the library shows the name as stored (sanitised).
    pub name: StoredValue<String>,
    pub size: u64,
    pub sent: RwSignal<u64>,
    pub percent: RwSignal<u8>,
    pub phase: RwSignal<Phase>,
    pub error: RwSignal<Option<String>>,
}

impl UploadTask {
    pub fn new(key: u64, name: String, size: u64) -> Self {
        Self {
            key,
            name: StoredValue::new(name),
            size,
            sent: RwSignal::new(0),
            percent: RwSignal::new(0),
            phase: RwSignal::new(Phase::Starting),
            error: RwSignal::new(None),
        }
    }

    /// Shows what `progress` says has been sent.
    pub fn show(&self, progress: &Progress) {
        self.sent.set(progress.sent());
        self.percent.set(progress.percent());
    }

    pub fn succeeded(&self) {
        self.sent.set(self.size);
        self.percent.set(100);
        self.phase.set(Phase::Uploaded);
    }

    pub fn failed(&self, message: String) {
        self.error.set(Some(message));
        self.phase.set(Phase::Failed);
    }

    pub fn bytes_text(&self) -> String {
        format!(
            "{} / {}",
            format::bytes(self.sent.get()),
            format::bytes(self.size)
        )
    }
}

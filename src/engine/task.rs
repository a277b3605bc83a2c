//! One file on the page, as people see it. The engine writes these signals; the components
//! only read them.

use super::progress::Progress;
use crate::format;
use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for a place in the pool.
    Queued,
    Starting,
    Uploading,
    Paused,
    Verifying,
    Uploaded,
    Failed,
    /// Cancelled by the person; the store keeps nothing of it.
    Aborted,
}

impl Phase {
    /// The word shown next to the file.
    pub fn word(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Starting => "starting",
            Self::Uploading => "uploading",
            Self::Paused => "paused",
            Self::Verifying => "verifying",
            Self::Uploaded => "uploaded",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
        }
    }

    /// Still on its way: it can be paused or cancelled.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Queued | Self::Starting | Self::Uploading)
    }

    /// Stopped half way: it can be resumed (or cancelled).
    pub fn can_resume(self) -> bool {
        matches!(self, Self::Paused | Self::Failed)
    }

    /// Nothing more will happen to it.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Uploaded | Self::Aborted)
    }
}

#[derive(Clone, Copy)]
pub struct UploadTask {
    /// The page's own number for the file; the server's id is not known until it starts.
    pub key: u64,
    /// The name as picked; the library shows the name as stored (sanitised).
    pub name: StoredValue<String>,
    pub size: u64,
    pub sent: RwSignal<u64>,
    pub percent: RwSignal<u8>,
    /// Bytes per second now; `None` until measured.
    pub speed: RwSignal<Option<f64>>,
    pub seconds_left: RwSignal<Option<f64>>,
    pub phase: RwSignal<Phase>,
    pub error: RwSignal<Option<String>>,
    /// A passing problem the engine is dealing with (a retry after a lost connection).
    pub note: RwSignal<Option<String>>,
}

impl UploadTask {
    pub fn new(key: u64, name: String, size: u64) -> Self {
        Self {
            key,
            name: StoredValue::new(name),
            size,
            sent: RwSignal::new(0),
            percent: RwSignal::new(0),
            speed: RwSignal::new(None),
            seconds_left: RwSignal::new(None),
            phase: RwSignal::new(Phase::Queued),
            error: RwSignal::new(None),
            note: RwSignal::new(None),
        }
    }

    /// Shows what `progress` says has been sent.
    pub fn show(&self, progress: &Progress) {
        self.sent.set(progress.sent());
        self.percent.set(progress.percent());
    }

    pub fn set_phase(&self, phase: Phase) {
        if phase != Phase::Failed {
            self.error.set(None);
        }
        self.note.set(None);
        if !matches!(phase, Phase::Uploading) {
            self.speed.set(None);
            self.seconds_left.set(None);
        }
        self.phase.set(phase);
    }

    pub fn succeeded(&self) {
        self.sent.set(self.size);
        self.percent.set(100);
        self.set_phase(Phase::Uploaded);
    }

    pub fn failed(&self, message: String) {
        self.set_phase(Phase::Failed);
        self.error.set(Some(message));
    }

    pub fn bytes_text(&self) -> String {
        format!(
            "{} / {}",
            format::bytes(self.sent.get()),
            format::bytes(self.size)
        )
    }

    pub fn rate_text(&self) -> String {
        format::rate(self.speed.get(), self.seconds_left.get())
    }
}

/// What people can ask of the engine from the page. The server-rendered page has no engine;
/// there the commands go nowhere (the buttons only work once the page is hydrated anyway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Pause(u64),
    Resume(u64),
    Cancel(u64),
    PauseAll,
    ResumeAll,
    CancelAll,
    /// Abort an unfinished upload left by an earlier page, by its server id.
    Discard(String),
}

/// Everything the page shows about uploads. Created by the uploader component on the server
/// and in the browser alike (so the hydrated page matches the rendered one); only the
/// browser's engine ever writes to it.
#[derive(Clone, Copy)]
pub struct EngineView {
    pub tasks: RwSignal<Vec<UploadTask>>,
    /// Uploads an earlier page left unfinished, waiting for their file to be picked again.
    pub unfinished: RwSignal<Vec<super::resume::Unfinished>>,
    /// (upload id, why the file offered for it was refused).
    pub unfinished_error: RwSignal<Option<(String, String)>>,
    pub online: RwSignal<bool>,
    pub total_speed: RwSignal<Option<f64>>,
    pub total_seconds_left: RwSignal<Option<f64>>,
    /// What the server answered about uploads this page settled (completed, aborted), for the
    /// library: it shows them even when the live feed cannot reach this page (its stream
    /// refused while the server is flooded).
    pub heard: RwSignal<Vec<crate::model::UploadView>>,
}

impl EngineView {
    pub fn new(heard: RwSignal<Vec<crate::model::UploadView>>) -> Self {
        Self {
            tasks: RwSignal::new(Vec::new()),
            unfinished: RwSignal::new(Vec::new()),
            unfinished_error: RwSignal::new(None),
            online: RwSignal::new(true),
            total_speed: RwSignal::new(None),
            total_seconds_left: RwSignal::new(None),
            heard,
        }
    }

    /// Bytes sent and bytes to send over every file not cancelled.
    pub fn totals(&self) -> (u64, u64) {
        self.tasks.with(|tasks| {
            tasks
                .iter()
                .filter(|t| t.phase.get() != Phase::Aborted)
                .fold((0, 0), |(sent, size), t| {
                    (sent + t.sent.get(), size + t.size)
                })
        })
    }

    /// 100 only when every file has been verified.
    pub fn total_percent(&self) -> u8 {
        let (sent, size) = self.totals();
        let all_done = self.tasks.with(|tasks| {
            tasks
                .iter()
                .all(|t| matches!(t.phase.get(), Phase::Uploaded | Phase::Aborted))
        });
        match size {
            0 => 0,
            _ if all_done => 100,
            _ => ((u128::from(sent) * 100 / u128::from(size)) as u8).min(99),
        }
    }
}

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
    /// The server refused the file (its type, its size, what its bytes turned out to be):
    /// sending it again cannot help, so nothing is offered but the reason.
    Refused,
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
            Self::Failed | Self::Refused => "failed",
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
        matches!(self, Self::Uploaded | Self::Aborted | Self::Refused)
    }

    /// Stopped with a reason to show.
    pub fn has_failed(self) -> bool {
        matches!(self, Self::Failed | Self::Refused)
    }
}

#[derive(Clone, Copy)]
pub struct UploadTask {
    /// The page's own number for the file; the server's id is not known until it starts.
    pub key: u64,
    /// The name as picked; the library shows the name as stored (sanitised).
    pub name: StoredValue<String>,
    /// The type the browser gives the file (may be empty): the row's picture or badge.
    pub content_type: StoredValue<String>,
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
    frame: Frame,
}

impl UploadTask {
    pub fn new(key: u64, name: String, size: u64, frame: Frame) -> Self {
        frame.moved(size, None, (Phase::Queued, 0));
        Self {
            frame,
            key,
            name: StoredValue::new(name),
            content_type: StoredValue::new(String::new()),
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
        self.show_sent(progress.sent());
        self.percent.set(progress.percent());
    }

    fn show_sent(&self, sent: u64) {
        let (phase, was) = (self.phase.get_untracked(), self.sent.get_untracked());
        if was != sent {
            self.sent.set(sent);
            self.frame
                .moved(self.size, Some((phase, was)), (phase, sent));
        }
    }

    pub fn set_phase(&self, phase: Phase) {
        if !phase.has_failed() {
            self.error.set(None);
        }
        self.note.set(None);
        if !matches!(phase, Phase::Uploading) {
            self.speed.set(None);
            self.seconds_left.set(None);
        }
        let (was, sent) = (self.phase.get_untracked(), self.sent.get_untracked());
        if was != phase {
            self.phase.set(phase);
            self.frame
                .moved(self.size, Some((was, sent)), (phase, sent));
        }
    }

    pub fn succeeded(&self) {
        self.show_sent(self.size);
        self.percent.set(100);
        self.set_phase(Phase::Uploaded);
    }

    pub fn failed(&self, message: String) {
        self.set_phase(Phase::Failed);
        self.error.set(Some(message));
    }

    pub fn refused(&self, message: String) {
        self.set_phase(Phase::Refused);
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

/// What the queue adds up to: one value the page reads instead of walking every file's
/// signals (with 10,000 files that walk, once per change, was most of the page's work).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    pub files: usize,
    /// Bytes sent and to send over every file neither cancelled nor refused.
    pub sent: u64,
    pub size: u64,
    pub queued: usize,
    /// Starting or sending.
    pub uploading: usize,
    pub paused: usize,
    pub verifying: usize,
    pub uploaded: usize,
    /// Failed for a reason that resuming may mend.
    pub failed: usize,
    pub refused: usize,
    pub aborted: usize,
}

impl Summary {
    /// Adds the tasks up from scratch (what the running sums must always equal).
    #[cfg(test)]
    fn of(tasks: &[UploadTask]) -> Self {
        let mut s = Self::default();
        for t in tasks {
            s.count(
                t.phase.get_untracked(),
                t.sent.get_untracked(),
                t.size,
                true,
            );
        }
        s
    }

    /// Adds (or takes away) one file in `phase` with `sent` of `size` bytes: the engine keeps
    /// the sums as files change instead of walking every file once per frame.
    fn count(&mut self, phase: Phase, sent: u64, size: u64, add: bool) {
        fn step<T: std::ops::Add<Output = T> + std::ops::Sub<Output = T> + Ord + Copy>(
            v: &mut T,
            by: T,
            add: bool,
        ) {
            *v = if add { *v + by } else { *v - by.min(*v) };
        }
        step(&mut self.files, 1, add);
        if !matches!(phase, Phase::Aborted | Phase::Refused) {
            step(&mut self.sent, sent, add);
            step(&mut self.size, size, add);
        }
        let bucket = match phase {
            Phase::Queued => &mut self.queued,
            Phase::Starting | Phase::Uploading => &mut self.uploading,
            Phase::Paused => &mut self.paused,
            Phase::Verifying => &mut self.verifying,
            Phase::Uploaded => &mut self.uploaded,
            Phase::Failed => &mut self.failed,
            Phase::Refused => &mut self.refused,
            Phase::Aborted => &mut self.aborted,
        };
        step(bucket, 1, add);
    }

    /// Waiting, starting or sending: can be paused or cancelled.
    pub fn active(&self) -> usize {
        self.queued + self.uploading
    }

    /// Paused or failed: can be resumed.
    pub fn resumable(&self) -> usize {
        self.paused + self.failed
    }

    /// Failed, refused by the server included.
    pub fn failures(&self) -> usize {
        self.failed + self.refused
    }

    /// 100 only when every file has been verified (or cancelled, or refused).
    pub fn percent(&self) -> u8 {
        let settled = self.uploaded + self.aborted + self.refused == self.files;
        match self.size {
            // Nothing left to send: whole once a file was settled other than by a cancel.
            0 => u8::from(settled && self.aborted < self.files) * 100,
            _ if settled => 100,
            size => ((u128::from(self.sent) * 100 / u128::from(size)) as u8).min(99),
        }
    }

    /// "31 uploaded · 1 failed · 168 waiting": what became of the files, in one line.
    pub fn line(&self) -> String {
        [
            (self.uploaded, "uploaded"),
            (self.failures(), "failed"),
            (self.aborted, "cancelled"),
            (self.paused, "paused"),
            (self.uploading, "sending"),
            (self.verifying, "verifying"),
            (self.queued, "waiting"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{} {word}", format::count(*n as u64)))
        .collect::<Vec<_>>()
        .join(" · ")
    }
}

/// The queue's running sums, kept by the tasks as they change, and shown at most once per
/// animation frame however many files changed in it.
#[derive(Clone, Copy)]
pub struct Frame {
    pending: StoredValue<bool>,
    sums: StoredValue<Summary>,
    summary: RwSignal<Summary>,
}

impl Frame {
    /// One file of `size` bytes moved `from` one (phase, bytes sent) `to` another; `from` is
    /// `None` for a new file.
    fn moved(self, size: u64, from: Option<(Phase, u64)>, to: (Phase, u64)) {
        self.sums.update_value(|s| {
            if let Some((phase, sent)) = from {
                s.count(phase, sent, size, false);
            }
            s.count(to.0, to.1, size, true);
        });
        self.touch();
    }

    /// The sums as they are now, shown or not.
    pub fn sums(self) -> Summary {
        self.sums.get_value()
    }

    fn touch(self) {
        if self.pending.get_value() {
            return;
        }
        self.pending.set_value(true);
        let show = move || {
            self.pending.set_value(false);
            let summary = self.sums.get_value();
            if self.summary.get_untracked() != summary {
                self.summary.set(summary);
            }
        };
        #[cfg(feature = "hydrate")]
        request_animation_frame(show);
        #[cfg(not(feature = "hydrate"))]
        show();
    }
}

/// Everything the page shows about uploads. Created by the uploader component on the server
/// and in the browser alike (so the hydrated page matches the rendered one); only the
/// browser's engine ever writes to it.
#[derive(Clone, Copy)]
pub struct EngineView {
    pub tasks: RwSignal<Vec<UploadTask>>,
    /// The tasks added up, counted again once per frame in which any of them changed.
    pub summary: RwSignal<Summary>,
    pub frame: Frame,
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
        let tasks = RwSignal::new(Vec::new());
        let summary = RwSignal::new(Summary::default());
        Self {
            tasks,
            summary,
            frame: Frame {
                pending: StoredValue::new(false),
                sums: StoredValue::new(Summary::default()),
                summary,
            },
            unfinished: RwSignal::new(Vec::new()),
            unfinished_error: RwSignal::new(None),
            online: RwSignal::new(true),
            total_speed: RwSignal::new(None),
            total_seconds_left: RwSignal::new(None),
            heard,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The running sums the engine keeps must equal adding every file up again, whatever
    /// happened to the files and in whatever order.
    #[test]
    fn the_running_sums_equal_a_count_from_scratch() {
        Owner::new().with(running_sums);
    }

    fn running_sums() {
        let view = EngineView::new(RwSignal::new(Vec::new()));
        let tasks: Vec<UploadTask> = (0..40)
            .map(|k| UploadTask::new(k, format!("f{k}"), 1000 + k, view.frame))
            .collect();
        let walk = [
            Phase::Starting,
            Phase::Uploading,
            Phase::Paused,
            Phase::Uploading,
            Phase::Verifying,
        ];
        for (i, task) in tasks.iter().enumerate() {
            for phase in &walk[..i % walk.len() + 1] {
                task.set_phase(*phase);
            }
            let mut progress = Progress::new(task.size);
            progress.sending(1, task.size / 3);
            task.show(&progress);
            match i % 7 {
                0 => task.succeeded(),
                1 => task.failed("lost".into()),
                2 => task.refused("not allowed".into()),
                3 => task.set_phase(Phase::Aborted),
                _ => {}
            }
            assert_eq!(view.frame.sums(), Summary::of(&tasks[..]), "after file {i}");
        }
        let sums = view.frame.sums();
        assert_eq!(sums.files, 40);
        assert_eq!(sums.uploaded, 6);
        assert_eq!(sums.refused, 6);
        assert_eq!(sums.failures(), 12, "refused files count as failed too");
        assert_eq!(sums.aborted, 6);
        assert!(
            sums.line()
                .starts_with("6 uploaded · 12 failed · 6 cancelled"),
            "{}",
            sums.line()
        );
    }

    #[test]
    fn the_total_is_whole_only_when_every_file_is_settled() {
        Owner::new().with(whole_total);
    }

    fn whole_total() {
        let view = EngineView::new(RwSignal::new(Vec::new()));
        let a = UploadTask::new(1, "a".into(), 100, view.frame);
        let b = UploadTask::new(2, "b".into(), 100, view.frame);
        a.succeeded();
        assert_eq!(view.frame.sums().percent(), 50);
        let c = UploadTask::new(3, "c".into(), 100, view.frame);
        c.set_phase(Phase::Aborted);
        b.refused("that type is not taken here".into());
        // The refused file is out of the sums: what could be sent has been.
        assert_eq!(view.frame.sums().percent(), 100);
        assert_eq!(view.frame.sums().size, 100);

        let alone = EngineView::new(RwSignal::new(Vec::new()));
        let refused = UploadTask::new(1, "r".into(), 100, alone.frame);
        refused.refused("not taken".into());
        assert_eq!(
            alone.frame.sums().percent(),
            100,
            "a lone refused file is settled"
        );
        let cancelled = EngineView::new(RwSignal::new(Vec::new()));
        UploadTask::new(1, "c".into(), 100, cancelled.frame).set_phase(Phase::Aborted);
        assert_eq!(cancelled.frame.sums().percent(), 0, "nothing was uploaded");
    }
}

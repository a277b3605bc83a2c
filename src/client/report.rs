//! What a run shows: on a terminal, a bar per file being sent and one for the total (bytes,
//! speed, time left); elsewhere, plain lines (a file's progress every tenth, and its end);
//! with `--json`, one JSON line per finished file and nothing else on standard output.

use crate::{format, model::UploadStatus};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::{
    io::IsTerminal,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

/// A file that reached the server's library.
#[derive(Clone, Debug, Serialize)]
pub struct Finished {
    pub id: String,
    pub name: String,
    pub size: u64,
    pub status: UploadStatus,
    pub sha256: Option<String>,
    /// Bytes this run handed to the network for the file (retries included).
    pub sent: u64,
    /// The account held this content already: nothing was sent.
    pub already_stored: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Lines,
    Json,
}

pub struct Report {
    mode: Mode,
    bars: MultiProgress,
    total: ProgressBar,
}

impl Report {
    pub fn new(json: bool, total_bytes: u64) -> Self {
        let mode = match (json, std::io::stdout().is_terminal()) {
            (true, _) => Mode::Json,
            (false, true) => Mode::Bars,
            (false, false) => Mode::Lines,
        };
        let bars = MultiProgress::with_draw_target(match mode {
            Mode::Bars => ProgressDrawTarget::stdout(),
            _ => ProgressDrawTarget::hidden(),
        });
        let total = bars.add(ProgressBar::new(total_bytes));
        total.set_style(style(
            "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta}",
        ));
        total.set_prefix("total");
        Self { mode, bars, total }
    }

    /// Progress of one file, which counts towards the total too.
    pub fn file(&self, name: &str, size: u64) -> FileProgress {
        let bar = (self.mode == Mode::Bars).then(|| {
            let bar = self.bars.insert_before(&self.total, ProgressBar::new(size));
            bar.set_style(style(
                "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {eta} {msg}",
            ));
            bar.set_prefix(shorten(name, 12));
            bar
        });
        FileProgress {
            bar,
            total: self.total.clone(),
            lines: self.mode == Mode::Lines,
            name: name.to_string(),
            size,
            done: Arc::default(),
            tenths: Arc::default(),
        }
    }

    pub fn finished(&self, file: &Finished) {
        match self.mode {
            Mode::Json => match serde_json::to_string(file) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("hoist: {}: {e}", file.name),
            },
            _ => {
                let how = if file.already_stored {
                    "already stored, nothing sent".to_string()
                } else {
                    format!("{} sent", format::bytes_short(file.sent))
                };
                let line = format!(
                    "{} {} ({}, {how}) id {}",
                    file.status,
                    file.name,
                    format::bytes_short(file.size),
                    file.id
                );
                self.line(&line);
            }
        }
    }

    /// A file that could not be uploaded, and why: always on standard error.
    pub fn failed(&self, name: &str, reason: &str) {
        let line = match name {
            "" => format!("failed: {reason}"),
            name => format!("failed {name}: {reason}"),
        };
        match self.mode {
            Mode::Bars => self.bars.suspend(|| eprintln!("{line}")),
            _ => eprintln!("{line}"),
        }
    }

    fn line(&self, line: &str) {
        match self.mode {
            Mode::Bars => self.bars.suspend(|| println!("{line}")),
            _ => println!("{line}"),
        }
    }

    pub fn close(&self) {
        self.total.finish_and_clear();
    }
}

/// One file's share of the report; clones count into the same file.
#[derive(Clone)]
pub struct FileProgress {
    bar: Option<ProgressBar>,
    total: ProgressBar,
    lines: bool,
    name: String,
    size: u64,
    done: Arc<AtomicU64>,
    /// The last tenth printed as a line.
    tenths: Arc<AtomicU64>,
}

impl FileProgress {
    pub fn message(&self, text: &'static str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text);
        }
    }

    /// `n` more bytes handed to the network (or, while hashing, read).
    pub fn add(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        self.total.inc(n);
        if self.lines && self.size > 0 {
            let tenth = done.min(self.size) * 10 / self.size;
            let before = self.tenths.fetch_max(tenth, Ordering::Relaxed);
            if tenth > before && tenth < 10 {
                println!(
                    "{}: {}% ({} of {})",
                    self.name,
                    tenth * 10,
                    format::bytes_short(done),
                    format::bytes_short(self.size)
                );
            }
        }
    }

    /// Bytes counted that must be counted again (a part sent anew, or a hash pass ended).
    pub fn take_back(&self, n: u64) {
        self.done
            .fetch_sub(n.min(self.done.load(Ordering::Relaxed)), Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_position(bar.position().saturating_sub(n));
        }
        self.total
            .set_position(self.total.position().saturating_sub(n));
    }

    /// Counts `n` bytes as done at once (parts the store held before this run).
    pub fn skip(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
        self.total.inc(n);
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_string();
    }
    let tail: String = name
        .chars()
        .rev()
        .take(max - 1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

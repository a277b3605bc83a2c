//! The library's rows and the storage meter: what the table draws, kept by key and changed
//! from the feed at most once per frame.

use crate::{
    api::account::whoami,
    model::{name_matches, LibraryPage, LibrarySort, UploadEvent, UploadView},
    ui::live,
};
use leptos::prelude::*;
use std::collections::{HashMap, HashSet};

/// At most this many rows are drawn until "Load more" asks for more: a session that uploads
/// 10,000 files keeps them all in memory, not all in the DOM.
pub const LIBRARY_ROWS: usize = 100;

/// One upload in the library: its own signal, so an event redraws its row alone.
#[derive(Clone)]
pub struct Row {
    pub id: String,
    pub view: ArcRwSignal<UploadView>,
}

impl Row {
    fn new(upload: UploadView) -> Self {
        Self {
            id: upload.id.clone(),
            view: ArcRwSignal::new(upload),
        }
    }
}

/// The library's rows in the order asked for, and the feed's events waiting for the next
/// animation frame: however many arrive in one frame, the list changes once.
#[derive(Clone, Copy)]
pub struct Rows {
    pub list: RwSignal<Vec<Row>>,
    by_id: StoredValue<HashMap<String, ArcRwSignal<UploadView>>>,
    /// How many rows are drawn.
    pub shown: RwSignal<usize>,
    /// Where the server's next page starts, if it has more.
    pub next: RwSignal<Option<String>>,
    /// The order and search the table was asked for: an upload the feed brings in is drawn
    /// only if its name matches, and in its place.
    order: StoredValue<(LibrarySort, String)>,
    waiting: StoredValue<Vec<UploadEvent>>,
    /// When (browser clock, ms) events were last applied.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    flushed_at: StoredValue<f64>,
}

#[cfg(feature = "hydrate")]
const FLUSH_EVERY_MS: f64 = 200.0;

impl Rows {
    pub fn new(first: LibraryPage, shown: usize, order: (LibrarySort, String)) -> Self {
        let rows = Self {
            next: RwSignal::new(first.next),
            order: StoredValue::new(order),
            list: RwSignal::new(Vec::new()),
            by_id: StoredValue::new(HashMap::new()),
            shown: RwSignal::new(shown),
            waiting: StoredValue::new(Vec::new()),
            flushed_at: StoredValue::new(0.0),
        };
        rows.append(first.uploads);
        rows
    }

    pub fn visible(self) -> Vec<Row> {
        let shown = self.shown.get();
        self.list.with(|l| l[..shown.min(l.len())].to_vec())
    }

    pub fn hidden(self) -> usize {
        let shown = self.shown.get();
        self.list.with(Vec::len).saturating_sub(shown)
    }

    /// A later page from the server, below what is there (an upload the feed put at the top
    /// may come again on it).
    pub fn append(self, page: Vec<UploadView>) {
        let fresh: Vec<Row> = self
            .by_id
            .try_update_value(|by_id| {
                let mut fresh = Vec::new();
                for u in page {
                    if !by_id.contains_key(&u.id) {
                        let row = Row::new(u);
                        by_id.insert(row.id.clone(), row.view.clone());
                        fresh.push(row);
                    }
                }
                fresh
            })
            .unwrap_or_default();
        let more = fresh.len();
        self.list.update(|l| l.extend(fresh));
        if self.shown.get_untracked() < self.list.with_untracked(Vec::len) {
            self.shown.update(|n| *n += more);
        }
    }

    /// An event from the feed (or from this page's own calls), applied at the next frame.
    pub fn push(self, event: UploadEvent, meter: Meter) {
        let first = self
            .waiting
            .try_update_value(|w| {
                w.push(event);
                w.len() == 1
            })
            .unwrap_or(false);
        if first {
            let flush = move || {
                if self.flush() {
                    meter.ask();
                }
            };
            // At the next frame, but not more often than every FLUSH_EVERY_MS: while 10,000
            // files arrive, redrawing the table at 60 frames a second was most of the page's
            // work (its layout and paint), and nobody reads a table that fast.
            #[cfg(feature = "hydrate")]
            {
                let wait = self.flushed_at.get_value() + FLUSH_EVERY_MS - js_sys::Date::now();
                let next_frame = move || request_animation_frame(flush);
                if wait > 0.0 {
                    set_timeout(next_frame, std::time::Duration::from_millis(wait as u64));
                } else {
                    next_frame();
                }
            }
            #[cfg(not(feature = "hydrate"))]
            flush();
        }
    }

    /// Applies the waiting events; true if what the owner stores may have changed (an upload
    /// appeared, changed status or went). The table may be gone by then (a sign-in draws a
    /// new one): nothing happens.
    fn flush(self) -> bool {
        let Some(events) = self.waiting.try_update_value(std::mem::take) else {
            return false;
        };
        #[cfg(feature = "hydrate")]
        self.flushed_at.set_value(js_sys::Date::now());
        let mut fresh: Vec<Row> = Vec::new();
        let mut gone: HashSet<String> = HashSet::new();
        let mut moved = false;
        self.by_id.update_value(|by_id| {
            for event in events {
                match event {
                    UploadEvent::Changed { upload } => match by_id.get(&upload.id) {
                        Some(view) => {
                            moved |= view.with_untracked(|v| v.status != upload.status);
                            if view.with_untracked(|v| v != &*upload) {
                                view.set(*upload);
                            }
                        }
                        // Started here or in another tab or device.
                        None => {
                            moved = true;
                            if !self
                                .order
                                .with_value(|(_, s)| name_matches(&upload.name, s))
                            {
                                continue;
                            }
                            gone.remove(&upload.id);
                            let row = Row::new(*upload);
                            by_id.insert(row.id.clone(), row.view.clone());
                            fresh.push(row);
                        }
                    },
                    UploadEvent::Deleted { upload_id } => {
                        moved = true;
                        by_id.remove(&upload_id);
                        gone.insert(upload_id);
                    }
                }
            }
        });
        if !fresh.is_empty() || !gone.is_empty() {
            fresh.retain(|r| !gone.contains(&r.id));
            let sort = self.order.with_value(|(sort, _)| *sort);
            let more = self.next.with_untracked(Option::is_some);
            self.list.update(|l| {
                l.retain(|r| !gone.contains(&r.id));
                place(l, fresh, sort, more);
            });
        }
        moved
    }

    pub fn remove(self, id: &str) {
        self.by_id.update_value(|by_id| {
            by_id.remove(id);
        });
        self.list.update(|l| l.retain(|r| r.id != id));
    }
}

/// The storage meter's figure, asked of the server again after changes: one question at a
/// time, and not more often than every [`METER_EVERY_MS`], however many uploads settle.
#[derive(Clone, Copy)]
pub struct Meter {
    used: RwSignal<Option<u64>>,
    /// A question is in flight or waiting; `again`: more changed since it was asked.
    asking: StoredValue<bool>,
    again: StoredValue<bool>,
}

const METER_EVERY_MS: u32 = 500;

impl Meter {
    pub fn new(used: RwSignal<Option<u64>>) -> Self {
        Self {
            used,
            asking: StoredValue::new(false),
            again: StoredValue::new(false),
        }
    }

    pub fn ask(self) {
        if self.asking.try_get_value().unwrap_or(true) {
            self.again.try_set_value(true);
            return;
        }
        self.asking.try_set_value(true);
        // The table (and with it these values) may be gone by the time an answer comes (a
        // sign-in draws a new one): then the task ends quietly.
        leptos::task::spawn_local(async move {
            loop {
                live::pause(METER_EVERY_MS).await;
                if self.again.try_set_value(false).is_some() {
                    return;
                }
                if let Ok(me) = whoami().await {
                    if self.used.try_set(Some(me.used)).is_some() {
                        return;
                    }
                }
                if !self.again.try_get_value().unwrap_or(false) {
                    break;
                }
            }
            self.asking.try_set_value(false);
        });
    }
}

/// Puts uploads new to the table where `sort` has them, in one pass over the list. One that
/// sorts past the last row loaded while the server has more (an old file changed: its
/// thumbnail made, its audience edited in another tab) is left to the page that holds it.
fn place(list: &mut Vec<Row>, mut fresh: Vec<Row>, sort: LibrarySort, more: bool) {
    let before = |a: &Row, b: &Row| {
        a.view
            .with_untracked(|x| b.view.with_untracked(|y| sort.before(x, y)))
    };
    if more {
        if let Some(last) = list.last() {
            fresh.retain(|r| before(r, last));
        }
    }
    if fresh.is_empty() {
        return;
    }
    fresh.sort_by(|a, b| {
        if before(a, b) {
            std::cmp::Ordering::Less
        } else {
            std::cmp::Ordering::Greater
        }
    });
    let mut fresh = fresh.into_iter().peekable();
    let mut merged = Vec::with_capacity(list.len() + fresh.len());
    for row in list.drain(..) {
        while let Some(new) = fresh.next_if(|new| before(new, &row)) {
            merged.push(new);
        }
        merged.push(row);
    }
    merged.extend(fresh);
    *list = merged;
}

//! One pool of part uploads shared by every file on the page: at most `limit` parts in flight,
//! taken from files in the order they were added, so one big file and many small ones alike
//! keep the connection busy. Plain Rust: it only decides; the browser layer does the sending.

use std::collections::BTreeSet;

/// The page's own number for a file (the server's upload id comes later).
pub type FileId = u64;

#[derive(Debug)]
struct Slot {
    id: FileId,
    parts: u32,
    pending: BTreeSet<u32>,
    running: BTreeSet<u32>,
    done: BTreeSet<u32>,
    paused: bool,
}

#[derive(Debug)]
pub struct Scheduler {
    limit: usize,
    files: Vec<Slot>,
}

impl Scheduler {
    pub fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            files: Vec::new(),
        }
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.max(1);
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Plans `parts` parts for `id`, of which the store already holds `done` (after a resume,
    /// as ListParts says). Calling it again for a known file re-plans it: parts still running
    /// stay running, everything else not done becomes pending again.
    pub fn plan(&mut self, id: FileId, parts: u32, done: &[u32]) {
        let done: BTreeSet<u32> = done
            .iter()
            .copied()
            .filter(|n| (1..=parts).contains(n))
            .collect();
        let slot = match self.files.iter_mut().position(|s| s.id == id) {
            Some(i) => &mut self.files[i],
            None => {
                self.files.push(Slot {
                    id,
                    parts,
                    pending: BTreeSet::new(),
                    running: BTreeSet::new(),
                    done: BTreeSet::new(),
                    paused: false,
                });
                self.files.last_mut().expect("just pushed")
            }
        };
        slot.parts = parts;
        slot.paused = false;
        slot.running.retain(|n| !done.contains(n));
        slot.pending = (1..=parts)
            .filter(|n| !done.contains(n) && !slot.running.contains(n))
            .collect();
        slot.done = done;
    }

    /// The next part to send, if the pool has room: the lowest pending part of the first file
    /// (in the order added) that is not paused.
    pub fn take_next(&mut self) -> Option<(FileId, u32)> {
        if self.in_flight() >= self.limit {
            return None;
        }
        let slot = self
            .files
            .iter_mut()
            .find(|s| !s.paused && !s.pending.is_empty())?;
        let part = slot.pending.pop_first()?;
        slot.running.insert(part);
        Some((slot.id, part))
    }

    /// The store accepted `part`.
    pub fn finished(&mut self, id: FileId, part: u32) {
        if let Some(slot) = self.slot_mut(id) {
            if slot.running.remove(&part) || slot.pending.remove(&part) {
                slot.done.insert(part);
            }
        }
    }

    /// `part` stopped without arriving (paused, or to be sent again later): back in the queue.
    pub fn released(&mut self, id: FileId, part: u32) {
        if let Some(slot) = self.slot_mut(id) {
            if slot.running.remove(&part) {
                slot.pending.insert(part);
            }
        }
    }

    /// No new parts of `id` start until it is planned again.
    pub fn pause(&mut self, id: FileId) {
        if let Some(slot) = self.slot_mut(id) {
            slot.paused = true;
        }
    }

    /// Forgets `id` (cancelled, failed or finished). Its running parts no longer count.
    pub fn remove(&mut self, id: FileId) {
        self.files.retain(|s| s.id != id);
    }

    /// Every part of `id` has arrived.
    pub fn is_complete(&self, id: FileId) -> bool {
        self.slot(id)
            .is_some_and(|s| s.done.len() as u32 == s.parts)
    }

    /// Parts of `id` running now.
    pub fn running(&self, id: FileId) -> Vec<u32> {
        self.slot(id)
            .map(|s| s.running.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Pending parts of `id` after `part`, in order: the ones worth signing together with it.
    pub fn upcoming(&self, id: FileId, part: u32, count: usize) -> Vec<u32> {
        self.slot(id)
            .map(|s| s.pending.range(part + 1..).take(count).copied().collect())
            .unwrap_or_default()
    }

    pub fn in_flight(&self) -> usize {
        self.files.iter().map(|s| s.running.len()).sum()
    }

    /// Parts waiting for a place in the pool, over all files that are not paused.
    pub fn waiting(&self) -> usize {
        self.files
            .iter()
            .filter(|s| !s.paused)
            .map(|s| s.pending.len())
            .sum()
    }

    fn slot(&self, id: FileId) -> Option<&Slot> {
        self.files.iter().find(|s| s.id == id)
    }

    fn slot_mut(&mut self, id: FileId) -> Option<&mut Slot> {
        self.files.iter_mut().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A small deterministic pseudo-random sequence, so the test explores many interleavings
    /// and fails the same way every time.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 33) as usize) % n
        }
    }

    #[test]
    fn never_more_than_the_limit_in_flight_and_every_part_arrives_exactly_once() {
        for seed in 0..50 {
            let mut rng = Lcg(seed);
            let limit = 1 + rng.below(8);
            let mut s = Scheduler::new(limit);
            let files: Vec<(FileId, u32)> =
                (1..=5).map(|id| (id, 1 + rng.below(40) as u32)).collect();
            for &(id, parts) in &files {
                s.plan(id, parts, &[]);
            }
            let mut running: Vec<(FileId, u32)> = Vec::new();
            let mut arrived: BTreeMap<(FileId, u32), u32> = BTreeMap::new();
            loop {
                while let Some(next) = s.take_next() {
                    running.push(next);
                }
                assert!(
                    running.len() <= limit,
                    "seed {seed}: {} > {limit}",
                    running.len()
                );
                assert_eq!(s.in_flight(), running.len());
                if running.is_empty() {
                    break;
                }
                let (id, part) = running.swap_remove(rng.below(running.len()));
                // One in four attempts fails and goes back to the queue.
                if rng.below(4) == 0 {
                    s.released(id, part);
                } else {
                    s.finished(id, part);
                    *arrived.entry((id, part)).or_default() += 1;
                }
            }
            for &(id, parts) in &files {
                assert!(s.is_complete(id), "seed {seed}: file {id} incomplete");
                for part in 1..=parts {
                    assert_eq!(
                        arrived.get(&(id, part)),
                        Some(&1),
                        "seed {seed}: {id}/{part}"
                    );
                }
            }
        }
    }

    #[test]
    fn files_are_served_in_order_and_small_files_fill_the_pool_behind_a_big_one() {
        let mut s = Scheduler::new(6);
        s.plan(1, 3, &[]);
        s.plan(2, 1, &[]);
        s.plan(3, 1, &[]);
        s.plan(4, 1, &[]);
        let taken: Vec<_> = std::iter::from_fn(|| s.take_next()).collect();
        assert_eq!(taken, vec![(1, 1), (1, 2), (1, 3), (2, 1), (3, 1), (4, 1)]);
        assert_eq!(s.take_next(), None);
    }

    #[test]
    fn a_paused_file_starts_nothing_and_a_resumed_one_sends_only_what_the_store_lacks() {
        let mut s = Scheduler::new(2);
        s.plan(1, 5, &[]);
        assert_eq!(s.take_next(), Some((1, 1)));
        assert_eq!(s.take_next(), Some((1, 2)));
        s.finished(1, 1);
        s.pause(1);
        assert_eq!(s.take_next(), None);
        s.released(1, 2);
        assert_eq!(s.waiting(), 0, "paused files wait for nobody");
        // The store says parts 1 and 3 are there (3 from an earlier page, say).
        s.plan(1, 5, &[1, 3]);
        let taken: Vec<_> = std::iter::from_fn(|| s.take_next()).collect();
        assert_eq!(taken, vec![(1, 2), (1, 4)]);
        s.finished(1, 2);
        s.finished(1, 4);
        assert_eq!(s.take_next(), Some((1, 5)));
        s.finished(1, 5);
        assert!(s.is_complete(1));
    }

    #[test]
    fn removing_a_file_frees_its_places_in_the_pool() {
        let mut s = Scheduler::new(2);
        s.plan(1, 4, &[]);
        s.plan(2, 1, &[]);
        assert!(s.take_next().is_some() && s.take_next().is_some());
        assert_eq!(s.take_next(), None);
        s.remove(1);
        assert_eq!(s.take_next(), Some((2, 1)));
        assert!(!s.is_complete(1));
    }

    #[test]
    fn upcoming_parts_are_the_pending_ones_after_a_part() {
        let mut s = Scheduler::new(1);
        s.plan(1, 10, &[3]);
        assert_eq!(s.take_next(), Some((1, 1)));
        assert_eq!(s.upcoming(1, 1, 3), vec![2, 4, 5]);
    }
}

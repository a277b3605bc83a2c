//! Progress accounting for one file. Bytes count as sent while their part is in flight; when a
//! part fails and is sent again, the figure shown does not go backwards (a bar that jumps back
//! is a bar people stop believing), it just waits until the retry catches up.

use std::collections::BTreeMap;

#[derive(Clone, Debug, Default)]
pub struct Progress {
    total: u64,
    finished: u64,
    in_flight: BTreeMap<u32, u64>,
    shown: u64,
}

impl Progress {
    pub fn new(total: u64) -> Self {
        Self {
            total,
            ..Self::default()
        }
    }

    /// The browser reports `loaded` bytes of `part` sent so far.
    pub fn sending(&mut self, part: u32, loaded: u64) {
        self.in_flight.insert(part, loaded);
        self.refresh();
    }

    /// The store accepted `part`, `len` bytes long.
    pub fn finished(&mut self, part: u32, len: u64) {
        self.in_flight.remove(&part);
        self.finished += len;
        self.refresh();
    }

    /// `part` failed or was stopped; it will be sent again from its first byte.
    pub fn failed(&mut self, part: u32) {
        self.in_flight.remove(&part);
    }

    /// Starts counting again from what the store holds (`stored` bytes, as ListParts says),
    /// after a pause or a reload. What was shown before is not taken back.
    pub fn restart(&mut self, stored: u64) {
        self.in_flight.clear();
        self.finished = stored.min(self.total);
        self.refresh();
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes to show as sent: never decreasing, never above the total.
    pub fn sent(&self) -> u64 {
        self.shown
    }

    /// Whole percent for the bar. 100 is kept for the moment the server has verified the file,
    /// so sending every byte shows 99 at most.
    pub fn percent(&self) -> u8 {
        if self.total == 0 {
            return 0;
        }
        let pct = (u128::from(self.shown) * 100 / u128::from(self.total)) as u8;
        pct.min(99)
    }

    fn refresh(&mut self) {
        let now = self.finished + self.in_flight.values().sum::<u64>();
        self.shown = self.shown.max(now).min(self.total);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_sums_finished_and_in_flight_parts() {
        let mut p = Progress::new(300);
        p.sending(1, 50);
        p.sending(2, 20);
        assert_eq!(p.sent(), 70);
        p.finished(1, 100);
        assert_eq!(p.sent(), 120);
    }

    #[test]
    fn a_retried_part_never_moves_the_bar_backwards() {
        let mut p = Progress::new(200);
        p.sending(1, 90);
        assert_eq!(p.sent(), 90);
        p.failed(1);
        p.sending(1, 10);
        assert_eq!(p.sent(), 90, "the retry has not caught up yet");
        p.sending(1, 95);
        assert_eq!(p.sent(), 95);
        p.finished(1, 100);
        p.finished(2, 100);
        assert_eq!(p.sent(), 200);
    }

    #[test]
    fn progress_never_decreases_whatever_fails_and_ends_at_the_total() {
        let part = 100u64;
        let mut p = Progress::new(10 * part);
        let mut last = 0;
        let mut check = |p: &Progress| {
            assert!(p.sent() >= last, "went back from {last} to {}", p.sent());
            last = p.sent();
        };
        for n in 1..=10u32 {
            // Every part gets most of the way, fails, and is sent again from zero.
            for loaded in [30, 60, 90] {
                p.sending(n, loaded);
                check(&p);
            }
            p.failed(n);
            check(&p);
            if n == 5 {
                // A pause and resume: the store holds parts 1 to 4.
                p.restart(4 * part);
                check(&p);
            }
            for loaded in [10, 50, 100] {
                p.sending(n, loaded);
                check(&p);
            }
            p.finished(n, part);
            check(&p);
        }
        assert_eq!(p.sent(), 10 * part);
    }

    #[test]
    fn all_bytes_sent_is_not_yet_one_hundred_percent() {
        let mut p = Progress::new(10);
        p.finished(1, 10);
        assert_eq!(p.percent(), 99);
    }
}

//! Current speed and time left, from how the sent byte count moved over the last few seconds.
//! A window, not the average since the start: after a stall or a slow start people want to
//! know how fast it goes now.

use std::collections::VecDeque;

const WINDOW_MS: f64 = 5_000.0;

#[derive(Clone, Debug, Default)]
pub struct Rate {
    /// (time in ms, bytes sent by then), oldest first.
    samples: VecDeque<(f64, u64)>,
}

impl Rate {
    /// Notes that `sent` bytes had been sent at `now_ms`. Called on progress and on a clock tick,
    /// so the window slides even when nothing moves.
    pub fn record(&mut self, now_ms: f64, sent: u64) {
        if let Some(&(_, last)) = self.samples.back() {
            if sent < last {
                // A new count (resumed from another base): start over.
                self.samples.clear();
            }
        }
        self.samples.push_back((now_ms, sent));
        while self.samples.len() > 2 && now_ms - self.samples[1].0 >= WINDOW_MS {
            self.samples.pop_front();
        }
    }

    /// Bytes per second over the window; `None` until a second of history exists.
    pub fn bytes_per_second(&self) -> Option<f64> {
        let (&(t0, b0), &(t1, b1)) = (self.samples.front()?, self.samples.back()?);
        let span = t1 - t0;
        (span >= 1_000.0).then(|| (b1 - b0) as f64 * 1_000.0 / span)
    }

    /// Seconds until `remaining` bytes are sent at the current speed; `None` when unknown or
    /// stalled.
    pub fn seconds_left(&self, remaining: u64) -> Option<f64> {
        let speed = self.bytes_per_second()?;
        (speed > 0.0).then(|| remaining as f64 / speed)
    }

    pub fn reset(&mut self) {
        self.samples.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_is_measured_over_the_recent_window() {
        let mut rate = Rate::default();
        rate.record(0.0, 0);
        assert_eq!(rate.bytes_per_second(), None, "no history yet");
        // 1 MB/s for 10 s, then 4 MB/s for 10 s: the speed shown is the recent one.
        for s in 1..=10 {
            rate.record(s as f64 * 1000.0, s * 1_000_000);
        }
        assert!((rate.bytes_per_second().unwrap() - 1e6).abs() < 1.0);
        for s in 1..=10 {
            rate.record(10_000.0 + s as f64 * 1000.0, 10_000_000 + s * 4_000_000);
        }
        assert!((rate.bytes_per_second().unwrap() - 4e6).abs() < 1.0);
        assert_eq!(rate.seconds_left(8_000_000).map(f64::round), Some(2.0));
    }

    #[test]
    fn a_stall_drops_the_speed_to_zero_and_the_time_left_to_unknown() {
        let mut rate = Rate::default();
        rate.record(0.0, 0);
        rate.record(1_000.0, 1_000);
        for s in 2..=8 {
            rate.record(s as f64 * 1000.0, 1_000);
        }
        assert_eq!(rate.bytes_per_second(), Some(0.0));
        assert_eq!(rate.seconds_left(10), None);
    }
}

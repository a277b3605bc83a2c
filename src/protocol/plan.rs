//! How a file is cut into parts, how many part URLs to ask for at once, and what is left to
//! send. The server decides the plan (`uploads`); a client computes the same plan before it
//! asks, so it can read every part's checksum in the same pass as the file's hash.

use crate::model::{EngineSettings, PartPlan, MAX_SIGN_BATCH};
use std::collections::BTreeSet;

/// S3's smallest part (all but the last) and largest part.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3 numbers parts from 1 to 10,000.
pub const MAX_PARTS: u64 = 10_000;
const MIB: u64 = 1 << 20;

/// A file is cut into about this many parts before its parts grow past the configured size:
/// enough to keep the pool of parallel PUTs busy.
const TARGET_PARTS: u64 = 16;

/// Part URLs one `sign_parts` call asks for, per part the client keeps in flight: two pools'
/// worth, so the next batch is signed while the previous one is still being sent.
const SIGN_BATCH_PER_SLOT: usize = 2;

/// The part size for a file of `size` bytes, in whole MiB: `configured` for files of up to
/// [`TARGET_PARTS`] parts; bigger files get bigger parts, up to `largest`, because every
/// request costs the browser a fixed amount of work (about 20 ms of CPU per part in Chromium,
/// measured in docs/benchmarks.md) and fewer requests upload faster; and never more than
/// [`MAX_PARTS`] parts, whatever `largest` says. `None` if even 5 GiB parts are not enough.
pub fn choose_part_size(size: u64, configured: u64, largest: u64) -> Option<u64> {
    let round_up = |n: u64| n.div_ceil(MIB) * MIB;
    let for_throughput = round_up(size.div_ceil(TARGET_PARTS)).min(largest);
    let needed = round_up(size.div_ceil(MAX_PARTS));
    let part_size = configured
        .max(for_throughput)
        .max(needed)
        .max(MIN_PART_SIZE);
    (part_size <= MAX_PART_SIZE).then_some(part_size)
}

/// The part size `@uppy/aws-s3` (5 and 6) cuts a file into when the page does not choose one:
/// `max(ceil(size / 10,000), 5 MiB)`, so that a Companion client's parts are the plan's.
/// `None` past S3's largest part.
pub fn companion_part_size(size: u64) -> Option<u64> {
    let part_size = size.div_ceil(MAX_PARTS).max(MIN_PART_SIZE);
    (part_size <= MAX_PART_SIZE).then_some(part_size)
}

/// The plan the server will make for a file of `size` under the settings it published. A file
/// too big for any plan gets the configured part size: the server refuses it with a sentence.
pub fn plan_for(size: u64, settings: &EngineSettings) -> PartPlan {
    let part_size = choose_part_size(size, settings.part_size, settings.max_part_size)
        .unwrap_or(settings.part_size);
    PartPlan::new(size, part_size.max(1))
}

/// Part URLs to ask for in one `sign_parts` call by a client that keeps `parallel` parts in
/// flight: never more than the server signs at once.
pub fn sign_batch(parallel: usize) -> usize {
    parallel
        .saturating_mul(SIGN_BATCH_PER_SLOT)
        .clamp(1, MAX_SIGN_BATCH)
}

/// What is left of an upload whose store holds some of its parts: after a resume (the
/// server's ListParts) or a completion that named parts missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remaining {
    /// The parts the store holds, in order.
    pub done: Vec<u32>,
    /// The parts still to send, in order.
    pub missing: Vec<u32>,
    /// The bytes of the parts the store holds: where the file's progress starts again.
    pub held_bytes: u64,
}

impl Remaining {
    /// From the parts the store holds (numbers outside the plan are not the plan's, and
    /// count for nothing).
    pub fn from_done(plan: PartPlan, done: &[u32]) -> Self {
        // A set: a resume of a 10,000-part file would otherwise scan the list per part.
        let done: BTreeSet<u32> = done.iter().copied().collect();
        Self::split(plan, |n| done.contains(&n))
    }

    /// From the parts the server found missing.
    pub fn from_missing(plan: PartPlan, missing: &[u32]) -> Self {
        let missing: BTreeSet<u32> = missing.iter().copied().collect();
        Self::split(plan, |n| !missing.contains(&n))
    }

    fn split(plan: PartPlan, held: impl Fn(u32) -> bool) -> Self {
        let (done, missing): (Vec<u32>, Vec<u32>) = (1..=plan.part_count()).partition(|&n| held(n));
        let held_bytes = done.iter().filter_map(|&n| plan.part_len(n)).sum();
        Self {
            done,
            missing,
            held_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_sizes_for_tiny_to_huge_files() {
        let (configured, largest) = (16 * MIB, 64 * MIB);
        let choose = |size| choose_part_size(size, configured, largest);
        // Up to one part: a one-part upload.
        assert_eq!(choose(1), Some(configured));
        assert_eq!(choose(5 * MIB), Some(configured));
        // Up to 16 parts: the configured size.
        assert_eq!(choose(200 * MIB), Some(configured));
        // Bigger: parts grow, to the largest size.
        assert_eq!(choose(512 * MIB), Some(32 * MIB));
        assert_eq!(choose(1 << 30), Some(64 * MIB));
        assert_eq!(choose(5 << 30), Some(64 * MIB));
        // Huge: as big as 10,000 parts need, in whole MiB.
        let five_tib = 5u64 << 40;
        let chosen = choose(five_tib).unwrap();
        assert!(five_tib.div_ceil(chosen) <= MAX_PARTS);
        assert!(chosen > largest && chosen % MIB == 0);
        assert_eq!(choose(MAX_PARTS * MAX_PART_SIZE + 1), None);
        // Parts pinned to one size (both settings equal), and never under S3's minimum.
        assert_eq!(choose_part_size(1 << 30, 8 * MIB, 8 * MIB), Some(8 * MIB));
        assert_eq!(choose_part_size(1 << 30, 1, 1), Some(MIN_PART_SIZE));
    }

    #[test]
    fn a_client_plans_a_big_file_as_the_server_will_not_by_the_configured_size() {
        let settings = EngineSettings {
            part_size: 16 * MIB,
            max_part_size: 64 * MIB,
            ..EngineSettings::default()
        };
        let plan = plan_for(1 << 30, &settings);
        assert_eq!(plan, PartPlan::new(1 << 30, 64 * MIB));
        assert_eq!(plan.part_count(), 16);
        assert_eq!(plan_for(10, &settings).part_count(), 1);
        // Beyond S3: planned as configured, for the server to refuse in words.
        let beyond = MAX_PARTS * MAX_PART_SIZE + 1;
        assert_eq!(plan_for(beyond, &settings).part_size, 16 * MIB);
    }

    #[test]
    fn signing_batches_feed_two_pools_and_stay_within_what_the_server_signs() {
        assert_eq!(sign_batch(6), 12);
        assert_eq!(sign_batch(1), 2);
        assert_eq!(sign_batch(0), 1);
        assert_eq!(sign_batch(32), 64);
        assert_eq!(sign_batch(usize::MAX), MAX_SIGN_BATCH);
    }

    #[test]
    fn what_is_left_counts_only_the_plans_parts_the_store_holds() {
        let plan = PartPlan::new(10 * MIB + 1, 5 * MIB);
        let left = Remaining::from_done(plan, &[3, 1, 7]);
        assert_eq!(left.done, [1, 3]);
        assert_eq!(left.missing, [2]);
        assert_eq!(left.held_bytes, 5 * MIB + 1);
        assert_eq!(Remaining::from_missing(plan, &[2]), left);
        let none = Remaining::from_done(plan, &[]);
        assert_eq!((none.missing.len(), none.held_bytes), (3, 0));
    }
}

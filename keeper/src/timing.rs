//! Where the keeper's time goes: nanosecond counters per part of its work, exported on
//! `/metrics` as `nsed_keeper_time_seconds_total{part="…"}`. Divided by
//! `nsed_keeper_rounds_total`, they give the keeper's cost per round.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

/// A part of the keeper's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Signing tasks and publishing them to JetStream (until the server's acknowledgement).
    Publish,
    /// Waiting for the agents' answers: their work and the JetStream round trip.
    Answers,
    /// Decoding answers and checking them (EIP-712 signatures, the protocol's rules).
    Verify,
    /// SQLite.
    Store,
    /// JSON-RPC: chain reads, transactions and their receipts.
    Chain,
}

impl Part {
    /// Every part, in the order [`Timings`] keeps them.
    pub const ALL: [Self; 5] =
        [Self::Publish, Self::Answers, Self::Verify, Self::Store, Self::Chain];

    /// The `part` label's value.
    pub const fn label(self) -> &'static str {
        match self {
            Self::Publish => "publish",
            Self::Answers => "answers",
            Self::Verify => "verify",
            Self::Store => "store",
            Self::Chain => "chain",
        }
    }
}

/// Nanoseconds spent per [`Part`]. Parts of concurrent jobs overlap, so the sum can exceed the
/// wall time.
#[derive(Debug, Default)]
pub struct Timings([AtomicU64; 5]);

impl Timings {
    /// Adds the time from now until the returned guard is dropped to `part`.
    pub fn start(&self, part: Part) -> Stopwatch<'_> {
        Stopwatch { counter: &self.0[part as usize], started: Instant::now() }
    }

    /// Nanoseconds spent on `part` so far.
    pub fn nanos(&self, part: Part) -> u64 {
        self.0[part as usize].load(Ordering::Relaxed)
    }
}

/// Adds the time from its creation to its drop to one counter of a [`Timings`].
#[derive(Debug)]
#[must_use = "the time is counted until the stopwatch is dropped"]
pub struct Stopwatch<'a> {
    counter: &'a AtomicU64,
    started: Instant,
}

impl Drop for Stopwatch<'_> {
    fn drop(&mut self) {
        let nanos = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.counter.fetch_add(nanos, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopwatch_counts_until_it_is_dropped_into_its_part_only() {
        let timings = Timings::default();
        {
            let _watch = timings.start(Part::Store);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert!(timings.nanos(Part::Store) >= 2_000_000, "{}", timings.nanos(Part::Store));
        for part in Part::ALL.into_iter().filter(|p| *p != Part::Store) {
            assert_eq!(timings.nanos(part), 0, "{}", part.label());
        }
    }
}

//! The simulation's only source of randomness: a small seeded PRNG (splitmix64 to seed,
//! xoshiro256** to draw), forked into one independent stream per component so that, for
//! example, adding a client request does not move the network's delays.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A deterministic pseudo-random number generator.
#[derive(Clone, Debug)]
pub struct SimRng {
    s: [u64; 4],
    /// Decisions to take before drawing, shared with every generator forked from this one
    /// (see [`SimRng::with_choices`]).
    choices: Option<Choices>,
}

/// A byte string of decisions and how far it has been read.
#[derive(Clone, Debug)]
struct Choices(Arc<ChoiceString>);

#[derive(Debug)]
struct ChoiceString {
    bytes_and_position: Mutex<(Vec<u8>, usize)>,
    /// Every byte has been read: the common case for most of a fuzzed run, answered without
    /// the lock (which took a quarter of the run's time when every draw went through it).
    used_up: AtomicBool,
}

impl SimRng {
    /// A generator seeded from `seed`; equal seeds give equal streams.
    pub fn new(seed: u64) -> SimRng {
        let mut sm = seed;
        SimRng {
            s: [
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
                splitmix64(&mut sm),
            ],
            choices: None,
        }
    }

    /// A generator that takes its decisions from `choices` first, and from the PRNG seeded
    /// with `seed` once they run out: each [`SimRng::below`] (and so every range, index,
    /// chance and delay) reads the fewest whole bytes that cover its range. Generators forked
    /// from it read the same byte string, in the order the world asks, so one string drives a
    /// whole run. This is the hook for coverage-guided fuzzing (`fuzz/`, target
    /// `sim_schedule`): the fuzzer edits decisions directly rather than a seed. Fork seeds and
    /// raw [`SimRng::next_u64`] draws (ids) still come from the PRNG.
    pub fn with_choices(seed: u64, choices: Vec<u8>) -> SimRng {
        SimRng {
            choices: Some(Choices(Arc::new(ChoiceString {
                used_up: AtomicBool::new(choices.is_empty()),
                bytes_and_position: Mutex::new((choices, 0)),
            }))),
            ..SimRng::new(seed)
        }
    }

    /// A new generator whose stream is independent of this one's later draws.
    pub fn fork(&mut self) -> SimRng {
        SimRng {
            choices: self.choices.clone(),
            ..SimRng::new(self.next_u64())
        }
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A value in `0..n` (0 when `n` is 0), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        if let Some(choice) = self.choices.as_ref().and_then(|c| c.take(n)) {
            return choice;
        }
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A value in `lo..=hi` (`lo` if `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// An index into a collection of `len` items; `len` must not be 0.
    pub fn index(&mut self, len: usize) -> usize {
        debug_assert!(len > 0, "choosing from nothing");
        self.below(len as u64) as usize
    }

    /// True with probability `per_million` / 1,000,000.
    pub fn chance(&mut self, per_million: u32) -> bool {
        per_million > 0 && self.below(1_000_000) < u64::from(per_million)
    }

    /// A delay in `lo..=hi` milliseconds, skewed towards `lo`: the smaller of two uniform
    /// draws, so most messages are fast and a few are slow (a long tail, as on real links).
    pub fn skewed(&mut self, lo: u64, hi: u64) -> u64 {
        self.range(lo, hi).min(self.range(lo, hi))
    }
}

impl Choices {
    /// The next decision in `0..n`, or `None` once the bytes are used up (or if there is
    /// nothing to decide).
    fn take(&self, n: u64) -> Option<u64> {
        if n <= 1 || self.0.used_up.load(Ordering::Relaxed) {
            return None;
        }
        let width = (u64::BITS - (n - 1).leading_zeros()).div_ceil(8) as usize;
        let mut guard = self.0.bytes_and_position.lock().ok()?;
        let (bytes, at) = &mut *guard;
        // A draw wider than what is left gets nothing, but a narrower one later still may.
        let chunk = bytes.get(*at..*at + width)?;
        *at += width;
        if *at == bytes.len() {
            self.0.used_up.store(true, Ordering::Relaxed);
        }
        Some(chunk.iter().fold(0, |v, &b| v << 8 | u64::from(b)) % n)
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_forks_differ() {
        let (mut a, mut b) = (SimRng::new(7), SimRng::new(7));
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        let mut f = a.fork();
        assert_ne!(f.next_u64(), a.next_u64());
    }

    #[test]
    fn a_draw_too_wide_for_the_last_byte_leaves_it_for_a_narrower_one() {
        let mut r = SimRng::with_choices(7, vec![5]);
        let mut prng = SimRng::new(7);
        assert_eq!(
            r.below(1000),
            prng.below(1000),
            "two bytes wanted, one left"
        );
        assert_eq!(r.below(10), 5, "the last byte is still there");
        assert_eq!(r.below(10), prng.below(10), "used up: the PRNG from here");
    }

    #[test]
    fn choices_come_first_then_the_prng() {
        let mut r = SimRng::with_choices(7, vec![3, 0x01, 0x02, 200]);
        assert_eq!(r.below(10), 3, "one byte covers 0..10");
        assert_eq!(r.below(1000), 0x0102, "two bytes, big-endian");
        let mut f = r.fork();
        assert_eq!(f.below(100), 0, "a fork reads the same string: 200 % 100");
        let (mut a, mut b) = (r.clone(), SimRng::new(7));
        b.next_u64(); // The fork's seed came from the PRNG.
        assert_eq!(a.below(1 << 40), b.below(1 << 40), "then the PRNG");
        assert_eq!(SimRng::with_choices(1, vec![9]).below(1), 0);
    }

    #[test]
    fn a_run_without_choices_is_the_seeded_run() {
        let mut cfg = crate::SimConfig::new(3, crate::Preset::Heavy);
        cfg.time_ms = 1_000;
        let fuzzed = crate::run_with_choices(cfg.clone(), Vec::new());
        assert_eq!(fuzzed.trace_hash, crate::run(cfg).trace_hash);
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = SimRng::new(1);
        for _ in 0..1000 {
            assert!((3..=9).contains(&r.range(3, 9)));
            assert!((3..=9).contains(&r.skewed(3, 9)));
            assert!(r.index(4) < 4);
        }
        assert!(!r.chance(0));
        assert!(r.chance(1_000_000));
        assert_eq!(r.range(5, 2), 5);
    }
}

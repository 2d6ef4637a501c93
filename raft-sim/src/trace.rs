//! The event trace: a running hash of everything the world did (always), and the full text of
//! it (on request: `--trace FILE`, determinism tests). Two runs with equal settings give equal
//! hashes; that is how determinism is proven.

/// A running trace of a run.
#[derive(Clone, Debug)]
pub struct Trace {
    hash: u64,
    lines: Option<Vec<String>>,
}

impl Trace {
    /// A trace that keeps the full text when `full`, else only a hash of compact digests.
    pub fn new(full: bool) -> Trace {
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            lines: full.then(Vec::new),
        }
    }

    /// True if the full text is kept (callers skip building text otherwise).
    pub fn is_full(&self) -> bool {
        self.lines.is_some()
    }

    /// Records one event: `digest` always goes into the hash; `text` (built only for a full
    /// trace) goes into the hash and the text.
    pub fn record(&mut self, now_ms: u64, digest: [u64; 3], text: impl FnOnce() -> String) {
        self.mix(now_ms);
        for d in digest {
            self.mix(d);
        }
        if let Some(lines) = &mut self.lines {
            let line = format!("{now_ms:>8} {}", text());
            for b in line.bytes() {
                self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
            lines.push(line);
        }
    }

    /// The hash of everything recorded so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// The full text, if kept.
    pub fn lines(&self) -> Option<&[String]> {
        self.lines.as_deref()
    }

    fn mix(&mut self, v: u64) {
        self.hash = (self.hash ^ v)
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(5);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_records_equal_hashes() {
        let (mut a, mut b, mut c) = (Trace::new(false), Trace::new(true), Trace::new(true));
        a.record(1, [2, 3, 4], || {
            unreachable!("compact traces build no text")
        });
        b.record(1, [2, 3, 4], || "x".into());
        c.record(1, [2, 3, 4], || "y".into());
        assert_ne!(b.hash(), c.hash());
        assert_eq!(b.lines().unwrap(), ["       1 x"]);
        assert!(a.lines().is_none());
        let mut d = Trace::new(false);
        d.record(1, [2, 3, 4], String::new);
        assert_eq!(a.hash(), d.hash());
    }
}

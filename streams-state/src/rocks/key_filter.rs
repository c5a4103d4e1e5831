//! An in-memory Bloom filter of the keys a window-store segment was given, so that a
//! fetch of a key the segment never held skips RocksDB altogether.
//!
//! A stream-stream join fetches the other side's store for every record, over about three
//! segments; most keys have no entry in most segments, yet creating a RocksDB iterator and
//! seeking it costs microseconds even when the prefix bloom filters rule the key out. The
//! filter answers "certainly not here" in nanoseconds. It only knows segments created by
//! this store object: a segment found on disk when the store opens has no filter, and is
//! always read.

/// Bits of one filter: 2^18 (32 KiB), about one false positive in 2,500 at 10,000 keys and
/// one in 12 at 50,000.
const BITS: usize = 1 << 18;
/// Probes per key.
const PROBES: u32 = 4;

/// The keys a segment was given, as a Bloom filter: [`may_hold`](Self::may_hold) is never
/// false for a key that was [`insert`](Self::insert)ed.
pub(crate) struct KeyFilter {
    words: Box<[u64]>,
}

impl KeyFilter {
    /// An empty filter.
    pub(crate) fn new() -> Self {
        KeyFilter {
            words: vec![0u64; BITS / 64].into_boxed_slice(),
        }
    }

    /// Records `key`.
    pub(crate) fn insert(&mut self, key: &[u8]) {
        let (mut h, step) = hashes(key);
        for _ in 0..PROBES {
            let bit = (h as usize) & (BITS - 1);
            if let Some(word) = self.words.get_mut(bit / 64) {
                *word |= 1 << (bit % 64);
            }
            h = h.wrapping_add(step);
        }
    }

    /// Whether `key` may have been recorded; false only if it certainly was not.
    pub(crate) fn may_hold(&self, key: &[u8]) -> bool {
        let (mut h, step) = hashes(key);
        for _ in 0..PROBES {
            let bit = (h as usize) & (BITS - 1);
            match self.words.get(bit / 64) {
                Some(word) if word & (1 << (bit % 64)) != 0 => {}
                _ => return false,
            }
            h = h.wrapping_add(step);
        }
        true
    }
}

/// Two 64-bit hashes of `key` for double hashing: FNV-1a, then a finalizer (SplitMix64's)
/// for the step, which is odd so that the probes differ.
fn hashes(key: &[u8]) -> (u64, u64) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z, (z >> 32) | 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_forgets_and_rarely_imagines() {
        let mut filter = KeyFilter::new();
        let keys: Vec<String> = (0..10_000).map(|i| format!("key-{i:06}")).collect();
        for k in &keys {
            filter.insert(k.as_bytes());
        }
        assert!(keys.iter().all(|k| filter.may_hold(k.as_bytes())));
        let imagined = (10_000..110_000)
            .filter(|i| filter.may_hold(format!("key-{i:06}").as_bytes()))
            .count();
        // About one in 2,500 expected: 40 of 100,000.
        assert!(imagined < 500, "{imagined} false positives of 100,000");
        assert!(!KeyFilter::new().may_hold(b"anything"));
    }
}

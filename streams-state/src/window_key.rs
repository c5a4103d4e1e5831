//! The byte layout of window-store keys, as Java's `WindowKeySchema`: the key, the 8-byte
//! big-endian window start, then a 4-byte big-endian sequence number (0 unless duplicates
//! are retained).
//!
//! Window stores use it on disk and in their changelogs, so a changelog record carries the
//! window start and the Java and Rust layouts match.
//!
//! # Examples
//!
//! ```
//! use streams_state::window_key;
//!
//! let bytes = window_key::encode(b"k", 5, 1);
//! assert_eq!(bytes, [b'k', 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1]);
//! assert_eq!(window_key::decode(&bytes), Some((&b"k"[..], 5, 1)));
//! ```

/// Bytes after the key: the timestamp and the sequence number.
pub const SUFFIX_LEN: usize = 12;

/// The window-store key of `key` in the window starting at `window_start`.
pub fn encode(key: &[u8], window_start: i64, seqnum: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + SUFFIX_LEN);
    encode_into(key, window_start, seqnum, &mut out);
    out
}

/// Appends the window-store key to `out`.
pub fn encode_into(key: &[u8], window_start: i64, seqnum: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(key);
    out.extend_from_slice(&window_start.to_be_bytes());
    out.extend_from_slice(&seqnum.to_be_bytes());
}

/// The RocksDB prefix extractor of window-store keys: the key without its suffix, so that a
/// read of one key seeks in prefix mode and the memtables' and tables' prefix bloom filters
/// skip the segments that do not hold it.
pub(crate) fn record_key_prefix() -> rocksdb::SliceTransform {
    fn strip(k: &[u8]) -> &[u8] {
        &k[..k.len().saturating_sub(SUFFIX_LEN)]
    }
    fn in_domain(k: &[u8]) -> bool {
        k.len() >= SUFFIX_LEN
    }
    rocksdb::SliceTransform::create("streams.window-key.v1", strip, Some(in_domain))
}

/// Keys up to this long are encoded on the stack by [`with_encoded`].
const STACK_KEY_LEN: usize = 116;

/// Calls `f` with the window-store key of `key` in the window starting at `window_start`,
/// as [`encode`] makes it, without allocating when the key is at most 116 bytes: what the
/// stores' point reads and writes use, once per record.
///
/// # Examples
///
/// ```
/// use streams_state::window_key;
///
/// let len = window_key::with_encoded(b"k", 5, 1, |bytes| {
///     assert_eq!(bytes, window_key::encode(b"k", 5, 1));
///     bytes.len()
/// });
/// assert_eq!(len, 13);
/// ```
pub fn with_encoded<R>(
    key: &[u8],
    window_start: i64,
    seqnum: u32,
    f: impl FnOnce(&[u8]) -> R,
) -> R {
    if key.len() > STACK_KEY_LEN {
        return f(&encode(key, window_start, seqnum));
    }
    let mut buf = [0u8; STACK_KEY_LEN + SUFFIX_LEN];
    let (k, rest) = buf.split_at_mut(key.len());
    k.copy_from_slice(key);
    rest[..8].copy_from_slice(&window_start.to_be_bytes());
    rest[8..SUFFIX_LEN].copy_from_slice(&seqnum.to_be_bytes());
    f(&buf[..key.len() + SUFFIX_LEN])
}

/// Splits a window-store key into key, window start and sequence number; `None` when it
/// is shorter than the 12-byte suffix.
pub fn decode(bytes: &[u8]) -> Option<(&[u8], i64, u32)> {
    let split = bytes.len().checked_sub(SUFFIX_LEN)?;
    let (key, suffix) = bytes.split_at(split);
    let (ts, seq) = suffix.split_first_chunk::<8>()?;
    let seq: [u8; 4] = seq.try_into().ok()?;
    Some((key, i64::from_be_bytes(*ts), u32::from_be_bytes(seq)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_short_input() {
        for (k, ts, seq) in [
            (&b""[..], 0, 0),
            (b"abc", i64::MAX, u32::MAX),
            (b"x", 1_700_000_000_000, 7),
        ] {
            let e = encode(k, ts, seq);
            assert_eq!(e.len(), k.len() + SUFFIX_LEN);
            assert_eq!(decode(&e), Some((k, ts, seq)));
        }
        assert_eq!(decode(&[0; 11]), None);
    }

    #[test]
    fn encodes_on_the_stack_as_on_the_heap() {
        for len in [0, 1, 115, 116, 117, 300] {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let expected = encode(&key, -3, 0x0102_0304);
            with_encoded(&key, -3, 0x0102_0304, |bytes| {
                assert_eq!(bytes, expected.as_slice(), "key of {len} bytes");
            });
        }
    }

    #[test]
    fn orders_by_key_then_time_then_sequence_for_equal_keys() {
        assert!(encode(b"k", 1, 9) < encode(b"k", 2, 0));
        assert!(encode(b"k", 2, 0) < encode(b"k", 2, 1));
    }
}

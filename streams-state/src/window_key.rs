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
    fn orders_by_key_then_time_then_sequence_for_equal_keys() {
        assert!(encode(b"k", 1, 9) < encode(b"k", 2, 0));
        assert!(encode(b"k", 2, 0) < encode(b"k", 2, 1));
    }
}

//! The byte layout of the RocksDB versioned store: three key spaces in one database.
//!
//! - `0x00 's'`: the observed stream time (8 bytes, big-endian), so that a store reopened
//!   from disk rejects the same late writes as before.
//! - `0x01 | key length (u32 BE) | key | timestamp`: one entry per version, valued `0x00`
//!   for a tombstone or `0x01` followed by the value. The length prefix keeps one key's
//!   versions contiguous, ordered by timestamp.
//! - `0x02 | expiry | key length | key | timestamp`: an index of the versions that can
//!   expire, ordered by the time after which no read can reach them (the next version's
//!   timestamp, or its own for a latest tombstone), so that expiring history is a scan from
//!   the start of this space.
//!
//! Timestamps are written big-endian with the sign bit flipped, so that byte order is
//! numeric order for negative timestamps too.

pub(super) const META_STREAM_TIME: &[u8] = &[0x00, b's'];
const VERSION: u8 = 0x01;
const EXPIRY: u8 = 0x02;
const TOMBSTONE: u8 = 0x00;
const VALUE: u8 = 0x01;

fn put_ts(out: &mut Vec<u8>, ts: i64) {
    out.extend_from_slice(&((ts as u64) ^ (1 << 63)).to_be_bytes());
}

fn read_ts(bytes: &[u8]) -> Option<i64> {
    let raw: [u8; 8] = bytes.try_into().ok()?;
    Some((u64::from_be_bytes(raw) ^ (1 << 63)) as i64)
}

fn put_key(out: &mut Vec<u8>, key: &[u8]) -> Option<()> {
    let len = u32::try_from(key.len()).ok()?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(key);
    Some(())
}

/// The prefix every version of `key` starts with; `None` for a key longer than 4 GiB.
pub(super) fn version_prefix(key: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(key.len() + 13);
    out.push(VERSION);
    put_key(&mut out, key)?;
    Some(out)
}

/// The entry key of the version of `key` (as its [`version_prefix`]) at `ts`.
pub(super) fn version_key(prefix: &[u8], ts: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(prefix.len() + 8);
    out.extend_from_slice(prefix);
    put_ts(&mut out, ts);
    out
}

/// The timestamp at the end of a version entry key.
pub(super) fn version_ts(entry_key: &[u8]) -> Option<i64> {
    let (_, ts) = entry_key.split_last_chunk::<8>()?;
    read_ts(ts)
}

/// The stored form of a version's value.
pub(super) fn encode_value(value: Option<&[u8]>) -> Vec<u8> {
    match value {
        None => vec![TOMBSTONE],
        Some(v) => {
            let mut out = Vec::with_capacity(v.len() + 1);
            out.push(VALUE);
            out.extend_from_slice(v);
            out
        }
    }
}

/// A stored version's value: `Some(None)` for a tombstone, `None` when malformed.
pub(super) fn decode_value(stored: &[u8]) -> Option<Option<&[u8]>> {
    match stored.split_first()? {
        (&TOMBSTONE, []) => Some(None),
        (&VALUE, v) => Some(Some(v)),
        _ => None,
    }
}

/// The expiry-index key of the version of `key` at `ts` that expires at `expiry`.
pub(super) fn expiry_key(expiry: i64, key: &[u8], ts: i64) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(key.len() + 21);
    out.push(EXPIRY);
    put_ts(&mut out, expiry);
    put_key(&mut out, key)?;
    put_ts(&mut out, ts);
    Some(out)
}

/// The first key of the expiry index.
pub(super) fn expiry_start() -> Vec<u8> {
    vec![EXPIRY]
}

/// The first expiry-index key of versions expiring after `time`.
pub(super) fn expiry_after(time: i64) -> Vec<u8> {
    match time.checked_add(1) {
        Some(next) => {
            let mut out = vec![EXPIRY];
            put_ts(&mut out, next);
            out
        }
        // Nothing expires after the end of time: bound by the next key space.
        None => vec![EXPIRY + 1],
    }
}

/// The version entry key an expiry-index key points at.
pub(super) fn version_key_of_expiry(expiry_key: &[u8]) -> Option<Vec<u8>> {
    let rest = expiry_key.get(9..)?;
    let mut out = Vec::with_capacity(rest.len() + 1);
    out.push(VERSION);
    out.extend_from_slice(rest);
    Some(out)
}

/// The stored observed stream time.
pub(super) fn decode_stream_time(stored: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(stored.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_order_as_bytes() {
        let keys: Vec<Vec<u8>> = [i64::MIN, -5, -1, 0, 3, i64::MAX]
            .iter()
            .map(|t| version_key(b"p", *t))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(version_ts(&keys[1]), Some(-5));
    }

    #[test]
    fn expiry_keys_point_at_their_versions() {
        let prefix = version_prefix(b"key").unwrap_or_default();
        let e = expiry_key(42, b"key", 7).unwrap_or_default();
        assert_eq!(version_key_of_expiry(&e), Some(version_key(&prefix, 7)));
        assert!(e < expiry_after(42) && e >= expiry_after(41));
    }

    #[test]
    fn values_and_tombstones_round_trip() {
        assert_eq!(decode_value(&encode_value(None)), Some(None));
        assert_eq!(decode_value(&encode_value(Some(b""))), Some(Some(&b""[..])));
        assert_eq!(decode_value(&[7]), None);
    }
}

//! The default partitioner.
//!
//! Records with a key go to `to_positive(murmur2(key_bytes)) % num_partitions`, exactly as
//! Kafka's Java producer and Kafka Streams place them, so that a Rust and a Java
//! application writing the same key to the same topic pick the same partition, and
//! co-partitioned topics line up for joins.
//!
//! Windowed keys are partitioned on the bytes of their base key only; see
//! [`window`](crate::window#partitioning).

/// Kafka's 32-bit MurmurHash2 (`org.apache.kafka.common.utils.Utils.murmur2`), returning
/// the same signed value as the Java method.
///
/// # Examples
///
/// ```
/// use streams_core::partitioner::murmur2;
///
/// assert_eq!(murmur2(b"21"), -973932308);
/// ```
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;

    // Java mixes in the length as an int; truncating matches it for any array Java can hold.
    let mut h = SEED ^ (data.len() as u32);

    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }

    // Java's switch falls through from case 3 to case 1.
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&first) = tail.first() {
        h ^= u32::from(first);
        h = h.wrapping_mul(M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Clears the sign bit, as Kafka's `Utils.toPositive`. Unlike `abs`, it maps `i32::MIN` to
/// 0 rather than overflowing, and it is what Kafka uses, so partitions agree with Java.
///
/// # Examples
///
/// ```
/// use streams_core::partitioner::to_positive;
///
/// assert_eq!(to_positive(-1), i32::MAX);
/// assert_eq!(to_positive(i32::MIN), 0);
/// assert_eq!(to_positive(5), 5);
/// ```
pub const fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition Kafka's default partitioner picks for a record with a key:
/// `to_positive(murmur2(key_bytes)) % num_partitions`.
///
/// # Panics
///
/// When `num_partitions` is 0. A topic always has at least one partition.
///
/// # Examples
///
/// ```
/// use streams_core::partitioner::default_partition;
///
/// assert_eq!(default_partition(b"foobar", 3), 0);
/// assert_eq!(default_partition(b"foobar", 12), 6);
/// ```
pub fn default_partition(key_bytes: &[u8], num_partitions: i32) -> i32 {
    if num_partitions == 1 {
        return 0;
    }
    to_positive(murmur2(key_bytes)) % num_partitions
}

/// Chooses the partition of a record written to a topic.
///
/// Key and value are the serialized bytes, `None` for Kafka's null.
pub trait Partitioner: Send + Sync {
    /// The partition for the record, in `0..num_partitions`, or `None` to let the producer
    /// choose (Kafka's sticky partitioning for records without a key).
    fn partition(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        num_partitions: i32,
    ) -> Option<i32>;
}

/// Kafka's default partitioning: the murmur2 hash of the key bytes, and the producer's
/// choice for records with a null key. It also defers to the producer when
/// `num_partitions` is not positive, rather than dividing by zero.
///
/// # Examples
///
/// ```
/// use streams_core::partitioner::{DefaultPartitioner, Partitioner};
///
/// let p = DefaultPartitioner;
/// assert_eq!(p.partition("t", Some(b"foobar"), None, 4), Some(2));
/// assert_eq!(p.partition("t", None, Some(b"v"), 4), None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultPartitioner;

impl Partitioner for DefaultPartitioner {
    fn partition(
        &self,
        _topic: &str,
        key: Option<&[u8]>,
        _value: Option<&[u8]>,
        num_partitions: i32,
    ) -> Option<i32> {
        // The producer reports a topic without partitions properly; a panic here would not.
        if num_partitions <= 0 {
            return None;
        }
        key.map(|key| default_partition(key, num_partitions))
    }
}

#[cfg(test)]
// In tests a failed unwrap is a failed assertion.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Kafka's own vectors, from `UtilsTest.testMurmur2`.
    #[test]
    fn murmur2_matches_kafka_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(
                murmur2(data),
                expected,
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
    }

    /// Further values computed with the Java method, covering every tail length, empty
    /// input, and bytes with the high bit set (Java's bytes are signed).
    #[test]
    fn murmur2_matches_java_on_edge_cases() {
        let cases: [(&[u8], i32); 8] = [
            (b"", 275_646_681),
            (b"a", -1_563_381_124),
            (b"ab", 316_155_434),
            (b"abcd", -1_323_649_548),
            (b"abcde", 461_995_741),
            (&[0xff, 0x80, 0x7f], 968_261_134),
            (&[0xff; 8], 185_950_397),
            (&[0x00, 0x01, 0x02, 0x03, 0xfc, 0xfd, 0xfe], -829_955_467),
        ];
        for (data, expected) in cases {
            assert_eq!(murmur2(data), expected, "{data:?}");
        }
    }

    #[test]
    fn to_positive_clears_the_sign_bit() {
        assert_eq!(to_positive(0), 0);
        assert_eq!(to_positive(1), 1);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(i32::MAX), i32::MAX);
        assert_eq!(to_positive(-973_932_308), 1_173_551_340);
    }

    #[test]
    fn default_partition_matches_java() {
        // Java: Utils.toPositive(Utils.murmur2(key)) % n
        let cases: [(&[u8], i32, i32); 18] = [
            (b"21", 3, 0),
            (b"21", 12, 0),
            (b"foobar", 3, 0),
            (b"foobar", 4, 2),
            (b"foobar", 12, 6),
            (b"a-little-bit-long-string", 3, 2),
            (b"a-little-bit-long-string", 12, 8),
            (b"a-little-bit-longer-string", 4, 3),
            (b"a-little-bit-longer-string", 12, 11),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 4, 1),
            (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 12, 5),
            (b"abc", 4, 3),
            (b"", 12, 9),
            (b"a", 3, 1),
            (b"key-1", 12, 0),
            (b"user-42", 3, 1),
            (b"user-42", 12, 4),
            (&[0xff, 0x80, 0x7f], 12, 10),
        ];
        for (key, n, expected) in cases {
            assert_eq!(default_partition(key, n), expected, "{key:?} % {n}");
        }
    }

    #[test]
    fn default_partitioner_hashes_keys_and_defers_null_keys() {
        let p = DefaultPartitioner;
        assert_eq!(
            p.partition("t", Some(b"foobar"), Some(b"v"), 12),
            Some(default_partition(b"foobar", 12))
        );
        assert_eq!(p.partition("t", None, Some(b"v"), 12), None);
        assert_eq!(p.partition("t", Some(b"k"), None, 0), None);
        for n in [1, 3, 4, 12, 100] {
            for key in [&b"a"[..], b"", b"key-1", b"\xff\xfe"] {
                let partition = p.partition("t", Some(key), None, n).unwrap();
                assert!((0..n).contains(&partition));
            }
        }
        let boxed: Box<dyn Partitioner> = Box::new(p);
        assert_eq!(boxed.partition("t", Some(b"21"), None, 1), Some(0));
    }
}

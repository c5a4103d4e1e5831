//! What the foreign-key join writes to its internal topics and its subscription store, in
//! Kafka Streams' formats (`SubscriptionWrapperSerde`, `SubscriptionResponseWrapperSerde`,
//! `CombinedKeySchema`), and the murmur3 hash of the left value that marks stale responses.

use std::sync::{Arc, OnceLock};

use streams_core::{Error, Result, Serde, SerdeRef};

/// Kafka Streams' `Murmur3.DEFAULT_SEED`.
const SEED: i64 = 104_729;

/// A 128-bit murmur3 hash, as Java's `long[2]`.
pub(super) type Hash = [i64; 2];

/// Kafka Streams' `Murmur3.hash128(byte[])` (the x64 128-bit variant, seed 104729): the
/// same two longs Java computes, so the hashes on the wire agree with Java's.
pub(super) fn murmur3_128(data: &[u8]) -> Hash {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    let fmix = |mut h: u64| {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^= h >> 33;
        h
    };
    let mut h1 = SEED as u64;
    let mut h2 = SEED as u64;
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let (a, b) = block.split_at(8);
        let mut k1 = u64::from_le_bytes(a.try_into().unwrap_or([0; 8]));
        let mut k2 = u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
        k1 = k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 ^= k1;
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        k2 = k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 ^= k2;
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    // Java's switch falls through from 15 down to 1: bytes 8.. go into k2, 0..8 into k1.
    if tail.len() > 8 {
        let mut k2 = 0u64;
        for (i, &b) in tail[8..].iter().enumerate() {
            k2 ^= u64::from(b) << (8 * i);
        }
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    }
    if !tail.is_empty() {
        let mut k1 = 0u64;
        for (i, &b) in tail[..tail.len().min(8)].iter().enumerate() {
            k1 ^= u64::from(b) << (8 * i);
        }
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    }
    // Java xors in the length as an int widened to a long.
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    [h1 as i64, h2 as i64]
}

/// The hash of `value` as `serde` writes it to `topic` (Kafka Streams hashes the serialized
/// left value); `buf` is scratch space.
pub(super) fn value_hash<V: 'static>(
    serde: &SerdeRef<V>,
    topic: &str,
    value: &V,
    buf: &mut Vec<u8>,
) -> Result<Hash> {
    buf.clear();
    serde.serialize(topic, value, buf)?;
    Ok(murmur3_128(buf))
}

/// What the right side does with a subscription (Kafka Streams'
/// `SubscriptionWrapper.Instruction`, with its byte values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Instruction {
    /// Unsubscribe; answer nothing (the foreign key changed, the new one answers).
    DeleteKeyNoPropagate = 0,
    /// Unsubscribe and answer with no value (the left row was deleted).
    DeleteKeyAndPropagate = 1,
    /// Subscribe and answer, with no value when the right row is missing.
    PropagateNullIfNoFkValAvailable = 2,
    /// Subscribe and answer only when the right row exists.
    PropagateOnlyIfFkValAvailable = 3,
}

impl Instruction {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            0 => Instruction::DeleteKeyNoPropagate,
            1 => Instruction::DeleteKeyAndPropagate,
            2 => Instruction::PropagateNullIfNoFkValAvailable,
            3 => Instruction::PropagateOnlyIfFkValAvailable,
            _ => return None,
        })
    }

    pub(super) fn unsubscribes(self) -> bool {
        matches!(
            self,
            Instruction::DeleteKeyNoPropagate | Instruction::DeleteKeyAndPropagate
        )
    }
}

/// The subscription wrapper's version this build writes.
const SUBSCRIPTION_VERSION: u8 = 1;

/// A left row's subscription to a foreign key (Kafka Streams' `SubscriptionWrapper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Subscription<K> {
    /// The hash of the left value that sent it; `None` for a deleted row.
    pub(super) hash: Option<Hash>,
    pub(super) instruction: Instruction,
    pub(super) primary_key: K,
    /// The partition of the left row: the response goes back there. `None` in version 0.
    pub(super) primary_partition: Option<i32>,
    pub(super) version: u8,
}

impl<K> Subscription<K> {
    pub(super) fn new(
        hash: Option<Hash>,
        instruction: Instruction,
        primary_key: K,
        primary_partition: i32,
    ) -> Self {
        Subscription {
            hash,
            instruction,
            primary_key,
            primary_partition: Some(primary_partition),
            version: SUBSCRIPTION_VERSION,
        }
    }
}

/// The names Kafka Streams hands to serdes for the join's internal serialization:
/// `<application.id>-<subscription topic>-pk`, `-fk` and `-vh` (its "pseudo topics"). The
/// application id is known once the first processor starts.
pub(super) struct PseudoTopics {
    subscription_topic: String,
    resolved: OnceLock<[String; 3]>,
}

impl PseudoTopics {
    pub(super) fn new(subscription_topic: String) -> Arc<Self> {
        Arc::new(PseudoTopics {
            subscription_topic,
            resolved: OnceLock::new(),
        })
    }

    /// Fixes the names for `application_id`; the first application to start wins (one
    /// topology runs in one application).
    pub(super) fn init(&self, application_id: &str) {
        self.resolved.get_or_init(|| {
            let base = format!("{application_id}-{}", self.subscription_topic);
            [
                format!("{base}-pk"),
                format!("{base}-fk"),
                format!("{base}-vh"),
            ]
        });
    }

    fn get(&self, i: usize) -> &str {
        self.resolved
            .get()
            .map_or(self.subscription_topic.as_str(), |r| r[i].as_str())
    }

    /// For the primary (left) key.
    pub(super) fn primary_key(&self) -> &str {
        self.get(0)
    }

    /// For the foreign (right) key.
    pub(super) fn foreign_key(&self) -> &str {
        self.get(1)
    }

    /// For the left value, when hashing it.
    pub(super) fn value_hash(&self) -> &str {
        self.get(2)
    }
}

/// Kafka Streams' `SubscriptionWrapperSerde`: `{1 bit hash-is-null}{7 bits version}
/// {instruction byte}{16-byte hash, when present}{primary key}{4-byte partition, version 1}`.
/// The primary key is written with the left table's key serde under the `-pk` pseudo
/// topic, whatever topic the wrapper itself is written to.
pub(super) struct SubscriptionSerde<K> {
    pub(super) primary_key: SerdeRef<K>,
    pub(super) topics: Arc<PseudoTopics>,
}

impl<K: 'static> Serde<Subscription<K>> for SubscriptionSerde<K> {
    fn serialize(&self, topic: &str, value: &Subscription<K>, out: &mut Vec<u8>) -> Result<bool> {
        let null_hash = if value.hash.is_none() { 0x80 } else { 0 };
        out.push(value.version | null_hash);
        out.push(value.instruction as u8);
        if let Some([a, b]) = value.hash {
            out.extend_from_slice(&a.to_be_bytes());
            out.extend_from_slice(&b.to_be_bytes());
        }
        if !self
            .primary_key
            .serialize(self.topics.primary_key(), &value.primary_key, out)?
        {
            return Err(Error::serialization(
                "foreign-key join subscription",
                topic,
                "the primary key serialized to null",
            ));
        }
        if value.version > 0 {
            out.extend_from_slice(&value.primary_partition.unwrap_or(-1).to_be_bytes());
        }
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Subscription<K>> {
        let bad = |why: &str| {
            Error::deserialization("foreign-key join subscription", topic, why.to_owned())
        };
        let data = data.ok_or_else(|| bad("null data"))?;
        let [head, instruction, rest @ ..] = data else {
            return Err(bad("fewer than 2 bytes"));
        };
        let version = head & 0x7f;
        if version > SUBSCRIPTION_VERSION {
            return Err(bad(&format!("unsupported version {version}")));
        }
        let instruction = Instruction::from_byte(*instruction)
            .ok_or_else(|| bad(&format!("unknown instruction {instruction}")))?;
        let (hash, rest) = if head & 0x80 != 0 {
            (None, rest)
        } else {
            let (h, rest) = split_hash(rest).ok_or_else(|| bad("truncated hash"))?;
            (Some(h), rest)
        };
        let (key, primary_partition) = if version > 0 {
            let (key, p) = rest
                .split_last_chunk::<4>()
                .ok_or_else(|| bad("missing the partition"))?;
            (key, Some(i32::from_be_bytes(*p)))
        } else {
            (rest, None)
        };
        Ok(Subscription {
            hash,
            instruction,
            primary_key: self
                .primary_key
                .deserialize(self.topics.primary_key(), Some(key))?,
            primary_partition,
            version,
        })
    }
}

fn split_hash(data: &[u8]) -> Option<(Hash, &[u8])> {
    let (a, rest) = data.split_first_chunk::<8>()?;
    let (b, rest) = rest.split_first_chunk::<8>()?;
    Some(([i64::from_be_bytes(*a), i64::from_be_bytes(*b)], rest))
}

/// The right side's answer to a subscription (Kafka Streams' `SubscriptionResponseWrapper`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Response<VO> {
    /// The hash the subscription carried.
    pub(super) hash: Option<Hash>,
    /// The right row's value, `None` when there is none.
    pub(super) foreign_value: Option<VO>,
    /// Where the response goes (not written: the partitioner reads it).
    pub(super) primary_partition: Option<i32>,
}

/// Kafka Streams' `SubscriptionResponseWrapperSerde`: `{1 bit hash-is-null}{7 bits version
/// 0}{16-byte hash, when present}{foreign value}`. As in Java, a foreign value written as
/// no bytes (an empty string, for example) is read back as no value.
pub(super) struct ResponseSerde<VO> {
    pub(super) foreign_value: SerdeRef<VO>,
}

impl<VO: 'static> Serde<Response<VO>> for ResponseSerde<VO> {
    fn serialize(&self, topic: &str, value: &Response<VO>, out: &mut Vec<u8>) -> Result<bool> {
        match value.hash {
            Some([a, b]) => {
                out.push(0);
                out.extend_from_slice(&a.to_be_bytes());
                out.extend_from_slice(&b.to_be_bytes());
            }
            None => out.push(0x80),
        }
        if let Some(v) = &value.foreign_value {
            let start = out.len();
            if !self.foreign_value.serialize(topic, v, out)? {
                out.truncate(start);
            }
        }
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Response<VO>> {
        let bad =
            |why: &str| Error::deserialization("foreign-key join response", topic, why.to_owned());
        let data = data.ok_or_else(|| bad("null data"))?;
        let [head, rest @ ..] = data else {
            return Err(bad("no bytes"));
        };
        if head & 0x7f != 0 {
            return Err(bad(&format!("unsupported version {}", head & 0x7f)));
        }
        let (hash, rest) = if head & 0x80 != 0 {
            (None, rest)
        } else {
            let (h, rest) = split_hash(rest).ok_or_else(|| bad("truncated hash"))?;
            (Some(h), rest)
        };
        let foreign_value = if rest.is_empty() {
            None
        } else {
            Some(self.foreign_value.deserialize(topic, Some(rest))?)
        };
        Ok(Response {
            hash,
            foreign_value,
            primary_partition: None,
        })
    }
}

/// A subscription's key on the right side: the foreign key (`None` for a null one, sent by
/// a left join only) and the left row's key (Kafka Streams' `CombinedKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CombinedKey<KO, K> {
    pub(super) foreign_key: Option<KO>,
    pub(super) primary_key: K,
}

/// Writes `{4-byte length of the foreign key}{foreign key}` into `buf` (cleared first): the
/// prefix of every subscription store key of that foreign key (`CombinedKeySchema`).
pub(super) fn write_prefix<KO: 'static>(
    buf: &mut Vec<u8>,
    serde: &SerdeRef<KO>,
    topic: &str,
    foreign_key: &KO,
) -> Result<()> {
    buf.clear();
    buf.extend_from_slice(&[0; 4]);
    serde.serialize(topic, foreign_key, buf)?;
    let len = i32::try_from(buf.len() - 4)
        .map_err(|_| Error::serialization("foreign key", topic, "longer than 2 GiB"))?;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use streams_core::serde::Serdes;

    use super::*;

    /// Values computed with Kafka Streams' `Murmur3.hash128` (4.4.0), one per tail length
    /// and a few whole blocks.
    #[test]
    fn murmur3_matches_java() {
        let cases: &[(&[u8], Hash)] = &[
            (b"", [-7122613646888064702, -8341524471658347240]),
            (b"a", [3702349557448790408, -1601067453332442517]),
            (b"ab", [8790855041734910294, 287955972398599856]),
            (b"abc", [-8302830256874342818, -1638537471643095488]),
            (b"abcd", [3291415483613967444, 4765820251369310804]),
            (b"abcde", [-8347375753862846636, 3741436003706404424]),
            (b"abcdef", [-7282194572728468364, 886398999581506169]),
            (b"abcdefg", [-9073644070686348014, -7474215868582378086]),
            (b"abcdefgh", [-3899774358444468009, -7475653065840408363]),
            (b"abcdefghi", [5468294767348829347, 9107382057419093116]),
            (b"abcdefghij", [-8010733268061100435, -9147530740498120639]),
            (b"abcdefghijk", [326973109139384153, -7241410474936600586]),
            (b"abcdefghijkl", [1070162136197060536, 4939070244528654963]),
            (
                b"abcdefghijklm",
                [1649793042067750681, -8694619383457800111],
            ),
            (
                b"abcdefghijklmn",
                [5776338970268436236, -7378472367879217540],
            ),
            (
                b"abcdefghijklmno",
                [6934798420820414558, -3171636795235186529],
            ),
            (
                b"abcdefghijklmnop",
                [277716041451514697, -1405573957210381782],
            ),
            (
                b"abcdefghijklmnopq",
                [-4762775347478751618, 727191151608778615],
            ),
            (
                b"abcdefghijklmnopqrstuvwx",
                [2416986282363386556, 7986368171954396270],
            ),
            (
                b"abcdefghijklmnopqrstuvwxyz01234",
                [-1961502159145714421, 3429149062150199967],
            ),
            (
                b"abcdefghijklmnopqrstuvwxyz012345",
                [-8469578063616121262, 8597749636853681742],
            ),
            (
                b"abcdefghijklmnopqrstuvwxyz0123456",
                [-2531546800076285717, -864242833213362629],
            ),
            (
                b"abcdefghijklmnopqrstuvwxyz0123456789ABCD",
                [1371011933909858770, -1654214400078400568],
            ),
            (
                &[
                    255, 248, 241, 234, 227, 220, 213, 206, 199, 192, 185, 178, 171, 164, 157, 150,
                    143, 136, 129,
                ],
                [-7229336002167258607, 3946651948760927826],
            ),
        ];
        for (data, expected) in cases {
            assert_eq!(murmur3_128(data), *expected, "{data:?}");
        }
    }

    #[test]
    fn subscription_round_trips_in_java_layout() {
        let topics = PseudoTopics::new("t".into());
        let serde = SubscriptionSerde {
            primary_key: Serdes::string(),
            topics,
        };
        let sub = Subscription::new(
            Some([1, -2]),
            Instruction::PropagateOnlyIfFkValAvailable,
            "pk".to_owned(),
            7,
        );
        let mut out = Vec::new();
        assert!(serde.serialize("x", &sub, &mut out).unwrap());
        let mut expected = vec![1u8, 3];
        expected.extend_from_slice(&1i64.to_be_bytes());
        expected.extend_from_slice(&(-2i64).to_be_bytes());
        expected.extend_from_slice(b"pk");
        expected.extend_from_slice(&7i32.to_be_bytes());
        assert_eq!(out, expected);
        assert_eq!(serde.deserialize("x", Some(&out)).unwrap(), sub);

        let deleted =
            Subscription::new(None, Instruction::DeleteKeyAndPropagate, "k".to_owned(), 0);
        out.clear();
        serde.serialize("x", &deleted, &mut out).unwrap();
        assert_eq!(out, [0x81, 1, b'k', 0, 0, 0, 0]);
        assert_eq!(serde.deserialize("x", Some(&out)).unwrap(), deleted);
        // Version 0 has no partition.
        let v0 = serde
            .deserialize("x", Some(&[0x80, 2, b'a', b'b']))
            .unwrap();
        assert_eq!(
            (v0.primary_key.as_str(), v0.primary_partition, v0.version),
            ("ab", None, 0)
        );
        assert!(serde.deserialize("x", Some(&[2, 0])).is_err());
        assert!(serde.deserialize("x", Some(&[1, 9, 0, 0, 0, 0])).is_err());
    }

    #[test]
    fn an_empty_foreign_value_reads_back_as_none() {
        let serde = ResponseSerde {
            foreign_value: Serdes::string(),
        };
        let mut out = Vec::new();
        let r = Response {
            hash: Some([3, 4]),
            foreign_value: Some(String::new()),
            primary_partition: Some(1),
        };
        serde.serialize("t", &r, &mut out).unwrap();
        assert_eq!(out.len(), 17);
        let back = serde.deserialize("t", Some(&out)).unwrap();
        assert_eq!((back.hash, back.foreign_value), (Some([3, 4]), None));
        out.clear();
        let r = Response {
            hash: None,
            foreign_value: Some("v".to_owned()),
            primary_partition: None,
        };
        serde.serialize("t", &r, &mut out).unwrap();
        assert_eq!(out, [0x80, b'v']);
        assert_eq!(serde.deserialize("t", Some(&out)).unwrap(), r);
    }

    #[test]
    fn prefix_is_length_then_key() {
        let mut buf = vec![9; 3];
        write_prefix(&mut buf, &Serdes::string(), "t", &"fk".to_owned()).unwrap();
        assert_eq!(buf, [0, 0, 0, 2, b'f', b'k']);
    }
}

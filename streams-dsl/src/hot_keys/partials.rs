//! What the merge stage of a two-phase aggregation receives and keeps: one shard's partial
//! aggregate ([`Sharded`]), the current partial aggregates of a key, one per shard
//! ([`Partials`]), and their serdes for the repartition topic and the store.
//!
//! Both write the shard as 4 bytes big-endian, `0xFFFFFFFF` for a key that is not salted.
//! `Sharded` is the shard, then the partial's bytes; `Partials` is the number of entries (4
//! bytes), then per entry its shard, the length of its partial (4 bytes) and the partial.

use std::sync::Arc;

use streams_core::{Error, Result, Serde, SerdeRef};

/// The shard field of a key that is not salted.
const UNSALTED: u32 = u32::MAX;

/// One shard's partial aggregate, on its way to the merge stage.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sharded<VA> {
    pub(crate) shard: Option<u32>,
    pub(crate) partial: VA,
}

/// The current partial aggregate of each shard of one key, ordered by shard (an unsalted
/// key's single partial first). Empty is Kafka's null: the merge stage's store deletes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Partials<VA>(Vec<(Option<u32>, VA)>);

impl<VA> Default for Partials<VA> {
    fn default() -> Self {
        Partials(Vec::new())
    }
}

impl<VA> Partials<VA> {
    /// These partials with `sharded` as its shard's partial, in place of any earlier one.
    pub(crate) fn with(mut self, sharded: Sharded<VA>) -> Self {
        match self.0.binary_search_by_key(&sharded.shard, |(s, _)| *s) {
            Ok(i) => self.0[i].1 = sharded.partial,
            Err(i) => self.0.insert(i, (sharded.shard, sharded.partial)),
        }
        self
    }

    /// These partials without `shard`'s.
    pub(crate) fn without(mut self, shard: Option<u32>) -> Self {
        if let Ok(i) = self.0.binary_search_by_key(&shard, |(s, _)| *s) {
            self.0.remove(i);
        }
        self
    }

    /// The partials combined with `merge` in shard order; `None` when there are none.
    pub(crate) fn merged<K>(self, key: &K, merge: impl Fn(&K, VA, VA) -> VA) -> Option<VA> {
        self.0
            .into_iter()
            .map(|(_, partial)| partial)
            .reduce(|a, b| merge(key, a, b))
    }
}

fn write_shard(shard: Option<u32>, out: &mut Vec<u8>) {
    out.extend_from_slice(&shard.unwrap_or(UNSALTED).to_be_bytes());
}

/// Reads a 4-byte big-endian number at the start of `data`, returning it and the rest.
fn read_u32(data: &[u8]) -> Option<(u32, &[u8])> {
    let (head, rest) = data.split_first_chunk::<4>()?;
    Some((u32::from_be_bytes(*head), rest))
}

fn shard_of(raw: u32) -> Option<u32> {
    (raw != UNSALTED).then_some(raw)
}

fn malformed(what: &str, topic: &str, why: &str) -> Error {
    Error::deserialization(what, topic, format!("malformed {what}: {why}"))
}

/// The serde of [`Sharded`] over the partial aggregate's serde.
pub(crate) struct ShardedSerde<VA> {
    inner: SerdeRef<VA>,
}

impl<VA: 'static> ShardedSerde<VA> {
    pub(crate) fn new_ref(inner: SerdeRef<VA>) -> SerdeRef<Sharded<VA>> {
        Arc::new(ShardedSerde { inner })
    }
}

impl<VA: 'static> Serde<Sharded<VA>> for ShardedSerde<VA> {
    fn serialize(&self, topic: &str, value: &Sharded<VA>, out: &mut Vec<u8>) -> Result<bool> {
        let start = out.len();
        write_shard(value.shard, out);
        if self.inner.serialize(topic, &value.partial, out)? {
            Ok(true)
        } else {
            out.truncate(start);
            Ok(false)
        }
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Sharded<VA>> {
        const WHAT: &str = "partial aggregate";
        let data = data.ok_or_else(|| malformed(WHAT, topic, "null data"))?;
        let (shard, body) = read_u32(data).ok_or_else(|| malformed(WHAT, topic, "no shard"))?;
        Ok(Sharded {
            shard: shard_of(shard),
            partial: self.inner.deserialize(topic, Some(body))?,
        })
    }
}

/// The serde of [`Partials`] over the partial aggregate's serde.
pub(crate) struct PartialsSerde<VA> {
    inner: SerdeRef<VA>,
}

impl<VA: 'static> PartialsSerde<VA> {
    pub(crate) fn new_ref(inner: SerdeRef<VA>) -> SerdeRef<Partials<VA>> {
        Arc::new(PartialsSerde { inner })
    }
}

impl<VA: 'static> Serde<Partials<VA>> for PartialsSerde<VA> {
    fn serialize(&self, topic: &str, value: &Partials<VA>, out: &mut Vec<u8>) -> Result<bool> {
        if value.0.is_empty() {
            return Ok(false);
        }
        let too_long = || Error::serialization("partial aggregates", topic, "too long");
        let n = u32::try_from(value.0.len()).map_err(|_| too_long())?;
        out.extend_from_slice(&n.to_be_bytes());
        for (shard, partial) in &value.0 {
            write_shard(*shard, out);
            let len_at = out.len();
            out.extend_from_slice(&[0; 4]);
            if !self.inner.serialize(topic, partial, out)? {
                return Err(Error::serialization(
                    "partial aggregates",
                    topic,
                    "a partial aggregate is null",
                ));
            }
            let len = u32::try_from(out.len() - len_at - 4).map_err(|_| too_long())?;
            out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
        }
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Partials<VA>> {
        const WHAT: &str = "partial aggregates";
        let Some(data) = data else {
            return Ok(Partials::default());
        };
        let short = || malformed(WHAT, topic, "shorter than its lengths say");
        let (n, mut rest) = read_u32(data).ok_or_else(short)?;
        let mut partials = Vec::new();
        for _ in 0..n {
            let (shard, r) = read_u32(rest).ok_or_else(short)?;
            let (len, r) = read_u32(r).ok_or_else(short)?;
            let len = usize::try_from(len).map_err(|_| short())?;
            if len > r.len() {
                return Err(short());
            }
            let (bytes, r) = r.split_at(len);
            partials.push((shard_of(shard), self.inner.deserialize(topic, Some(bytes))?));
            rest = r;
        }
        if !rest.is_empty() {
            return Err(malformed(WHAT, topic, "trailing bytes"));
        }
        Ok(Partials(partials))
    }

    fn is_null(&self, value: &Partials<VA>) -> bool {
        value.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use streams_core::Serde;
    use streams_core::serde::Serdes;

    use super::{Partials, PartialsSerde, Sharded, ShardedSerde};

    fn sharded(shard: Option<u32>, partial: i64) -> Sharded<i64> {
        Sharded { shard, partial }
    }

    #[test]
    fn partials_keep_the_latest_of_each_shard_in_shard_order() {
        let p = Partials::default()
            .with(sharded(Some(2), 5))
            .with(sharded(Some(0), 1))
            .with(sharded(Some(2), 7));
        assert_eq!(p, Partials(vec![(Some(0), 1), (Some(2), 7)]));
        let concat = |_: &(), a: i64, b: i64| a * 10 + b;
        assert_eq!(p.clone().merged(&(), concat), Some(17));
        assert_eq!(
            p.without(Some(0)).without(Some(2)).merged(&(), concat),
            None
        );
    }

    #[test]
    fn both_serdes_round_trip_and_refuse_truncated_data() {
        let serde = PartialsSerde::new_ref(Serdes::string());
        let p = Partials(vec![(None, "a".to_string()), (Some(3), String::new())]);
        let mut bytes = Vec::new();
        assert!(serde.serialize("t", &p, &mut bytes).unwrap());
        assert_eq!(serde.deserialize("t", Some(&bytes)).unwrap(), p);
        assert!(
            serde
                .deserialize("t", Some(&bytes[..bytes.len() - 1]))
                .is_err()
        );
        let mut empty = Vec::new();
        assert!(
            !serde
                .serialize("t", &Partials::default(), &mut empty)
                .unwrap()
        );
        assert!(serde.is_null(&serde.deserialize("t", None).unwrap()));

        let serde = ShardedSerde::new_ref(Serdes::i64());
        for s in [sharded(None, -1), sharded(Some(9), 4)] {
            let mut bytes = Vec::new();
            serde.serialize("t", &s, &mut bytes).unwrap();
            assert_eq!(serde.deserialize("t", Some(&bytes)).unwrap(), s);
        }
        assert!(serde.deserialize("t", Some(&[0, 0])).is_err());
    }
}

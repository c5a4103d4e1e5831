//! `KTable::group_by`: Kafka Streams' `KTableRepartitionMap`, and the serde of the changes it
//! writes to the repartition topic (`ChangedSerializer` / `ChangedDeserializer`).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Error, Record, Result, Serde, SerdeRef};

use super::{Change, KTable};
use crate::kgrouped::{KGroupedTable, is_null};
use crate::materialized::Grouped;

/// Kafka Streams' `KTableRepartitionMap`: selects the new key and value of the old and of
/// the new row of each update.
///
/// The selector sees present values only (a delete has no new row, an insert no old one).
/// A selected pair whose key or value is null (by the grouping's serdes) is not sent. When
/// both pairs are sent and their keys are equal, one record carries both values, so that the
/// aggregation applies the subtractor and the adder as one update (Kafka Streams 3.5 and
/// later); otherwise the old pair goes first, as a change with only an old value, then the
/// new pair, as a change with only a new value.
struct KTableRepartitionMap<F, KR, VR> {
    selector: Arc<F>,
    key_serde: Option<SerdeRef<KR>>,
    value_serde: Option<SerdeRef<VR>>,
}

impl<F, KR: 'static, VR: 'static> KTableRepartitionMap<F, KR, VR> {
    fn keep(&self, pair: (KR, VR)) -> Option<(KR, VR)> {
        let null = is_null(self.key_serde.as_ref(), &pair.0)
            || is_null(self.value_serde.as_ref(), &pair.1);
        (!null).then_some(pair)
    }
}

impl<K, V, KR, VR, F> Processor<K, Change<V>, KR, Change<VR>> for KTableRepartitionMap<F, KR, VR>
where
    K: 'static,
    V: 'static,
    KR: Clone + PartialEq + 'static,
    VR: Clone + 'static,
    F: Fn(&K, V) -> (KR, VR) + 'static,
{
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, KR, Change<VR>>,
    ) -> Result<()> {
        // An out-of-order update of a versioned table changes its history, not the
        // aggregate (Kafka Streams' `useVersionedSemantics`).
        if !record.value.is_latest {
            return Ok(());
        }
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        // Java maps the new value first, then the old one.
        let new = value
            .new
            .map(|v| (self.selector)(&key, v))
            .and_then(|p| self.keep(p));
        let old = value
            .old
            .map(|v| (self.selector)(&key, v))
            .and_then(|p| self.keep(p));
        match (old, new) {
            (Some((ok, ov)), Some((nk, nv))) if ok == nk => ctx.forward(Record {
                key: ok,
                value: Change::new(Some(nv), Some(ov)),
                timestamp,
                headers,
            }),
            (old, new) => {
                if let Some((ok, ov)) = old {
                    ctx.forward(Record {
                        key: ok,
                        value: Change::new(None, Some(ov)),
                        timestamp,
                        headers: headers.clone(),
                    })?;
                }
                match new {
                    Some((nk, nv)) => ctx.forward(Record {
                        key: nk,
                        value: Change::new(Some(nv), None),
                        timestamp,
                        headers,
                    }),
                    None => Ok(()),
                }
            }
        }
    }
}

/// The encoding flags of Kafka Streams' `ChangedSerializer`: the last byte of the data.
const OLD_ONLY: u8 = 0;
const NEW_ONLY: u8 = 1;
const BOTH: u8 = 2;
/// The same three with an `isLatest` byte before the flag (versioned tables); read only.
const OLD_ONLY_LATEST: u8 = 3;
const NEW_ONLY_LATEST: u8 = 4;
const BOTH_LATEST: u8 = 5;

/// Kafka Streams' `ChangedSerializer` and `ChangedDeserializer`, byte for byte: the change
/// of a table row as it goes through a repartition topic.
///
/// `{old}{0}` for an old value only, `{new}{1}` for a new value only, and
/// `{zigzag varint: length of new}{new}{old}{2}` for both; a change with neither is an
/// error. Flags 3 to 5 (the same with an `isLatest` byte before the flag, written for
/// versioned tables) are read too.
pub(crate) struct ChangedSerde<V> {
    inner: SerdeRef<V>,
}

impl<V> ChangedSerde<V> {
    pub(crate) fn new(inner: SerdeRef<V>) -> Self {
        ChangedSerde { inner }
    }
}

fn write_zigzag_varint(value: i32, buf: &mut [u8; 5]) -> usize {
    // Java's ByteUtils.writeVarint: zigzag, then 7 bits a byte, low bits first.
    let mut v = ((value << 1) ^ (value >> 31)) as u32;
    let mut n = 0;
    while v & !0x7f != 0 {
        buf[n] = ((v & 0x7f) | 0x80) as u8;
        v >>= 7;
        n += 1;
    }
    buf[n] = v as u8;
    n + 1
}

fn read_zigzag_varint(data: &[u8]) -> Option<(i32, usize)> {
    let mut value: u32 = 0;
    for (i, b) in data.iter().enumerate().take(5) {
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            let v = ((value >> 1) as i32) ^ -((value & 1) as i32);
            return Some((v, i + 1));
        }
    }
    None
}

impl<V: 'static> Serde<Change<V>> for ChangedSerde<V> {
    fn serialize(&self, topic: &str, value: &Change<V>, out: &mut Vec<u8>) -> Result<bool> {
        let start = out.len();
        let new = match &value.new {
            Some(v) => self.inner.serialize(topic, v, out)?,
            None => false,
        };
        let new_len = out.len() - start;
        let old_start = out.len();
        let old = match &value.old {
            Some(v) => self.inner.serialize(topic, v, out)?,
            None => false,
        };
        match (new, old) {
            (true, true) => {
                let len = i32::try_from(new_len).map_err(|_| {
                    Error::serialization("change", topic, "the new value is too long")
                })?;
                let mut varint = [0u8; 5];
                let n = write_zigzag_varint(len, &mut varint);
                out.splice(start..start, varint[..n].iter().copied());
                out.push(BOTH);
            }
            (true, false) => out.push(NEW_ONLY),
            (false, true) => {
                debug_assert_eq!(old_start, start);
                out.push(OLD_ONLY);
            }
            (false, false) => {
                return Err(Error::serialization(
                    "change",
                    topic,
                    "Both old and new values are null in ChangeSerializer, which is not allowed.",
                ));
            }
        }
        Ok(true)
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> Result<Change<V>> {
        let malformed =
            |why: &str| Error::deserialization("change", topic, format!("malformed change: {why}"));
        let data = data.ok_or_else(|| malformed("null data"))?;
        let Some((&flag, body)) = data.split_last() else {
            return Err(malformed("no data"));
        };
        let body = match flag {
            OLD_ONLY_LATEST | NEW_ONLY_LATEST | BOTH_LATEST => {
                body.split_last()
                    .ok_or_else(|| malformed("no isLatest byte"))?
                    .1
            }
            _ => body,
        };
        let read = |b: &[u8]| self.inner.deserialize(topic, Some(b)).map(Some);
        match flag {
            OLD_ONLY | OLD_ONLY_LATEST => Ok(Change::new(None, read(body)?)),
            NEW_ONLY | NEW_ONLY_LATEST => Ok(Change::new(read(body)?, None)),
            BOTH | BOTH_LATEST => {
                let (len, n) = read_zigzag_varint(body).ok_or_else(|| malformed("bad varint"))?;
                let len = usize::try_from(len).map_err(|_| malformed("negative length"))?;
                let rest = &body[n..];
                if len > rest.len() {
                    return Err(malformed("new value longer than the data"));
                }
                let (new, old) = rest.split_at(len);
                Ok(Change::new(read(new)?, read(old)?))
            }
            other => Err(malformed(&format!("unknown encoding flag {other}"))),
        }
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KTable<K, V> {
    /// Groups the table's rows by a new key for an aggregation, as Kafka Streams'
    /// `KTable.groupBy`: `selector` maps each row to the new key and the value to aggregate.
    ///
    /// Every update of the table goes through the repartition topic
    /// `<application.id>-<store>-repartition` (or `<name>-repartition` for a named
    /// [`Grouped`]), partitioned by murmur2 of the new key, as a change: the old row's pair,
    /// which the aggregation subtracts, and the new row's pair, which it adds. When both
    /// have the same new key they travel as one record and the aggregation applies the
    /// subtractor, then the adder, as one update; otherwise the old key's change goes first.
    /// A delete only subtracts. A pair whose key or value is null (by the grouping's serdes)
    /// is not sent: a row whose new key is null leaves every group.
    ///
    /// The grouping needs serdes for the new key and value: give them with
    /// [`group_by_with`](Self::group_by_with); without them the build fails. The table's
    /// store is added if it has none, since the old rows are needed.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// // Users per region: a user moving leaves the old region's count.
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .table("user-region", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_with(|_user, region| (region, 1i64), Grouped::with(Serdes::string(), Serdes::i64()))
    ///     .count()
    ///     .to_stream()
    ///     .to("users-per-region", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
    /// let driver = TopologyTestDriver::new(builder.build()?, config)?;
    /// let input = driver.create_input_topic("user-region", Serdes::string(), Serdes::option(Serdes::string()));
    /// let out = driver.create_output_topic("users-per-region", Serdes::string(), Serdes::option(Serdes::i64()));
    /// input.pipe_input("ann".to_string(), Some("eu".to_string()))?;
    /// input.pipe_input("bob".to_string(), Some("eu".to_string()))?;
    /// input.pipe_input("ann".to_string(), Some("us".to_string()))?;
    /// input.pipe_input("bob".to_string(), None)?;
    /// assert_eq!(
    ///     out.read_key_values_to_list()?,
    ///     vec![
    ///         ("eu".to_string(), Some(1)),
    ///         ("eu".to_string(), Some(2)),
    ///         ("eu".to_string(), Some(1)), // ann leaves eu ...
    ///         ("us".to_string(), Some(1)), // ... and joins us
    ///         ("eu".to_string(), Some(0)), // bob is deleted
    ///     ]
    /// );
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn group_by<KR, VR, F>(&self, selector: F) -> KGroupedTable<KR, VR>
    where
        KR: Clone + PartialEq + 'static,
        VR: Clone + 'static,
        F: Fn(&K, V) -> (KR, VR) + Send + Sync + 'static,
    {
        self.group_by_with(selector, Grouped::default())
    }

    /// [`group_by`](Self::group_by) with the serdes of the new key and value and a name
    /// given by `grouped`. A named grouping names the selecting node and the repartition
    /// topic (`<application.id>-<name>-repartition`) after it.
    pub fn group_by_with<KR, VR, F>(
        &self,
        selector: F,
        grouped: Grouped<KR, VR>,
    ) -> KGroupedTable<KR, VR>
    where
        KR: Clone + PartialEq + 'static,
        VR: Clone + 'static,
        F: Fn(&K, V) -> (KR, VR) + Send + Sync + 'static,
    {
        let selector = Arc::new(selector);
        let mut st = self.builder.borrow_mut();
        let given = grouped.name.as_deref().or(self.next_name.as_deref());
        let name = st.name_or_generate(given, "KTABLE-SELECT-");
        let (ks, vs) = (grouped.key_serde.clone(), grouped.value_serde.clone());
        let r = st
            .topology
            .add_processor::<K, Change<V>, KR, Change<VR>, _, _>(
                &name,
                move || KTableRepartitionMap {
                    selector: Arc::clone(&selector),
                    key_serde: ks.clone(),
                    value_serde: vs.clone(),
                },
                &[self.node.as_str()],
            )
            .map(|_| ());
        st.record(r);
        // The old rows are needed: Kafka Streams' enableSendingOldValues(forceMaterialization).
        if let Some(lazy) = &self.lazy_store {
            lazy.materialize(&mut st);
        }
        drop(st);
        self.enable_sending_old_values();
        KGroupedTable {
            builder: self.builder.clone(),
            node: name,
            key_serde: grouped.key_serde,
            value_serde: grouped.value_serde,
            name: grouped.name,
            next_name: None,
            repartition_source: Rc::new(RefCell::new(None)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use streams_core::Serde;
    use streams_core::serde::Serdes;

    use super::{ChangedSerde, read_zigzag_varint, write_zigzag_varint};
    use crate::Change;

    fn bytes(c: &Change<String>) -> Vec<u8> {
        let mut out = Vec::new();
        ChangedSerde::new(Serdes::string())
            .serialize("t", c, &mut out)
            .unwrap();
        out
    }

    #[test]
    fn changes_are_encoded_as_kafka_streams_changed_serializer_does() {
        // Bytes from Kafka Streams 4.4's ChangedSerializer over a StringSerializer.
        let s = |v: &str| Some(v.to_string());
        assert_eq!(bytes(&Change::new(s("ab"), None)), b"ab\x01");
        assert_eq!(bytes(&Change::new(None, s("cd"))), b"cd\x00");
        assert_eq!(bytes(&Change::new(s("ab"), s("cde"))), b"\x04abcde\x02");
        let serde = ChangedSerde::new(Serdes::string());
        for c in [
            Change::new(s("ab"), None),
            Change::new(None, s("cd")),
            Change::new(s("ab"), s("cde")),
            Change::new(s(""), s("")),
        ] {
            assert_eq!(serde.deserialize("t", Some(&bytes(&c))).unwrap(), c);
        }
        let mut out = Vec::new();
        assert!(
            serde
                .serialize("t", &Change::new(None, None), &mut out)
                .is_err()
        );
        assert!(serde.deserialize("t", Some(b"ab\x09")).is_err());
        // Versioned tables' flags carry an isLatest byte before the flag.
        assert_eq!(
            serde.deserialize("t", Some(b"ab\x01\x04")).unwrap(),
            Change::new(s("ab"), None)
        );
    }

    #[test]
    fn varints_are_zigzag_encoded_as_in_java() {
        let mut buf = [0u8; 5];
        for (v, expected) in [
            (0, &[0u8][..]),
            (2, &[4]),
            (63, &[126]),
            (64, &[0x80, 0x01]),
            (300, &[0xd8, 0x04]),
        ] {
            let n = write_zigzag_varint(v, &mut buf);
            assert_eq!(&buf[..n], expected, "{v}");
            assert_eq!(read_zigzag_varint(&buf[..n]), Some((v, n)));
        }
    }
}

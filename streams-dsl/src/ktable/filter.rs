//! `KTable::filter` and `filter_not`.

use std::sync::Arc;

use streams_core::processor::{Processor, ProcessorContext};
use streams_core::{Record, Result};

use super::{Change, KTable, MappedGetterSupplier, SendOldValues};
use crate::keep::Keep;

/// Kafka Streams' `KTableFilter`: a value that does not pass becomes a delete.
struct KTableFilter<F> {
    predicate: Arc<F>,
    keep: Keep,
    send_old: bool,
    /// Over a versioned table every update is forwarded, even one that is a delete before
    /// and after (Kafka Streams' `useVersionedSemantics`).
    versioned: bool,
}

impl<K, V, F> Processor<K, Change<V>, K, Change<V>> for KTableFilter<F>
where
    K: Clone + 'static,
    V: Clone + 'static,
    F: Fn(&K, &V) -> bool + 'static,
{
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        let pass = |v: Option<V>| v.filter(|v| self.keep.keeps((self.predicate)(&key, v)));
        let is_latest = value.is_latest;
        let new = pass(value.new);
        let old = if self.send_old { pass(value.old) } else { None };
        if !self.versioned && self.send_old && new.is_none() && old.is_none() {
            return Ok(());
        }
        ctx.forward(Record {
            value: Change {
                new,
                old,
                is_latest,
            },
            key,
            timestamp,
            headers,
        })
    }
}

impl<K: Clone + 'static, V: Clone + 'static> KTable<K, V> {
    /// Keeps the rows for which `predicate` holds; an update whose new value fails it is
    /// forwarded as a delete (a tombstone downstream), as Kafka Streams' `KTableFilter` does.
    /// The predicate never sees a deleted (`None`) value.
    ///
    /// # Examples
    ///
    /// ```
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .table("scores", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .filter(|_, v| *v >= 10)
    ///     .to_stream()
    ///     .to("high", Produced::inherit());
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let scores = driver.create_input_topic("scores", Serdes::string(), Serdes::i64());
    /// let high = driver.create_output_topic("high", Serdes::string(), Serdes::option(Serdes::i64()));
    /// scores.pipe_input("a".to_string(), 12)?;
    /// scores.pipe_input("a".to_string(), 3)?;
    /// assert_eq!(high.read_values_to_list()?, vec![Some(12), None]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn filter<F>(&self, predicate: F) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.filter_impl(predicate, Keep::Matching)
    }

    /// Drops the rows for which `predicate` holds: the complement of [`filter`](Self::filter).
    pub fn filter_not<F>(&self, predicate: F) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.filter_impl(predicate, Keep::NonMatching)
    }

    fn filter_impl<F>(&self, predicate: F, keep: Keep) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let predicate = Arc::new(predicate);
        let send_old = SendOldValues::child_of(&self.send_old);
        let flag = Arc::clone(&send_old);
        let p = Arc::clone(&predicate);
        let versioned = self.versioned;
        let name = self.add_table_processor("KTABLE-FILTER-", move || KTableFilter {
            predicate: Arc::clone(&p),
            keep,
            send_old: flag.enabled(),
            versioned,
        });
        let getter = self.getter.clone().map(|parent| {
            Arc::new(MappedGetterSupplier {
                parent,
                f: Arc::new(move |k: &K, v: V| keep.keeps(predicate(k, &v)).then_some(v)),
            }) as super::GetterRef<K, V>
        });
        let mut t = KTable::new(
            self.builder.clone(),
            name,
            self.key_serde.clone(),
            self.value_serde.clone(),
            None,
        );
        t.getter = getter;
        t.send_old = send_old;
        t.lazy_store = self.lazy_store.clone();
        t.versioned = self.versioned;
        t
    }
}

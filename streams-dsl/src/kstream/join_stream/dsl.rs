//! `join`, `left_join` and `outer_join` of two streams, and the wiring of their nodes and
//! stores.

use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use streams_core::{Error, Result};

use super::options::StreamJoined;
use super::outer::{JoinSide, TimeTrackers};
use super::processor::{BothFn, JoinProcessor, JoinSpec, OnlyFn};
use super::store::{outer_store_builder, side_store_builder};
use super::window_processor::JoinWindowProcessor;
use crate::join_kind::JoinKind;
use crate::join_windows::JoinWindows;
use crate::kstream::KStream;
use crate::kstream::merge::PassThrough;
use crate::repartition::{NullKeys, Partitioning, add_repartition_with};

/// A join's value joiner, split by what it is called with: both values, the left value
/// alone (left and outer joins) or the right value alone (outer joins).
struct Joiners<V1, V2, VR> {
    both: BothFn<V1, V2, VR>,
    left_only: Option<OnlyFn<V1, VR>>,
    right_only: Option<OnlyFn<V2, VR>>,
}

/// Everything `do_join` needs besides the streams.
struct JoinArgs<V, VO, VR> {
    joiners: Joiners<V, VO, VR>,
    kind: JoinKind,
}

impl<K: Clone + 'static, V: Clone + 'static> KStream<K, V> {
    /// Joins this stream with `other`: each pair of records with the same key whose
    /// timestamps are at most `windows` apart gives `joiner(left value, right value)`.
    ///
    /// The rules, as Kafka Streams' `KStreamKStreamJoin`:
    ///
    /// - a left record at `t1` joins the right records in `[t1 - before, t1 + after]`,
    ///   both ends inclusive, and a right record at `t2` the left records in
    ///   `[t2 - after, t2 + before]`, whichever arrives second producing the result;
    /// - the result has the key, the larger of the two timestamps, and the headers of the
    ///   record that arrived second;
    /// - records with a null key or a null value (as the serdes' `is_null` tells, for
    ///   `Option` types) are dropped and counted;
    /// - each side's records are kept, duplicates included, for `before + after + grace`
    ///   of stream time; a record older than that is not stored and finds no partners;
    /// - both inputs must be co-partitioned: the application refuses to start when their
    ///   topics differ in partition count. A stream whose key an upstream operator may have
    ///   changed is first repartitioned through `<application.id>-<name>-repartition`
    ///   (`<name>` is the join's name with `-left`/`-right`, or the stream's node name).
    ///
    /// `joined` gives serdes, names and store options; [`StreamJoined::inherit`] takes the
    /// streams' serdes. The result has the key serde and no value serde.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let orders = builder.stream("orders", Consumed::with(Serdes::string(), Serdes::string()));
    /// let payments = builder.stream("payments", Consumed::with(Serdes::string(), Serdes::i64()));
    /// orders
    ///     .join(
    ///         &payments,
    ///         |order, amount| format!("{order} paid {amount}"),
    ///         JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(5)),
    ///         StreamJoined::inherit(),
    ///     )
    ///     .to("paid", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let o = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    /// let p = driver.create_input_topic("payments", Serdes::string(), Serdes::i64());
    /// let out = driver.create_output_topic("paid", Serdes::string(), Serdes::string());
    /// o.pipe_record(TestRecord::new("o1".to_string(), "book".to_string(), 10_000))?;
    /// p.pipe_record(TestRecord::new("o1".to_string(), 12, 15_000))?; // exactly 5 s later: joins
    /// p.pipe_record(TestRecord::new("o1".to_string(), 13, 15_001))?; // 1 ms too late
    /// let results = out.read_records_to_list()?;
    /// assert_eq!(results.len(), 1);
    /// assert_eq!(results[0].value, "book paid 12");
    /// assert_eq!(results[0].timestamp, 15_000); // the larger timestamp
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn join<VO, VR, F>(
        &self,
        other: &KStream<K, VO>,
        joiner: F,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        let joiners = Joiners {
            both: Arc::new(joiner),
            left_only: None,
            right_only: None,
        };
        self.do_join(
            other,
            JoinArgs {
                joiners,
                kind: JoinKind::Inner,
            },
            windows,
            joined,
        )
    }

    /// Left-joins this stream with `other`: as [`join`](Self::join), and every left record
    /// that finds no partner gives `joiner(left value, None)` once its window has closed.
    ///
    /// A left record without a match is held back in the join's shared store and emitted,
    /// with its own timestamp, once stream time passes its window end plus grace
    /// (`t1 + after + grace`); a match arriving before that removes it, so no spurious
    /// `(v, None)` result precedes a real one. A left record whose window had already
    /// closed when it arrived gives `(v, None)` at once. A left record with a null key
    /// (and a value) gives `joiner(v, None)` at once; one with a null value is dropped.
    /// Held-back records are looked at when a record advances stream time, at most once
    /// per emit interval of wall-clock time (the setting
    /// [`OUTER_JOIN_EMIT_INTERVAL`](crate::OUTER_JOIN_EMIT_INTERVAL): 1 s, and 0 in the test
    /// driver, as in Kafka Streams).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let clicks = builder.stream("clicks", Consumed::with(Serdes::string(), Serdes::string()));
    /// let views = builder.stream("views", Consumed::with(Serdes::string(), Serdes::string()));
    /// clicks
    ///     .left_join(
    ///         &views,
    ///         |c, v| format!("{c}/{}", v.map_or("-", String::as_str)),
    ///         JoinWindows::of_time_difference_and_grace(Duration::from_secs(5), Duration::from_secs(2)),
    ///         StreamJoined::inherit(),
    ///     )
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let c = driver.create_input_topic("clicks", Serdes::string(), Serdes::string());
    /// let v = driver.create_input_topic("views", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// c.pipe_record(TestRecord::new("a".to_string(), "c1".to_string(), 0))?;
    /// v.pipe_record(TestRecord::new("z".to_string(), "v".to_string(), 7_000))?;
    /// assert!(out.is_empty()); // the window of c1 closes at 0 + 5 s + 2 s
    /// v.pipe_record(TestRecord::new("z".to_string(), "v".to_string(), 7_001))?;
    /// let r = out.read_record()?;
    /// assert_eq!((r.value.as_str(), r.timestamp), ("c1/-", 0));
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn left_join<VO, VR, F>(
        &self,
        other: &KStream<K, VO>,
        joiner: F,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        let joiner = Arc::new(joiner);
        let only = Arc::clone(&joiner);
        let joiners = Joiners {
            both: Arc::new(move |a: &V, b: &VO| joiner(a, Some(b))),
            left_only: Some(Arc::new(move |a: &V| only(a, None))),
            right_only: None,
        };
        self.do_join(
            other,
            JoinArgs {
                joiners,
                kind: JoinKind::Left,
            },
            windows,
            joined,
        )
    }

    /// Outer-joins this stream with `other`: as [`left_join`](Self::left_join), for both
    /// sides. A right record without a partner gives `joiner(None, right value)` once
    /// stream time passes `t2 + before + grace`; left non-matches give
    /// `joiner(left value, None)` as in a left join. Held-back records come out in
    /// timestamp order, right before left for equal timestamps, then by key bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_dsl::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let a = builder.stream("a", Consumed::with(Serdes::string(), Serdes::string()));
    /// let b = builder.stream("b", Consumed::with(Serdes::string(), Serdes::string()));
    /// a.outer_join(
    ///     &b,
    ///     |l, r| format!("{}+{}", l.map_or("-", String::as_str), r.map_or("-", String::as_str)),
    ///     JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(1)),
    ///     StreamJoined::inherit(),
    /// )
    /// .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?, StreamsConfig::new())?;
    /// let ia = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    /// let ib = driver.create_input_topic("b", Serdes::string(), Serdes::string());
    /// let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// ib.pipe_record(TestRecord::new("k".to_string(), "right".to_string(), 0))?;
    /// ia.pipe_record(TestRecord::new("x".to_string(), "left".to_string(), 1_001))?;
    /// ia.pipe_record(TestRecord::new("y".to_string(), "left".to_string(), 2_002))?;
    /// assert_eq!(out.read_values_to_list()?, vec!["-+right", "left+-"]);
    /// # Ok::<(), streams_dsl::Error>(())
    /// ```
    pub fn outer_join<VO, VR, F>(
        &self,
        other: &KStream<K, VO>,
        joiner: F,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
        F: Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        let joiner = Arc::new(joiner);
        let left = Arc::clone(&joiner);
        let right = Arc::clone(&joiner);
        let joiners = Joiners {
            both: Arc::new(move |a: &V, b: &VO| joiner(Some(a), Some(b))),
            left_only: Some(Arc::new(move |a: &V| left(Some(a), None))),
            right_only: Some(Arc::new(move |b: &VO| right(None, Some(b)))),
        };
        self.do_join(
            other,
            JoinArgs {
                joiners,
                kind: JoinKind::Outer,
            },
            windows,
            joined,
        )
    }

    fn do_join<VO, VR>(
        &self,
        other: &KStream<K, VO>,
        args: JoinArgs<V, VO, VR>,
        windows: JoinWindows,
        joined: StreamJoined<K, V, VO>,
    ) -> KStream<K, VR>
    where
        VO: Clone + 'static,
        VR: Clone + 'static,
    {
        let JoinArgs { joiners, kind } = args;
        let left_outer = kind.joins_unmatched_left();
        let right_outer = kind == JoinKind::Outer;
        if !Rc::ptr_eq(&self.builder, &other.builder) {
            self.builder.borrow_mut().fail(Error::Topology(format!(
                "cannot join '{}' with '{}': the streams come from different builders",
                self.node, other.node
            )));
            return KStream::new(
                self.builder.clone(),
                self.node.clone(),
                None,
                None,
                Partitioning::ByKey,
            );
        }
        let name = joined.name.clone().or_else(|| self.next_name.clone());
        let key_serde = joined
            .key_serde
            .clone()
            .or_else(|| self.key_serde.clone())
            .or_else(|| other.key_serde.clone());
        let value_serde = joined
            .value_serde
            .clone()
            .or_else(|| self.value_serde.clone());
        let other_value_serde = joined
            .other_value_serde
            .clone()
            .or_else(|| other.value_serde.clone());
        let null_keys = if left_outer {
            NullKeys::Keep
        } else {
            NullKeys::Drop
        };

        // Repartition first, as Kafka Streams' doJoin, so that the indexes match.
        let this_node = if self.partitioning.requires_repartition() {
            let prefix = name
                .as_ref()
                .map_or_else(|| self.node.clone(), |n| format!("{n}-left"));
            add_repartition_with(
                &self.builder,
                &self.node,
                &prefix,
                key_serde.clone(),
                value_serde.clone(),
                null_keys,
            )
        } else {
            self.node.clone()
        };
        let other_node = if other.partitioning.requires_repartition() {
            let prefix = name
                .as_ref()
                .map_or_else(|| other.node.clone(), |n| format!("{n}-right"));
            add_repartition_with(
                &self.builder,
                &other.node,
                &prefix,
                key_serde.clone(),
                other_value_serde.clone(),
                null_keys,
            )
        } else {
            other.node.clone()
        };

        let mut st = self.builder.borrow_mut();
        // Names, in Kafka Streams' order: both windowed nodes, the generated join names,
        // the merge node.
        let named = |st: &mut crate::builder::BuilderState, suffix: &str, prefix: &str| {
            let generated = st.new_name(prefix);
            name.as_ref().map_or(generated, |n| format!("{n}{suffix}"))
        };
        let this_windowed = named(&mut st, "-this-windowed", "KSTREAM-WINDOWED-");
        let other_windowed = named(&mut st, "-other-windowed", "KSTREAM-WINDOWED-");
        let (this_suffix, this_prefix) = if right_outer {
            ("-outer-this-join", "KSTREAM-OUTERTHIS-")
        } else {
            ("-this-join", "KSTREAM-JOINTHIS-")
        };
        let (other_suffix, other_prefix) = if left_outer {
            ("-outer-other-join", "KSTREAM-OUTEROTHER-")
        } else {
            ("-other-join", "KSTREAM-JOINOTHER-")
        };
        let this_generated = st.new_name(this_prefix);
        let other_generated = st.new_name(other_prefix);
        let this_join = name
            .as_ref()
            .map_or_else(|| this_generated.clone(), |n| format!("{n}{this_suffix}"));
        let other_join = name
            .as_ref()
            .map_or_else(|| other_generated.clone(), |n| format!("{n}{other_suffix}"));
        let merge = named(&mut st, "-merge", "KSTREAM-MERGE-");

        let store_base = joined.store_name.as_deref();
        let this_store = store_base.map_or_else(
            || format!("{this_generated}-store"),
            |s| format!("{s}{this_suffix}-store"),
        );
        let other_store = store_base.map_or_else(
            || format!("{other_generated}-store"),
            |s| format!("{s}{other_suffix}-store"),
        );
        let outer_store = left_outer.then(|| {
            let suffix = if right_outer {
                "-outer-shared-join"
            } else {
                "-left-shared-join"
            };
            match store_base {
                Some(s) => format!("{s}{suffix}-store"),
                None => format!(
                    "KSTREAM-OUTERSHARED-{}-store",
                    this_generated.strip_prefix(this_prefix).unwrap_or_default()
                ),
            }
        });

        let (Some(key_serde), Some(value_serde), Some(other_value_serde)) =
            (key_serde, value_serde, other_value_serde)
        else {
            st.fail(Error::Topology(format!(
                "join '{merge}' needs a key serde and both value serdes for its stores: pass \
                 them with StreamJoined::with(key, value, other value)"
            )));
            drop(st);
            return KStream::new(self.builder.clone(), merge, None, None, Partitioning::ByKey);
        };

        let topics: Vec<String> = st
            .topology
            .upstream_source_topics(&this_node)
            .into_iter()
            .chain(st.topology.upstream_source_topics(&other_node))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        st.topology.add_copartition_group(&topic_refs);

        let trackers = Arc::new(TimeTrackers::default());
        let Joiners {
            both,
            left_only,
            right_only,
        } = joiners;
        let this_spec = Arc::new(JoinSpec::<K, V, VO, V, VO, VR> {
            this_side: JoinSide::Left,
            other_store: other_store.clone(),
            outer_store: outer_store.clone(),
            join_before: windows.before_ms(),
            join_after: windows.after_ms(),
            windows_before: windows.before_ms(),
            windows_after: windows.after_ms(),
            grace: windows.grace_ms(),
            key_serde: key_serde.clone(),
            this_serde: value_serde.clone(),
            left_serde: value_serde.clone(),
            right_serde: other_value_serde.clone(),
            both: Arc::clone(&both),
            this_only: left_only.clone(),
            left_only: left_only.clone(),
            right_only: right_only.clone(),
            trackers: Arc::clone(&trackers),
        });
        let reversed = Arc::clone(&both);
        let other_spec = Arc::new(JoinSpec::<K, VO, V, V, VO, VR> {
            this_side: JoinSide::Right,
            other_store: this_store.clone(),
            outer_store: outer_store.clone(),
            join_before: windows.after_ms(),
            join_after: windows.before_ms(),
            windows_before: windows.before_ms(),
            windows_after: windows.after_ms(),
            grace: windows.grace_ms(),
            key_serde: key_serde.clone(),
            this_serde: other_value_serde.clone(),
            left_serde: value_serde.clone(),
            right_serde: other_value_serde.clone(),
            both: Arc::new(move |b: &VO, a: &V| reversed(a, b)),
            this_only: right_only.clone(),
            left_only,
            right_only,
            trackers,
        });

        let r = st
            .topology
            .add_processor::<K, V, K, V, _, _>(
                &this_windowed,
                JoinWindowProcessor::supplier(&this_store, key_serde.clone(), value_serde.clone()),
                &[this_node.as_str()],
            )
            .and_then(|t| {
                t.add_processor::<K, VO, K, VO, _, _>(
                    &other_windowed,
                    JoinWindowProcessor::supplier(
                        &other_store,
                        key_serde.clone(),
                        other_value_serde.clone(),
                    ),
                    &[other_node.as_str()],
                )
            })
            .and_then(|t| {
                t.add_processor::<K, V, K, VR, _, _>(
                    &this_join,
                    move || JoinProcessor::new(Arc::clone(&this_spec)),
                    &[this_windowed.as_str()],
                )
            })
            .and_then(|t| {
                t.add_processor::<K, VO, K, VR, _, _>(
                    &other_join,
                    move || JoinProcessor::new(Arc::clone(&other_spec)),
                    &[other_windowed.as_str()],
                )
            })
            .and_then(|t| {
                t.add_processor::<K, VR, K, VR, _, _>(
                    &merge,
                    || PassThrough,
                    &[this_join.as_str(), other_join.as_str()],
                )
            })
            .map(|_| ());
        st.record(r);

        let stores = (|| -> Result<()> {
            let this_builder = side_store_builder(
                &this_store,
                &windows,
                &joined,
                key_serde.clone(),
                value_serde.clone(),
            )?;
            let other_builder = side_store_builder(
                &other_store,
                &windows,
                &joined,
                key_serde.clone(),
                other_value_serde.clone(),
            )?;
            st.topology
                .add_state_store(this_builder, &[this_windowed.as_str(), other_join.as_str()])?;
            st.topology.add_state_store(
                other_builder,
                &[other_windowed.as_str(), this_join.as_str()],
            )?;
            if let Some(outer_store) = &outer_store {
                st.topology.add_state_store(
                    outer_store_builder(outer_store, &joined),
                    &[this_join.as_str(), other_join.as_str()],
                )?;
            }
            Ok(())
        })();
        st.record(stores);
        drop(st);
        KStream::new(
            self.builder.clone(),
            merge,
            Some(key_serde),
            None,
            Partitioning::ByKey,
        )
    }
}

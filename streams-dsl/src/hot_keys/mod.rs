//! Hot-key mitigation: salting the keys that carry a large share of the records, and
//! aggregating them in two phases so that the result is the unsalted aggregation's.
//!
//! A key with, say, 30% of a topic's records puts 30% of the load on one partition and so
//! on one task, whatever the number of instances. [`HotKeys`] names such keys and spreads
//! each over `shards` salted keys (`cust-1#0` … `cust-1#3`; the format is on
//! [`HotKeys`]); other keys are left as they are. It is used in two places:
//!
//! - **by a producer** ([`HotKeys::salt`], [`HotKeys::salt_by`], or [`HotKeys::salt_key`]
//!   with [`HotKeys::serde`] for keys that are not strings), the `partitionKey` pattern:
//!   the hot key's records are spread over the input topic's partitions, and a topology
//!   reads them with [`KGroupedStream::with_salted_keys`](crate::KGroupedStream::with_salted_keys);
//! - **in a topology** ([`KGroupedStream::with_hot_keys`](crate::KGroupedStream::with_hot_keys)),
//!   which salts the keys before the aggregation's repartition topic.
//!
//! # Two-phase aggregation
//!
//! ```text
//! records ─► salt key ─► repartition by salted key ─► partial aggregate per (key, shard)
//!        ─► regroup by key (repartition) ─► partials of the key, one per shard ─► merge ─► table
//! ```
//!
//! The partial stage is the plain aggregation ([`KGroupedStream`](crate::KGroupedStream)'s
//! `count`, `reduce`, `aggregate`, or [`TimeWindowedKStream`](crate::TimeWindowedKStream)'s)
//! over salted keys. Its results form a table, and the merge stage regroups that table by
//! the original key as [`KTable::group_by`](crate::KTable::group_by) does, so it receives
//! partial-aggregate **updates**, each carrying the shard's old and new partial. It keeps,
//! per key (and window), the latest partial of every shard, replacing a shard's partial on
//! each update, and forwards the merge of the key's partials in shard order. `count`, `sum`,
//! `min` and `max` merge with `+`, `+`, min and max; `reduce` merges with its reducer and
//! `aggregate` with a `merger(key, aggregate, aggregate)`, as Kafka Streams' `Merger`.
//!
//! **What "equal to the plain aggregation" means.** Once every partial update has reached
//! the merge stage, the merged value of each key (and window) is the value the same
//! aggregation without salting has, provided the merge combines two shards' partials into
//! what one aggregate of both shards' records would be, whatever the split and order:
//! `merge(fold(A), fold(B)) == fold(A ∪ B)`, associative and commutative. Sums, counts,
//! minima, maxima, sets and sorted lists qualify; a list in arrival order does not, and
//! floating-point sums agree up to rounding. Intermediate updates differ: the merge stage
//! forwards one update per partial update it receives, and each is the merge of the
//! shards' partials received so far, so the sequence of intermediate values is not the
//! plain aggregation's (records of different shards are processed by different tasks, in
//! no common order). With caching on (the default), each stage forwards its updates when
//! its cache flushes, at commit: the merge stage then sees far fewer updates than there
//! are records, which is where the load on the hot key's merge task goes down. The merged
//! table is not materialized in a store of its own (its values are computed from the
//! partials); it can be joined, since lookups merge the stored partials.
//!
//! Timestamps, null keys and values, and windows follow the partial stage's aggregation:
//! an update's timestamp is the largest record timestamp folded into it, records with a
//! null key or value are dropped, and windowed partials follow their window's grace (see
//! [`HotKeyTimeWindowedStream`] for lateness across partitions).
//!
//! **Cost.** Every key, hot or not, goes through both stages: two repartition topics and
//! two stores instead of one. The merge stage's store keeps, per key, one partial per shard
//! that has records.
//!
//! # Examples
//!
//! A per-customer revenue in which `cust-1` has most orders, merged back per customer:
//!
//! ```
//! use streams_dsl::hot_keys::HotKeys;
//! use streams_dsl::prelude::*;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
//!     .group_by_key()
//!     .with_hot_keys(HotKeys::new(["cust-1"], 8))
//!     .max()
//!     .to_stream()
//!     .to("largest-order", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
//! let driver = TopologyTestDriver::with_options(builder.build()?, StreamsConfig::new(), DriverOptions::new().partitions(4))?;
//! let orders = driver.create_input_topic("orders", Serdes::string(), Serdes::i64());
//! let largest = driver.create_output_topic("largest-order", Serdes::string(), Serdes::option(Serdes::i64()));
//! for (customer, total) in [("cust-1", 30), ("cust-1", 95), ("cust-2", 12), ("cust-1", 40), ("cust-1", 60)] {
//!     orders.pipe_input(customer.to_string(), total)?;
//! }
//! let finals = largest.read_key_values_to_map()?;
//! assert_eq!((finals["cust-1"], finals["cust-2"]), (Some(95), Some(12)));
//! # Ok::<(), streams_dsl::Error>(())
//! ```

mod grouped;
mod merge;
mod partials;
mod salt;
mod salted_serde;
mod stages;
mod windowed;

pub use grouped::HotKeyGroupedStream;
pub use salt::{HotKeys, MAX_SHARDS, SALT_SEPARATOR, Salted};
pub use windowed::HotKeyTimeWindowedStream;

//! `join`, `left_join` and `outer_join` of two streams within a [`JoinWindows`]: Kafka
//! Streams' `KStreamKStreamJoin`, with the outer-join "shared store" of KAFKA-10847.
//!
//! # Topology
//!
//! As in Kafka Streams, each side gets a window store retaining duplicates, filled by a
//! `KSTREAM-WINDOWED-` node; a join node per side (`KSTREAM-JOINTHIS-`/`KSTREAM-JOINOTHER-`,
//! or `KSTREAM-OUTERTHIS-`/`KSTREAM-OUTEROTHER-` for a side whose non-matches are emitted)
//! looks each record up in the other side's store; a `KSTREAM-MERGE-` node joins both
//! outputs. Left and outer joins add the shared `KSTREAM-OUTERSHARED-` store, where
//! non-matches wait for their window to close.

mod dsl;
mod options;
mod outer;
mod processor;
mod store;
mod window_processor;

pub use options::StreamJoined;

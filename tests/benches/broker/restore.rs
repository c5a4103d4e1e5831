//! Restoring a store from its changelog, the `restore` contestants of the broker benchmark:
//! how fast each runtime rebuilds a RocksDB key-value store when a task starts without
//! local state, as after a move to a new instance or the loss of a disk.
//!
//! For each contestant this process picks its `application.id`, creates an empty source
//! topic and the changelog topic the contestant's store will have
//! (`<application.id>-store-changelog`, compacted, both with [`PARTITIONS`] partitions so
//! that each of the four tasks restores a quarter), and fills the changelog with the same
//! records for every contestant: one per key, `BROKER_BENCH_RECORDS` distinct keys with
//! [`VALUE_LEN`]-byte values. The contestant (`stream` → `group_by_key` → `reduce` into the
//! logged RocksDB store `store`) then finds the changelog ahead of its empty state directory
//! and restores all of it before processing.
//!
//! The changelog is written without a transaction for `restore-eos` too: under exactly-once
//! the restore reads `read_committed`, which returns records written outside transactions
//! as they are.
//!
//! The contestant reports the time from its start to the first task's restore start as
//! `first_ms` (start-up: group join, task creation) and to the end of the last task's
//! restore as `done_ms`, with the records restored, so that the rate is that of the restore
//! alone.

use std::time::Instant;

use streams_dsl::prelude::*;

use super::{Figures, JavaPeer, PARTITIONS, create_topic, now_ms};

/// The name of the restored store, so its changelog is `<application.id>-store-changelog`
/// (`BrokerPeer.java` names its store the same).
const STORE: &str = "store";

/// How the parent tells a contestant the `application.id` it prepared the changelog for.
pub(crate) const APPLICATION_ID_ENV: &str = "BROKER_BENCH_APPLICATION_ID";

/// Runs restore contestant `side kind`: prepares its topics and changelog of `records`
/// records (named after `input`, unique to the run), then has it restore them.
pub(crate) fn run(
    side: &str,
    kind: &str,
    bootstrap: &str,
    input: &str,
    records: u64,
    java: &Result<JavaPeer, String>,
) -> Result<Figures, String> {
    let application_id = format!("{input}-{side}-{kind}");
    let source = format!("{application_id}-source");
    create_topic(bootstrap, &source, PARTITIONS);
    let changelog = format!("{application_id}-{STORE}-changelog");
    super::create_topic_with(
        bootstrap,
        &changelog,
        PARTITIONS,
        &[("cleanup.policy", "compact")],
    );
    let t = Instant::now();
    let now = now_ms();
    super::produce_distinct_keys(bootstrap, &changelog, PARTITIONS, records, |_| now);
    println!(
        "{side} {kind}: {records} records on {changelog}, produced in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    // No output topic: the topology only keeps the store.
    let mut command = super::contestant(side, kind, bootstrap, (&source, ""), records, java)?;
    command.env(APPLICATION_ID_ENV, &application_id);
    super::finish(side, kind, command, records)
}

/// The contestant's topology: the source's records reduced by key into the logged RocksDB
/// store [`STORE`], keeping the latest value.
fn topology(source: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream(source, Consumed::with(Serdes::bytes(), Serdes::bytes()))
        .group_by_key()
        .reduce_with(|_, latest| latest, Materialized::as_(STORE));
    builder.build().expect("topology builds")
}

/// The Rust restore contestant, in the child process: restores the changelog the parent
/// filled for [`APPLICATION_ID_ENV`] and reports once `records` records are restored.
pub(crate) fn run_streams(bootstrap: &str, kind: &str, source: &str, records: u64) -> Figures {
    let application_id = std::env::var(APPLICATION_ID_ENV).expect("application.id");
    let dir = tempfile::tempdir().expect("state dir");
    let config = super::streams_config(&application_id, bootstrap, kind, dir.path());
    let start = Instant::now();
    let mut streams = KafkaStreams::new(topology(source), config).expect("streams");
    streams.start().expect("start");
    let figures = super::watch(&streams, start, records, |m| {
        (
            m.tasks_restoring > 0 || m.records_restored > 0,
            m.records_restored,
        )
    });
    streams.close().expect("close");
    figures
}

//! Restoring 1M records with 100-byte values from an in-memory changelog into a RocksDB
//! key-value store, through the state manager. Prints records per second.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use streams_core::TaskId;
use streams_core::serde::Serdes;
use streams_core::state::{ChangelogWriter, InMemoryChangelog, StateManager, StoreBuilder};
use streams_state::Stores;

const RECORDS: u64 = 1_000_000;
const TOPIC: &str = "bench-restore-changelog";

fn changelog() -> Rc<RefCell<InMemoryChangelog>> {
    let mut log = InMemoryChangelog::new();
    log.reserve(TOPIC, 0, RECORDS as usize, RECORDS as usize * 112);
    let mut value = [0u8; 100];
    for i in 0..RECORDS {
        value[..8].copy_from_slice(&i.to_le_bytes());
        // Keys repeat so that the log is realistic for a compacted topic in flight.
        let key = (i % (RECORDS / 2)).to_be_bytes();
        log.append(TOPIC, 0, &key, Some(&value), i as i64);
    }
    Rc::new(RefCell::new(log))
}

fn restore_once(log: &Rc<RefCell<InMemoryChangelog>>) -> (u64, Duration) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let builder: Arc<dyn StoreBuilder> = Arc::new(
        Stores::key_value_store_builder(
            Stores::persistent_key_value_store("restore"),
            Serdes::bytes(),
            Serdes::bytes(),
        )
        .with_caching_disabled(),
    );
    let writer: Rc<RefCell<dyn ChangelogWriter>> = log.clone();
    let mut manager = StateManager::new(
        TaskId::new(0, 0),
        "bench",
        dir.path().join("0_0"),
        vec![builder],
        writer,
        0,
        0,
    );
    let mut reader = log.borrow_mut();
    let start = Instant::now();
    let summary = manager
        .register_and_restore(&mut *reader)
        .unwrap_or_else(|e| panic!("restore: {e}"));
    let elapsed = start.elapsed();
    drop(reader);
    manager.close().unwrap_or_else(|e| panic!("{e}"));
    (summary.total_restored, elapsed)
}

fn main() {
    let log = changelog();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(10))
        .configure_from_args();
    c.bench_function("restore_1m_records_100b_values", |b| {
        b.iter_batched(|| (), |()| restore_once(&log), BatchSize::PerIteration)
    });
    c.final_summary();

    let mut rates = Vec::new();
    for _ in 0..3 {
        let (n, elapsed) = restore_once(&log);
        assert_eq!(n, RECORDS, "every record restored");
        rates.push(n as f64 / elapsed.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "\nrestore of {RECORDS} records (100-byte values) into RocksDB: median {:.0} records/s (runs: {})",
        rates[1],
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

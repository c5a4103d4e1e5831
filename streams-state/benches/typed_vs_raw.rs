//! Put, get and read-modify-write through the typed RocksDB store, against the raw rocksdb
//! crate with the same tuning, in the same run. Prints the overhead ratio of each.

use std::cell::RefCell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use rocksdb::{BlockBasedOptions, Cache, DB, DBCompressionType, Options, WriteOptions};
use streams_core::TaskId;
use streams_core::serde::Serdes;
use streams_core::state::{
    ChangelogWriter, InMemoryChangelog, KeyValueStore, ReadOnlyKeyValueStore, StoreContext,
};
use streams_state::{Stores, TypedKeyValueStore};

const KEYS: u64 = 100_000;
const VALUE: [u8; 100] = [7; 100];

/// A cheap, deterministic spread over the key space.
fn key_at(i: u64) -> u64 {
    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % KEYS
}

fn typed_store(dir: &std::path::Path) -> TypedKeyValueStore<i64, Vec<u8>> {
    let log: Rc<RefCell<dyn ChangelogWriter>> = Rc::new(RefCell::new(InMemoryChangelog::new()));
    let ctx = StoreContext::new("bench", TaskId::new(0, 0), dir, log);
    Stores::key_value_store_builder(
        Stores::persistent_key_value_store("typed"),
        Serdes::i64(),
        Serdes::bytes(),
    )
    .with_caching_disabled()
    .with_logging_disabled()
    .build_store(&ctx)
    .unwrap_or_else(|e| panic!("typed store: {e}"))
}

fn raw_db(dir: &std::path::Path) -> DB {
    let mut options = Options::default();
    options.create_if_missing(true);
    options.set_write_buffer_size(16 * 1024 * 1024);
    options.set_max_write_buffer_number(3);
    options.set_compression_type(DBCompressionType::Lz4);
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(&Cache::new_lru_cache(64 * 1024 * 1024));
    table.set_bloom_filter(10.0, false);
    table.set_cache_index_and_filter_blocks(true);
    options.set_block_based_table_factory(&table);
    DB::open(&options, dir.join("raw")).unwrap_or_else(|e| panic!("raw db: {e}"))
}

struct Pair {
    typed: TypedKeyValueStore<i64, Vec<u8>>,
    raw: DB,
    write: WriteOptions,
    _dir: tempfile::TempDir,
}

impl Pair {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut typed = typed_store(dir.path());
        let raw = raw_db(dir.path());
        let mut write = WriteOptions::default();
        write.disable_wal(true);
        for k in 0..KEYS {
            typed
                .put(&(k as i64), &VALUE.to_vec())
                .unwrap_or_else(|e| panic!("{e}"));
            raw.put_opt((k as i64).to_be_bytes(), VALUE, &write)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        Pair {
            typed,
            raw,
            write,
            _dir: dir,
        }
    }

    fn typed_put(&mut self, i: u64) {
        self.typed
            .put(&(key_at(i) as i64), &VALUE.to_vec())
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn raw_put(&self, i: u64) {
        // The raw side also builds an owned value, as a caller holding a `Vec<u8>` would.
        let value = VALUE.to_vec();
        self.raw
            .put_opt((key_at(i) as i64).to_be_bytes(), value, &self.write)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn typed_get(&self, i: u64) -> Option<Vec<u8>> {
        self.typed
            .get(&(key_at(i) as i64))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn raw_get(&self, i: u64) -> Option<Vec<u8>> {
        self.raw
            .get((key_at(i) as i64).to_be_bytes())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn typed_rmw(&mut self, i: u64) {
        let key = key_at(i) as i64;
        let mut v = self
            .typed
            .get(&key)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_default();
        if let Some(b) = v.first_mut() {
            *b = b.wrapping_add(1);
        }
        self.typed.put(&key, &v).unwrap_or_else(|e| panic!("{e}"));
    }

    fn raw_rmw(&self, i: u64) {
        let key = (key_at(i) as i64).to_be_bytes();
        let mut v = self
            .raw
            .get(key)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_default();
        if let Some(b) = v.first_mut() {
            *b = b.wrapping_add(1);
        }
        self.raw
            .put_opt(key, v, &self.write)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

fn per_op(n: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let pair = Rc::new(RefCell::new(Pair::new()));

    let mut group = c.benchmark_group("put");
    let mut i = 0u64;
    group.bench_function("typed", |b| {
        b.iter(|| {
            i += 1;
            pair.borrow_mut().typed_put(i)
        })
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            i += 1;
            pair.borrow().raw_put(i)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("get");
    group.bench_function("typed", |b| {
        b.iter(|| {
            i += 1;
            black_box(pair.borrow().typed_get(i))
        })
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            i += 1;
            black_box(pair.borrow().raw_get(i))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("read_modify_write");
    group.bench_function("typed", |b| {
        b.iter(|| {
            i += 1;
            pair.borrow_mut().typed_rmw(i)
        })
    });
    group.bench_function("raw", |b| {
        b.iter(|| {
            i += 1;
            pair.borrow().raw_rmw(i)
        })
    });
    group.finish();
    c.final_summary();

    // Interleaved timed runs of the same work, for a direct ratio.
    const N: u64 = 200_000;
    let mut p = pair.borrow_mut();
    println!(
        "\noverhead of the typed store over raw rocksdb ({N} ops each, 100-byte values, {KEYS} keys):"
    );
    for (op, typed, raw) in [
        (
            "put",
            per_op(N, |i| p.typed_put(i)),
            per_op(N, |i| p.raw_put(i)),
        ),
        (
            "get",
            per_op(N, |i| drop(black_box(p.typed_get(i)))),
            per_op(N, |i| drop(black_box(p.raw_get(i)))),
        ),
        (
            "read-modify-write",
            per_op(N, |i| p.typed_rmw(i)),
            per_op(N, |i| p.raw_rmw(i)),
        ),
    ] {
        println!(
            "  {op:<18} typed {typed:8.0} ns/op   raw {raw:8.0} ns/op   ratio {:.2}",
            typed / raw
        );
    }
}

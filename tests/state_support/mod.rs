//! Fixtures shared by the state store tests.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use streams_core::TaskId;
use streams_core::state::{
    ChangelogWriter, InMemoryChangelog, KeyValueBytesStore, StoreContext, WindowBytesStore,
};
use streams_state::{
    CachingKeyValueStore, CachingWindowStore, ChangeLoggingKeyValueBytesStore,
    ChangeLoggingWindowBytesStore, InMemoryKeyValueStore, InMemoryWindowStore,
    RocksDbKeyValueStore, RocksDbResources, RocksDbWindowStore,
};
use tempfile::TempDir;

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error>>;

pub(crate) const APP: &str = "app";
pub(crate) const TASK: TaskId = TaskId::new(0, 0);

/// A task directory that is deleted with the fixture, a changelog, and a context over both.
pub(crate) struct Fixture {
    pub(crate) dir: TempDir,
    pub(crate) log: Rc<RefCell<InMemoryChangelog>>,
    pub(crate) ctx: StoreContext,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        Self::with_cache(10 * 1024 * 1024)
    }

    pub(crate) fn with_cache(cache_bytes: usize) -> Self {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let log = Rc::new(RefCell::new(InMemoryChangelog::new()));
        let writer: Rc<RefCell<dyn ChangelogWriter>> = log.clone();
        let ctx = StoreContext::new(APP, TASK, dir.path().join(TASK.to_string()), writer)
            .with_cache_bytes(cache_bytes);
        Fixture { dir, log, ctx }
    }

    pub(crate) fn changelog(&self, store: &str) -> Vec<streams_core::state::OwnedChangelogRecord> {
        self.log
            .borrow()
            .records(&format!("{APP}-{store}-changelog"), 0)
    }
}

pub(crate) type KvFactory = fn(&Fixture, &str) -> Box<dyn KeyValueBytesStore>;
pub(crate) type WindowFactory = fn(&Fixture, &str, i64, i64, bool) -> Box<dyn WindowBytesStore>;

fn rocks_kv(f: &Fixture, name: &str) -> RocksDbKeyValueStore {
    RocksDbKeyValueStore::open(
        name,
        f.ctx.state_dir().join("rocksdb").join(name),
        RocksDbResources::shared(),
        None,
    )
    .unwrap_or_else(|e| panic!("open rocksdb: {e}"))
}

fn mem_kv(_: &Fixture, name: &str) -> Box<dyn KeyValueBytesStore> {
    Box::new(InMemoryKeyValueStore::new(name))
}

fn rocksdb_kv(f: &Fixture, name: &str) -> Box<dyn KeyValueBytesStore> {
    Box::new(rocks_kv(f, name))
}

fn logged_rocks_kv(f: &Fixture, name: &str) -> Box<dyn KeyValueBytesStore> {
    Box::new(ChangeLoggingKeyValueBytesStore::new(
        Box::new(rocks_kv(f, name)),
        &f.ctx,
        false,
    ))
}

fn cached_mem_kv(f: &Fixture, name: &str) -> Box<dyn KeyValueBytesStore> {
    Box::new(CachingKeyValueStore::new(
        Box::new(InMemoryKeyValueStore::new(name)),
        &f.ctx,
    ))
}

fn cached_logged_rocks_kv(f: &Fixture, name: &str) -> Box<dyn KeyValueBytesStore> {
    let logged = ChangeLoggingKeyValueBytesStore::new(Box::new(rocks_kv(f, name)), &f.ctx, false);
    Box::new(CachingKeyValueStore::new(Box::new(logged), &f.ctx))
}

/// A cache so small that almost every write evicts, so reads mix cache and store.
fn tiny_cached_mem_kv(f: &Fixture, name: &str) -> Box<dyn KeyValueBytesStore> {
    let ctx = f.ctx.clone().with_cache_bytes(200);
    Box::new(CachingKeyValueStore::new(
        Box::new(InMemoryKeyValueStore::new(name)),
        &ctx,
    ))
}

/// Every kind of key-value bytes stack, by name.
pub(crate) fn kv_kinds() -> Vec<(&'static str, KvFactory)> {
    vec![
        ("in-memory", mem_kv as KvFactory),
        ("rocksdb", rocksdb_kv),
        ("logging(rocksdb)", logged_rocks_kv),
        ("caching(in-memory)", cached_mem_kv),
        ("caching(logging(rocksdb))", cached_logged_rocks_kv),
        ("tiny-cache(in-memory)", tiny_cached_mem_kv),
    ]
}

fn rocks_window(
    f: &Fixture,
    name: &str,
    retention: i64,
    size: i64,
    dups: bool,
) -> RocksDbWindowStore {
    RocksDbWindowStore::open(
        name,
        f.ctx.state_dir().join(name),
        retention,
        size,
        dups,
        RocksDbResources::shared(),
        None,
    )
    .unwrap_or_else(|e| panic!("open rocksdb window store: {e}"))
}

fn mem_window(_: &Fixture, n: &str, r: i64, s: i64, d: bool) -> Box<dyn WindowBytesStore> {
    Box::new(InMemoryWindowStore::new(n, r, s, d))
}

fn rocksdb_window(f: &Fixture, n: &str, r: i64, s: i64, d: bool) -> Box<dyn WindowBytesStore> {
    Box::new(rocks_window(f, n, r, s, d))
}

fn logged_rocks_window(f: &Fixture, n: &str, r: i64, s: i64, d: bool) -> Box<dyn WindowBytesStore> {
    Box::new(ChangeLoggingWindowBytesStore::new(
        Box::new(rocks_window(f, n, r, s, d)),
        &f.ctx,
        false,
    ))
}

fn cached_mem_window(f: &Fixture, n: &str, r: i64, s: i64, d: bool) -> Box<dyn WindowBytesStore> {
    let inner = Box::new(InMemoryWindowStore::new(n, r, s, d));
    Box::new(CachingWindowStore::new(inner, &f.ctx).unwrap_or_else(|e| panic!("{e}")))
}

fn cached_logged_rocks_window(
    f: &Fixture,
    n: &str,
    r: i64,
    s: i64,
    d: bool,
) -> Box<dyn WindowBytesStore> {
    let logged =
        ChangeLoggingWindowBytesStore::new(Box::new(rocks_window(f, n, r, s, d)), &f.ctx, false);
    Box::new(CachingWindowStore::new(Box::new(logged), &f.ctx).unwrap_or_else(|e| panic!("{e}")))
}

/// Every kind of window bytes stack, by name, and whether it caches (caching stacks do
/// not retain duplicates).
pub(crate) fn window_kinds() -> Vec<(&'static str, WindowFactory, bool)> {
    vec![
        ("in-memory", mem_window as WindowFactory, false),
        ("rocksdb", rocksdb_window, false),
        ("logging(rocksdb)", logged_rocks_window, false),
        ("caching(in-memory)", cached_mem_window, true),
        (
            "caching(logging(rocksdb))",
            cached_logged_rocks_window,
            true,
        ),
    ]
}

/// Collects a bytes iterator, failing on the first error.
pub(crate) fn collect_kv(
    iter: streams_core::Result<streams_core::state::KeyValueBytesIter<'_>>,
) -> streams_core::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    iter?.collect()
}

pub(crate) fn keys(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    entries.iter().map(|(k, _)| k.clone()).collect()
}

pub(crate) fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

//! Versioned key-value stores (KIP-889): put return codes, as-of reads, tombstones, history
//! retention, the changelog, restoring from it and reopening from disk, checked against a
//! model of Kafka Streams' `RocksDBVersionedStore` rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod state_support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use state_support::{APP, Fixture, TASK, TestResult};
use streams_core::serde::Serdes;
use streams_core::state::{
    ChangelogWriter, InMemoryChangelog, PUT_RETURN_CODE_NOT_PUT,
    PUT_RETURN_CODE_VALID_TO_UNDEFINED, StateManager, StateStore, StoreBuilder,
    VersionedBytesStore, VersionedRecord,
};
use streams_state::{RocksDbResources, RocksDbVersionedStore, Stores, VersionedKeyValueStore};

type Store = VersionedKeyValueStore<String, String>;

const STORE: &str = "versions";

fn s(v: &str) -> String {
    v.to_owned()
}

fn rec(v: &str, ts: i64, valid_to: Option<i64>) -> Option<VersionedRecord<String>> {
    Some(VersionedRecord::new(s(v), ts, valid_to))
}

fn builder(retention_ms: u64, segment_ms: u64) -> Arc<dyn StoreBuilder> {
    Arc::new(Stores::versioned_key_value_store_builder(
        Stores::persistent_versioned_key_value_store_with_segment_interval(
            STORE,
            Duration::from_millis(retention_ms),
            Duration::from_millis(segment_ms),
        )
        .unwrap(),
        Serdes::string(),
        Serdes::string(),
    ))
}

fn typed(f: &Fixture, retention_ms: u64) -> Store {
    let b = Stores::versioned_key_value_store_builder(
        Stores::persistent_versioned_key_value_store(STORE, Duration::from_millis(retention_ms))
            .unwrap(),
        Serdes::string(),
        Serdes::string(),
    );
    b.build_store(&f.ctx).unwrap()
}

#[test]
fn puts_return_the_end_of_validity_and_reads_see_the_version_of_their_time() -> TestResult {
    let f = Fixture::new();
    let mut store = typed(&f, 10_000);
    let k = s("k");
    assert_eq!(
        store.put(&k, Some(&s("v10")), 10)?,
        PUT_RETURN_CODE_VALID_TO_UNDEFINED
    );
    assert_eq!(
        store.put(&k, Some(&s("v30")), 30)?,
        PUT_RETURN_CODE_VALID_TO_UNDEFINED
    );
    // Out of order: inserted between 10 and 30, valid until 30.
    assert_eq!(store.put(&k, Some(&s("v20")), 20)?, 30);
    // Before every version: valid until the first one.
    assert_eq!(store.put(&k, Some(&s("v5")), 5)?, 10);
    // An equal timestamp replaces the version and keeps its end.
    assert_eq!(store.put(&k, Some(&s("v20b")), 20)?, 30);

    assert_eq!(store.get(&k)?, rec("v30", 30, None));
    assert_eq!(store.get_as_of(&k, 4)?, None);
    assert_eq!(store.get_as_of(&k, 5)?, rec("v5", 5, Some(10)));
    assert_eq!(store.get_as_of(&k, 19)?, rec("v10", 10, Some(20)));
    assert_eq!(store.get_as_of(&k, 20)?, rec("v20b", 20, Some(30)));
    assert_eq!(store.get_as_of(&k, 29)?, rec("v20b", 20, Some(30)));
    assert_eq!(store.get_as_of(&k, 30)?, rec("v30", 30, None));
    assert_eq!(store.get_as_of(&k, i64::MAX)?, rec("v30", 30, None));
    assert_eq!(store.get(&s("other"))?, None);
    Ok(())
}

#[test]
fn tombstones_are_versions() -> TestResult {
    let f = Fixture::new();
    let mut store = typed(&f, 10_000);
    let k = s("k");
    store.put(&k, Some(&s("a")), 10)?;
    assert_eq!(store.put(&k, None, 20)?, PUT_RETURN_CODE_VALID_TO_UNDEFINED);
    assert_eq!(store.get(&k)?, None, "the latest is a tombstone");
    assert_eq!(store.get_as_of(&k, 15)?, rec("a", 10, Some(20)));
    assert_eq!(store.get_as_of(&k, 25)?, None);

    store.put(&k, Some(&s("b")), 30)?;
    assert_eq!(
        store.get_as_of(&k, 25)?,
        None,
        "the tombstone still covers 20..30"
    );
    assert_eq!(store.get(&k)?, rec("b", 30, None));

    // delete returns the version valid at its timestamp, then stores a tombstone there.
    assert_eq!(store.delete(&k, 12)?, rec("a", 10, Some(20)));
    assert_eq!(store.get_as_of(&k, 11)?, rec("a", 10, Some(12)));
    assert_eq!(store.get_as_of(&k, 12)?, None);
    assert_eq!(store.delete(&k, 25)?, None, "a tombstone was valid at 25");
    assert_eq!(store.delete(&k, 40)?, rec("b", 30, None));
    assert_eq!(store.get(&k)?, None);
    assert_eq!(store.get_as_of(&k, 35)?, rec("b", 30, Some(40)));

    // A tombstone replaced by a value at the same timestamp.
    assert_eq!(
        store.put(&k, Some(&s("c")), 40)?,
        PUT_RETURN_CODE_VALID_TO_UNDEFINED
    );
    assert_eq!(store.get(&k)?, rec("c", 40, None));
    Ok(())
}

#[test]
fn history_retention_bounds_writes_and_reads_but_never_the_latest_value() -> TestResult {
    let f = Fixture::new();
    let mut store = typed(&f, 100);
    let (a, b) = (s("a"), s("b"));
    store.put(&b, Some(&s("b500")), 500)?;
    store.put(&a, Some(&s("a500")), 500)?;
    store.put(&a, Some(&s("a1000")), 1_000)?;
    // Observed stream time 1000, retention 100: writes before 900 are not put.
    assert_eq!(
        store.put(&a, Some(&s("late")), 899)?,
        PUT_RETURN_CODE_NOT_PUT
    );
    assert_eq!(store.delete(&a, 899)?, None);
    assert_eq!(store.get_as_of(&a, 950)?, rec("a500", 500, Some(1_000)));
    assert_eq!(store.put(&a, Some(&s("a900")), 900)?, 1_000);
    assert_eq!(store.get_as_of(&a, 950)?, rec("a900", 900, Some(1_000)));
    // Reads before 900 see nothing of the history...
    assert_eq!(store.get_as_of(&a, 899)?, None);
    assert_eq!(store.get_as_of(&a, 600)?, None);
    // ...but the latest value answers any time at or after its own.
    assert_eq!(store.get_as_of(&b, 600)?, rec("b500", 500, None));
    assert_eq!(store.get_as_of(&b, 499)?, None);
    Ok(())
}

/// Kafka Streams' rules, stated independently of the store's layout: every version kept,
/// the retention applied at read and write time.
#[derive(Default)]
struct Model {
    versions: BTreeMap<String, BTreeMap<i64, Option<String>>>,
    observed: i64,
    retention: i64,
}

impl Model {
    fn new(retention: i64) -> Self {
        Model {
            versions: BTreeMap::new(),
            observed: -1,
            retention,
        }
    }

    fn expired(&self, ts: i64) -> bool {
        ts < self.observed - self.retention
    }

    fn put(&mut self, key: &str, value: Option<String>, ts: i64) -> i64 {
        if self.expired(ts) {
            return PUT_RETURN_CODE_NOT_PUT;
        }
        self.observed = self.observed.max(ts);
        let versions = self.versions.entry(key.to_owned()).or_default();
        versions.insert(ts, value);
        versions
            .range(ts + 1..)
            .next()
            .map_or(PUT_RETURN_CODE_VALID_TO_UNDEFINED, |(t, _)| *t)
    }

    fn get_as_of(&self, key: &str, as_of: i64) -> Option<VersionedRecord<String>> {
        let versions = self.versions.get(key)?;
        if self.expired(as_of) {
            let (ts, latest) = versions.iter().next_back()?;
            return (*ts <= as_of)
                .then(|| latest.clone().map(|v| VersionedRecord::new(v, *ts, None)))
                .flatten();
        }
        let (ts, value) = versions.range(..=as_of).next_back()?;
        let valid_to = versions.range(ts + 1..).next().map(|(t, _)| *t);
        value
            .clone()
            .map(|v| VersionedRecord::new(v, *ts, valid_to))
    }
}

/// A deterministic pseudo-random sequence (a 64-bit LCG), so that failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

#[test]
fn random_workloads_match_the_model_while_history_expires() -> TestResult {
    // A small segment interval drops expired history often; reads must not notice.
    for (seed, segment) in [(1_u64, 7_u64), (2, 50), (3, 1)] {
        let f = Fixture::new();
        let b = Stores::versioned_key_value_store_builder(
            Stores::persistent_versioned_key_value_store_with_segment_interval(
                STORE,
                Duration::from_millis(60),
                Duration::from_millis(segment),
            )?,
            Serdes::string(),
            Serdes::string(),
        );
        let mut store = b.build_store(&f.ctx)?;
        let mut model = Model::new(60);
        let mut rng = Lcg(seed);
        let mut time = 0_i64;
        for i in 0..3_000 {
            time += i64::try_from(rng.next(4))?;
            let key = format!("k{}", rng.next(6));
            // Mostly around stream time, some late, some very late.
            let ts = time - i64::try_from(rng.next(if i % 7 == 0 { 200 } else { 40 }))?;
            match rng.next(10) {
                0 => {
                    let expected = if model.expired(ts) {
                        None
                    } else {
                        model.get_as_of(&key, ts)
                    };
                    let got = store.delete(&key, ts)?;
                    assert_eq!(got, expected, "seed {seed} op {i}: delete {key}@{ts}");
                    model.put(&key, None, ts);
                }
                1..=5 => {
                    let value = format!("v{i}");
                    let got = store.put(&key, Some(&value), ts)?;
                    let want = model.put(&key, Some(value), ts);
                    assert_eq!(got, want, "seed {seed} op {i}: put {key}@{ts}");
                }
                _ => {
                    assert_eq!(
                        store.get_as_of(&key, ts)?,
                        model.get_as_of(&key, ts),
                        "seed {seed} op {i}: get {key} as of {ts}"
                    );
                    assert_eq!(
                        store.get(&key)?,
                        model.get_as_of(&key, i64::MAX),
                        "seed {seed} op {i}: latest of {key}"
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn the_changelog_holds_each_version_with_its_timestamp() -> TestResult {
    let f = Fixture::new();
    let mut store = typed(&f, 100);
    let k = s("k");
    f.ctx.timestamp_source().set(999_999); // the context's time is not the version's
    store.put(&k, Some(&s("a")), 10)?;
    store.put(&k, None, 20)?;
    store.delete(&k, 15)?;
    store.put(&k, Some(&s("b")), 200)?;
    // Not put, but logged, as Kafka Streams' change-logging layer does; restoring skips it.
    assert_eq!(store.put(&k, Some(&s("late")), 5)?, PUT_RETURN_CODE_NOT_PUT);
    let log: Vec<(Vec<u8>, Option<Vec<u8>>, i64)> = f
        .changelog(STORE)
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        log,
        vec![
            (b"k".to_vec(), Some(b"a".to_vec()), 10),
            (b"k".to_vec(), None, 20),
            (b"k".to_vec(), None, 15),
            (b"k".to_vec(), Some(b"b".to_vec()), 200),
            (b"k".to_vec(), Some(b"late".to_vec()), 5),
        ]
    );
    let config = builder(100, 10).changelog_config();
    assert_eq!(config["cleanup.policy"], "compact");
    assert_eq!(config["min.compaction.lag.ms"], "86400100");
    Ok(())
}

fn manager(dir: &Path, log: &Rc<RefCell<InMemoryChangelog>>) -> StateManager {
    let writer: Rc<RefCell<dyn ChangelogWriter>> = log.clone();
    StateManager::new(
        TASK,
        APP,
        dir.join(TASK.to_string()),
        vec![builder(100, 10)],
        writer,
        0,
        1 << 20,
    )
}

#[test]
fn a_store_restored_from_its_changelog_has_the_same_versions_and_stream_time() -> TestResult {
    let log = Rc::new(RefCell::new(InMemoryChangelog::new()));
    let first_dir = tempfile::tempdir()?;
    let mut first = manager(first_dir.path(), &log);
    first.register_and_restore(&mut *log.borrow_mut())?;
    {
        let store = first.typed_store::<Store>(STORE).ok_or("no store")?;
        let mut st = store.borrow_mut();
        let k = s("k");
        st.put(&k, Some(&s("a")), 100)?;
        st.put(&k, Some(&s("c")), 300)?;
        st.put(&k, Some(&s("b")), 200)?;
        st.put(&s("gone"), Some(&s("x")), 250)?;
        st.delete(&s("gone"), 260)?;
        st.put(&k, Some(&s("d")), 1_000)?;
    }
    first.close()?;

    // Another instance, with no local state, restores from the changelog alone.
    let second_dir = tempfile::tempdir()?;
    let mut second = manager(second_dir.path(), &log);
    let summary = second.register_and_restore(&mut *log.borrow_mut())?;
    assert_eq!(summary.stores[0].restored, 6);
    let store = second.typed_store::<Store>(STORE).ok_or("no store")?;
    let mut st = store.borrow_mut();
    let k = s("k");
    assert_eq!(st.get(&k)?, rec("d", 1_000, None));
    assert_eq!(st.get_as_of(&k, 950)?, rec("c", 300, Some(1_000)));
    assert_eq!(st.get(&s("gone"))?, None);
    // Stream time 1000 came back with the data: 900 is the oldest writable time.
    assert_eq!(st.put(&k, Some(&s("late")), 899)?, PUT_RETURN_CODE_NOT_PUT);
    assert_eq!(st.get_as_of(&k, 250)?, None, "older than the retention");
    drop(st);
    second.close()?;
    Ok(())
}

#[test]
fn a_store_reopened_from_disk_keeps_its_versions_and_stream_time() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(STORE);
    let open =
        || RocksDbVersionedStore::open(STORE, &path, 100, 10, RocksDbResources::shared(), None);
    let mut store = open()?;
    store.put(b"k", Some(b"a"), 500)?;
    store.put(b"k", Some(b"b"), 1_000)?;
    store.put(b"k", None, 950)?;
    store.flush()?;
    store.close()?;
    assert!(store.get(b"k").is_err(), "a closed store refuses reads");

    let mut store = open()?;
    assert_eq!(store.observed_stream_time(), 1_000);
    assert_eq!(
        store.get_as_of(b"k", 920)?,
        Some(VersionedRecord::new(b"a".to_vec(), 500, Some(950)))
    );
    assert_eq!(store.get_as_of(b"k", 960)?, None);
    assert_eq!(
        store.get(b"k")?,
        Some(VersionedRecord::new(b"b".to_vec(), 1_000, None))
    );
    assert_eq!(store.put(b"k", Some(b"x"), 850)?, PUT_RETURN_CODE_NOT_PUT);
    store.close()?;
    Ok(())
}

#[test]
fn invalid_configurations_are_refused() {
    assert!(
        Stores::persistent_versioned_key_value_store_with_segment_interval(
            STORE,
            Duration::from_secs(1),
            Duration::ZERO,
        )
        .is_err()
    );
    assert!(
        Stores::persistent_versioned_key_value_store(STORE, Duration::from_secs(u64::MAX)).is_err()
    );
}

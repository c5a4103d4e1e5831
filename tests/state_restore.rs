//! Restoring stores from their changelogs through the state manager: round trips for every
//! store kind, checkpoints, interrupted restores, corruption, exactly-once, and the lock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod state_support;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use state_support::{APP, TASK, TestResult};
use streams_core::serde::Serdes;
use streams_core::state::{
    CHECKPOINT_OFFSET_DELTA, ChangelogReader, ChangelogRecord, InMemoryChangelog,
    KeyValueBytesStore, KeyValueStore, OffsetCheckpoint, ReadOnlyKeyValueStore,
    ReadOnlyWindowStore, RestoreSummary, StateDirectory, StateManager, StateRestoreListener,
    StateStore, StoreBuilder, StoredPosition, ValueAndTimestamp, WindowBytesStore, WindowStore,
};
use streams_state::{
    KeyValueBytesStoreSupplier, RocksDbKeyValueStore, RocksDbResources, RocksDbWindowStore, Stores,
    TimestampedKeyValueStore, TypedKeyValueStore, TypedWindowStore, WindowBytesStoreSupplier,
};

type Kv = TypedKeyValueStore<String, String>;
type TsKv = TimestampedKeyValueStore<String, String>;
type Win = TypedWindowStore<String, String>;

const STORE: &str = "s";

fn topic(store: &str) -> String {
    format!("{APP}-{store}-changelog")
}

struct Env {
    _root: tempfile::TempDir,
    task_dir: PathBuf,
    log: Rc<RefCell<InMemoryChangelog>>,
}

impl Env {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let task_dir = root.path().join(APP).join(TASK.to_string());
        Env {
            _root: root,
            task_dir,
            log: Rc::new(RefCell::new(InMemoryChangelog::new())),
        }
    }

    fn manager(&self, builders: Vec<Arc<dyn StoreBuilder>>) -> StateManager {
        StateManager::new(
            TASK,
            APP,
            &self.task_dir,
            builders,
            self.log.clone(),
            0,
            1 << 20,
        )
    }

    fn restore(&self, m: &mut StateManager) -> streams_core::Result<RestoreSummary> {
        let mut reader = self.log.borrow_mut();
        m.register_and_restore(&mut *reader)
    }

    /// What the changelog says each key holds now.
    fn replay(&self, store: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut state = BTreeMap::new();
        for r in self.log.borrow().records(&topic(store), 0) {
            match r.value {
                Some(v) => state.insert(r.key, v),
                None => state.remove(&r.key),
            };
        }
        state
    }

    /// The offsets of the last records written, as a record collector reports them.
    fn written(&self) -> HashMap<(String, i32), i64> {
        let log = self.log.borrow();
        log.partitions()
            .into_iter()
            .map(|tp| {
                let end = log.len(&tp.0, tp.1) as i64;
                (tp, end - 1)
            })
            .collect()
    }

    fn commit(&self, m: &mut StateManager) -> TestResult {
        m.flush()?;
        m.checkpoint(&self.written())?;
        Ok(())
    }
}

#[derive(Clone, Copy, Debug)]
struct KvKind {
    persistent: bool,
    caching: bool,
    timestamped: bool,
}

fn kv_kinds() -> Vec<KvKind> {
    let mut kinds = Vec::new();
    for persistent in [true, false] {
        for caching in [false, true] {
            for timestamped in [false, true] {
                kinds.push(KvKind {
                    persistent,
                    caching,
                    timestamped,
                });
            }
        }
    }
    kinds
}

fn kv_builder(kind: KvKind) -> Arc<dyn StoreBuilder> {
    macro_rules! finish {
        ($b:expr) => {{
            let b = $b;
            if kind.caching {
                Arc::new(b.with_caching_enabled())
            } else {
                Arc::new(b.with_caching_disabled())
            }
        }};
    }
    match (kind.persistent, kind.timestamped) {
        (true, false) => finish!(Stores::key_value_store_builder(
            Stores::persistent_key_value_store(STORE),
            Serdes::string(),
            Serdes::string()
        )),
        (false, false) => finish!(Stores::key_value_store_builder(
            Stores::in_memory_key_value_store(STORE),
            Serdes::string(),
            Serdes::string()
        )),
        (true, true) => finish!(Stores::timestamped_key_value_store_builder(
            Stores::persistent_timestamped_key_value_store(STORE),
            Serdes::string(),
            Serdes::string()
        )),
        (false, true) => finish!(Stores::timestamped_key_value_store_builder(
            Stores::in_memory_key_value_store(STORE),
            Serdes::string(),
            Serdes::string()
        )),
    }
}

/// The store contents as (key, value, timestamp) with timestamp 0 for plain stores.
fn kv_contents(m: &StateManager, kind: KvKind) -> streams_core::Result<Vec<(String, String, i64)>> {
    if kind.timestamped {
        let store = m
            .typed_store::<TsKv>(STORE)
            .ok_or_else(|| streams_core::Error::StoreNotAvailable(STORE.into()))?;
        let s = store.borrow();
        s.all()?
            .map(|kv| kv.map(|(k, v)| (k, v.value, v.timestamp)))
            .collect()
    } else {
        let store = m
            .typed_store::<Kv>(STORE)
            .ok_or_else(|| streams_core::Error::StoreNotAvailable(STORE.into()))?;
        let s = store.borrow();
        s.all()?.map(|kv| kv.map(|(k, v)| (k, v, 0))).collect()
    }
}

/// Applies a deterministic mix of puts, overwrites, put_if_absent and deletes, and returns
/// what the store must hold afterwards.
fn kv_workload(
    m: &StateManager,
    kind: KvKind,
    range: std::ops::Range<i64>,
    model: &mut BTreeMap<String, (String, i64)>,
) -> TestResult {
    for i in range {
        m.set_timestamp(1_000 + i);
        let key = format!("key-{:03}", i % 37);
        let value = format!("value-{i}");
        let ts = 1_000 + i;
        macro_rules! apply {
            ($store:expr, $wrap:expr, $unwrap:expr) => {{
                let mut s = $store.borrow_mut();
                if i % 11 == 0 {
                    let old = s.delete(&key)?.map($unwrap);
                    assert_eq!(
                        old,
                        model.remove(&key).map(|(v, _)| v),
                        "delete returns the old value"
                    );
                } else if i % 5 == 0 {
                    let prev = s
                        .put_if_absent(&key, &$wrap(value.clone(), ts))?
                        .map($unwrap);
                    match model.get(&key) {
                        Some((v, _)) => assert_eq!(prev.as_ref(), Some(v)),
                        None => {
                            assert_eq!(prev, None);
                            model.insert(key.clone(), (value.clone(), ts));
                        }
                    }
                } else {
                    s.put(&key, &$wrap(value.clone(), ts))?;
                    model.insert(key.clone(), (value.clone(), ts));
                }
            }};
        }
        if kind.timestamped {
            let store = m.typed_store::<TsKv>(STORE).ok_or("missing store")?;
            apply!(store, ValueAndTimestamp::new, |v: ValueAndTimestamp<
                String,
            >| v.value);
        } else {
            let store = m.typed_store::<Kv>(STORE).ok_or("missing store")?;
            apply!(store, |v: String, _ts: i64| v, |v: String| v);
        }
    }
    Ok(())
}

fn expected(model: &BTreeMap<String, (String, i64)>, kind: KvKind) -> Vec<(String, String, i64)> {
    model
        .iter()
        .map(|(k, (v, ts))| (k.clone(), v.clone(), if kind.timestamped { *ts } else { 0 }))
        .collect()
}

#[test]
fn every_key_value_kind_survives_a_clean_restart() -> TestResult {
    for kind in kv_kinds() {
        let env = Env::new();
        let mut model = BTreeMap::new();
        let mut m = env.manager(vec![kv_builder(kind)]);
        let first = env.restore(&mut m)?;
        assert_eq!(
            first.total_restored, 0,
            "{kind:?}: nothing to restore at first"
        );
        kv_workload(&m, kind, 0..300, &mut model)?;
        env.commit(&mut m)?;
        m.close()?;

        let log_len = env.log.borrow().len(&topic(STORE), 0);
        assert!(log_len > 0, "{kind:?}: the changelog got the writes");
        let mut m = env.manager(vec![kv_builder(kind)]);
        let summary = env.restore(&mut m)?;
        let restored = summary.stores[0].restored;
        if kind.persistent {
            assert_eq!(
                restored, 0,
                "{kind:?}: the checkpoint covers the whole changelog"
            );
            assert_eq!(summary.stores[0].wiped, None);
        } else {
            assert_eq!(
                restored, log_len as u64,
                "{kind:?}: in-memory stores restore everything"
            );
        }
        assert_eq!(
            kv_contents(&m, kind)?,
            expected(&model, kind),
            "{kind:?}: contents after restart"
        );
        m.close()?;
    }
    Ok(())
}

#[test]
fn every_key_value_kind_survives_a_crash_after_a_commit() -> TestResult {
    for kind in kv_kinds().into_iter().filter(|k| !k.caching) {
        let env = Env::new();
        let mut model = BTreeMap::new();
        let mut m = env.manager(vec![kv_builder(kind)]);
        env.restore(&mut m)?;
        kv_workload(&m, kind, 0..200, &mut model)?;
        env.commit(&mut m)?;
        let committed = env.log.borrow().len(&topic(STORE), 0) as i64;
        kv_workload(&m, kind, 200..300, &mut model)?;
        let total = env.log.borrow().len(&topic(STORE), 0) as i64;
        drop(m);

        let mut m = env.manager(vec![kv_builder(kind)]);
        let summary = env.restore(&mut m)?;
        let s = &summary.stores[0];
        if kind.persistent {
            assert_eq!(
                s.start_offset,
                Some(committed),
                "{kind:?}: resumes after the checkpoint"
            );
            assert_eq!(s.restored as i64, total - committed);
        } else {
            assert_eq!(s.start_offset, Some(0));
            assert_eq!(s.restored as i64, total);
        }
        assert_eq!(s.end_offset, total);
        assert_eq!(kv_contents(&m, kind)?, expected(&model, kind), "{kind:?}");
    }
    Ok(())
}

#[test]
fn a_cached_store_that_crashes_holds_exactly_what_its_changelog_says() -> TestResult {
    for persistent in [true, false] {
        let kind = KvKind {
            persistent,
            caching: true,
            timestamped: false,
        };
        let env = Env::new();
        let mut m = env.manager(vec![kv_builder(kind)]);
        env.restore(&mut m)?;
        let mut model = BTreeMap::new();
        kv_workload(&m, kind, 0..100, &mut model)?;
        env.commit(&mut m)?;
        kv_workload(&m, kind, 100..300, &mut model)?;
        drop(m);

        let mut m = env.manager(vec![kv_builder(kind)]);
        env.restore(&mut m)?;
        let got: BTreeMap<Vec<u8>, Vec<u8>> = kv_contents(&m, kind)?
            .into_iter()
            .map(|(k, v, _)| (k.into_bytes(), v.into_bytes()))
            .collect();
        assert_eq!(got, env.replay(STORE), "persistent={persistent}");
    }
    Ok(())
}

#[test]
fn timestamped_stores_log_plain_values_stamped_with_their_own_timestamp() -> TestResult {
    let env = Env::new();
    let plain = Arc::new(Stores::key_value_store_builder(
        Stores::in_memory_key_value_store("plain"),
        Serdes::string(),
        Serdes::string(),
    ));
    let stamped = Arc::new(Stores::timestamped_key_value_store_builder(
        Stores::in_memory_key_value_store("stamped"),
        Serdes::string(),
        Serdes::string(),
    ));
    let mut m = env.manager(vec![plain, stamped]);
    env.restore(&mut m)?;
    m.set_timestamp(500);
    m.typed_store::<Kv>("plain")
        .ok_or("plain")?
        .borrow_mut()
        .put(&"k".into(), &"v".into())?;
    m.typed_store::<TsKv>("stamped")
        .ok_or("stamped")?
        .borrow_mut()
        .put(&"k".into(), &ValueAndTimestamp::new("v".into(), 42))?;
    m.typed_store::<Kv>("plain")
        .ok_or("plain")?
        .borrow_mut()
        .delete(&"k".into())?;

    let plain_log = env.log.borrow().records(&topic("plain"), 0);
    assert_eq!(plain_log.len(), 2);
    assert_eq!(
        (plain_log[0].value.as_deref(), plain_log[0].timestamp),
        (Some(&b"v"[..]), 500)
    );
    assert_eq!(
        (plain_log[1].value.as_deref(), plain_log[1].timestamp),
        (None, 500),
        "a delete is a tombstone"
    );
    let stamped_log = env.log.borrow().records(&topic("stamped"), 0);
    assert_eq!(stamped_log.len(), 1);
    assert_eq!(
        stamped_log[0].value.as_deref(),
        Some(&b"v"[..]),
        "the changelog has the plain value"
    );
    assert_eq!(
        stamped_log[0].timestamp, 42,
        "stamped with the value's timestamp"
    );
    Ok(())
}

#[derive(Clone, Copy, Debug)]
struct WinKind {
    persistent: bool,
    caching: bool,
    duplicates: bool,
}

fn win_builder(kind: WinKind) -> streams_core::Result<Arc<dyn StoreBuilder>> {
    let retention = Duration::from_secs(3600);
    let size = Duration::from_secs(60);
    let builder = if kind.persistent {
        Stores::window_store_builder(
            Stores::persistent_window_store(STORE, retention, size, kind.duplicates)?,
            Serdes::string(),
            Serdes::string(),
        )
    } else {
        Stores::window_store_builder(
            Stores::in_memory_window_store(STORE, retention, size, kind.duplicates)?,
            Serdes::string(),
            Serdes::string(),
        )
    };
    Ok(if kind.caching {
        Arc::new(builder.with_caching_enabled())
    } else {
        Arc::new(builder)
    })
}

fn win_contents(m: &StateManager) -> streams_core::Result<Vec<(String, i64, String)>> {
    let store = m
        .typed_store::<Win>(STORE)
        .ok_or_else(|| streams_core::Error::StoreNotAvailable(STORE.into()))?;
    let s = store.borrow();
    let mut all: Vec<_> = s
        .all()?
        .map(|e| e.map(|(w, v)| (w.key, w.window.start, v)))
        .collect::<Result<_, _>>()?;
    all.sort();
    Ok(all)
}

#[test]
fn every_window_kind_survives_clean_and_crashed_restarts() -> TestResult {
    for persistent in [true, false] {
        for (caching, duplicates) in [(false, false), (true, false), (false, true)] {
            let kind = WinKind {
                persistent,
                caching,
                duplicates,
            };
            for crash in [false, true] {
                let env = Env::new();
                let mut m = env.manager(vec![win_builder(kind)?]);
                env.restore(&mut m)?;
                let mut model = Vec::new();
                {
                    let store = m.typed_store::<Win>(STORE).ok_or("missing")?;
                    for i in 0..120i64 {
                        let key = format!("k{}", i % 7);
                        let start = (i % 10) * 60_000;
                        let value = format!("v{i}");
                        m.set_timestamp(start);
                        store.borrow_mut().put(&key, &value, start)?;
                        if duplicates {
                            model.push((key, start, value));
                        } else {
                            model.retain(|(k, s, _)| !(k == &key && *s == start));
                            model.push((key, start, value));
                        }
                    }
                }
                model.sort();
                env.commit(&mut m)?;
                if crash {
                    drop(m);
                } else {
                    m.close()?;
                }
                let mut m = env.manager(vec![win_builder(kind)?]);
                let summary = env.restore(&mut m)?;
                assert_eq!(win_contents(&m)?, model, "{kind:?} crash={crash}");
                if persistent {
                    assert_eq!(
                        summary.total_restored, 0,
                        "{kind:?}: checkpoint covers everything"
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn window_changelog_topics_are_compacted_and_deleted() -> TestResult {
    let b = win_builder(WinKind {
        persistent: true,
        caching: false,
        duplicates: false,
    })?;
    let config = b.changelog_config();
    assert_eq!(
        config.get("cleanup.policy").map(String::as_str),
        Some("compact,delete")
    );
    assert_eq!(
        config.get("retention.ms").map(String::as_str),
        Some("90000000")
    );
    let kv = kv_builder(KvKind {
        persistent: true,
        caching: false,
        timestamped: false,
    });
    assert_eq!(
        kv.changelog_config()
            .get("cleanup.policy")
            .map(String::as_str),
        Some("compact")
    );
    let overridden = Stores::key_value_store_builder(
        Stores::in_memory_key_value_store("o"),
        Serdes::string(),
        Serdes::string(),
    )
    .with_logging_enabled(BTreeMap::from([(
        "min.insync.replicas".to_owned(),
        "2".to_owned(),
    )]));
    assert_eq!(
        overridden
            .changelog_config()
            .get("min.insync.replicas")
            .map(String::as_str),
        Some("2")
    );
    assert_eq!(
        overridden
            .changelog_config()
            .get("cleanup.policy")
            .map(String::as_str),
        Some("compact")
    );
    Ok(())
}

/// Fills the changelog of a persistent key-value store directly: `n` records over 100 keys.
fn fill_changelog(env: &Env, n: i64) {
    let mut log = env.log.borrow_mut();
    for i in 0..n {
        let key = format!("{:04}", i % 100);
        let value = if i % 13 == 0 {
            None
        } else {
            Some(format!("v{i}"))
        };
        log.append(
            &topic(STORE),
            0,
            key.as_bytes(),
            value.as_deref().map(str::as_bytes),
            i,
        );
    }
}

fn persistent_kv() -> Arc<dyn StoreBuilder> {
    kv_builder(KvKind {
        persistent: true,
        caching: false,
        timestamped: false,
    })
}

fn kv_bytes(m: &StateManager) -> streams_core::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    Ok(kv_contents(
        m,
        KvKind {
            persistent: true,
            caching: false,
            timestamped: false,
        },
    )?
    .into_iter()
    .map(|(k, v, _)| (k.into_bytes(), v.into_bytes()))
    .collect())
}

/// Reads normally for `batches` reads, then fails, as a broker connection that drops.
struct FailingReader<'a> {
    inner: &'a mut InMemoryChangelog,
    batches: usize,
}

impl ChangelogReader for FailingReader<'_> {
    fn end_offset(&mut self, topic: &str, partition: i32) -> streams_core::Result<i64> {
        self.inner.end_offset(topic, partition)
    }
    fn seek(
        &mut self,
        topic: &str,
        partition: i32,
        offset: Option<i64>,
    ) -> streams_core::Result<()> {
        self.inner.seek(topic, partition, offset)
    }
    fn position(&mut self, topic: &str, partition: i32) -> streams_core::Result<i64> {
        self.inner.position(topic, partition)
    }
    fn read_batch(
        &mut self,
        topic: &str,
        partition: i32,
        max_records: usize,
        sink: &mut dyn FnMut(&[ChangelogRecord<'_>]) -> streams_core::Result<()>,
    ) -> streams_core::Result<usize> {
        if self.batches == 0 {
            return Err(streams_core::Error::Kafka {
                context: "fetching the changelog".into(),
                source: "connection reset".into(),
            });
        }
        self.batches -= 1;
        self.inner.read_batch(topic, partition, max_records, sink)
    }
}

/// Records what the checkpoint file says after each batch.
struct CheckpointSpy {
    path: PathBuf,
    seen: Rc<RefCell<Vec<Option<i64>>>>,
    events: Rc<RefCell<Vec<String>>>,
}

impl StateRestoreListener for CheckpointSpy {
    fn on_restore_start(
        &mut self,
        store: &str,
        _topic: &str,
        _partition: i32,
        start: i64,
        end: i64,
    ) {
        self.events
            .borrow_mut()
            .push(format!("start {store} {start} {end}"));
    }
    fn on_batch_restored(&mut self, _store: &str, topic: &str, partition: i32, last: i64, n: u64) {
        let offsets = OffsetCheckpoint::new(&self.path).read().unwrap_or_default();
        self.seen
            .borrow_mut()
            .push(offsets.get(&(topic.to_owned(), partition)).copied());
        self.events.borrow_mut().push(format!("batch {last} {n}"));
    }
    fn on_restore_end(&mut self, store: &str, _topic: &str, _partition: i32, total: u64) {
        self.events
            .borrow_mut()
            .push(format!("end {store} {total}"));
    }
}

#[test]
fn an_interrupted_restore_resumes_from_its_last_checkpoint() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 1_000);
    let seen = Rc::new(RefCell::new(Vec::new()));
    let events = Rc::new(RefCell::new(Vec::new()));
    let spy = CheckpointSpy {
        path: env.task_dir.join(".checkpoint"),
        seen: seen.clone(),
        events: events.clone(),
    };
    let mut m = env
        .manager(vec![persistent_kv()])
        .with_restore_batch_size(100)
        .with_restore_checkpoint_interval(200)
        .with_restore_listener(Box::new(spy));
    let failed = {
        let mut log = env.log.borrow_mut();
        let mut reader = FailingReader {
            inner: &mut log,
            batches: 5,
        };
        m.register_and_restore(&mut reader)
    };
    assert!(failed.is_err(), "the reader's error is reported");
    // Periodic checkpoints were written while restoring (seen from the next batch).
    assert!(seen.borrow().contains(&Some(199)), "{:?}", seen.borrow());
    assert!(seen.borrow().contains(&Some(399)), "{:?}", seen.borrow());
    // The failure itself checkpoints everything applied: 5 batches of 100.
    let ckpt = OffsetCheckpoint::in_dir(&env.task_dir).read()?;
    assert_eq!(ckpt.get(&(topic(STORE), 0)), Some(&499));
    assert_eq!(
        events.borrow().first().map(String::as_str),
        Some("start s 0 1000")
    );
    assert!(
        !events.borrow().iter().any(|e| e.starts_with("end")),
        "no end event for a failed restore"
    );
    m.close_dirty()?;

    let mut m = env
        .manager(vec![persistent_kv()])
        .with_restore_batch_size(100);
    let summary = env.restore(&mut m)?;
    assert_eq!(
        summary.stores[0].start_offset,
        Some(500),
        "resumes after the checkpoint"
    );
    assert_eq!(summary.stores[0].restored, 500);
    assert_eq!(summary.stores[0].wiped, None);
    assert_eq!(kv_bytes(&m)?, env.replay(STORE));
    m.close()?;
    Ok(())
}

#[test]
fn restore_remaining_counts_down_to_zero_as_batches_are_applied() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 1_000);
    let mut m = env
        .manager(vec![persistent_kv()])
        .with_restore_batch_size(100);
    assert_eq!(
        m.restore_remaining(),
        0,
        "nothing is restoring before register"
    );
    m.register()?;
    let mut remaining = Vec::new();
    loop {
        let done = m.restore_step(&mut *env.log.borrow_mut(), 250)?;
        remaining.push(m.restore_remaining());
        if done {
            break;
        }
    }
    m.finish_restore()?;
    assert_eq!(remaining, [750, 500, 250, 0], "{remaining:?}");
    assert_eq!(m.restore_remaining(), 0);
    Ok(())
}

#[test]
fn an_interrupted_in_memory_restore_starts_over() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 1_000);
    let builder = || {
        kv_builder(KvKind {
            persistent: false,
            caching: false,
            timestamped: false,
        })
    };
    let mut m = env.manager(vec![builder()]).with_restore_batch_size(100);
    {
        let mut log = env.log.borrow_mut();
        let mut reader = FailingReader {
            inner: &mut log,
            batches: 3,
        };
        assert!(m.register_and_restore(&mut reader).is_err());
    }
    assert!(
        !OffsetCheckpoint::in_dir(&env.task_dir).exists(),
        "in-memory stores are never checkpointed"
    );
    let mut m = env.manager(vec![builder()]);
    let summary = env.restore(&mut m)?;
    assert_eq!(summary.stores[0].restored, 1_000);
    assert_eq!(kv_bytes(&m)?, env.replay(STORE));
    Ok(())
}

#[test]
fn restore_listener_sees_start_batches_and_end() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 250);
    let events = Rc::new(RefCell::new(Vec::new()));
    let spy = CheckpointSpy {
        path: env.task_dir.join(".checkpoint"),
        seen: Rc::new(RefCell::new(Vec::new())),
        events: events.clone(),
    };
    let mut m = env
        .manager(vec![persistent_kv()])
        .with_restore_batch_size(100)
        .with_restore_listener(Box::new(spy));
    let summary = env.restore(&mut m)?;
    assert_eq!(summary.total_restored, 250);
    assert_eq!(
        *events.borrow(),
        vec![
            "start s 0 250",
            "batch 99 100",
            "batch 199 100",
            "batch 249 50",
            "end s 250"
        ]
    );
    Ok(())
}

fn put_stale_key(task_dir: &Path) -> TestResult {
    let mut raw = RocksDbKeyValueStore::open(
        STORE,
        task_dir.join("rocksdb").join(STORE),
        RocksDbResources::shared(),
        None,
    )?;
    use streams_core::state::{KeyValueBytesStore, StateStore};
    raw.put(b"stale", Some(b"not in the changelog"))?;
    raw.flush()?;
    raw.close()?;
    Ok(())
}

#[test]
fn a_corrupt_checkpoint_wipes_and_restores_in_full() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 400);
    let mut m = env.manager(vec![persistent_kv()]);
    env.restore(&mut m)?;
    m.close()?;
    put_stale_key(&env.task_dir)?;
    std::fs::write(env.task_dir.join(".checkpoint"), "0\n1\ngarbage\n")?;

    let mut m = env.manager(vec![persistent_kv()]);
    let summary = env.restore(&mut m)?;
    assert!(summary.stores[0].wiped.is_some(), "{summary:?}");
    assert_eq!(summary.stores[0].start_offset, Some(0));
    assert_eq!(summary.stores[0].restored, 400);
    let contents = kv_bytes(&m)?;
    assert!(
        !contents.contains_key(&b"stale"[..]),
        "the wipe removed data the changelog does not have"
    );
    assert_eq!(contents, env.replay(STORE));
    m.close()?;
    assert_eq!(
        OffsetCheckpoint::in_dir(&env.task_dir)
            .read()?
            .get(&(topic(STORE), 0)),
        Some(&399)
    );
    Ok(())
}

#[test]
fn a_missing_checkpoint_entry_wipes_the_store() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 100);
    let mut m = env.manager(vec![persistent_kv()]);
    env.restore(&mut m)?;
    m.close()?;
    put_stale_key(&env.task_dir)?;
    std::fs::remove_file(env.task_dir.join(".checkpoint"))?;
    let mut m = env.manager(vec![persistent_kv()]);
    let summary = env.restore(&mut m)?;
    assert_eq!(summary.stores[0].restored, 100);
    assert!(summary.stores[0].wiped.is_some());
    assert!(!kv_bytes(&m)?.contains_key(&b"stale"[..]));
    Ok(())
}

#[test]
fn a_corrupt_rocksdb_directory_wipes_and_restores_in_full() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 300);
    let mut m = env.manager(vec![persistent_kv()]);
    env.restore(&mut m)?;
    m.close()?;
    let current = env.task_dir.join("rocksdb").join(STORE).join("CURRENT");
    assert!(current.exists());
    std::fs::write(&current, "MANIFEST-999999")?;

    let mut m = env.manager(vec![persistent_kv()]);
    let summary = env.restore(&mut m)?;
    let wiped = summary.stores[0].wiped.clone().unwrap_or_default();
    assert!(wiped.contains("corrupt"), "{wiped}");
    assert_eq!(summary.stores[0].restored, 300);
    assert_eq!(kv_bytes(&m)?, env.replay(STORE));
    Ok(())
}

#[test]
fn a_corrupt_window_segment_wipes_and_restores_in_full() -> TestResult {
    let env = Env::new();
    let kind = WinKind {
        persistent: true,
        caching: false,
        duplicates: false,
    };
    let mut m = env.manager(vec![win_builder(kind)?]);
    env.restore(&mut m)?;
    {
        let store = m.typed_store::<Win>(STORE).ok_or("missing")?;
        for i in 0..50i64 {
            store
                .borrow_mut()
                .put(&format!("k{i}"), &format!("v{i}"), i * 1000)?;
        }
    }
    let before = win_contents(&m)?;
    env.commit(&mut m)?;
    m.close()?;
    std::fs::write(
        env.task_dir
            .join(STORE)
            .join(format!("{STORE}.0"))
            .join("CURRENT"),
        "nonsense",
    )?;
    let mut m = env.manager(vec![win_builder(kind)?]);
    let summary = env.restore(&mut m)?;
    let wiped = summary.stores[0].wiped.clone().unwrap_or_default();
    assert!(wiped.contains("corrupt"), "{wiped}");
    assert_eq!(summary.stores[0].restored, 50);
    assert_eq!(win_contents(&m)?, before);
    Ok(())
}

#[test]
fn a_checkpoint_beyond_the_changelog_end_wipes_the_store() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 100);
    let mut m = env.manager(vec![persistent_kv()]);
    env.restore(&mut m)?;
    m.close()?;
    OffsetCheckpoint::in_dir(&env.task_dir).write(&HashMap::from([((topic(STORE), 0), 5_000)]))?;
    let mut m = env.manager(vec![persistent_kv()]);
    let summary = env.restore(&mut m)?;
    assert!(
        summary.stores[0]
            .wiped
            .as_deref()
            .unwrap_or_default()
            .contains("beyond")
    );
    assert_eq!(summary.stores[0].restored, 100);
    assert_eq!(kv_bytes(&m)?, env.replay(STORE));
    Ok(())
}

#[test]
fn exactly_once_keeps_no_checkpoint_while_processing() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 100);
    let ckpt = OffsetCheckpoint::in_dir(&env.task_dir);

    let mut m = env.manager(vec![persistent_kv()]).with_exactly_once(true);
    env.restore(&mut m)?;
    assert!(!ckpt.exists(), "deleted once restored");
    env.commit(&mut m)?;
    assert!(!ckpt.exists(), "not written at commit");
    m.close()?;
    assert_eq!(
        ckpt.read()?.get(&(topic(STORE), 0)),
        Some(&99),
        "written by a clean close"
    );

    // A clean restart skips the changelog.
    let mut m = env.manager(vec![persistent_kv()]).with_exactly_once(true);
    assert_eq!(env.restore(&mut m)?.total_restored, 0);
    // A crash with nothing written since the last commit keeps the store: its files say
    // they hold the committed state.
    drop(m);
    let mut m = env.manager(vec![persistent_kv()]).with_exactly_once(true);
    let summary = env.restore(&mut m)?;
    assert_eq!(summary.total_restored, 0, "{summary:?}");
    assert_eq!(summary.stores[0].wiped, None);
    assert!(!ckpt.exists());
    // Writes no commit covers may belong to an aborted transaction: once they reach the
    // files, a crash wipes the store and restores it in full.
    m.typed_store::<Kv>(STORE)
        .ok_or("missing store")?
        .borrow_mut()
        .put(&"uncommitted".into(), &"x".into())?;
    let logged = env.log.borrow().len(&topic(STORE), 0) as i64;
    m.flush()?;
    drop(m);
    let mut m = env.manager(vec![persistent_kv()]).with_exactly_once(true);
    let summary = env.restore(&mut m)?;
    assert_eq!(summary.total_restored, 101);
    assert!(
        summary.stores[0]
            .wiped
            .as_deref()
            .unwrap_or_default()
            .contains("after the last commit"),
        "{summary:?}"
    );
    assert_eq!(kv_bytes(&m)?, env.replay(STORE));

    // At-least-once keeps the checkpoint on disk while processing.
    drop(m);
    let mut m = env.manager(vec![persistent_kv()]);
    env.restore(&mut m)?;
    assert_eq!(ckpt.read()?.get(&(topic(STORE), 0)), Some(&(logged - 1)));
    Ok(())
}

/// Commits until one finds the flush the first started in the background done: the
/// eleventh commit after the start at the latest, which waits for it.
fn flush_within_commits(m: &mut StateManager, env: &Env) -> TestResult {
    for _ in 0..12 {
        if m.maybe_checkpoint(&env.written())? {
            return Ok(());
        }
    }
    Err("no commit found the background flush done".into())
}

/// A commit empties the caches into the changelog without flushing RocksDB; it flushes and
/// rewrites the checkpoint only once the changelog is more than
/// `CHECKPOINT_OFFSET_DELTA` (10,000) records past it, as Kafka Streams does, the flush in
/// the background and the checkpoint once a commit finds it done.
#[test]
fn a_commit_checkpoints_once_the_changelog_is_far_enough_ahead() -> TestResult {
    assert_eq!(CHECKPOINT_OFFSET_DELTA, 10_000);
    let env = Env::new();
    let ckpt = OffsetCheckpoint::in_dir(&env.task_dir);
    let kind = KvKind {
        persistent: true,
        caching: true,
        timestamped: false,
    };
    let put = |m: &StateManager, keys: std::ops::Range<i64>| -> TestResult {
        let store = m.typed_store::<Kv>(STORE).ok_or("missing store")?;
        for i in keys {
            store
                .borrow_mut()
                .put(&format!("key-{i:06}"), &format!("v{i}"))?;
        }
        Ok(())
    };
    let logged = || env.log.borrow().len(&topic(STORE), 0);
    let checkpointed = || -> streams_core::Result<Option<i64>> {
        Ok(ckpt.read()?.get(&(topic(STORE), 0)).copied())
    };

    let mut m = env.manager(vec![kv_builder(kind)]);
    env.restore(&mut m)?;
    put(&m, 0..5_000)?;
    assert_eq!(logged(), 0, "held in the cache");
    m.commit()?;
    assert_eq!(
        logged(),
        5_000,
        "a commit empties the cache into the changelog"
    );
    assert!(
        !m.maybe_checkpoint(&env.written())?,
        "4,999 past the checkpoint"
    );
    assert_eq!(checkpointed()?, None);

    put(&m, 5_000..10_001)?;
    m.commit()?;
    assert!(
        !m.maybe_checkpoint(&env.written())?,
        "exactly 10,000 past it"
    );
    assert_eq!(checkpointed()?, None);

    put(&m, 10_001..10_002)?;
    m.commit()?;
    // 10,001 past it.
    flush_within_commits(&mut m, &env)?;
    assert_eq!(checkpointed()?, Some(10_001));

    // After a crash, only what the checkpoint does not cover is restored.
    put(&m, 10_002..10_500)?;
    m.commit()?;
    assert!(!m.maybe_checkpoint(&env.written())?);
    drop(m);
    let mut m = env.manager(vec![kv_builder(kind)]);
    let summary = env.restore(&mut m)?;
    assert_eq!(summary.total_restored, 498);
    assert_eq!(kv_bytes(&m)?.len(), 10_500);

    // Under exactly-once the stores are flushed as often, but the checkpoint file is not
    // written while processing: the stores record their positions themselves, and a crash
    // after the commit keeps them.
    drop(m);
    let mut m = env.manager(vec![kv_builder(kind)]).with_exactly_once(true);
    env.restore(&mut m)?;
    put(&m, 20_000..25_000)?;
    m.commit()?;
    assert!(!m.maybe_checkpoint(&env.written())?, "5,000 past the flush");
    put(&m, 25_000..40_000)?;
    m.commit()?;
    // 20,000 past the flush.
    flush_within_commits(&mut m, &env)?;
    assert!(!ckpt.exists());
    drop(m);
    let mut m = env.manager(vec![kv_builder(kind)]).with_exactly_once(true);
    let summary = env.restore(&mut m)?;
    assert_eq!(summary.total_restored, 0, "{summary:?}");
    assert_eq!(kv_bytes(&m)?.len(), 30_500);
    Ok(())
}

#[test]
fn stores_without_logging_are_neither_restored_nor_wiped() -> TestResult {
    let env = Env::new();
    let builder = || -> Arc<dyn StoreBuilder> {
        Arc::new(
            Stores::key_value_store_builder(
                Stores::persistent_key_value_store(STORE),
                Serdes::string(),
                Serdes::string(),
            )
            .with_logging_disabled(),
        )
    };
    let mut m = env.manager(vec![builder()]);
    assert!(m.changelog_partitions().is_empty());
    env.restore(&mut m)?;
    m.typed_store::<Kv>(STORE)
        .ok_or("missing")?
        .borrow_mut()
        .put(&"k".into(), &"v".into())?;
    m.close()?;
    assert!(env.log.borrow().is_empty(), "nothing logged");
    let mut m = env.manager(vec![builder()]);
    env.restore(&mut m)?;
    assert_eq!(
        m.typed_store::<Kv>(STORE)
            .ok_or("missing")?
            .borrow()
            .get(&"k".into())?,
        Some("v".into())
    );
    Ok(())
}

#[test]
fn the_manager_reports_changelogs_and_hands_out_typed_stores() -> TestResult {
    let env = Env::new();
    let mut m = env.manager(vec![
        persistent_kv(),
        Arc::new(Stores::key_value_store_builder(
            Stores::in_memory_key_value_store("other"),
            Serdes::string(),
            Serdes::i64(),
        )),
    ]);
    assert_eq!(
        m.changelog_partitions(),
        vec![(topic(STORE), 0), (topic("other"), 0)]
    );
    env.restore(&mut m)?;
    assert!(m.store(STORE).is_some());
    assert!(m.typed_store::<Kv>(STORE).is_some());
    assert!(
        m.typed_store::<TypedKeyValueStore<String, i64>>(STORE)
            .is_none(),
        "wrong type"
    );
    assert!(
        m.typed_store::<TypedKeyValueStore<String, i64>>("other")
            .is_some()
    );
    assert!(m.store("missing").is_none());
    assert_eq!(m.store_names(), vec![STORE, "other"]);
    assert!(env.restore(&mut m).is_err(), "registering twice is refused");
    // A processor holding a borrow across a commit is an error, not a panic.
    let store = m.typed_store::<Kv>(STORE).ok_or("missing")?;
    let held = store.borrow_mut();
    assert!(m.flush().is_err());
    drop(held);
    m.flush()?;
    Ok(())
}

#[test]
fn two_instances_cannot_share_a_state_directory() -> TestResult {
    let root = tempfile::tempdir()?;
    let first = StateDirectory::open(root.path(), APP)?;
    let err = StateDirectory::open(root.path(), APP)
        .err()
        .ok_or("second lock succeeded")?;
    let msg = err.to_string() + &format!("{err:?}");
    assert!(msg.contains("locked"), "{msg}");
    assert!(
        msg.contains(&root.path().join(APP).display().to_string()),
        "{msg}"
    );
    drop(first);
    let again = StateDirectory::open(root.path(), APP)?;
    assert_eq!(again.task_dir(TASK)?, root.path().join(APP).join("0_0"));
    Ok(())
}

#[test]
fn suppliers_report_what_they_build() -> TestResult {
    let kv = Stores::persistent_key_value_store("p");
    assert!(kv.persistent());
    assert!(!Stores::in_memory_key_value_store("m").persistent());
    let w = Stores::persistent_window_store(
        "w",
        Duration::from_secs(120),
        Duration::from_secs(10),
        true,
    )?;
    assert_eq!(
        (w.retention_period(), w.window_size(), w.retain_duplicates()),
        (120_000, 10_000, true)
    );
    assert!(
        Stores::persistent_window_store(
            "bad",
            Duration::from_secs(1),
            Duration::from_secs(10),
            false
        )
        .is_err()
    );
    assert!(
        Stores::in_memory_window_store("bad", Duration::from_secs(1), Duration::ZERO, false)
            .is_err()
    );
    Ok(())
}

/// Retention or `DeleteRecords` moved the changelog's start past the checkpoint: the records
/// in between are gone, so continuing from the checkpoint would leave the store without
/// them. The store is wiped and restored from the log start (the restore consumer never
/// jumps there on its own).
#[test]
fn a_checkpoint_below_the_changelog_start_wipes_the_store() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 100);
    let mut m = env.manager(vec![persistent_kv()]);
    env.restore(&mut m)?;
    m.close()?;
    {
        let mut log = env.log.borrow_mut();
        for i in 100..200i64 {
            let key = format!("{:04}", i % 30);
            log.append(&topic(STORE), 0, key.as_bytes(), Some(b"later"), i);
        }
        log.truncate_before(&topic(STORE), 0, 150);
    }
    let mut m = env.manager(vec![persistent_kv()]);
    let summary = env.restore(&mut m)?;
    assert!(
        summary.stores[0]
            .wiped
            .as_deref()
            .unwrap_or_default()
            .contains("below the changelog start"),
        "{summary:?}"
    );
    assert_eq!(summary.stores[0].start_offset, Some(150));
    assert_eq!(summary.stores[0].restored, 50);
    assert_eq!(kv_bytes(&m)?, env.replay(STORE));
    Ok(())
}

/// A stream thread restores between polls of its consumer: each step reads a bounded
/// number of records, and the store is complete once a step says so.
#[test]
fn a_restore_runs_in_bounded_steps() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 25_000);
    let mut m = env
        .manager(vec![persistent_kv()])
        .with_restore_batch_size(500);
    m.register()?;
    assert!(m.is_restoring());
    let mut steps = 0;
    loop {
        let mut reader = env.log.borrow_mut();
        let done = m.restore_step(&mut *reader, 1_000)?;
        steps += 1;
        if done {
            break;
        }
        assert!(steps < 1_000, "the restore never ends");
    }
    assert!(!m.is_restoring());
    assert!(
        (25..=27).contains(&steps),
        "1,000 records a step over 25,000 records: {steps} steps"
    );
    let summary = m.finish_restore()?;
    assert_eq!(summary.total_restored, 25_000);
    assert_eq!(kv_bytes(&m)?, env.replay(STORE));
    Ok(())
}

/// Under exactly-once a task whose logged store has no checkpointed offset was not closed
/// cleanly: a persistent store without a changelog in the same task may hold writes of an
/// aborted transaction and cannot be restored, so it starts empty, as Kafka Streams wipes
/// the task directory.
#[test]
fn exactly_once_wipes_stores_without_changelog_after_a_crash() -> TestResult {
    let env = Env::new();
    fill_changelog(&env, 10);
    let builders = || -> Vec<Arc<dyn StoreBuilder>> {
        vec![
            Arc::new(
                Stores::key_value_store_builder(
                    Stores::persistent_key_value_store("unlogged"),
                    Serdes::string(),
                    Serdes::string(),
                )
                .with_logging_disabled(),
            ),
            persistent_kv(),
        ]
    };
    const STORE: &str = "unlogged";
    let value = |m: &StateManager| -> streams_core::Result<Option<String>> {
        m.typed_store::<Kv>(STORE)
            .ok_or_else(|| streams_core::Error::StoreNotAvailable(STORE.into()))?
            .borrow()
            .get(&"k".into())
    };
    let mut m = env.manager(builders()).with_exactly_once(true);
    env.restore(&mut m)?;
    m.typed_store::<Kv>(STORE)
        .ok_or("missing")?
        .borrow_mut()
        .put(&"k".into(), &"v".into())?;
    m.close()?;
    let mut m = env.manager(builders()).with_exactly_once(true);
    env.restore(&mut m)?;
    assert_eq!(value(&m)?, Some("v".into()), "a clean close keeps it");
    m.typed_store::<Kv>(STORE)
        .ok_or("missing")?
        .borrow_mut()
        .put(&"k".into(), &"w".into())?;
    m.flush()?;
    drop(m);
    let mut m = env.manager(builders()).with_exactly_once(true);
    let summary = env.restore(&mut m)?;
    assert!(summary.stores[0].wiped.is_some(), "{summary:?}");
    assert_eq!(value(&m)?, None, "a crash under exactly-once wipes it");
    Ok(())
}

/// Set in the child process of the crash tests: where its store lives.
const CRASH_DIR: &str = "STATE_RESTORE_CRASH_DIR";

/// Runs `test` of this binary in a child process on store directory `dir`; the child writes
/// and then aborts without closing its store, so that what RocksDB had not flushed is lost,
/// as after SIGKILL.
fn crash_child(test: &str, dir: &Path) -> TestResult {
    let status = std::process::Command::new(std::env::current_exe()?)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(CRASH_DIR, dir)
        .stdout(std::process::Stdio::null())
        .status()?;
    if status.success() {
        return Err(format!("the child of {test} exited normally instead of crashing").into());
    }
    Ok(())
}

fn open_kv(dir: &Path) -> streams_core::Result<RocksDbKeyValueStore> {
    RocksDbKeyValueStore::open(STORE, dir, RocksDbResources::shared(), None)
}

fn open_window(dir: &Path) -> streams_core::Result<RocksDbWindowStore> {
    RocksDbWindowStore::open(
        STORE,
        dir,
        120_000,
        1_000,
        false,
        RocksDbResources::shared(),
        None,
    )
}

/// A store holding `a` = `1`, committed at offset 10 and flushed.
fn open_kv_committed_at_10(dir: &Path) -> streams_core::Result<RocksDbKeyValueStore> {
    let mut s = open_kv(dir)?;
    s.put(b"a", Some(b"1"))?;
    s.commit_position(Some(10))?;
    s.flush()?;
    Ok(s)
}

/// After a crash a store's files hold what its last flush wrote, and its position says so:
/// the writes committed after that flush, and those never committed, are gone, and the
/// restore starts after the flushed commit's offset.
#[test]
fn a_crash_leaves_the_position_of_the_last_flushed_commit() -> TestResult {
    if let Some(dir) = std::env::var_os(CRASH_DIR) {
        let mut s = open_kv_committed_at_10(Path::new(&dir))?;
        s.put(b"b", Some(b"2"))?;
        s.commit_position(Some(11))?;
        s.put(b"c", Some(b"3"))?;
        std::process::abort();
    }
    let dir = tempfile::tempdir()?;
    crash_child(
        "a_crash_leaves_the_position_of_the_last_flushed_commit",
        dir.path(),
    )?;
    let s = open_kv(dir.path())?;
    assert_eq!(s.stored_position(), StoredPosition::Committed(Some(10)));
    assert_eq!(s.get(b"a")?, Some(b"1".to_vec()));
    assert_eq!(s.get(b"b")?, None);
    assert_eq!(s.get(b"c")?, None);
    Ok(())
}

/// RocksDB flushes on its own (a full memtable), in the middle of a transaction: the files
/// then hold writes no commit covers, and the position says so.
#[test]
fn a_crash_after_uncommitted_writes_reached_the_files_reads_as_uncommitted() -> TestResult {
    if let Some(dir) = std::env::var_os(CRASH_DIR) {
        let mut s = open_kv_committed_at_10(Path::new(&dir))?;
        s.put(b"b", Some(b"2"))?;
        s.flush()?;
        std::process::abort();
    }
    let dir = tempfile::tempdir()?;
    crash_child(
        "a_crash_after_uncommitted_writes_reached_the_files_reads_as_uncommitted",
        dir.path(),
    )?;
    assert_eq!(
        open_kv(dir.path())?.stored_position(),
        StoredPosition::Uncommitted
    );
    Ok(())
}

/// A store written before positions were recorded, with data and no position, reads as
/// unknown; an empty one as committed with nothing applied.
#[test]
fn stores_without_a_position_are_unknown_unless_empty() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("old");
    {
        let db = rocksdb::DB::open_default(&path)?;
        db.put(b"k", b"v")?;
    }
    assert_eq!(open_kv(&path)?.stored_position(), StoredPosition::Unknown);
    let empty = open_kv(&dir.path().join("new"))?;
    assert_eq!(empty.stored_position(), StoredPosition::Committed(None));
    Ok(())
}

/// A segmented store is as far as its least advanced segment; a segment created after the
/// last flush adds nothing, and segments that expired in a transaction that never committed
/// are still there after the crash, as the committed state still had them.
#[test]
fn a_crash_of_a_window_store_keeps_its_segments_committed() -> TestResult {
    if let Some(dir) = std::env::var_os(CRASH_DIR) {
        let mut s = open_window(Path::new(&dir))?;
        s.put(b"a", Some(b"1"), 0)?;
        s.commit_position(Some(5))?;
        s.flush()?;
        s.put(b"b", Some(b"2"), 60_000)?;
        s.commit_position(Some(6))?;
        s.flush()?;
        // A new segment; the first two expire, in a transaction that never commits.
        s.put(b"c", Some(b"3"), 600_000)?;
        assert_eq!(s.segment_ids(), vec![10]);
        std::process::abort();
    }
    let dir = tempfile::tempdir()?;
    crash_child(
        "a_crash_of_a_window_store_keeps_its_segments_committed",
        dir.path(),
    )?;
    let s = open_window(dir.path())?;
    assert_eq!(s.segment_ids(), vec![0, 1, 10]);
    assert_eq!(s.stored_position(), StoredPosition::Committed(Some(6)));
    assert_eq!(s.fetch_at(b"a", 0)?, Some(b"1".to_vec()));
    assert_eq!(s.fetch_at(b"b", 60_000)?, Some(b"2".to_vec()));
    assert_eq!(s.fetch_at(b"c", 600_000)?, None);
    Ok(())
}

/// Expired segments are deleted only once a commit or a flush covers their expiry.
#[test]
fn expired_segments_are_deleted_at_the_next_commit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut s = open_window(dir.path())?;
    s.put(b"a", Some(b"1"), 0)?;
    s.put(b"c", Some(b"3"), 600_000)?;
    assert_eq!(s.segment_ids(), vec![10]);
    let segment_dirs = || -> std::io::Result<usize> { Ok(std::fs::read_dir(dir.path())?.count()) };
    assert_eq!(
        segment_dirs()?,
        2,
        "the expired segment waits for the commit"
    );
    s.commit_position(Some(1))?;
    assert_eq!(segment_dirs()?, 1);
    s.close()?;
    Ok(())
}

/// Counts the partitions a restore positions the reader on.
struct SeekCounter<'a> {
    inner: &'a mut InMemoryChangelog,
    seeks: usize,
}

impl ChangelogReader for SeekCounter<'_> {
    fn end_offset(&mut self, topic: &str, partition: i32) -> streams_core::Result<i64> {
        self.inner.end_offset(topic, partition)
    }
    fn start_offset(&mut self, topic: &str, partition: i32) -> streams_core::Result<i64> {
        self.inner.start_offset(topic, partition)
    }
    fn seek(
        &mut self,
        topic: &str,
        partition: i32,
        offset: Option<i64>,
    ) -> streams_core::Result<()> {
        self.seeks += 1;
        self.inner.seek(topic, partition, offset)
    }
    fn position(&mut self, topic: &str, partition: i32) -> streams_core::Result<i64> {
        self.inner.position(topic, partition)
    }
    fn read_batch(
        &mut self,
        topic: &str,
        partition: i32,
        max_records: usize,
        sink: &mut dyn FnMut(&[ChangelogRecord<'_>]) -> streams_core::Result<()>,
    ) -> streams_core::Result<usize> {
        self.inner.read_batch(topic, partition, max_records, sink)
    }
}

/// A store with nothing to restore (an empty changelog, or a checkpoint at its end) is not
/// positioned on at all: on Kafka, positioning assigns the partition to the restore
/// consumer, whose fetch of it would then hold up the next partition's offset look-up.
#[test]
fn nothing_to_restore_positions_no_partition() -> TestResult {
    let env = Env::new();
    // Restores a fresh manager's store, returning what it restored and how many
    // partitions the reader was positioned on.
    let restore = |m: &mut StateManager| -> streams_core::Result<(u64, usize)> {
        let mut log = env.log.borrow_mut();
        let mut reader = SeekCounter {
            inner: &mut log,
            seeks: 0,
        };
        let summary = m.register_and_restore(&mut reader)?;
        Ok((summary.stores[0].restored, reader.seeks))
    };
    let mut m = env.manager(vec![persistent_kv()]);
    assert_eq!(
        restore(&mut m)?,
        (0, 0),
        "an empty changelog is not positioned on"
    );
    m.close()?;

    fill_changelog(&env, 300);
    let mut m = env.manager(vec![persistent_kv()]);
    assert_eq!(
        restore(&mut m)?,
        (300, 1),
        "a changelog with records is read"
    );
    m.close()?;

    // Closed cleanly: the checkpoint is at the changelog's end.
    let mut m = env.manager(vec![persistent_kv()]);
    assert_eq!(
        restore(&mut m)?,
        (0, 0),
        "a checkpoint at the end is not positioned on"
    );
    assert_eq!(kv_bytes(&m)?, env.replay(STORE));
    m.close()?;
    Ok(())
}

/// A logged key-value store whose background flush is done only once the test says so:
/// it stands for a RocksDB flush still under way.
struct SlowFlush {
    inner: Rc<RefCell<Kv>>,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl StateStore for SlowFlush {
    fn name(&self) -> &str {
        STORE
    }
    fn persistent(&self) -> bool {
        true
    }
    fn flush(&mut self) -> streams_core::Result<()> {
        self.inner.borrow_mut().flush()
    }
    fn commit(&mut self) -> streams_core::Result<()> {
        self.inner.borrow_mut().commit()
    }
    fn flush_in_background(&mut self) -> streams_core::Result<()> {
        self.inner.borrow_mut().commit()
    }
    fn flush_done(&mut self) -> streams_core::Result<bool> {
        if !self.done.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(false);
        }
        self.inner.borrow_mut().flush()?;
        Ok(true)
    }
    fn close(&mut self) -> streams_core::Result<()> {
        self.inner.borrow_mut().close()
    }
    fn restore_batch(&mut self, records: &[ChangelogRecord<'_>]) -> streams_core::Result<()> {
        self.inner.borrow_mut().restore_batch(records)
    }
}

struct SlowFlushBuilder {
    inner: Arc<dyn StoreBuilder>,
    done: Arc<std::sync::atomic::AtomicBool>,
}

impl StoreBuilder for SlowFlushBuilder {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn logging_enabled(&self) -> bool {
        self.inner.logging_enabled()
    }
    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
    fn changelog_config(&self) -> BTreeMap<String, String> {
        self.inner.changelog_config()
    }
    fn build(
        &self,
        ctx: &streams_core::state::StoreContext,
    ) -> streams_core::Result<streams_core::state::BuiltStore> {
        let inner = self
            .inner
            .build(ctx)?
            .downcast::<Kv>()
            .ok_or_else(|| streams_core::Error::IllegalState("not a Kv".into()))?;
        Ok(streams_core::state::BuiltStore::new(SlowFlush {
            inner,
            done: Arc::clone(&self.done),
        }))
    }
}

/// The checkpoint a background flush leads to claims the offsets the stores had when it
/// started, never records written while it was under way; a flush still under way after
/// ten commits is waited for, and the checkpoint then claims everything.
#[test]
fn a_background_flush_checkpoints_what_it_started_with() -> TestResult {
    use std::sync::atomic::{AtomicBool, Ordering};
    let env = Env::new();
    let done = Arc::new(AtomicBool::new(false));
    let builder: Arc<dyn StoreBuilder> = Arc::new(SlowFlushBuilder {
        inner: persistent_kv(),
        done: Arc::clone(&done),
    });
    let mut m = env.manager(vec![builder]);
    env.restore(&mut m)?;
    let store = m
        .typed_store::<SlowFlush>(STORE)
        .ok_or("missing store")?
        .borrow()
        .inner
        .clone();
    let put = |keys: std::ops::Range<i64>| -> TestResult {
        for i in keys {
            store
                .borrow_mut()
                .put(&format!("key-{i:06}"), &format!("v{i}"))?;
        }
        Ok(())
    };
    let ckpt = OffsetCheckpoint::in_dir(&env.task_dir);
    let checkpointed = || -> streams_core::Result<Option<i64>> {
        Ok(ckpt.read()?.get(&(topic(STORE), 0)).copied())
    };

    put(0..10_002)?;
    m.commit()?;
    assert!(!m.maybe_checkpoint(&env.written())?, "the flush starts");
    put(10_002..10_500)?;
    m.commit()?;
    assert!(!m.maybe_checkpoint(&env.written())?, "still under way");
    assert_eq!(checkpointed()?, None);
    done.store(true, Ordering::Release);
    assert!(m.maybe_checkpoint(&env.written())?, "found done");
    assert_eq!(
        checkpointed()?,
        Some(10_001),
        "the offset when the flush started, not the 498 records after it"
    );

    done.store(false, Ordering::Release);
    put(10_500..25_000)?;
    m.commit()?;
    assert!(
        !m.maybe_checkpoint(&env.written())?,
        "the next flush starts"
    );
    for _ in 0..10 {
        assert!(!m.maybe_checkpoint(&env.written())?);
    }
    assert!(
        m.maybe_checkpoint(&env.written())?,
        "the eleventh commit waits for the stores"
    );
    assert_eq!(checkpointed()?, Some(24_999));
    Ok(())
}

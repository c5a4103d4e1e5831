//! The caching layer: de-duplication between commits, eviction, what is forwarded and what
//! reaches the changelog.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod state_support;

use state_support::{Fixture, TestResult};
use streams_core::serde::Serdes;
use streams_core::state::{
    KeyValueStore, ReadOnlyKeyValueStore, ReadOnlyWindowStore, StateStore, WindowStore,
};
use streams_core::window::Window;
use streams_state::{FlushedEntry, Stores, TypedKeyValueStore, TypedWindowStore};

fn cached_kv(
    f: &Fixture,
    persistent: bool,
) -> streams_core::Result<TypedKeyValueStore<String, i64>> {
    if persistent {
        Stores::key_value_store_builder(
            Stores::persistent_key_value_store("c"),
            Serdes::string(),
            Serdes::i64(),
        )
        .with_caching_enabled()
        .build_store(&f.ctx)
    } else {
        Stores::key_value_store_builder(
            Stores::in_memory_key_value_store("c"),
            Serdes::string(),
            Serdes::i64(),
        )
        .with_caching_enabled()
        .build_store(&f.ctx)
    }
}

fn drain(
    s: &mut TypedKeyValueStore<String, i64>,
) -> streams_core::Result<Vec<FlushedEntry<String, i64>>> {
    let mut out = Vec::new();
    s.flush_cache(|e| out.push(e))?;
    Ok(out)
}

fn entry(key: &str, new: Option<i64>, old: Option<i64>, ts: i64) -> FlushedEntry<String, i64> {
    FlushedEntry {
        key: key.into(),
        new_value: new,
        old_value: old,
        timestamp: ts,
    }
}

#[test]
fn updates_to_one_key_are_merged_until_the_cache_flushes() -> TestResult {
    for persistent in [false, true] {
        let f = Fixture::new();
        let mut s = cached_kv(&f, persistent)?;
        assert!(s.caching_enabled());
        for (i, v) in [1, 2, 3].into_iter().enumerate() {
            f.ctx.timestamp_source().set(10 + i as i64);
            s.put(&"k".into(), &v)?;
        }
        assert_eq!(s.get(&"k".into())?, Some(3), "reads see the cache");
        assert!(
            f.changelog("c").is_empty(),
            "nothing logged before the flush"
        );
        assert!(s.take_evicted()?.is_empty(), "nothing evicted");

        f.ctx.timestamp_source().set(99);
        assert_eq!(
            drain(&mut s)?,
            vec![entry("k", Some(3), None, 12)],
            "one update, with its own timestamp"
        );
        let log = f.changelog("c");
        assert_eq!(log.len(), 1, "one changelog record for three puts");
        assert_eq!(log[0].value.as_deref(), Some(&3i64.to_be_bytes()[..]));
        assert_eq!(
            log[0].timestamp, 12,
            "logged with the update's timestamp, not the flush's"
        );
        assert_eq!(
            f.ctx.timestamp(),
            99,
            "the record timestamp is restored after the flush"
        );

        f.ctx.timestamp_source().set(20);
        s.put(&"k".into(), &4)?;
        assert_eq!(
            drain(&mut s)?,
            vec![entry("k", Some(4), Some(3), 20)],
            "the old value comes from below"
        );
        assert!(
            drain(&mut s)?.is_empty(),
            "a second flush has nothing to say"
        );
        s.close()?;
    }
    Ok(())
}

#[test]
fn deletes_are_cached_and_forwarded_only_when_they_change_something() -> TestResult {
    let f = Fixture::new();
    let mut s = cached_kv(&f, false)?;
    s.put(&"tmp".into(), &1)?;
    assert_eq!(s.delete(&"tmp".into())?, Some(1));
    assert_eq!(s.get(&"tmp".into())?, None);
    assert!(
        drain(&mut s)?.is_empty(),
        "put then delete of a new key cancels out"
    );
    assert!(f.changelog("c").is_empty());

    s.put(&"kept".into(), &7)?;
    drain(&mut s)?;
    assert_eq!(s.delete(&"kept".into())?, Some(7));
    assert_eq!(drain(&mut s)?, vec![entry("kept", None, Some(7), 0)]);
    let log = f.changelog("c");
    assert_eq!(
        log.last().map(|r| r.value.is_none()),
        Some(true),
        "a tombstone reaches the changelog"
    );
    assert_eq!(s.all()?.count(), 0);
    Ok(())
}

#[test]
fn eviction_releases_dirty_entries_least_recently_used_first() -> TestResult {
    // Room for about three entries (64 bytes of overhead plus key and value each).
    let f = Fixture::with_cache(3 * 80);
    let mut s = cached_kv(&f, false)?;
    for (k, ts) in [("a", 1), ("b", 2), ("c", 3)] {
        f.ctx.timestamp_source().set(ts);
        s.put(&k.into(), &ts)?;
    }
    assert!(s.take_evicted()?.is_empty(), "three entries fit");
    f.ctx.timestamp_source().set(4);
    s.put(&"d".into(), &4)?;
    // Evicting a dirty entry flushes every dirty entry, the evicted one first.
    let evicted = s.take_evicted()?;
    assert_eq!(
        evicted,
        vec![
            entry("a", Some(1), None, 1),
            entry("b", Some(2), None, 2),
            entry("c", Some(3), None, 3),
            entry("d", Some(4), None, 4),
        ]
    );
    assert!(s.take_evicted()?.is_empty(), "taken once");
    assert_eq!(f.changelog("c").len(), 4);
    // Everything is still readable, from the cache or from below.
    let all: Vec<(String, i64)> = s.all()?.collect::<Result<_, _>>()?;
    assert_eq!(
        all,
        vec![
            ("a".into(), 1),
            ("b".into(), 2),
            ("c".into(), 3),
            ("d".into(), 4)
        ]
    );
    Ok(())
}

#[test]
fn a_zero_byte_cache_writes_through() -> TestResult {
    let f = Fixture::with_cache(0);
    let mut s = cached_kv(&f, false)?;
    s.put(&"k".into(), &1)?;
    s.put(&"k".into(), &2)?;
    assert_eq!(
        s.take_evicted()?,
        vec![
            entry("k", Some(1), None, 0),
            entry("k", Some(2), Some(1), 0)
        ]
    );
    assert_eq!(f.changelog("c").len(), 2);
    Ok(())
}

#[test]
fn a_lifecycle_flush_writes_through_and_queues_the_updates() -> TestResult {
    let f = Fixture::new();
    let mut s = cached_kv(&f, true)?;
    s.put(&"k".into(), &1)?;
    StateStore::flush(&mut s)?;
    assert_eq!(
        f.changelog("c").len(),
        1,
        "the state manager's flush reaches the changelog"
    );
    assert_eq!(
        s.take_evicted()?,
        vec![entry("k", Some(1), None, 0)],
        "and the processor can still forward it"
    );
    Ok(())
}

#[test]
fn without_caching_every_write_is_logged_at_once() -> TestResult {
    let f = Fixture::new();
    let mut s = Stores::key_value_store_builder(
        Stores::in_memory_key_value_store("c"),
        Serdes::string(),
        Serdes::i64(),
    )
    .with_caching_disabled()
    .build_store(&f.ctx)?;
    assert!(!s.caching_enabled());
    s.put(&"k".into(), &1)?;
    s.put(&"k".into(), &2)?;
    assert_eq!(f.changelog("c").len(), 2);
    assert!(drain(&mut s)?.is_empty());
    assert!(s.take_evicted()?.is_empty());
    Ok(())
}

#[test]
fn window_updates_are_merged_and_forwarded_with_their_window() -> TestResult {
    let f = Fixture::new();
    let supplier = Stores::in_memory_window_store(
        "w",
        std::time::Duration::from_secs(600),
        std::time::Duration::from_secs(60),
        false,
    )?;
    let mut s: TypedWindowStore<String, i64> =
        Stores::window_store_builder(supplier, Serdes::string(), Serdes::i64())
            .with_caching_enabled()
            .build_store(&f.ctx)?;
    f.ctx.timestamp_source().set(5);
    s.put(&"k".into(), &1, 0)?;
    s.put(&"k".into(), &2, 0)?;
    s.put(&"k".into(), &9, 60_000)?;
    assert_eq!(s.fetch_at(&"k".into(), 0)?, Some(2));
    let fetched: Vec<(i64, i64)> = s.fetch(&"k".into(), 0, 60_000)?.collect::<Result<_, _>>()?;
    assert_eq!(fetched, vec![(0, 2), (60_000, 9)]);
    assert!(f.changelog("w").is_empty());
    let mut out = Vec::new();
    s.flush_cache(|e| out.push(e))?;
    assert_eq!(out.len(), 2);
    assert_eq!(out[0].key.key, "k");
    assert_eq!(out[0].key.window, Window::new(0, 60_000));
    assert_eq!((out[0].new_value, out[0].old_value), (Some(2), None));
    assert_eq!(out[1].key.window.start, 60_000);
    assert_eq!(f.changelog("w").len(), 2);
    s.put(&"k".into(), &3, 0)?;
    let mut out = Vec::new();
    s.flush_cache(|e| out.push(e))?;
    assert_eq!((out[0].new_value, out[0].old_value), (Some(3), Some(2)));
    Ok(())
}

/// With old values off (a processor that forwards none), a released put carries no old
/// value; a delete still reads the store below, so that deleting a key the store does not
/// hold is still skipped, and it carries the old value it read, as Kafka Streams'
/// caching stores do without `sendOldValues`.
#[test]
fn without_old_values_a_released_put_does_not_read_the_store_below() -> TestResult {
    for persistent in [false, true] {
        let f = Fixture::new();
        let mut s = cached_kv(&f, persistent)?;
        s.set_send_old_values(false);
        s.put(&"k".into(), &1)?;
        drain(&mut s)?;
        s.put(&"k".into(), &2)?;
        assert_eq!(drain(&mut s)?, vec![entry("k", Some(2), None, 0)]);
        assert_eq!(s.delete(&"k".into())?, Some(2));
        assert_eq!(drain(&mut s)?, vec![entry("k", None, Some(2), 0)]);
        s.put(&"gone".into(), &1)?;
        drain(&mut s)?;
        s.put(&"new".into(), &5)?;
        s.delete(&"new".into())?;
        assert!(
            drain(&mut s)?.is_empty(),
            "a delete of an absent key is skipped"
        );
        assert_eq!(f.changelog("c").len(), 4, "k twice, k deleted, gone");

        s.set_send_old_values(true);
        s.put(&"gone".into(), &3)?;
        assert_eq!(drain(&mut s)?, vec![entry("gone", Some(3), Some(1), 0)]);
    }

    let f = Fixture::new();
    let supplier = Stores::persistent_window_store(
        "w",
        std::time::Duration::from_secs(600),
        std::time::Duration::from_secs(60),
        false,
    )?;
    let mut s: TypedWindowStore<String, i64> =
        Stores::window_store_builder(supplier, Serdes::string(), Serdes::i64())
            .with_caching_enabled()
            .build_store(&f.ctx)?;
    s.set_send_old_values(false);
    s.put(&"k".into(), &1, 0)?;
    s.flush_cache(|_| {})?;
    s.put(&"k".into(), &2, 0)?;
    let mut out = Vec::new();
    s.flush_cache(|e| out.push(e))?;
    assert_eq!((out[0].new_value, out[0].old_value), (Some(2), None));
    assert_eq!(s.fetch_at(&"k".into(), 0)?, Some(2));
    assert_eq!(f.changelog("w").len(), 2);
    Ok(())
}

#[test]
fn caching_is_not_applied_to_window_stores_with_duplicates() -> TestResult {
    let f = Fixture::new();
    let supplier = Stores::in_memory_window_store(
        "j",
        std::time::Duration::from_secs(600),
        std::time::Duration::from_secs(60),
        true,
    )?;
    let mut s: TypedWindowStore<String, i64> =
        Stores::window_store_builder(supplier, Serdes::string(), Serdes::i64())
            .with_caching_enabled()
            .build_store(&f.ctx)?;
    assert!(!s.caching_enabled());
    s.put(&"k".into(), &1, 0)?;
    s.put(&"k".into(), &1, 0)?;
    assert_eq!(s.fetch(&"k".into(), 0, 0)?.count(), 2);
    assert_eq!(f.changelog("j").len(), 2);
    Ok(())
}

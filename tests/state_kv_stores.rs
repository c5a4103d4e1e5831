//! The semantics of every key-value store operation, checked against every kind of store
//! stack (in-memory, RocksDB, with change-logging, with caching).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod state_support;

use state_support::{Fixture, TestResult, b, collect_kv, keys, kv_kinds};
use streams_core::state::KeyValueBytesStore;

/// Runs `check` against a fresh store of every kind, naming the kind on failure.
fn for_every_kind(
    check: impl Fn(&mut dyn KeyValueBytesStore, &Fixture) -> TestResult,
) -> TestResult {
    for (kind, make) in kv_kinds() {
        let fixture = Fixture::new();
        let mut store = make(&fixture, "s");
        check(store.as_mut(), &fixture).map_err(|e| format!("[{kind}] {e}"))?;
        store.close()?;
    }
    Ok(())
}

fn ensure(cond: bool, what: impl std::fmt::Display) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(what.to_string().into())
    }
}

fn ensure_eq<T: PartialEq + std::fmt::Debug>(left: T, right: T, what: &str) -> TestResult {
    ensure(left == right, format!("{what}: {left:?} != {right:?}"))
}

#[test]
fn get_put_overwrite_and_null_delete() -> TestResult {
    for_every_kind(|s, _| {
        ensure_eq(s.get(b"k")?, None, "empty store")?;
        s.put(b"k", Some(b"v1"))?;
        ensure_eq(s.get(b"k")?, Some(b("v1")), "after put")?;
        s.put(b"k", Some(b"v2"))?;
        ensure_eq(s.get(b"k")?, Some(b("v2")), "after overwrite")?;
        s.put(b"k", Some(b""))?;
        ensure_eq(
            s.get(b"k")?,
            Some(vec![]),
            "an empty value is a value, not a delete",
        )?;
        s.put(b"k", None)?;
        ensure_eq(s.get(b"k")?, None, "a null put deletes")?;
        s.flush()?;
        ensure_eq(s.get(b"k")?, None, "still deleted after flush")?;
        Ok(())
    })
}

#[test]
fn put_if_absent_keeps_the_existing_value() -> TestResult {
    for_every_kind(|s, _| {
        ensure_eq(s.put_if_absent(b"k", b"first")?, None, "absent key")?;
        ensure_eq(
            s.put_if_absent(b"k", b"second")?,
            Some(b("first")),
            "present key",
        )?;
        ensure_eq(s.get(b"k")?, Some(b("first")), "value unchanged")?;
        s.delete(b"k")?;
        ensure_eq(
            s.put_if_absent(b"k", b"third")?,
            None,
            "absent again after delete",
        )?;
        ensure_eq(
            s.get(b"k")?,
            Some(b("third")),
            "value after delete and put_if_absent",
        )?;
        Ok(())
    })
}

#[test]
fn delete_returns_the_old_value() -> TestResult {
    for_every_kind(|s, _| {
        s.put(b"a", Some(b"1"))?;
        s.flush()?;
        ensure_eq(s.delete(b"a")?, Some(b("1")), "delete of a flushed key")?;
        ensure_eq(s.delete(b"a")?, None, "second delete")?;
        ensure_eq(s.delete(b"never")?, None, "delete of a missing key")?;
        s.put(b"c", Some(b"3"))?;
        ensure_eq(s.delete(b"c")?, Some(b("3")), "delete of an unflushed key")?;
        ensure_eq(s.get(b"c")?, None, "deleted")?;
        Ok(())
    })
}

/// Keys chosen so that byte order, prefixes and unsigned comparison all matter.
fn populate(s: &mut dyn KeyValueBytesStore) -> TestResult {
    for k in [
        &b"a"[..],
        b"b",
        b"b\x00",
        b"bb",
        b"c",
        b"d",
        b"e",
        &[0x7F],
        &[0x80],
        &[0xFF],
        &[0xFF, 0x01],
    ] {
        s.put(k, Some(&[k.len() as u8]))?;
    }
    // Deleted keys must not show up in any scan, flushed or not.
    s.put(b"ba", Some(b"gone"))?;
    s.flush()?;
    s.put(b"ba", None)?;
    s.put(b"bz", Some(b"gone too"))?;
    s.delete(b"bz")?;
    Ok(())
}

#[test]
fn ranges_are_inclusive_ordered_and_unsigned() -> TestResult {
    for_every_kind(|s, _| {
        populate(s)?;
        let r = collect_kv(s.range(Some(b"b"), Some(b"d")))?;
        ensure_eq(
            keys(&r),
            vec![b("b"), b("b\x00"), b("bb"), b("c"), b("d")],
            "range b..=d",
        )?;
        ensure_eq(r[2].1.clone(), vec![2], "values come with their keys")?;
        let r = collect_kv(s.range(None, Some(b"b")))?;
        ensure_eq(keys(&r), vec![b("a"), b("b")], "range ..=b")?;
        let r = collect_kv(s.range(Some(b"d"), None))?;
        ensure_eq(
            keys(&r),
            vec![
                b("d"),
                b("e"),
                vec![0x7F],
                vec![0x80],
                vec![0xFF],
                vec![0xFF, 1],
            ],
            "range d..",
        )?;
        ensure_eq(
            collect_kv(s.range(Some(b"d"), Some(b"b")))?.len(),
            0,
            "from > to is empty",
        )?;
        ensure_eq(
            keys(&collect_kv(s.range(Some(b"bc"), Some(b"bd")))?),
            Vec::<Vec<u8>>::new(),
            "range between keys",
        )?;
        ensure_eq(
            keys(&collect_kv(s.range(Some(b"c"), Some(b"c")))?),
            vec![b("c")],
            "single-key range",
        )?;
        Ok(())
    })
}

#[test]
fn reverse_ranges_mirror_ranges() -> TestResult {
    for_every_kind(|s, _| {
        populate(s)?;
        for (from, to) in [
            (Some(&b"b"[..]), Some(&b"d"[..])),
            (None, Some(&b"b"[..])),
            (Some(&b"d"[..]), None),
            (None, None),
            (Some(&b"d"[..]), Some(&b"b"[..])),
        ] {
            let mut forward = keys(&collect_kv(s.range(from, to))?);
            forward.reverse();
            let backward = keys(&collect_kv(s.reverse_range(from, to))?);
            ensure_eq(
                backward,
                forward,
                &format!("reverse_range({from:?}, {to:?})"),
            )?;
        }
        let mut all = keys(&collect_kv(s.all())?);
        ensure_eq(all.len(), 11, "all")?;
        all.reverse();
        ensure_eq(keys(&collect_kv(s.reverse_all())?), all, "reverse_all")?;
        Ok(())
    })
}

#[test]
fn prefix_scan_returns_exactly_the_prefixed_keys() -> TestResult {
    for_every_kind(|s, _| {
        populate(s)?;
        ensure_eq(
            keys(&collect_kv(s.prefix_scan(b"b"))?),
            vec![b("b"), b("b\x00"), b("bb")],
            "prefix b",
        )?;
        ensure_eq(
            keys(&collect_kv(s.prefix_scan(&[0xFF]))?),
            vec![vec![0xFF], vec![0xFF, 1]],
            "prefix 0xFF (no upper bound exists)",
        )?;
        ensure_eq(keys(&collect_kv(s.prefix_scan(b"x"))?).len(), 0, "no match")?;
        ensure_eq(
            keys(&collect_kv(s.prefix_scan(b""))?).len(),
            11,
            "empty prefix is everything",
        )?;
        Ok(())
    })
}

#[test]
fn put_all_applies_puts_and_deletes_in_order() -> TestResult {
    for_every_kind(|s, _| {
        s.put(b"x", Some(b"old"))?;
        s.put_all(&[
            (b"a", Some(b"1")),
            (b"b", Some(b"2")),
            (b"x", None),
            (b"a", Some(b"3")),
        ])?;
        ensure_eq(
            collect_kv(s.all())?,
            vec![(b("a"), b("3")), (b("b"), b("2"))],
            "after put_all",
        )?;
        Ok(())
    })
}

#[test]
fn approximate_num_entries_tracks_the_count() -> TestResult {
    for_every_kind(|s, _| {
        for i in 0..1000u32 {
            s.put(&i.to_be_bytes(), Some(b"v"))?;
        }
        s.flush()?;
        let n = s.approximate_num_entries()?;
        ensure(
            (500..=2000).contains(&n),
            format!("estimate {n} for 1000 entries"),
        )?;
        Ok(())
    })?;
    // The in-memory store's count is exact.
    let mut exact = streams_state::InMemoryKeyValueStore::new("m");
    for i in 0..10u8 {
        exact.put(&[i], Some(&[i]))?;
    }
    exact.delete(&[3])?;
    assert_eq!(exact.approximate_num_entries()?, 9);
    Ok(())
}

#[test]
fn closed_stores_refuse_operations() -> TestResult {
    for (kind, make) in kv_kinds() {
        let fixture = Fixture::new();
        let mut s = make(&fixture, "s");
        s.put(b"k", Some(b"v"))?;
        s.close()?;
        assert!(s.get(b"k").is_err(), "[{kind}] get after close");
        assert!(s.range(None, None).is_err(), "[{kind}] range after close");
    }
    Ok(())
}

#[test]
fn iterators_see_a_consistent_view_while_other_reads_happen() -> TestResult {
    for_every_kind(|s, _| {
        for i in 0..100u8 {
            s.put(&[i], Some(&[i]))?;
        }
        let mut it = s.range(Some(&[10]), Some(&[20]))?;
        let first = it.next().transpose()?;
        ensure_eq(first.map(|(k, _)| k), Some(vec![10]), "first")?;
        ensure_eq(s.get(&[50])?, Some(vec![50]), "a get while iterating")?;
        ensure_eq(it.count(), 10, "the rest")?;
        Ok(())
    })
}

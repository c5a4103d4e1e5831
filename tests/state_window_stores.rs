//! The semantics of window stores, checked against every kind of window stack.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod state_support;

use state_support::{Fixture, TestResult, b, window_kinds};
use streams_core::state::{StateStore, WindowBytesEntry, WindowBytesStore};

const HOUR: i64 = 3_600_000;

fn for_every_kind(
    retention: i64,
    window_size: i64,
    duplicates: bool,
    check: impl Fn(&mut dyn WindowBytesStore) -> TestResult,
) -> TestResult {
    for (kind, make, caching) in window_kinds() {
        if duplicates && caching {
            continue;
        }
        let fixture = Fixture::new();
        let mut store = make(&fixture, "w", retention, window_size, duplicates);
        check(store.as_mut()).map_err(|e| format!("[{kind}] {e}"))?;
        store.close()?;
    }
    Ok(())
}

fn starts(
    iter: streams_core::Result<streams_core::state::WindowBytesIter<'_>>,
) -> Result<Vec<i64>, streams_core::Error> {
    iter?.map(|e| e.map(|e| e.window_start)).collect()
}

type Entry = (Vec<u8>, i64, Vec<u8>);

fn entries(
    iter: streams_core::Result<streams_core::state::WindowBytesIter<'_>>,
) -> Result<Vec<Entry>, streams_core::Error> {
    iter?
        .map(|e| {
            e.map(
                |WindowBytesEntry {
                     key,
                     window_start,
                     value,
                 }| (key, window_start, value),
            )
        })
        .collect()
}

fn check(cond: bool, what: impl std::fmt::Display) -> TestResult {
    if cond {
        Ok(())
    } else {
        Err(what.to_string().into())
    }
}

fn check_eq<T: PartialEq + std::fmt::Debug>(left: T, right: T, what: &str) -> TestResult {
    check(left == right, format!("{what}: {left:?} != {right:?}"))
}

#[test]
fn fetch_bounds_are_inclusive_and_per_key() -> TestResult {
    for_every_kind(HOUR, 10, false, |s| {
        s.put(b"k", Some(b"0"), 0)?;
        s.put(b"k", Some(b"10"), 10)?;
        s.put(b"k", Some(b"20"), 20)?;
        // Keys that extend "k" sort between its entries in a segment; they must not leak.
        s.put(b"kk", Some(b"x"), 10)?;
        s.put(b"k\x00", Some(b"y"), 10)?;
        s.put(b"j", Some(b"z"), 10)?;
        check_eq(
            starts(s.fetch(b"k", 0, 20))?,
            vec![0, 10, 20],
            "fetch 0..=20",
        )?;
        check_eq(starts(s.fetch(b"k", 1, 19))?, vec![10], "fetch 1..=19")?;
        check_eq(starts(s.fetch(b"k", 10, 10))?, vec![10], "fetch 10..=10")?;
        check_eq(
            starts(s.fetch(b"k", 21, 1000))?,
            vec![],
            "after the last window",
        )?;
        check_eq(starts(s.fetch(b"k", 20, 10))?, vec![], "from > to")?;
        check_eq(starts(s.fetch(b"absent", 0, 100))?, vec![], "unknown key")?;
        let got = entries(s.fetch(b"k", 0, 20))?;
        check_eq(got[1].clone(), (b("k"), 10, b("10")), "entry")?;
        check_eq(s.fetch_at(b"k", 10)?, Some(b("10")), "fetch_at")?;
        check_eq(s.fetch_at(b"k", 11)?, None, "fetch_at between windows")?;
        check_eq(s.fetch_at(b"kk", 10)?, Some(b("x")), "fetch_at other key")?;
        Ok(())
    })
}

#[test]
fn fetch_all_and_all_return_every_key_in_the_time_range() -> TestResult {
    for_every_kind(HOUR, 10, false, |s| {
        for (k, t) in [("a", 0), ("b", 0), ("a", 100), ("c", 200), ("b", 300)] {
            s.put(k.as_bytes(), Some(t.to_string().as_bytes()), t)?;
        }
        let mut got = entries(s.fetch_all(0, 200))?;
        got.sort();
        check_eq(
            got,
            vec![
                (b("a"), 0, b("0")),
                (b("a"), 100, b("100")),
                (b("b"), 0, b("0")),
                (b("c"), 200, b("200")),
            ],
            "fetch_all 0..=200",
        )?;
        let mut all = entries(s.all())?;
        all.sort();
        check_eq(all.len(), 5, "all")?;
        check_eq(entries(s.fetch_all(301, 400))?.len(), 0, "empty time range")?;
        Ok(())
    })
}

#[test]
fn overwrite_and_delete_without_duplicates() -> TestResult {
    for_every_kind(HOUR, 10, false, |s| {
        s.put(b"k", Some(b"a"), 50)?;
        s.put(b"k", Some(b"b"), 50)?;
        check_eq(
            entries(s.fetch(b"k", 0, 100))?,
            vec![(b("k"), 50, b("b"))],
            "overwritten",
        )?;
        s.flush()?;
        s.put(b"k", None, 50)?;
        check_eq(s.fetch_at(b"k", 50)?, None, "deleted")?;
        check_eq(starts(s.fetch(b"k", 0, 100))?, vec![], "deleted from fetch")?;
        check(
            s.put(b"k", Some(b"x"), -1).is_err(),
            "a negative window start is refused",
        )?;
        check_eq(s.retention_period(), HOUR, "retention")?;
        check_eq(s.window_size(), 10, "window size")?;
        check(!s.retain_duplicates(), "no duplicates")?;
        Ok(())
    })
}

#[test]
fn duplicates_are_all_kept_and_null_puts_ignored() -> TestResult {
    for_every_kind(HOUR, 10, true, |s| {
        s.put(b"k", Some(b"a"), 50)?;
        s.put(b"k", Some(b"b"), 50)?;
        s.put(b"k", None, 50)?;
        s.put(b"k", Some(b"c"), 60)?;
        s.put(b"kk", Some(b"other"), 50)?;
        let got: Vec<Vec<u8>> = entries(s.fetch(b"k", 0, 100))?
            .into_iter()
            .map(|(_, _, v)| v)
            .collect();
        check_eq(
            got,
            vec![b("a"), b("b"), b("c")],
            "every put kept, in order",
        )?;
        check_eq(
            s.fetch_at(b"k", 50)?,
            Some(b("a")),
            "fetch_at gives the first",
        )?;
        check_eq(entries(s.all())?.len(), 4, "all")?;
        check(s.retain_duplicates(), "duplicates")?;
        Ok(())
    })
}

#[test]
fn retention_expires_old_windows() -> TestResult {
    // Retention 2 minutes: segments of 60 s, so expiry is visible at segment granularity in
    // RocksDB and exactly in memory; fetches hide everything older than observed - retention.
    let retention = 120_000;
    for_every_kind(retention, 1_000, false, |s| {
        s.put(b"k", Some(b"t0"), 0)?;
        s.put(b"k", Some(b"t1"), 60_000)?;
        s.put(b"k", Some(b"t2"), 130_000)?;
        check_eq(
            starts(s.fetch(b"k", 0, 1_000_000))?,
            vec![60_000, 130_000],
            "t0 is past retention",
        )?;
        check_eq(s.fetch_at(b"k", 0)?, None, "fetch_at of an expired window")?;
        s.put(b"k", Some(b"t3"), 400_000)?;
        check_eq(
            starts(s.fetch(b"k", 0, 1_000_000))?,
            vec![400_000],
            "only the latest is live",
        )?;
        // A put far behind stream time is dropped.
        s.put(b"late", Some(b"x"), 100_000)?;
        check_eq(s.fetch_at(b"late", 100_000)?, None, "expired put")?;
        check_eq(entries(s.fetch_all(0, i64::MAX))?.len(), 1, "fetch_all")?;
        Ok(())
    })
}

/// A RocksDB window store `name` in `dir`: 2 minutes' retention (1-minute segments),
/// 1-second windows, no duplicates, the shared RocksDB resources.
fn open_segmented(
    name: &str,
    dir: &std::path::Path,
) -> streams_core::Result<streams_state::RocksDbWindowStore> {
    streams_state::RocksDbWindowStore::open(
        name,
        dir,
        120_000,
        1_000,
        false,
        streams_state::RocksDbResources::shared(),
        None,
    )
}

#[test]
fn rocksdb_segments_are_dropped_whole() -> TestResult {
    let fixture = Fixture::new();
    let dir = fixture.ctx.state_dir().join("seg");
    let mut s = open_segmented("seg", &dir)?;
    assert_eq!(s.segment_interval(), 60_000, "max(retention / 2, 60 s)");
    s.put(b"k", Some(b"a"), 0)?;
    s.put(b"k", Some(b"b"), 61_000)?;
    s.put(b"k", Some(b"c"), 125_000)?;
    assert_eq!(s.segment_ids(), vec![0, 1, 2]);
    assert!(
        dir.join("seg.0").is_dir()
            && dir.join("seg.60000").is_dir()
            && dir.join("seg.120000").is_dir()
    );
    s.put(b"k", Some(b"d"), 250_000)?;
    // observed 250 000 - retention 120 000 = 130 000, in segment 2: segments 0 and 1 go.
    assert_eq!(s.segment_ids(), vec![2, 4]);
    // Their directories go once a flush (or commit) covers the expiry.
    assert!(dir.join("seg.0").exists());
    s.flush()?;
    assert!(!dir.join("seg.0").exists() && !dir.join("seg.60000").exists());
    s.close()?;

    // Reopening finds the surviving segments.
    let reopened = open_segmented("seg", &dir)?;
    assert_eq!(reopened.segment_ids(), vec![2, 4]);
    assert_eq!(reopened.fetch_at(b"k", 250_000)?, Some(b("d")));
    Ok(())
}

/// An expired segment's database closes without writing out its memtables (it is deleted
/// next), while the store's own close writes out its live segments.
#[test]
fn rocksdb_expired_segments_close_unflushed_and_live_ones_flushed() -> TestResult {
    let fixture = Fixture::new();
    let dir = fixture.ctx.state_dir().join("exp");
    let tables = |segment: &str| -> std::io::Result<usize> {
        Ok(std::fs::read_dir(dir.join(segment))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "sst"))
            .count())
    };
    let mut s = open_segmented("exp", &dir)?;
    s.put(b"k", Some(b"a"), 0)?;
    s.put(b"k", Some(b"b"), 250_000)?;
    assert_eq!(s.segment_ids(), vec![4], "segment 0 expired");
    s.close()?;
    // Closing waits for the expired segment's database; its directory stays until a flush.
    check_eq(tables("exp.0")?, 0, "tables of the expired segment")?;
    let live = tables("exp.240000")?;
    check(live > 0, format!("the live segment has {live} tables"))?;
    let reopened = open_segmented("exp", &dir)?;
    check_eq(
        reopened.fetch_at(b"k", 250_000)?,
        Some(b("b")),
        "the live segment's record after reopening",
    )?;
    Ok(())
}

/// The read cut of each `WindowReads`, as Kafka Streams' stores cut: key-ordered stores at
/// `observed - retention + 1`, time-ordered window stores at `observed - retention`, and
/// the time-ordered session store's `fetch_all` only by segment.
#[test]
fn rocksdb_reads_cut_expired_windows_as_the_store_kind_says() -> TestResult {
    use streams_state::WindowReads;
    let open = |fixture: &Fixture, reads: WindowReads| {
        let dir = fixture.ctx.state_dir().join("cut");
        streams_state::RocksDbWindowStore::open(
            "cut",
            dir,
            100,
            100,
            false,
            streams_state::RocksDbResources::shared(),
            None,
        )
        .map(|s| s.with_reads(reads))
    };
    // (reads, fetch_at(0), fetch(0..=50), fetch_all(0..=50)) once observed = 100.
    let at_100 = [
        (WindowReads::KeyOrdered, false, false, false),
        (WindowReads::TimeOrderedWindows, true, true, true),
        (WindowReads::TimeOrderedSessions, false, false, true),
    ];
    for (reads, at, one, all) in at_100 {
        let fixture = Fixture::new();
        let mut s = open(&fixture, reads)?;
        assert_eq!(s.reads(), reads);
        s.put(b"k", Some(b"a"), 0)?;
        s.put(b"j", Some(b"b"), 100)?;
        assert_eq!(s.fetch_at(b"k", 0)?.is_some(), at, "{reads:?} fetch_at");
        assert_eq!(
            starts(s.fetch(b"k", 0, 50))?.len(),
            usize::from(one),
            "{reads:?} fetch"
        );
        assert_eq!(
            starts(s.fetch_all(0, 50))?.len(),
            usize::from(all),
            "{reads:?} fetch_all"
        );
        // One millisecond later the time-ordered window store's cut passes 0 as well; the
        // session variant still finds it while its segment (60 s) lives.
        s.put(b"j", Some(b"c"), 101)?;
        assert_eq!(s.fetch_at(b"k", 0)?, None, "{reads:?} fetch_at at 101");
        let all_101 = reads == WindowReads::TimeOrderedSessions;
        assert_eq!(
            starts(s.fetch_all(0, 50))?.len(),
            usize::from(all_101),
            "{reads:?} at 101"
        );
        s.put(b"j", Some(b"d"), 60_100)?;
        assert!(
            starts(s.fetch_all(0, 50))?.is_empty(),
            "{reads:?}: segment 0 expired"
        );
        s.close()?;
    }
    Ok(())
}

#[test]
fn window_changelog_keys_carry_window_start_and_sequence() -> TestResult {
    let fixture = Fixture::new();
    let inner = streams_state::InMemoryWindowStore::new("w", HOUR, 10, true);
    let mut s =
        streams_state::ChangeLoggingWindowBytesStore::new(Box::new(inner), &fixture.ctx, false);
    fixture.ctx.timestamp_source().set(77);
    s.put(b"k", Some(b"a"), 5)?;
    s.put(b"k", Some(b"b"), 5)?;
    s.put(b"k", None, 5)?;
    let log = fixture.changelog("w");
    assert_eq!(
        log.len(),
        2,
        "null puts are ignored with duplicates, and not logged"
    );
    assert_eq!(log[0].key, streams_state::window_key::encode(b"k", 5, 1));
    assert_eq!(log[1].key, streams_state::window_key::encode(b"k", 5, 2));
    assert_eq!(log[1].value.as_deref(), Some(&b"b"[..]));
    assert_eq!(log[0].timestamp, 77);
    Ok(())
}

/// Reads of one key seek by its prefix, with bloom filters over the prefixes of the
/// memtables and of the files that flushes write: over random keys (some extending others),
/// windows, duplicates and flushes, every fetch gives what a plain list of the puts gives.
#[test]
fn fetch_matches_a_list_of_the_puts_across_flushes() -> TestResult {
    for duplicates in [false, true] {
        for_every_kind(HOUR, 10, duplicates, |s| {
            let keys: [&[u8]; 6] = [b"k", b"kk", b"k\x00", b"j", b"k\x00\x00", b"key-17"];
            let mut rng = streams_tests::SplitMix64::new(0x5EED_F17C_0000_0001);
            let mut puts: Vec<(Vec<u8>, i64, Vec<u8>)> = Vec::new();
            for i in 0..400u32 {
                let key = keys[rng.below(keys.len() as u64) as usize];
                let start = i64::try_from(rng.below(50)).unwrap() * 10;
                let value = format!("v{i}").into_bytes();
                s.put(key, Some(&value), start)?;
                if !duplicates {
                    puts.retain(|(k, t, _)| !(k.as_slice() == key && *t == start));
                }
                puts.push((key.to_vec(), start, value));
                if i % 97 == 0 {
                    s.flush()?;
                }
            }
            for key in keys.iter().chain([&b"absent"[..], b"k\x01"].iter()) {
                for (from, to) in [(0, 490), (100, 200), (250, 250), (300, 100)] {
                    let mut want: Vec<Entry> = puts
                        .iter()
                        .filter(|(k, t, _)| k.as_slice() == *key && *t >= from && *t <= to)
                        .cloned()
                        .collect();
                    // Entries of one window come in put order, windows in time order.
                    want.sort_by_key(|(_, t, _)| *t);
                    check_eq(
                        entries(s.fetch(key, from, to))?,
                        want,
                        &format!("fetch {key:?} {from}..={to}"),
                    )?;
                }
            }
            Ok(())
        })?;
    }
    Ok(())
}

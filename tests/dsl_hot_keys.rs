//! Hot-key mitigation: a two-phase aggregation (partials per salted key, merged by the
//! original key) must end with the value the plain aggregation has, for every key and
//! window.
//!
//! Each case builds one topology holding both the plain aggregation and the two-phase one
//! over the same input stream, pipes seeded random input in which one key has about 30% of
//! the records (out-of-order timestamps, a few null keys), and compares the last update of
//! every key (value and timestamp) on the two output topics. The cases run with 1 and 4
//! partitions, with the record cache on and off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;
use std::time::Duration;

use streams_core::driver::ProducedRecord;
use streams_dsl::hot_keys::HotKeys;
use streams_dsl::prelude::*;
use streams_tests::SplitMix64;

/// The key type: Kafka's null keys are part of the input.
type Key = Option<String>;

const HOT: &str = "hot";
const SHARDS: u32 = 4;
const RECORDS: usize = 400;
const SEEDS: [u64; 4] = [1, 7, 42, 2026];
/// Event time of the first record, and between two records.
const TS_BASE: i64 = 1_000_000;
const STEP_MS: i64 = 1_000;
/// How far a record's timestamp may be off its place in the sequence.
const JITTER_MS: i64 = 3_000;

fn key_serde() -> SerdeRef<Key> {
    Serdes::option(Serdes::string())
}

fn hot_keys() -> HotKeys<Key> {
    HotKeys::new([Some(HOT.to_string())], SHARDS)
}

/// One run: the seed of its input, the partition count and whether the cache is on.
#[derive(Debug, Clone, Copy)]
struct Case {
    seed: u64,
    partitions: i32,
    caching: bool,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for seed in SEEDS {
        for partitions in [1, 4] {
            for caching in [false, true] {
                cases.push(Case {
                    seed,
                    partitions,
                    caching,
                });
            }
        }
    }
    cases
}

/// Seeded skewed input: (key, value, timestamp). About 30% of the records have the hot key,
/// 2% a null key, the rest one of 40 cold keys; values in -500..500.
fn input(seed: u64) -> Vec<(Key, i64, i64)> {
    let mut rng = SplitMix64::new(seed);
    (0..RECORDS)
        .map(|i| {
            let draw = rng.below(100);
            let key = match draw {
                0..30 => Some(HOT.to_string()),
                30..32 => None,
                _ => Some(format!("cold-{:02}", rng.below(40))),
            };
            let value = rng.below(1_000) as i64 - 500;
            let jitter = rng.below(2 * JITTER_MS as u64 + 1) as i64 - JITTER_MS;
            (key, value, TS_BASE + i as i64 * STEP_MS + jitter)
        })
        .collect()
}

fn config(case: Case) -> StreamsConfig {
    let config = StreamsConfig::new().set("application.id", "hot-keys");
    if case.caching {
        config
    } else {
        config.set("statestore.cache.max.bytes", "0")
    }
}

/// The last update of every key on a topic: (value, timestamp).
type Finals<K, V> = HashMap<K, (Option<V>, i64)>;

/// Runs `case` over a topology whose `build` adds, under the input stream, the plain
/// aggregation (written to `plain`) and the two-phase one (to `salted`); returns the last
/// update of every key on each and the records the topology wrote.
fn run<K, V, B>(
    case: Case,
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    build: B,
) -> (Finals<K, V>, Finals<K, V>, Vec<ProducedRecord>)
where
    K: Clone + Eq + Hash + 'static,
    V: Clone + 'static,
    B: Fn(&KStream<Key, i64>) -> (KTable<K, V>, KTable<K, V>),
{
    let builder = StreamsBuilder::new();
    let stream = builder.stream("in", Consumed::with(self::key_serde(), Serdes::i64()));
    let (plain, salted) = build(&stream);
    let produced = || Produced::with(key_serde.clone(), Serdes::option(value_serde.clone()));
    plain.to_stream().to("plain", produced());
    salted.to_stream().to("salted", produced());
    let options = DriverOptions::new()
        .partitions(case.partitions)
        .output_log(true);
    let driver =
        TopologyTestDriver::with_options(builder.build().unwrap(), config(case), options).unwrap();
    let topic = driver.create_input_topic("in", self::key_serde(), Serdes::i64());
    for (key, value, ts) in input(case.seed) {
        topic.pipe_record(TestRecord::new(key, value, ts)).unwrap();
    }
    let finals = |name: &str| -> Finals<K, V> {
        driver
            .create_output_topic(name, key_serde.clone(), Serdes::option(value_serde.clone()))
            .read_records_to_list()
            .unwrap()
            .into_iter()
            .map(|r| (r.key, (r.value, r.timestamp)))
            .collect()
    };
    let (plain, salted) = (finals("plain"), finals("salted"));
    (plain, salted, driver.take_output_log())
}

/// Runs every case and checks that both aggregations end equal, with a result for the hot
/// key among them.
fn check_all<K, V, B>(
    key_serde: SerdeRef<K>,
    value_serde: SerdeRef<V>,
    is_hot: fn(&K) -> bool,
    build: B,
) where
    K: Clone + Eq + Hash + std::fmt::Debug + 'static,
    V: Clone + PartialEq + std::fmt::Debug + 'static,
    B: Fn(&KStream<Key, i64>, Case) -> (KTable<K, V>, KTable<K, V>),
{
    for case in cases() {
        let (plain, salted, _) = run(case, key_serde.clone(), value_serde.clone(), |s| {
            build(s, case)
        });
        assert!(
            plain.keys().any(is_hot),
            "{case:?}: the plain aggregation has no result for the hot key"
        );
        assert_eq!(plain.len(), salted.len(), "{case:?}: keys differ");
        for (key, expected) in &plain {
            assert_eq!(salted.get(key), Some(expected), "{case:?}: key {key:?}");
        }
    }
}

fn hot(key: &Key) -> bool {
    key.as_deref() == Some(HOT)
}

fn hot_windowed(key: &Windowed<Key>) -> bool {
    hot(&key.key)
}

#[test]
fn count_ends_equal_to_the_plain_count() {
    check_all(key_serde(), Serdes::i64(), hot, |s, _| {
        let g = s.group_by_key();
        (g.count(), g.with_hot_keys(hot_keys()).count())
    });
}

#[test]
fn sum_ends_equal_to_the_plain_sum() {
    check_all(key_serde(), Serdes::i64(), hot, |s, _| {
        let g = s.group_by_key();
        (g.reduce(|a, v| a + v), g.with_hot_keys(hot_keys()).sum())
    });
}

#[test]
fn min_and_max_end_equal_to_the_plain_ones() {
    check_all(key_serde(), Serdes::i64(), hot, |s, _| {
        let g = s.group_by_key();
        (g.reduce(i64::min), g.with_hot_keys(hot_keys()).min())
    });
    check_all(key_serde(), Serdes::i64(), hot, |s, _| {
        let g = s.group_by_key();
        (g.reduce(i64::max), g.with_hot_keys(hot_keys()).max())
    });
}

/// Inserts `v` into a sorted list.
fn insert_sorted(mut list: Vec<i64>, v: i64) -> Vec<i64> {
    let at = list.partition_point(|x| *x <= v);
    list.insert(at, v);
    list
}

/// Merges two sorted lists.
fn merge_sorted(a: Vec<i64>, b: Vec<i64>) -> Vec<i64> {
    b.into_iter().fold(a, insert_sorted)
}

#[test]
fn aggregate_with_a_merger_ends_equal_to_the_plain_aggregate() {
    // Every value of the key, sorted: any lost, doubled or stale partial shows.
    let list = Serdes::json::<Vec<i64>>;
    check_all(key_serde(), list(), hot, |s, _| {
        let g = s.group_by_key();
        let plain = g.aggregate(Vec::new, |_, v, agg| insert_sorted(agg, v), list());
        let salted = g.with_hot_keys(hot_keys()).aggregate(
            Vec::new,
            |_, v, agg| insert_sorted(agg, v),
            |_, a, b| merge_sorted(a, b),
            list(),
        );
        (plain, salted)
    });
}

#[test]
fn a_regrouped_stream_with_shards_by_attribute_ends_equal() {
    // Keys chosen by group_by (the key's first five characters), shards by the value.
    let grouped = || Grouped::with(key_serde(), Serdes::i64());
    let prefix = |k: &Key, _: &i64| k.as_ref().map(|k| k.chars().take(5).collect::<String>());
    check_all(
        key_serde(),
        Serdes::i64(),
        |k| k.as_deref() == Some("cold-"),
        |s, _| {
            let plain = s.group_by_with(prefix, grouped()).count();
            let salted = s
                .group_by_with(prefix, grouped())
                .with_hot_keys_by(HotKeys::new([Some("cold-".to_string())], 3), |_, v| {
                    v.unsigned_abs()
                })
                .count();
            (plain, salted)
        },
    );
}

/// Windows whose grace covers the input's disorder when tasks see different records (more
/// than one partition), and a short grace, with late records, in one partition.
fn windows(case: Case, hopping: bool) -> TimeWindows {
    let grace = if case.partitions == 1 {
        1_000
    } else {
        2 * JITTER_MS as u64
    };
    let w = TimeWindows::of_size_and_grace(Duration::from_secs(10), Duration::from_millis(grace));
    if hopping {
        w.advance_by(Duration::from_secs(4))
    } else {
        w
    }
}

fn windowed_key_serde() -> SerdeRef<Windowed<Key>> {
    Serdes::time_windowed(key_serde(), 10_000)
}

#[test]
fn windowed_count_ends_equal_per_window_tumbling_and_hopping() {
    for hopping in [false, true] {
        check_all(
            windowed_key_serde(),
            Serdes::i64(),
            hot_windowed,
            |s, case| {
                let g = s.group_by_key();
                let plain = g.windowed_by(windows(case, hopping)).count();
                let salted = g
                    .with_hot_keys(hot_keys())
                    .windowed_by(windows(case, hopping))
                    .count();
                (plain, salted)
            },
        );
    }
}

#[test]
fn windowed_min_and_aggregate_end_equal_per_window() {
    check_all(
        windowed_key_serde(),
        Serdes::i64(),
        hot_windowed,
        |s, case| {
            let g = s.group_by_key();
            let plain = g.windowed_by(windows(case, true)).reduce(i64::min);
            let salted = g
                .with_hot_keys(hot_keys())
                .windowed_by(windows(case, true))
                .min();
            (plain, salted)
        },
    );
    let list = Serdes::json::<Vec<i64>>;
    check_all(windowed_key_serde(), list(), hot_windowed, |s, case| {
        let g = s.group_by_key();
        let plain = g.windowed_by(windows(case, false)).aggregate(
            Vec::new,
            |_, v, agg| insert_sorted(agg, v),
            list(),
        );
        let salted = g
            .with_hot_keys(hot_keys())
            .windowed_by(windows(case, false))
            .aggregate(
                Vec::new,
                |_, v, agg| insert_sorted(agg, v),
                |_, a, b| merge_sorted(a, b),
                list(),
            );
        (plain, salted)
    });
}

#[test]
fn the_hot_key_spreads_over_partitions_and_cold_keys_stay_unsalted() {
    let case = Case {
        seed: 3,
        partitions: 4,
        caching: false,
    };
    let (_, _, log) = run(case, key_serde(), Serdes::i64(), |s| {
        let g = s.group_by_key();
        (g.count(), g.with_hot_keys(hot_keys()).count())
    });
    let partial_topic = log
        .iter()
        .map(|r| r.topic.as_str())
        .find(|t| t.ends_with("-repartition"))
        .expect("a repartition topic")
        .to_owned();
    let mut hot_keys_seen = BTreeSet::new();
    let mut hot_partitions = BTreeSet::new();
    let mut cold = 0;
    for r in log.iter().filter(|r| r.topic == partial_topic) {
        let key = String::from_utf8(r.key.clone().expect("no null keys")).unwrap();
        if key.starts_with(HOT) {
            hot_keys_seen.insert(key);
            hot_partitions.insert(r.partition);
        } else {
            assert!(key.starts_with("cold-") && !key.contains('#'), "{key}");
            cold += 1;
        }
    }
    let expected: BTreeSet<String> = (0..SHARDS).map(|s| format!("{HOT}#{s}")).collect();
    assert_eq!(hot_keys_seen, expected);
    assert!(hot_partitions.len() > 1, "every shard on one partition");
    assert!(cold > 0);
}

#[test]
fn keys_salted_by_the_producer_end_equal_to_the_plain_count() {
    let hot: HotKeys<String> = HotKeys::new([HOT], SHARDS);
    for case in cases() {
        let builder = StreamsBuilder::new();
        let out = || Produced::with(Serdes::string(), Serdes::option(Serdes::i64()));
        builder
            .stream("plain-in", Consumed::with(Serdes::string(), Serdes::i64()))
            .group_by_key()
            .count()
            .to_stream()
            .to("plain", out());
        builder
            .stream(
                "salted-in",
                Consumed::with(hot.serde(Serdes::string()), Serdes::i64()),
            )
            .group_by_key()
            .with_salted_keys(Serdes::string())
            .count()
            .to_stream()
            .to("salted", out());
        let options = DriverOptions::new().partitions(case.partitions);
        let driver =
            TopologyTestDriver::with_options(builder.build().unwrap(), config(case), options)
                .unwrap();
        let plain_in = driver.create_input_topic("plain-in", Serdes::string(), Serdes::i64());
        let salted_in = driver.create_input_topic("salted-in", Serdes::string(), Serdes::i64());
        for (key, value, ts) in input(case.seed) {
            let Some(key) = key else { continue };
            salted_in
                .pipe_record(TestRecord::new(hot.salt(&key).into_owned(), value, ts))
                .unwrap();
            plain_in
                .pipe_record(TestRecord::new(key, value, ts))
                .unwrap();
        }
        let finals = |topic: &str| {
            driver
                .create_output_topic(topic, Serdes::string(), Serdes::option(Serdes::i64()))
                .read_key_values_to_map()
                .unwrap()
        };
        let plain = finals("plain");
        assert!(plain.contains_key(HOT), "{case:?}");
        assert_eq!(finals("salted"), plain, "{case:?}");
        // The partial stage reads the salted topic where it is: one repartition, the merge's.
        let repartitions = driver
            .produced_topic_names()
            .into_iter()
            .filter(|t| t.ends_with("-repartition"))
            .count();
        assert_eq!(repartitions, 1, "{case:?}");
    }
}

#[test]
fn the_merged_table_can_be_joined_and_named_stages_name_their_stores_and_topics() {
    let builder = StreamsBuilder::new();
    let clicks = builder.stream("clicks", Consumed::with(Serdes::string(), Serdes::i64()));
    let counts = clicks
        .group_by_key_with(Grouped::as_("by-page"))
        .with_hot_keys(HotKeys::new([HOT], SHARDS))
        .named("page-count")
        .count_with(Materialized::as_("page-counts"));
    builder
        .stream("views", Consumed::with(Serdes::string(), Serdes::string()))
        .join_table(&counts, |view, count| format!("{view}:{count}"))
        .to("joined", Produced::with(Serdes::string(), Serdes::string()));
    let topology = builder.build().unwrap();
    let described = topology.describe().to_string();
    for name in [
        "page-counts-partial",
        "page-counts-merge",
        "by-page-partial-repartition",
        "by-page-merge-repartition",
        "page-count-partial",
        "page-count-merge",
    ] {
        assert!(
            described.contains(name),
            "{name} missing from:\n{described}"
        );
    }

    let driver = TopologyTestDriver::with_options(
        topology,
        StreamsConfig::new().set("application.id", "join"),
        DriverOptions::new().partitions(2),
    )
    .unwrap();
    let clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::i64());
    let views = driver.create_input_topic("views", Serdes::string(), Serdes::string());
    let joined = driver.create_output_topic("joined", Serdes::string(), Serdes::string());
    let mut expected = HashMap::new();
    for (i, page) in [HOT, "a", HOT, HOT, "b", HOT, HOT].iter().enumerate() {
        clicks.pipe_input_at(page.to_string(), 1, i as i64).unwrap();
        *expected.entry(page.to_string()).or_insert(0) += 1;
    }
    for page in [HOT, "a", "b"] {
        views
            .pipe_input_at(page.to_string(), "v".to_string(), 100)
            .unwrap();
    }
    let got = joined.read_key_values_to_map().unwrap();
    for (page, n) in expected {
        assert_eq!(got[&page], format!("v:{n}"), "{page}");
    }
}

#[test]
fn a_grouping_without_a_key_serde_fails_the_build() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by(|_, v| v.to_string())
        .with_hot_keys(HotKeys::new(["1"], 2))
        .count();
    let err = builder.build().unwrap_err().to_string();
    assert!(err.contains("repartition"), "{err}");
}

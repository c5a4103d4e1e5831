//! Cogrouped streams and fixed-key processors: the rules the conformance cases do not
//! reach (replacing a grouping's aggregator, repartition topic clashes, suppression after
//! a windowed cogroup, naming and partitioning of `process_values`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use streams_dsl::prelude::*;

fn no_cache() -> StreamsConfig {
    StreamsConfig::new()
        .set("application.id", "cogroup")
        .set("statestore.cache.max.bytes", "0")
}

fn strings(b: &StreamsBuilder, topic: &str) -> KStream<String, String> {
    b.stream(topic, Consumed::with(Serdes::string(), Serdes::string()))
}

#[test]
fn cogrouping_a_grouping_again_replaces_its_aggregator_in_place() {
    let b = StreamsBuilder::new();
    let a = strings(&b, "a").group_by_key();
    let c = strings(&b, "c").group_by_key();
    a.cogroup(|_k: &String, v: String, agg: String| format!("{agg}a{v}"))
        .cogroup(&c, |_k, v, agg| format!("{agg}c{v}"))
        .cogroup(&a, |_k, v, agg| format!("{agg}A{v}"))
        .aggregate(String::new, Serdes::string())
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let topology = b.build().unwrap();
    let described = topology.describe().to_string();
    // Two groupings, two aggregation nodes, and `a` keeps the first.
    assert_eq!(
        described
            .matches("Processor: COGROUPKSTREAM-AGGREGATE-")
            .count(),
        2,
        "{described}"
    );
    assert!(
        described.contains("(topics: [a])\n      --> COGROUPKSTREAM-AGGREGATE-0000000003"),
        "{described}"
    );
    let driver = TopologyTestDriver::new(topology, no_cache()).unwrap();
    let a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    let c = driver.create_input_topic("c", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    a.pipe_input("k".to_owned(), "1".to_owned()).unwrap();
    c.pipe_input("k".to_owned(), "2".to_owned()).unwrap();
    assert_eq!(
        out.read_values_to_list().unwrap(),
        vec![Some("A1".to_owned()), Some("A1c2".to_owned())]
    );
}

#[test]
fn two_unnamed_repartitioned_groupings_make_one_topic_twice_and_fail_the_build() {
    let b = StreamsBuilder::new();
    let rekey = |_k: &String, v: &String| v.clone();
    let grouped = || Grouped::with(Serdes::string(), Serdes::string());
    let a = strings(&b, "a").group_by_with(rekey, grouped());
    let c = strings(&b, "c").group_by_with(rekey, grouped());
    a.cogroup(|_k: &String, _v: String, n: i64| n + 1)
        .cogroup(&c, |_k, _v, n| n + 1)
        .aggregate(|| 0, Serdes::i64());
    let err = b.build().unwrap_err().to_string();
    assert!(
        err.contains("COGROUPKSTREAM-AGGREGATE-STATE-STORE-"),
        "{err}"
    );

    // Naming one grouping gives it a topic of its own.
    let b = StreamsBuilder::new();
    let a = strings(&b, "a").group_by_with(
        rekey,
        Grouped::with(Serdes::string(), Serdes::string()).with_name("by-value"),
    );
    let c =
        strings(&b, "c").group_by_with(rekey, Grouped::with(Serdes::string(), Serdes::string()));
    a.cogroup(|_k: &String, _v: String, n: i64| n + 1)
        .cogroup(&c, |_k, _v, n| n + 1)
        .aggregate(|| 0, Serdes::i64());
    let described = b.build().unwrap().describe().to_string();
    assert!(
        described.contains("(topic: by-value-repartition)"),
        "{described}"
    );
}

#[test]
fn a_windowed_cogroup_can_be_suppressed_until_its_windows_close() {
    let b = StreamsBuilder::new();
    let a = strings(&b, "a").group_by_key();
    let c = strings(&b, "c").group_by_key();
    a.cogroup(|_k: &String, _v: String, n: i64| n + 1)
        .cogroup(&c, |_k, _v, n| n + 10)
        .windowed_by(TimeWindows::of_size_and_grace(
            Duration::from_millis(100),
            Duration::from_millis(20),
        ))
        .aggregate(|| 0, Serdes::i64())
        .suppress(Suppressed::until_window_closes(BufferConfig::unbounded()))
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::time_windowed(Serdes::string(), 100),
                Serdes::option(Serdes::i64()),
            ),
        );
    let driver = TopologyTestDriver::new(b.build().unwrap(), no_cache()).unwrap();
    let a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    let c = driver.create_input_topic("c", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic(
        "out",
        Serdes::time_windowed(Serdes::string(), 100),
        Serdes::option(Serdes::i64()),
    );
    a.pipe_record(TestRecord::new("k".to_owned(), "x".to_owned(), 10))
        .unwrap();
    c.pipe_record(TestRecord::new("k".to_owned(), "y".to_owned(), 50))
        .unwrap();
    // Stream time 119 < end 100 + grace 20: still open.
    a.pipe_record(TestRecord::new("j".to_owned(), "x".to_owned(), 119))
        .unwrap();
    assert!(out.is_empty());
    c.pipe_record(TestRecord::new("j".to_owned(), "y".to_owned(), 120))
        .unwrap();
    let got: Vec<_> = out
        .read_key_values_to_list()
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k.key, k.window.start, v))
        .collect();
    assert_eq!(got, vec![("k".to_owned(), 0, Some(11))]);
}

/// Appends the record's count so far in this task.
struct Numbered(i64);

impl FixedKeyProcessor<String, String, String> for Numbered {
    fn process(
        &mut self,
        r: FixedKeyRecord<String, String>,
        ctx: &mut FixedKeyProcessorContext<'_, '_, String, String>,
    ) -> Result<()> {
        self.0 += 1;
        let v = format!("{}#{}", r.value, self.0);
        ctx.forward(r.with_value(v))
    }
}

#[test]
fn process_values_keeps_the_partitioning_and_a_given_name_takes_no_index() {
    let b = StreamsBuilder::new();
    let plain = strings(&b, "a").process_values(|| Numbered(0), &[]);
    assert!(!plain.is_repartition_required());
    let rekeyed = strings(&b, "c")
        .select_key(|_k, v: &String| v.clone())
        .named("numbered")
        .process_values(|| Numbered(0), &[]);
    assert!(rekeyed.is_repartition_required());
    rekeyed.filter(|_, _| true);
    let described = b.build().unwrap().describe().to_string();
    assert!(
        described.contains("Processor: KSTREAM-PROCESSVALUES-0000000001"),
        "{described}"
    );
    assert!(described.contains("Processor: numbered"), "{described}");
    // Source 2, select_key 3, the named node takes none, so the filter is 4.
    assert!(
        described.contains("Processor: KSTREAM-FILTER-0000000004"),
        "{described}"
    );
}

#[test]
fn process_values_forwards_under_the_original_key() {
    let b = StreamsBuilder::new();
    strings(&b, "a")
        .process_values(|| Numbered(0), &[])
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(b.build().unwrap(), no_cache()).unwrap();
    let a = driver.create_input_topic("a", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    a.pipe_input("k".to_owned(), "x".to_owned()).unwrap();
    a.pipe_input("j".to_owned(), "y".to_owned()).unwrap();
    assert_eq!(
        out.read_key_values_to_list().unwrap(),
        vec![
            ("k".to_owned(), "x#1".to_owned()),
            ("j".to_owned(), "y#2".to_owned())
        ]
    );
}

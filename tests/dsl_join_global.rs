//! Global tables and stream-global table joins in the test driver: Kafka Streams 4.x's join
//! rules (null values, null mapped keys, absent keys), table updates that emit nothing,
//! describe(), global stores in the Processor API, and multi-partition runs where every
//! task sees every global key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;
use std::sync::Arc;

use streams_dsl::prelude::*;
use streams_dsl::state::StoreBuilder;

type S = Option<String>;

fn s(v: &str) -> S {
    Some(v.to_string())
}

fn strings() -> Consumed<S, S> {
    Consumed::with(
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

fn produced() -> Produced<S, S> {
    Produced::with(
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

fn input(driver: &TopologyTestDriver, topic: &str) -> TestInputTopic<S, S> {
    driver.create_input_topic(
        topic,
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

fn output(driver: &TopologyTestDriver, topic: &str) -> TestOutputTopic<S, S> {
    driver.create_output_topic(
        topic,
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    )
}

fn triples(out: &TestOutputTopic<S, S>) -> Vec<(S, S, i64)> {
    out.read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect()
}

/// The topology of the Java check in the report: an inner join whose key mapper maps a
/// null key to "k01" and keys ending in "3" to null, and a left join on the stream key.
fn java_checked_topology() -> Topology {
    let b = StreamsBuilder::new();
    let stream = b.stream("input", strings());
    let global = b.global_table("input2", strings());
    stream
        .join_global(
            &global,
            |k: &S, _v: &S| match k.as_deref() {
                None => s("k01"),
                Some(k) if k.ends_with('3') => None,
                Some(k) => s(k),
            },
            |v: S, g: &S| {
                Some(format!(
                    "{}+{}",
                    v.unwrap_or_default(),
                    g.as_deref().unwrap_or_default()
                ))
            },
        )
        .to("output", produced());
    stream
        .left_join_global(
            &global,
            |k: &S, _v: &S| k.clone(),
            |v: S, g: Option<&S>| {
                Some(format!(
                    "{}+{}",
                    v.unwrap_or_default(),
                    g.map_or("<none>", |g| g.as_deref().unwrap_or_default())
                ))
            },
        )
        .to("output2", produced());
    b.build().unwrap()
}

#[test]
fn joins_follow_kafka_streams_null_rules() -> Result<()> {
    // Same input as the Java run: Kafka Streams 4.4 wrote exactly these records.
    let driver = TopologyTestDriver::new(java_checked_topology(), StreamsConfig::new())?;
    let stream = input(&driver, "input");
    let global = input(&driver, "input2");
    let out = output(&driver, "output");
    let out2 = output(&driver, "output2");
    global.pipe_record(TestRecord::new(s("k01"), s("g1"), 5))?;
    global.pipe_record(TestRecord::new(None, s("gnull"), 6))?; // null key: dropped
    stream.pipe_record(TestRecord::new(s("k01"), s("a"), 10))?;
    stream.pipe_record(TestRecord::new(None, s("b"), 11))?;
    stream.pipe_record(TestRecord::new(s("k03"), s("c"), 12))?;
    stream.pipe_record(TestRecord::new(s("k05"), s("d"), 13))?;
    stream.pipe_record(TestRecord::new(s("k01"), None, 14))?; // null value: dropped by both
    global.pipe_record(TestRecord::new(s("k01"), None, 15))?; // deletes k01
    stream.pipe_record(TestRecord::new(s("k01"), s("e"), 16))?;
    assert_eq!(
        triples(&out),
        vec![(s("k01"), s("a+g1"), 10), (None, s("b+g1"), 11)],
        "inner: a null stream key joins through its mapped key; a null mapped key and an absent key emit nothing"
    );
    assert_eq!(
        triples(&out2),
        vec![
            (s("k01"), s("a+g1"), 10),
            (None, s("b+<none>"), 11),
            (s("k03"), s("c+<none>"), 12),
            (s("k05"), s("d+<none>"), 13),
            (s("k01"), s("e+<none>"), 16),
        ],
        "left: a null mapped key and an absent or deleted key join with nothing"
    );
    // The inner join drops the null value and the null mapped key (k03); the left join
    // drops the null value.
    assert_eq!(
        driver.task_metrics(TaskId::new(0, 0)).map(|m| m.dropped),
        Some(3)
    );
    Ok(())
}

#[test]
fn describe_prints_the_global_store_as_kafka_streams_does() {
    // `topology.describe()` of the same topology in Kafka Streams 4.4.
    let java = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-LEFTJOIN-0000000004, KSTREAM-LEFTJOIN-0000000006
    Processor: KSTREAM-LEFTJOIN-0000000004 (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-LEFTJOIN-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KSTREAM-SOURCE-0000000000
    Sink: KSTREAM-SINK-0000000005 (topic: output)
      <-- KSTREAM-LEFTJOIN-0000000004
    Sink: KSTREAM-SINK-0000000007 (topic: output2)
      <-- KSTREAM-LEFTJOIN-0000000006

  Sub-topology: 1 for global store (will not generate tasks)
    Source: KSTREAM-SOURCE-0000000002 (topics: [input2])
      --> KTABLE-SOURCE-0000000003
    Processor: KTABLE-SOURCE-0000000003 (stores: [input2-STATE-STORE-0000000001])
      --> none
      <-- KSTREAM-SOURCE-0000000002
";
    assert_eq!(java_checked_topology().describe().to_string(), java);
}

#[test]
fn describe_names_a_global_table_as_kafka_streams_does() -> Result<()> {
    // Kafka Streams 4.4: `globalTable("glob", Consumed.as("g"))`, then a stream joined
    // with `Named.as("myjoin")`; the global store comes first and is sub-topology 0.
    let b = StreamsBuilder::new();
    let g = b.global_table(
        "glob",
        Consumed::with(Serdes::string(), Serdes::string()).with_name("g"),
    );
    assert_eq!(g.queryable_store_name(), "glob-STATE-STORE-0000000000");
    b.stream("input", Consumed::with(Serdes::string(), Serdes::string()))
        .named("myjoin")
        .join_global(
            &g,
            |k: &String, _v: &String| k.clone(),
            |v: String, gv: &String| v + gv,
        )
        .to("output", Produced::with(Serdes::string(), Serdes::string()));
    let java = "Topologies:
   Sub-topology: 0 for global store (will not generate tasks)
    Source: g-source (topics: [glob])
      --> g
    Processor: g (stores: [glob-STATE-STORE-0000000000])
      --> none
      <-- g-source
  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000003 (topics: [input])
      --> myjoin
    Processor: myjoin (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KSTREAM-SOURCE-0000000003
    Sink: KSTREAM-SINK-0000000005 (topic: output)
      <-- myjoin

";
    assert_eq!(b.build()?.describe().to_string(), java);
    Ok(())
}

#[test]
fn table_updates_do_not_trigger_output() -> Result<()> {
    let b = StreamsBuilder::new();
    let g = b.global_table("g", Consumed::with(Serdes::string(), Serdes::string()));
    b.stream("s", Consumed::with(Serdes::string(), Serdes::string()))
        .left_join_global(
            &g,
            |k: &String, _| k.clone(),
            |v: String, gv: Option<&String>| format!("{v}/{}", gv.map_or("-", String::as_str)),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let gt = driver.create_input_topic("g", Serdes::string(), Serdes::option(Serdes::string()));
    let st = driver.create_input_topic("s", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    st.pipe_input_at("a".into(), "1".into(), 100)?;
    gt.pipe_input_at("a".into(), Some("x".into()), 200)?;
    gt.pipe_input_at("a".into(), Some("y".into()), 300)?;
    assert_eq!(out.queue_size(), 1, "the two table updates emitted nothing");
    st.pipe_input_at("a".into(), "2".into(), 150)?;
    let got: Vec<(String, String, i64)> = out
        .read_records_to_list()?
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a".into(), "1/-".into(), 100),
            ("a".into(), "2/y".into(), 150),
        ],
        "the output has the stream record's timestamp, even older than the table's"
    );
    Ok(())
}

#[test]
fn the_global_store_is_timestamped_and_queryable_and_in_memory_works() -> Result<()> {
    for store_type in [StoreType::RocksDb, StoreType::InMemory] {
        let b = StreamsBuilder::new();
        let g = b.global_table_with(
            "g",
            Consumed::with(Serdes::string(), Serdes::i64()),
            Materialized::as_("rates").with_store_type(store_type),
        );
        assert_eq!(g.queryable_store_name(), "rates");
        let topology = b.build()?;
        assert!(
            topology.changelog_topics("app").is_empty(),
            "a global store has no changelog"
        );
        assert_eq!(topology.global_topics(), vec!["g".to_string()]);
        let driver = TopologyTestDriver::new(topology, StreamsConfig::new())?;
        let gt = driver.create_input_topic("g", Serdes::string(), Serdes::option(Serdes::i64()));
        gt.pipe_input_at("eur".into(), Some(108), 7)?;
        gt.pipe_input_at("usd".into(), Some(100), 8)?;
        gt.pipe_input_at("usd".into(), None, 9)?;
        let store = driver.state_store::<TimestampedKeyValueStore<String, i64>>("rates")?;
        let all: Vec<(String, ValueAndTimestamp<i64>)> =
            store.borrow().all()?.collect::<Result<_>>()?;
        assert_eq!(
            all,
            vec![("eur".into(), ValueAndTimestamp::new(108, 7))],
            "{store_type:?}"
        );
        // The driver's accessor is writable, as Kafka's: seeding the store is seen by joins.
        store
            .borrow_mut()
            .put(&"gbp".into(), &ValueAndTimestamp::new(120, 1))?;
        assert_eq!(store.borrow().approximate_num_entries()?, 2);
        driver.close()?;
    }
    Ok(())
}

#[test]
fn records_the_topology_writes_to_a_global_topic_update_the_store() -> Result<()> {
    let b = StreamsBuilder::new();
    let g = b.global_table("names", Consumed::with(Serdes::string(), Serdes::string()));
    b.stream(
        "renames",
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .to("names", Produced::with(Serdes::string(), Serdes::string()));
    b.stream("events", Consumed::with(Serdes::string(), Serdes::string()))
        .join_global(
            &g,
            |k: &String, _| k.clone(),
            |v: String, name: &String| format!("{v}@{name}"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    let renames = driver.create_input_topic("renames", Serdes::string(), Serdes::string());
    let events = driver.create_input_topic("events", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    renames.pipe_input("u1".into(), "Ann".into())?;
    events.pipe_input("u1".into(), "login".into())?;
    assert_eq!(out.read_value()?, "login@Ann");
    Ok(())
}

#[test]
fn every_task_sees_every_global_key_with_several_partitions() -> Result<()> {
    let b = StreamsBuilder::new();
    let g = b.global_table(
        "products",
        Consumed::with(Serdes::string(), Serdes::string()),
    );
    b.stream("orders", Consumed::with(Serdes::string(), Serdes::string()))
        // The order's product is in its value: orders and products are not co-partitioned.
        .join_global(
            &g,
            |_order, product: &String| product.clone(),
            |product, name: &String| format!("{product}={name}"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::with_options(
        b.build()?,
        StreamsConfig::new(),
        DriverOptions::new().partitions(4),
    )?;
    let tasks = driver.task_ids();
    assert_eq!(
        tasks,
        (0..4).map(|p| TaskId::new(1, p)).collect::<Vec<_>>(),
        "sub-topology 0 is the global store's and creates no tasks"
    );
    let products = driver.create_input_topic("products", Serdes::string(), Serdes::string());
    let orders = driver.create_input_topic("orders", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    for p in 0..20 {
        products.pipe_input(format!("p{p}"), format!("product {p}"))?;
    }
    for o in 0..200 {
        orders.pipe_input(format!("o{o}"), format!("p{}", (o * 7) % 20))?;
    }
    let got = out.read_key_values_to_list()?;
    assert_eq!(got.len(), 200, "every order found its product");
    for (order, value) in &got {
        let o: usize = order[1..].parse().unwrap();
        assert_eq!(
            value,
            &format!("p{}=product {}", (o * 7) % 20, (o * 7) % 20)
        );
    }
    for task in &tasks {
        let processed = driver.task_metrics(*task).map_or(0, |m| m.processed);
        assert!(processed > 0, "task {task} processed no order");
        let view = driver.state_store_of::<TimestampedKeyValueStore<String, String>>(
            *task,
            g.queryable_store_name(),
        )?;
        let keys: BTreeSet<String> = view
            .borrow()
            .all()?
            .map(|e| e.map(|(k, _)| k))
            .collect::<Result<_>>()?;
        assert_eq!(keys.len(), 20, "task {task} sees every product");
        let err = view
            .borrow_mut()
            .put(&"p99".into(), &ValueAndTimestamp::new("x".into(), 0))
            .unwrap_err();
        assert!(
            err.to_string().contains("products-STATE-STORE-0000000000"),
            "a task's view is read-only: {err}"
        );
    }
    Ok(())
}

/// A global store processor that keeps the longest value seen per key.
struct Longest;

impl Processor<String, String, (), ()> for Longest {
    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, (), ()>,
    ) -> Result<()> {
        let store =
            ctx.state_store::<streams_dsl::state::TypedKeyValueStore<String, String>>("longest")?;
        let mut store = store.borrow_mut();
        if store
            .get(&r.key)?
            .is_none_or(|old| old.len() < r.value.len())
        {
            store.put(&r.key, &r.value)?;
        }
        Ok(())
    }
}

/// Reads the global store without being connected to it.
#[derive(Default)]
struct Lookup {
    store: Option<Rc<RefCell<streams_dsl::state::TypedKeyValueStore<String, String>>>>,
}

impl Processor<String, String, String, String> for Lookup {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<()> {
        self.store = Some(ctx.state_store("longest")?);
        Ok(())
    }

    fn process(
        &mut self,
        r: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        let found = self.store.as_ref().unwrap().borrow().get(&r.key)?;
        ctx.forward(r.with_value(found.unwrap_or_else(|| "?".into())))
    }
}

fn longest_builder() -> streams_state::KeyValueStoreBuilder<String, String> {
    Stores::key_value_store_builder(
        Stores::in_memory_key_value_store("longest"),
        Serdes::string(),
        Serdes::string(),
    )
}

#[test]
fn processor_api_global_stores_are_read_by_every_processor() -> Result<()> {
    let mut t = Topology::new();
    t.add_source(
        "lookups",
        &["lookups"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )?
    .add_processor("lookup", Lookup::default, &["lookups"])?
    .add_sink(
        "out",
        "out",
        Produced::with(Serdes::string(), Serdes::string()),
        &["lookup"],
    )?
    .add_global_store(
        Arc::new(longest_builder().with_logging_disabled()),
        "words",
        Consumed::with(Serdes::string(), Serdes::string()),
        "words",
        "keep-longest",
        || Longest,
    )?;
    assert_eq!(t.global_store_names(), vec!["longest".to_string()]);
    assert_eq!(
        t.describe().to_string(),
        "Topologies:
   Sub-topology: 0
    Source: lookups (topics: [lookups])
      --> lookup
    Processor: lookup (stores: [])
      --> out
      <-- lookups
    Sink: out (topic: out)
      <-- lookup

  Sub-topology: 1 for global store (will not generate tasks)
    Source: words (topics: [words])
      --> keep-longest
    Processor: keep-longest (stores: [longest])
      --> none
      <-- words
"
    );
    let driver = TopologyTestDriver::new(t, StreamsConfig::new())?;
    let words = driver.create_input_topic("words", Serdes::string(), Serdes::string());
    let lookups = driver.create_input_topic("lookups", Serdes::string(), Serdes::string());
    let out = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    words.pipe_input("a".into(), "ab".into())?;
    words.pipe_input("a".into(), "abcd".into())?;
    words.pipe_input("a".into(), "abc".into())?;
    lookups.pipe_input("a".into(), String::new())?;
    lookups.pipe_input("b".into(), String::new())?;
    assert_eq!(
        out.read_values_to_list()?,
        vec!["abcd".to_string(), "?".to_string()]
    );
    Ok(())
}

#[test]
fn global_stores_refuse_logging_and_connections() -> Result<()> {
    let mut t = Topology::new();
    let logged: Arc<dyn StoreBuilder> = Arc::new(longest_builder());
    let err = t
        .add_global_store(
            logged,
            "words",
            Consumed::with(Serdes::string(), Serdes::string()),
            "words",
            "keep-longest",
            || Longest,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("must have logging disabled"), "{err}");

    let mut t = Topology::new();
    t.add_global_store(
        Arc::new(longest_builder().with_logging_disabled()),
        "words",
        Consumed::with(Serdes::string(), Serdes::string()),
        "words",
        "keep-longest",
        || Longest,
    )?
    .add_source(
        "lookups",
        &["lookups"],
        Consumed::with(Serdes::string(), Serdes::string()),
    )?
    .add_processor("lookup", Lookup::default, &["lookups"])?;
    let err = t
        .connect_processor_and_state_stores("lookup", &["longest"])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("global store 'longest'"), "{err}");
    let err = t
        .add_source(
            "again",
            &["words"],
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("already read"), "{err}");
    Ok(())
}

#[test]
fn a_global_table_of_another_builder_is_an_error() {
    let other = StreamsBuilder::new();
    let g = other.global_table("g", Consumed::with(Serdes::string(), Serdes::string()));
    let b = StreamsBuilder::new();
    b.stream("s", Consumed::with(Serdes::string(), Serdes::string()))
        .join_global(&g, |k: &String, _| k.clone(), |v: String, _g: &String| v)
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let err = b.build().err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("another StreamsBuilder"), "{err}");
}

#[test]
fn the_global_store_keeps_record_timestamps_and_ignores_the_extractor() -> Result<()> {
    // Kafka Streams 4.4's global state update task stamps records with the timestamp they
    // were written with: with an extractor returning 42, the store still holds 7.
    let b = StreamsBuilder::new();
    b.global_table_with(
        "g",
        Consumed::with(Serdes::string(), Serdes::string())
            .with_timestamp_extractor(|_k: &String, _v: &String, _ts: i64| 42),
        Materialized::as_("gs"),
    );
    let driver = TopologyTestDriver::new(b.build()?, StreamsConfig::new())?;
    driver
        .create_input_topic("g", Serdes::string(), Serdes::string())
        .pipe_input_at("a".into(), "1".into(), 7)?;
    let store = driver.state_store::<TimestampedKeyValueStore<String, String>>("gs")?;
    assert_eq!(
        store.borrow().get(&"a".into())?,
        Some(ValueAndTimestamp::new("1".into(), 7))
    );
    Ok(())
}

#[test]
fn describe_interleaves_global_stores_by_id_as_kafka_streams_does() -> Result<()> {
    // Kafka Streams 4.4's describe() of the same topology.
    let b = StreamsBuilder::new();
    let strings = || Consumed::with(Serdes::string(), Serdes::string());
    let produced = || Produced::with(Serdes::string(), Serdes::string());
    b.stream("a", strings()).to("x", produced());
    b.global_table("g", strings());
    b.stream("b", strings())
        .map_values(|v: String| v)
        .to("y", produced());
    let topology = b.build()?;
    let java = "Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [a])
      --> KSTREAM-SINK-0000000001
    Sink: KSTREAM-SINK-0000000001 (topic: x)
      <-- KSTREAM-SOURCE-0000000000

  Sub-topology: 1 for global store (will not generate tasks)
    Source: KSTREAM-SOURCE-0000000003 (topics: [g])
      --> KTABLE-SOURCE-0000000004
    Processor: KTABLE-SOURCE-0000000004 (stores: [g-STATE-STORE-0000000002])
      --> none
      <-- KSTREAM-SOURCE-0000000003
  Sub-topology: 2
    Source: KSTREAM-SOURCE-0000000005 (topics: [b])
      --> KSTREAM-MAPVALUES-0000000006
    Processor: KSTREAM-MAPVALUES-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KSTREAM-SOURCE-0000000005
    Sink: KSTREAM-SINK-0000000007 (topic: y)
      <-- KSTREAM-MAPVALUES-0000000006

";
    assert_eq!(topology.describe().to_string(), java);
    let d = topology.describe();
    assert_eq!(
        d.subtopologies.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![0, 2]
    );
    assert_eq!(d.global_stores.len(), 1);
    assert_eq!(d.global_stores[0].id, 1);
    // Tasks are numbered by the same ids: the stream sub-topologies are 0 and 2.
    let driver = TopologyTestDriver::with_options(
        topology,
        StreamsConfig::new(),
        DriverOptions::new().partitions(2),
    )?;
    assert_eq!(
        driver.task_ids(),
        vec![
            TaskId::new(0, 0),
            TaskId::new(0, 1),
            TaskId::new(2, 0),
            TaskId::new(2, 1)
        ]
    );
    Ok(())
}

//! Global tables in the Kafka runtime, on rdkafka's embedded mock cluster: the global store
//! is bootstrapped before any task processes a record, every partition's task joins with
//! every global key, updates keep flowing while running, and a restart resumes from the
//! global checkpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "runtime_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use streams_core::state::OffsetCheckpoint;
use streams_dsl::prelude::*;
use support::{Cluster, Reader, produce, unique, wait_until};

const TIMEOUT: Duration = Duration::from_secs(60);

/// `orders` (value: a product id) joined with the global table of `products` → `out` as
/// `product=name`.
fn join_topology(products: &str, orders: &str, out: &str, store_type: StoreType) -> Topology {
    let b = StreamsBuilder::new();
    let g = b.global_table_with(
        products,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("products-store").with_store_type(store_type),
    );
    b.stream(orders, Consumed::with(Serdes::string(), Serdes::string()))
        .join_global(
            &g,
            |_order: &String, product: &String| product.clone(),
            |product: String, name: &String| format!("{product}={name}"),
        )
        .to(out, Produced::with(Serdes::string(), Serdes::string()));
    b.build().unwrap()
}

fn products(range: std::ops::Range<usize>) -> Vec<(String, String)> {
    range
        .map(|p| (format!("p{p}"), format!("name-{p}")))
        .collect()
}

fn produce_pairs(cluster: &Cluster, topic: &str, pairs: &[(String, String)]) {
    produce(&cluster.bootstrap(), topic, pairs, 1_000);
}

/// The global checkpoint's offsets, summed over the partitions of `topic`.
fn checkpointed(state_dir: &Path, app: &str, topic: &str) -> i64 {
    OffsetCheckpoint::new(state_dir.join(app).join("global").join(".checkpoint"))
        .read()
        .unwrap_or_default()
        .iter()
        .filter(|((t, _), _)| t == topic)
        .map(|(_, o)| *o)
        .sum()
}

fn outputs(reader: &Reader) -> BTreeMap<String, String> {
    reader
        .records
        .iter()
        .map(|r| (r.key_str(), r.value_str()))
        .collect()
}

#[test]
fn the_global_table_is_complete_before_tasks_start_and_a_restart_resumes() {
    let cluster = Cluster::mock();
    let products_topic = unique("products");
    let orders_topic = unique("orders");
    let out_topic = unique("enriched");
    cluster.create_topic(&products_topic, 2);
    cluster.create_topic(&orders_topic, 3);
    cluster.create_topic(&out_topic, 3);
    // Everything is in the topics before the application starts: an order processed
    // before the global store was complete would find no product and emit nothing.
    produce_pairs(&cluster, &products_topic, &products(0..20));
    let orders: Vec<(String, String)> = (0..60)
        .map(|o| (format!("o{o}"), format!("p{}", (o * 7) % 20)))
        .collect();
    produce_pairs(&cluster, &orders_topic, &orders);

    let dir = tempfile::tempdir().unwrap();
    let app = unique("global-app");
    let topology = || {
        join_topology(
            &products_topic,
            &orders_topic,
            &out_topic,
            StoreType::RocksDb,
        )
    };
    let mut streams =
        KafkaStreams::new(topology(), cluster.streams_config(&app, dir.path())).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert_eq!(
        streams.metrics().records_restored,
        20,
        "start-up bootstrapped every product before returning"
    );
    assert_eq!(
        checkpointed(dir.path(), &app, &products_topic),
        20,
        "the bootstrapped store was flushed and checkpointed before start-up returned"
    );
    assert!(
        streams.wait_for_state(State::Running, TIMEOUT),
        "not running: {:?}",
        streams.error()
    );
    let mut reader = Reader::new(&cluster.bootstrap(), &out_topic, false);
    assert!(
        reader.read_at_least(60, TIMEOUT),
        "read {} of 60",
        reader.records.len()
    );
    let got = outputs(&reader);
    assert_eq!(got.len(), 60);
    for (order, value) in &got {
        let o: usize = order[1..].parse().unwrap();
        let p = (o * 7) % 20;
        assert_eq!(value, &format!("p{p}=name-{p}"), "order {order}");
    }
    assert!(wait_until(TIMEOUT, || streams.metrics().records_processed == 60));
    assert_eq!(
        streams
            .metrics()
            .tasks
            .keys()
            .copied()
            .collect::<BTreeSet<_>>(),
        (0..3).map(|p| TaskId::new(1, p)).collect(),
        "sub-topology 0 is the global store's; each orders partition has a task"
    );

    // An update while running reaches the store (the checkpoint, written after each flush,
    // shows when), and then joins.
    produce_pairs(&cluster, &products_topic, &products(20..21));
    assert!(
        wait_until(TIMEOUT, || checkpointed(dir.path(), &app, &products_topic)
            == 21),
        "the global thread applied and checkpointed the new product"
    );
    produce_pairs(&cluster, &orders_topic, &[("o60".into(), "p20".into())]);
    assert!(reader.read_at_least(61, TIMEOUT));
    assert_eq!(outputs(&reader)["o60"], "p20=name-20");
    streams.close().unwrap();
    assert_eq!(streams.state(), State::NotRunning);
    assert_eq!(checkpointed(dir.path(), &app, &products_topic), 21);

    // While stopped: one more product and an order for it. The restart reads only the new
    // product: the RocksDB store resumes from the checkpoint.
    produce_pairs(&cluster, &products_topic, &products(21..22));
    produce_pairs(&cluster, &orders_topic, &[("o61".into(), "p21".into())]);
    let mut restarted =
        KafkaStreams::new(topology(), cluster.streams_config(&app, dir.path())).unwrap();
    restarted.start_with(cluster.creator()).unwrap();
    assert_eq!(restarted.metrics().records_restored, 1);
    assert!(reader.read_at_least(62, TIMEOUT));
    reader.poll(Duration::from_millis(300));
    assert_eq!(
        reader.records.len(),
        62,
        "committed orders are not joined again"
    );
    let got = outputs(&reader);
    assert_eq!(got["o61"], "p21=name-21");
    assert_eq!(got["o3"], "p1=name-1", "old products survived the restart");
    restarted.close().unwrap();
    assert_eq!(checkpointed(dir.path(), &app, &products_topic), 22);
}

#[test]
fn an_in_memory_global_store_is_read_from_the_beginning_at_every_start() {
    let cluster = Cluster::mock();
    let products_topic = unique("products-mem");
    let orders_topic = unique("orders-mem");
    let out_topic = unique("enriched-mem");
    cluster.create_topic(&products_topic, 3);
    cluster.create_topic(&orders_topic, 2);
    cluster.create_topic(&out_topic, 2);
    produce_pairs(&cluster, &products_topic, &products(0..10));
    let dir = tempfile::tempdir().unwrap();
    let app = unique("global-mem-app");
    for (run, order) in ["o1", "o2"].into_iter().enumerate() {
        produce_pairs(&cluster, &orders_topic, &[(order.into(), "p9".into())]);
        let mut streams = KafkaStreams::new(
            join_topology(
                &products_topic,
                &orders_topic,
                &out_topic,
                StoreType::InMemory,
            ),
            cluster.streams_config(&app, dir.path()),
        )
        .unwrap();
        streams.start_with(cluster.creator()).unwrap();
        assert_eq!(streams.metrics().records_restored, 10, "run {run}");
        let mut reader = Reader::new(&cluster.bootstrap(), &out_topic, false);
        assert!(reader.read_at_least(run + 1, TIMEOUT), "run {run}");
        assert_eq!(outputs(&reader)[order], "p9=name-9");
        streams.close().unwrap();
        assert_eq!(
            checkpointed(dir.path(), &app, &products_topic),
            0,
            "in-memory stores are not checkpointed"
        );
    }
}

#[test]
fn a_missing_global_topic_fails_start_up_naming_it() {
    let cluster = Cluster::mock();
    let orders_topic = unique("orders-nog");
    let out_topic = unique("out-nog");
    let missing = unique("no-such-products");
    cluster.create_topic(&orders_topic, 1);
    cluster.create_topic(&out_topic, 1);
    let dir = tempfile::tempdir().unwrap();
    let mut streams = KafkaStreams::new(
        join_topology(&missing, &orders_topic, &out_topic, StoreType::RocksDb),
        cluster.streams_config(&unique("nog-app"), dir.path()),
    )
    .unwrap();
    let err = streams
        .start_with(cluster.creator())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("global table topic(s)"), "{err}");
    assert!(err.contains(&missing), "{err}");
    assert_eq!(streams.state(), State::Created);
}

#[test]
fn a_topology_of_only_a_global_table_runs_the_global_thread_alone() {
    let cluster = Cluster::mock();
    let topic = unique("only-global");
    cluster.create_topic(&topic, 2);
    produce_pairs(&cluster, &topic, &products(0..5));
    let b = StreamsBuilder::new();
    b.global_table(&topic, Consumed::with(Serdes::string(), Serdes::string()));
    let dir = tempfile::tempdir().unwrap();
    let app = unique("only-global-app");
    let mut streams =
        KafkaStreams::new(b.build().unwrap(), cluster.streams_config(&app, dir.path())).unwrap();
    streams.start_with(cluster.creator()).unwrap();
    assert!(
        streams.wait_for_state(State::Running, TIMEOUT),
        "not running: {:?}",
        streams.error()
    );
    assert_eq!(streams.metrics().records_restored, 5);
    assert!(streams.metrics().tasks.is_empty(), "no stream task");
    streams.close().unwrap();
    assert_eq!(streams.state(), State::NotRunning);
    assert_eq!(checkpointed(dir.path(), &app, &topic), 5);
}

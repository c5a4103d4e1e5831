//! Versioned tables (KIP-914): a versioned source table's updates, as-of stream-table
//! joins with out-of-order table updates and late stream records, history retention,
//! tables derived from versioned ones, and the operators that refuse versioned stores.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use streams_dsl::prelude::*;

type S = Option<String>;

fn s(v: &str) -> S {
    Some(v.to_string())
}

fn versioned<K, V>(name: &str, retention_ms: u64) -> Materialized<K, V> {
    Materialized::as_(name).with_store_type(StoreType::Versioned {
        history_retention: Duration::from_millis(retention_ms),
    })
}

fn tiers(b: &StreamsBuilder, retention_ms: u64) -> KTable<String, String> {
    b.table_with(
        "tiers",
        Consumed::with(Serdes::string(), Serdes::string()),
        versioned("tiers-store", retention_ms),
    )
}

fn driver(b: StreamsBuilder) -> TopologyTestDriver {
    let config = StreamsConfig::new().set("statestore.cache.max.bytes", "0");
    TopologyTestDriver::new(b.build().unwrap(), config).unwrap()
}

fn str_in(d: &TopologyTestDriver, topic: &str) -> TestInputTopic<String, S> {
    d.create_input_topic(topic, Serdes::string(), Serdes::option(Serdes::string()))
}

/// Values and timestamps of every record written to `topic`.
fn read<V: 'static>(out: &TestOutputTopic<String, V>) -> Vec<(V, i64)> {
    out.read_records_to_list()
        .unwrap()
        .into_iter()
        .map(|r| (r.value, r.timestamp))
        .collect()
}

#[test]
fn a_versioned_source_table_forwards_out_of_order_updates_and_drops_expired_ones() -> Result<()> {
    let b = StreamsBuilder::new();
    tiers(&b, 100).to_stream().to("out", Produced::inherit());
    let d = driver(b);
    let t = str_in(&d, "tiers");
    let out = d.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    t.pipe_input_at("a".into(), s("v1000"), 1_000)?;
    t.pipe_input_at("a".into(), s("v950"), 950)?; // out of order: forwarded
    t.pipe_input_at("a".into(), s("v899"), 899)?; // older than 1000 - 100: dropped
    t.pipe_input_at("b".into(), s("b899"), 899)?; // the store's stream time, not the key's
    t.pipe_input_at("a".into(), s("v900"), 900)?; // at the bound: kept
    t.pipe_input_at("a".into(), None, 1_100)?;
    assert_eq!(
        read(&out),
        vec![
            (s("v1000"), 1_000),
            (s("v950"), 950),
            (s("v900"), 900),
            (None, 1_100),
        ]
    );
    assert_eq!(
        d.task_metrics(TaskId::new(0, 0)).map(|m| m.dropped),
        Some(2),
        "the expired updates are counted as dropped"
    );
    let store = d.state_store::<VersionedKeyValueStore<String, String>>("tiers-store")?;
    let st = store.borrow();
    assert_eq!(st.get(&"a".into())?, None, "the latest is a tombstone");
    assert_eq!(
        st.get_as_of(&"a".into(), 1_099)?,
        Some(VersionedRecord::new(
            "v1000".to_string(),
            1_000,
            Some(1_100)
        ))
    );
    // Stream time 1100 now: the history before 1000 is out of reach.
    assert_eq!(st.get_as_of(&"a".into(), 999)?, None);
    assert_eq!(st.get(&"b".into())?, None);
    Ok(())
}

#[test]
fn group_by_and_table_joins_ignore_out_of_order_updates() -> Result<()> {
    let b = StreamsBuilder::new();
    let regions = b.table_with(
        "user-region",
        Consumed::with(Serdes::string(), Serdes::string()),
        versioned("regions", 1_000),
    );
    regions
        .group_by_with(
            |_, region: String| (region.clone(), region),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count()
        .to_stream()
        .to(
            "per-region",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let names = b.table("names", Consumed::with(Serdes::string(), Serdes::string()));
    regions
        .join(&names, |region, name| format!("{name}@{region}"))
        .to_stream()
        .to(
            "located",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let d = driver(b);
    let r = str_in(&d, "user-region");
    let n = str_in(&d, "names");
    let per_region = d.create_output_topic(
        "per-region",
        Serdes::string(),
        Serdes::option(Serdes::i64()),
    );
    let located = d.create_output_topic(
        "located",
        Serdes::string(),
        Serdes::option(Serdes::string()),
    );
    n.pipe_input_at("ann".into(), s("Ann"), 1)?;
    r.pipe_input_at("ann".into(), s("eu"), 10)?;
    r.pipe_input_at("bob".into(), s("eu"), 20)?;
    r.pipe_input_at("ann".into(), s("us"), 5)?; // out of order: history only
    r.pipe_input_at("ann".into(), s("us"), 30)?;
    assert_eq!(
        per_region.read_key_values_to_list()?,
        vec![
            ("eu".to_string(), Some(1)),
            ("eu".to_string(), Some(2)),
            ("eu".to_string(), Some(1)), // ann leaves eu at 30 ...
            ("us".to_string(), Some(1)), // ... for us
        ]
    );
    assert_eq!(read(&located), vec![(s("Ann@eu"), 10), (s("Ann@us"), 30)]);
    Ok(())
}

#[test]
fn foreign_key_joins_ignore_out_of_order_updates_on_either_side() -> Result<()> {
    let b = StreamsBuilder::new();
    let orders = b.table_with(
        "orders",
        Consumed::with(Serdes::string(), Serdes::string()),
        versioned("orders-store", 1_000),
    );
    let customers = b.table_with(
        "customers",
        Consumed::with(Serdes::string(), Serdes::string()),
        versioned("customers-store", 1_000),
    );
    orders
        .join_on_foreign_key(
            &customers,
            |customer: &String| customer.clone(),
            |c, name| format!("{c}: {name}"),
        )
        .to_stream()
        .to(
            "enriched",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let d = driver(b);
    let o = str_in(&d, "orders");
    let c = str_in(&d, "customers");
    c.pipe_input_at("c1".into(), s("Ann"), 20)?;
    o.pipe_input_at("o1".into(), s("c1"), 30)?;
    c.pipe_input_at("c1".into(), s("Old Ann"), 10)?; // out of order: no update
    o.pipe_input_at("o1".into(), s("c2"), 25)?; // out of order: no update
    c.pipe_input_at("c1".into(), s("Ann B."), 40)?;
    let out = d.create_output_topic(
        "enriched",
        Serdes::string(),
        Serdes::option(Serdes::string()),
    );
    assert_eq!(read(&out), vec![(s("c1: Ann"), 30), (s("c1: Ann B."), 40)]);
    Ok(())
}

/// Orders left-joined with `table` into "out", as "<order> <tier or none>".
fn left_join_orders(b: &StreamsBuilder, table: &KTable<String, String>) {
    b.stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
        .left_join_table(table, |n, tier: Option<&String>| {
            format!("{n} {}", tier.map_or("none", String::as_str))
        })
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
}

/// Tiers over time for c1: gold from 100, silver from 200 (arriving after platinum),
/// platinum from 300, deleted at 400.
fn pipe_tiers(t: &TestInputTopic<String, S>) -> Result<()> {
    t.pipe_input_at("c1".into(), s("gold"), 100)?;
    t.pipe_input_at("c1".into(), s("platinum"), 300)?;
    t.pipe_input_at("c1".into(), s("silver"), 200)?;
    t.pipe_input_at("c1".into(), None, 400)
}

fn pipe_orders(o: &TestInputTopic<String, i64>) -> Result<()> {
    for (n, ts) in [
        (1, 50),
        (2, 150),
        (3, 250),
        (4, 350),
        (5, 120),
        (6, 450),
        (7, 399),
    ] {
        o.pipe_input_at("c1".into(), n, ts)?;
    }
    Ok(())
}

#[test]
fn a_stream_table_join_reads_the_version_of_each_stream_record_time() -> Result<()> {
    let b = StreamsBuilder::new();
    let table = tiers(&b, 10_000);
    b.stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
        .join_table(&table, |n, tier| format!("{n} {tier}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let d = driver(b);
    pipe_tiers(&str_in(&d, "tiers"))?;
    pipe_orders(&d.create_input_topic("orders", Serdes::string(), Serdes::i64()))?;
    let out = d.create_output_topic("out", Serdes::string(), Serdes::string());
    assert_eq!(
        read(&out),
        vec![
            ("2 gold".to_string(), 150),
            ("3 silver".to_string(), 250), // the out-of-order update is seen at its time
            ("4 platinum".to_string(), 350),
            ("5 gold".to_string(), 120), // a late order joins the tier of its time
            ("7 platinum".to_string(), 399),
        ]
    );
    Ok(())
}

#[test]
fn a_left_join_with_a_versioned_table_emits_nulls_before_the_first_version_and_after_a_delete()
-> Result<()> {
    let b = StreamsBuilder::new();
    let table = tiers(&b, 10_000);
    left_join_orders(&b, &table);
    let d = driver(b);
    pipe_tiers(&str_in(&d, "tiers"))?;
    pipe_orders(&d.create_input_topic("orders", Serdes::string(), Serdes::i64()))?;
    let out = d.create_output_topic("out", Serdes::string(), Serdes::string());
    assert_eq!(
        out.read_values_to_list()?,
        vec![
            "1 none",
            "2 gold",
            "3 silver",
            "4 platinum",
            "5 gold",
            "6 none",
            "7 platinum"
        ]
    );
    Ok(())
}

#[test]
fn stream_records_older_than_the_history_retention_see_only_an_older_latest_value() -> Result<()> {
    let b = StreamsBuilder::new();
    let table = tiers(&b, 100);
    left_join_orders(&b, &table);
    let d = driver(b);
    let t = str_in(&d, "tiers");
    t.pipe_input_at("c1".into(), s("gold"), 100)?;
    t.pipe_input_at("c2".into(), s("bronze"), 50)?;
    t.pipe_input_at("c1".into(), s("silver"), 1_000)?; // the table's stream time: 1000
    let o = d.create_input_topic("orders", Serdes::string(), Serdes::i64());
    o.pipe_input_at("c1".into(), 1, 950)?; // within the retention: gold was valid then
    o.pipe_input_at("c1".into(), 2, 850)?; // older than 1000 - 100: history is gone
    o.pipe_input_at("c2".into(), 3, 60)?; // c2's latest value, from 50, answers
    o.pipe_input_at("c2".into(), 4, 40)?; // before c2's latest: nothing
    let out = d.create_output_topic("out", Serdes::string(), Serdes::string());
    assert_eq!(
        out.read_values_to_list()?,
        vec!["1 gold", "2 none", "3 bronze", "4 none"]
    );
    Ok(())
}

#[test]
fn tables_derived_without_a_store_from_a_versioned_table_are_looked_up_as_of() -> Result<()> {
    let b = StreamsBuilder::new();
    let table = tiers(&b, 10_000)
        .filter(|_, tier| tier != "banned")
        .map_values(|_, tier| tier.to_uppercase());
    left_join_orders(&b, &table);
    let d = driver(b);
    let t = str_in(&d, "tiers");
    t.pipe_input_at("c1".into(), s("gold"), 100)?;
    t.pipe_input_at("c1".into(), s("banned"), 200)?;
    t.pipe_input_at("c1".into(), s("silver"), 300)?;
    let o = d.create_input_topic("orders", Serdes::string(), Serdes::i64());
    for (n, ts) in [(1, 150), (2, 250), (3, 350), (4, 120)] {
        o.pipe_input_at("c1".into(), n, ts)?;
    }
    let out = d.create_output_topic("out", Serdes::string(), Serdes::string());
    assert_eq!(
        out.read_values_to_list()?,
        vec!["1 GOLD", "2 none", "3 SILVER", "4 GOLD"]
    );
    Ok(())
}

#[test]
fn a_stream_read_as_a_versioned_table_joins_as_of() -> Result<()> {
    let b = StreamsBuilder::new();
    let table = b
        .stream(
            "tier-updates",
            Consumed::with(Serdes::string(), Serdes::string()),
        )
        .to_table_with(
            Materialized::with(Serdes::string(), Serdes::string()).with_store_type(
                StoreType::Versioned {
                    history_retention: Duration::from_secs(1),
                },
            ),
        );
    table.to_stream().to("changes", Produced::inherit());
    b.stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
        .join_table(&table, |n, tier| format!("{n} {tier}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let d = driver(b);
    let t = d.create_input_topic("tier-updates", Serdes::string(), Serdes::string());
    t.pipe_input_at("c1".into(), "gold".into(), 100)?;
    t.pipe_input_at("c1".into(), "silver".into(), 50)?;
    let o = d.create_input_topic("orders", Serdes::string(), Serdes::i64());
    o.pipe_input_at("c1".into(), 1, 75)?;
    o.pipe_input_at("c1".into(), 2, 150)?;
    let out = d.create_output_topic("out", Serdes::string(), Serdes::string());
    assert_eq!(out.read_values_to_list()?, vec!["1 silver", "2 gold"]);
    let changes = d.create_output_topic(
        "changes",
        Serdes::string(),
        Serdes::option(Serdes::string()),
    );
    assert_eq!(read(&changes), vec![(s("gold"), 100), (s("silver"), 50)]);
    Ok(())
}

fn build_error(b: StreamsBuilder) -> String {
    match b.build() {
        Ok(_) => String::from("built"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn operators_that_cannot_be_versioned_fail_the_build() {
    let b = StreamsBuilder::new();
    b.stream("words", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key()
        .count_with(versioned("counts", 1_000));
    let e = build_error(b);
    assert!(e.contains("versioned"), "{e}");

    let b = StreamsBuilder::new();
    tiers(&b, 1_000).suppress(Suppressed::until_time_limit(
        Duration::from_secs(1),
        BufferConfig::unbounded(),
    ));
    let e = build_error(b);
    assert!(e.contains("versioned"), "{e}");

    let b = StreamsBuilder::new();
    b.global_table_with(
        "rates",
        Consumed::with(Serdes::string(), Serdes::string()),
        versioned("rates-store", 1_000),
    );
    let e = build_error(b);
    assert!(e.contains("versioned"), "{e}");
}

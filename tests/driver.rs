//! The topology test driver: multi-partition mode, feedback of written topics, outputs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use streams_dsl::prelude::*;

/// (key, partition of 3, of 4, of 12) as Kafka's Java client computes them:
/// `Utils.toPositive(Utils.murmur2(key.getBytes(UTF_8))) % n`.
const JAVA_PARTITIONS: &[(&str, i32, i32, i32)] = &[
    ("alice", 0, 1, 9),
    ("bob", 0, 2, 6),
    ("carol", 2, 2, 2),
    ("dave", 1, 2, 10),
    ("erin", 2, 0, 8),
    ("frank", 1, 3, 7),
    ("k00", 2, 0, 8),
    ("k01", 0, 1, 9),
    ("k17", 1, 1, 1),
    ("k42", 2, 2, 2),
    ("21", 0, 0, 0),
    ("foobar", 0, 2, 6),
];

fn passthrough() -> Result<Topology> {
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .peek(|_, _| {})
        .to("out", Produced::inherit());
    b.build()
}

#[test]
fn multi_partition_mode_places_keys_as_java_does() -> Result<()> {
    for (n, pick) in [(3, 1usize), (4, 2), (12, 3)] {
        let driver = TopologyTestDriver::with_options(
            passthrough()?,
            StreamsConfig::new(),
            DriverOptions::new().partitions(n),
        )?;
        assert_eq!(
            driver.task_ids().len(),
            n as usize,
            "one task per partition"
        );
        let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
        let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
        for (key, ..) in JAVA_PARTITIONS {
            input.pipe_input(key.to_string(), "v".to_string())?;
        }
        for (row, rec) in JAVA_PARTITIONS.iter().zip(output.read_records_to_list()?) {
            let expected = match pick {
                1 => row.1,
                2 => row.2,
                _ => row.3,
            };
            assert_eq!(rec.partition, expected, "key {} with {n} partitions", row.0);
        }
        // Each input was processed by the task of its partition.
        for (key, ..) in JAVA_PARTITIONS {
            let _ = key;
        }
        let processed: u64 = driver
            .task_ids()
            .into_iter()
            .filter_map(|t| driver.task_metrics(t))
            .map(|m| m.processed)
            .sum();
        assert_eq!(processed, JAVA_PARTITIONS.len() as u64);
    }
    Ok(())
}

#[test]
fn each_task_has_its_own_stream_time() -> Result<()> {
    let driver = TopologyTestDriver::with_options(
        passthrough()?,
        StreamsConfig::new(),
        DriverOptions::new().partitions(4),
    )?;
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    input.pipe_input_at("frank".to_string(), "v".to_string(), 500)?; // partition 3 of 4
    input.pipe_input_at("erin".to_string(), "v".to_string(), 100)?; // partition 0 of 4
    assert_eq!(driver.stream_time(TaskId::new(0, 3)), Some(500));
    assert_eq!(driver.stream_time(TaskId::new(0, 0)), Some(100));
    assert_eq!(driver.stream_time(TaskId::new(0, 1)), Some(-1));
    Ok(())
}

#[test]
fn records_written_to_a_source_topic_are_fed_back_in() -> Result<()> {
    // Re-keying into an intermediate topic that the topology also reads, as `through` did:
    // the second sub-topology sees the records on the partitions of their new keys.
    let b = StreamsBuilder::new();
    b.stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v| v.clone())
        .to("mid", Produced::with(Serdes::string(), Serdes::string()));
    b.stream("mid", Consumed::with(Serdes::string(), Serdes::string()))
        .map_values(|v| format!("seen:{v}"))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = b.build()?;
    assert_eq!(topology.describe().subtopologies.len(), 2);
    let driver = TopologyTestDriver::with_options(
        topology,
        StreamsConfig::new(),
        DriverOptions::new().partitions(4),
    )?;
    assert_eq!(
        driver.task_ids().len(),
        8,
        "two sub-topologies of four tasks"
    );
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input.pipe_input("x".to_string(), "alice".to_string())?;
    input.pipe_input("y".to_string(), "frank".to_string())?;
    let recs = output.read_records_to_list()?;
    let got: Vec<_> = recs
        .iter()
        .map(|r| (r.key.as_str(), r.value.as_str(), r.partition))
        .collect();
    assert_eq!(
        got,
        vec![("alice", "seen:alice", 1), ("frank", "seen:frank", 3)]
    );
    assert_eq!(
        driver.task_metrics(TaskId::new(1, 1)).map(|m| m.processed),
        Some(1)
    );
    assert_eq!(
        driver.task_metrics(TaskId::new(1, 3)).map(|m| m.processed),
        Some(1)
    );
    assert!(driver.produced_topic_names().contains(&"mid".to_string()));
    Ok(())
}

#[test]
fn single_partition_mode_runs_everything_as_task_0_0() -> Result<()> {
    let driver = TopologyTestDriver::new(passthrough()?, StreamsConfig::new())?;
    assert_eq!(driver.task_ids(), vec![TaskId::new(0, 0)]);
    let input = driver.create_input_topic_with_time(
        "in",
        Serdes::string(),
        Serdes::string(),
        1000,
        std::time::Duration::from_millis(10),
    );
    let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    input.pipe_value_list(Vec::<String>::new())?;
    input.pipe_key_value_list(vec![("a".into(), "1".into()), ("b".into(), "2".into())])?;
    let ts: Vec<i64> = output
        .read_records_to_list()?
        .iter()
        .map(|r| r.timestamp)
        .collect();
    assert_eq!(ts, vec![1000, 1010], "auto-advancing input time");
    assert!(
        output.read_value().is_err(),
        "reading past the end is an error"
    );
    Ok(())
}

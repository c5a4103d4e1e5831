//! The runtime's configuration at the level an application sees it: secrets kept out of
//! errors and `Debug` output, the client settings the runtime owns, the exactly-once timing
//! check, the input buffer bound, the opt-in topic naming check, and the state directory's
//! permissions and task locks (across processes too).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use streams_core::runtime::{KafkaClientConfigs, KafkaStreams};
use streams_core::serde::Serdes;
use streams_core::state::StateDirectory;
use streams_core::topology::OutputTopic;
use streams_core::{Consumed, Produced, Topology};
use streams_core::{Error, StreamsConfig, TaskId};

const SECRET: &str = "hunter2-do-not-print";

fn base() -> StreamsConfig {
    StreamsConfig::new()
        .set("application.id", "config-app")
        .set("bootstrap.servers", "127.0.0.1:9")
}

fn error_text(result: Result<KafkaClientConfigs, Error>) -> String {
    match result {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => format!("{e} / {e:?}"),
    }
}

#[test]
fn secrets_never_reach_errors_or_debug_output() {
    let keys = [
        "sasl.jaas.config",
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.truststore.password",
        "ssl.key.pem",
        "sasl.oauthbearer.client.secret",
        "basic.auth.user.info",
    ];
    let prefixes = [
        "producer.",
        "consumer.",
        "main.consumer.",
        "restore.consumer.",
        "global.consumer.",
        "admin.",
    ];
    let mut rejected = 0;
    for key in keys {
        for prefix in prefixes {
            let user_key = format!("{prefix}{key}");
            let config = base().set(&user_key, SECRET);
            assert!(!format!("{config:?}").contains(SECRET), "{user_key}");
            match KafkaClientConfigs::new(&config) {
                Ok(clients) => {
                    let debug = format!("{clients:?}");
                    assert!(!debug.contains(SECRET), "{user_key}: {debug}");
                    assert!(debug.contains("[redacted]"), "{user_key}: {debug}");
                }
                Err(e) => {
                    rejected += 1;
                    let text = format!("{e} / {e:?}");
                    assert!(!text.contains(SECRET), "{user_key}: {text}");
                    assert!(text.contains(&user_key), "{user_key}: {text}");
                    assert!(text.contains("[redacted]"), "{user_key}: {text}");
                }
            }
        }
    }
    // librdkafka knows neither Java's JAAS config, nor truststores, nor Schema Registry's
    // credentials: at least those are refused, under every prefix.
    assert!(rejected >= 3 * prefixes.len(), "{rejected}");

    // A secret in a config the runtime refuses for another reason stays hidden too.
    let text = error_text(KafkaClientConfigs::new(
        &base()
            .set("producer.sasl.password", SECRET)
            .set("consumer.group.id", "mine"),
    ));
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn the_main_consumer_keeps_task_assignment_by_range() {
    let clients = KafkaClientConfigs::new(&base()).unwrap();
    assert_eq!(
        clients.main_consumer.get("partition.assignment.strategy"),
        Some("range")
    );
    assert_eq!(clients.main_consumer.get("group.protocol"), Some("classic"));
    for (key, value) in [
        (
            "consumer.partition.assignment.strategy",
            "cooperative-sticky",
        ),
        (
            "main.consumer.partition.assignment.strategy",
            "roundrobin,range",
        ),
        ("consumer.group.protocol", "consumer"),
        ("main.consumer.group.protocol", "consumer"),
    ] {
        let text = error_text(KafkaClientConfigs::new(&base().set(key, value)));
        assert!(text.contains(key), "{text}");
        assert!(
            text.contains("range"),
            "names the runtime's assignor: {text}"
        );
    }
    // The other consumers never join the group, so the setting means nothing to them.
    assert!(
        KafkaClientConfigs::new(&base().set(
            "restore.consumer.partition.assignment.strategy",
            "roundrobin"
        ))
        .is_ok()
    );
}

#[test]
fn the_restore_consumer_surfaces_out_of_range_offsets() {
    let clients = KafkaClientConfigs::new(
        &base()
            .set("consumer.auto.offset.reset", "latest")
            .set("global.consumer.auto.offset.reset", "earliest"),
    )
    .unwrap();
    assert_eq!(
        clients.restore_consumer.get("auto.offset.reset"),
        Some("error")
    );
    assert_eq!(
        clients.main_consumer.get("auto.offset.reset"),
        Some("latest")
    );
    assert_eq!(
        clients.global_consumer.get("auto.offset.reset"),
        Some("earliest")
    );
    let text = error_text(KafkaClientConfigs::new(
        &base().set("restore.consumer.auto.offset.reset", "earliest"),
    ));
    assert!(
        text.contains("restore.consumer.auto.offset.reset"),
        "{text}"
    );
}

#[test]
fn exactly_once_refuses_a_commit_interval_the_transaction_cannot_span() {
    let eos = base().set("processing.guarantee", "exactly_once_v2");
    let clients = KafkaClientConfigs::new(&eos).unwrap();
    assert_eq!(
        clients.producer.get("transaction.timeout.ms"),
        Some("10000")
    );
    assert_eq!(eos.commit_interval().unwrap().as_millis(), 100);

    let text = error_text(KafkaClientConfigs::new(
        &eos.clone().set("commit.interval.ms", "10000"),
    ));
    assert!(text.contains("commit.interval.ms"), "{text}");
    assert!(text.contains("transaction.timeout.ms"), "{text}");

    let raised = eos
        .clone()
        .set("commit.interval.ms", "20000")
        .set("producer.transaction.timeout.ms", "30000");
    let clients = KafkaClientConfigs::new(&raised).unwrap();
    assert_eq!(
        clients.producer.get("transaction.timeout.ms"),
        Some("30000")
    );
    assert!(
        KafkaClientConfigs::new(&eos.set("producer.transaction.timeout.ms", "50")).is_err(),
        "the default 100 ms commit interval is not below 50 ms"
    );
}

#[test]
fn input_buffer_max_bytes_is_typed_and_validated() {
    assert_eq!(base().input_buffer_max_bytes().unwrap(), 536_870_912);
    let small = base().set("input.buffer.max.bytes", "65536");
    assert!(small.validate().is_ok());
    assert_eq!(small.input_buffer_max_bytes().unwrap(), 65_536);
    for (key, value) in [
        ("input.buffer.max.bytes", "-1"),
        ("input.buffer.max.bytes", "512MiB"),
        ("buffered.records.per.partition", "-5"),
        ("buffered.records.per.partition", "many"),
    ] {
        let err = base().set(key, value).validate().unwrap_err().to_string();
        assert!(err.contains(key), "{key}={value}: {err}");
    }
}

#[cfg(unix)]
#[test]
fn state_directories_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let tmp = tempfile::tempdir().unwrap();
    let state_dir = tmp.path().join("state");
    let dir = StateDirectory::open(&state_dir, "config-app").unwrap();
    let task_dir = dir.task_dir(TaskId::new(1, 0)).unwrap();
    assert_eq!(mode(&state_dir), 0o700);
    assert_eq!(mode(dir.app_dir()), 0o700);
    assert_eq!(mode(&task_dir), 0o700);
}

/// The environment variable that turns [`task_lock_probe`] into a child process's probe.
const PROBE_DIR: &str = "RUNTIME_CONFIG_TASK_LOCK_PROBE_DIR";

/// Does nothing in a normal run; in a child process started by
/// [`a_task_dir_lock_excludes_other_processes`], tries the lock and says what happened.
#[test]
fn task_lock_probe() {
    if let Some(dir) = std::env::var_os(PROBE_DIR) {
        match StateDirectory::lock_task_dir(Path::new(&dir)) {
            Ok(_guard) => println!("PROBE acquired"),
            Err(e) => println!("PROBE refused: {e}"),
        }
    }
}

fn probe_from_another_process(dir: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "task_lock_probe",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_DIR, dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The harness may print its own "test ... " on the same line.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.find("PROBE ").map(|at| l[at..].to_owned()))
        .unwrap_or_default()
}

#[test]
fn a_task_dir_lock_excludes_other_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = StateDirectory::open(tmp.path(), "config-app").unwrap();
    let task_dir = dir.task_dir(TaskId::new(0, 7)).unwrap();

    let guard = StateDirectory::lock_task_dir(&task_dir).unwrap();
    let probe = probe_from_another_process(&task_dir);
    assert!(probe.starts_with("PROBE refused"), "{probe}");
    assert!(probe.contains("task 0_7"), "{probe}");
    let same_process = StateDirectory::lock_task_dir(&task_dir).unwrap_err();
    assert!(
        matches!(&same_process, Error::StateDir { .. }),
        "{same_process:?}"
    );

    drop(guard);
    let probe = probe_from_another_process(&task_dir);
    assert_eq!(probe, "PROBE acquired");
    // The child's lock went with the child.
    assert!(StateDirectory::lock_task_dir(&task_dir).is_ok());
}

fn named_topology(source: &str, sink: &str, output: Option<&str>) -> Topology {
    let mut t = Topology::new();
    t.add_source(
        "in",
        &[source],
        Consumed::with(Serdes::string(), Serdes::string()),
    )
    .unwrap()
    .add_sink(
        "out",
        sink,
        Produced::with(Serdes::string(), Serdes::string()),
        &["in"],
    )
    .unwrap();
    if let Some(o) = output {
        t.add_output_topic(OutputTopic::new(o, 1));
    }
    t
}

#[test]
fn the_naming_convention_is_checked_only_when_asked_and_names_the_topic() {
    let checked = base()
        .set("topic.naming.convention", "domain.entity.event")
        .set("processing.exception.handler", "retry");
    // The seed's topics, with their retry and dead-letter topics, pass.
    let seed = named_topology("orders.placed", "sales.revenue.hourly", None);
    assert!(KafkaStreams::new(seed, checked.clone()).is_ok());
    for (topology, bad) in [
        (
            named_topology("Orders.placed", "sales.revenue.hourly", None),
            "Orders.placed",
        ),
        (named_topology("orders.placed", "revenue", None), "revenue"),
        (
            named_topology(
                "orders.placed",
                "sales.revenue.hourly",
                Some("sales.revenue_v2.hourly"),
            ),
            "sales.revenue_v2.hourly",
        ),
    ] {
        let err = KafkaStreams::new(topology, checked.clone())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains(&format!("topic '{bad}'")) && err.contains("<domain>.<entity>.<event>"),
            "{err}"
        );
    }
    // Off by default.
    assert!(KafkaStreams::new(named_topology("Orders", "out", None), base()).is_ok());
    let typo = base().set("topic.naming.convention", "dotted");
    assert!(
        error_text(KafkaClientConfigs::new(&typo)).contains("topic.naming.convention"),
        "unknown conventions are refused"
    );
}

//! The machinery of the fault-injection suite: brokers (the shared one of
//! `tests/broker/kafka-broker.sh`, and a private one of `tests/broker/single-node.sh` that may
//! be frozen and restarted), `fault-app` child processes, the input producer with its ledger
//! of acknowledged records, readers of the outputs (the runtime tests' reader), the
//! application's committed offsets, and the checks of what was committed against what was
//! produced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../runtime_support/names.rs"]
mod names;
// Shared with the runtime tests, which use the parts this suite does not.
#[allow(dead_code)]
#[path = "../runtime_support/reader.rs"]
mod reader;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use streams_core::partitioner::default_partition;

pub(crate) use names::unique;
pub(crate) use reader::{Read, Reader, partition_count};

/// One hour in milliseconds: the window size of the application.
pub(crate) const HOUR_MS: i64 = 3_600_000;
/// Partitions of every input and output topic: enough for three instances or two threads
/// to share the tasks, few because each task's restore on start-up takes a while.
pub(crate) const PARTITIONS: i32 = 3;
/// How long an instance may take from its start to `STATE RUNNING`.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the application may take to commit everything after a fault (or to restore a
/// large store).
pub(crate) fn recovery_timeout() -> Duration {
    Duration::from_secs(scaled(90, 300) as u64)
}

/// `FAULT_LONG=1` selects the long form: more records, more faults.
pub(crate) fn long_form() -> bool {
    std::env::var("FAULT_LONG").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// `short` in the default form, `long` under `FAULT_LONG=1`.
pub(crate) fn scaled(short: usize, long: usize) -> usize {
    if long_form() { long } else { short }
}

/// Cases freeze and restart the private broker and measure recovery times: one at a time.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn client(bootstrap: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    cfg
}

/// A client whose watermarks are the log end offsets: librdkafka's default
/// `isolation.level=read_committed` would answer the last stable offset instead, which an
/// open transaction holds back.
fn log_end_client(bootstrap: &str) -> BaseConsumer {
    let mut cfg = client(bootstrap);
    cfg.set("isolation.level", "read_uncommitted");
    cfg.create().expect("metadata client")
}

/// A client whose watermarks are the last stable offsets: below them, no transaction is
/// still open.
fn stable_client(bootstrap: &str) -> BaseConsumer {
    let mut cfg = client(bootstrap);
    cfg.set("isolation.level", "read_committed");
    cfg.create().expect("metadata client")
}

/// The high watermark of every partition of `topic` as `consumer` sees it: the log end
/// offset for a `read_uncommitted` consumer, the last stable offset for a `read_committed`
/// one. `None` when the broker does not answer.
fn log_ends(consumer: &BaseConsumer, topic: &str, partitions: i32) -> Option<Vec<i64>> {
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(3))
                .ok()
                .map(|(_, h)| h)
        })
        .collect()
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    client(bootstrap).create().expect("admin client")
}

/// The broker `tests/broker/kafka-broker.sh start` runs, shared with the other test binaries:
/// never frozen nor restarted here. Panics, saying how to start it, when it does not answer.
pub(crate) fn shared_broker() -> String {
    let how = "start it with `tests/broker/kafka-broker.sh start` and export \
               KAFKA_BOOTSTRAP_FILE=$PWD/tests/broker/.run/bootstrap (tests/run.sh does both)";
    let file = std::env::var("KAFKA_BOOTSTRAP_FILE")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/broker/.run/bootstrap").into());
    let bootstrap = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("no Kafka broker: cannot read {file} ({e}); {how}"))
        .trim()
        .to_owned();
    assert!(
        !bootstrap.is_empty(),
        "no Kafka broker: {file} is empty; {how}"
    );
    let probe: BaseConsumer = client(&bootstrap).create().expect("metadata client");
    if let Err(e) = probe.fetch_metadata(None, Duration::from_secs(10)) {
        panic!("no Kafka broker answers at {bootstrap} (from {file}): {e}; {how}");
    }
    bootstrap
}

/// The private broker of `tests/broker/single-node.sh`, started on first use and destroyed
/// by the script's watchdog when this test binary exits.
pub(crate) struct PrivateBroker {
    dir: PathBuf,
    /// Its bootstrap address, the same across restarts.
    pub(crate) bootstrap: String,
}

fn broker_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("broker/single-node.sh")
}

fn run_script(args: &[&str]) -> String {
    let out = Command::new(broker_script())
        .args(args)
        .env("BROKER_LOG_NAME", "fault-broker")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", broker_script().display()));
    assert!(
        out.status.success(),
        "tests/broker/single-node.sh {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl PrivateBroker {
    /// The private broker, started if this binary has not started it yet. Panics with the
    /// script's output when it cannot start (no java, no jars).
    pub(crate) fn get() -> &'static PrivateBroker {
        static BROKER: OnceLock<PrivateBroker> = OnceLock::new();
        BROKER.get_or_init(|| {
            let dir = std::env::temp_dir().join(unique("fault-broker"));
            let dir_s = dir.display().to_string();
            let pid = std::process::id().to_string();
            let bootstrap = run_script(&["start", &dir_s, &pid])
                .lines()
                .last()
                .unwrap_or_default()
                .to_owned();
            assert!(
                bootstrap.starts_with("127.0.0.1:"),
                "the private broker reported no loopback address: '{bootstrap}'"
            );
            PrivateBroker { dir, bootstrap }
        })
    }

    fn dir(&self) -> String {
        self.dir.display().to_string()
    }

    /// The broker's process id.
    pub(crate) fn pid(&self) -> String {
        run_script(&["pid", &self.dir()])
    }

    /// Freezes the broker with SIGSTOP until the guard is dropped (or thawed).
    pub(crate) fn freeze(&self) -> Frozen {
        Frozen::new(self.pid())
    }

    /// Stops the broker cleanly, keeping its data.
    pub(crate) fn stop(&self) {
        run_script(&["stop", &self.dir()]);
    }

    /// Starts it again on the same data and address; returns once it answers.
    pub(crate) fn start_again(&self) {
        let again = run_script(&["start", &self.dir()]);
        assert!(
            again.ends_with(&self.bootstrap),
            "the private broker came back on '{again}', not {}",
            self.bootstrap
        );
    }
}

fn signal(name: &str, pid: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), pid])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{name} {pid} failed: {status}");
}

/// A process (the broker, an instance) frozen with SIGSTOP; continued (SIGCONT) when dropped,
/// so that a failing case does not leave it frozen for the next.
pub(crate) struct Frozen {
    pid: Option<String>,
}

impl Frozen {
    /// Freezes process `pid`.
    fn new(pid: String) -> Frozen {
        signal("STOP", &pid);
        Frozen { pid: Some(pid) }
    }

    /// Continues the process.
    pub(crate) fn thaw(mut self) {
        if let Some(pid) = self.pid.take() {
            signal("CONT", &pid);
        }
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
        }
    }
}

/// Creates a topic with topic-level `configs` and waits until its metadata shows it.
pub(crate) fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin = admin(bootstrap);
    let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        topic = topic.set(k, v);
    }
    let results = futures::executor::block_on(admin.create_topics(&[topic], &AdminOptions::new()))
        .expect("create topics");
    for r in results {
        r.unwrap_or_else(|(t, e)| panic!("creating topic {t}: {e}"));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while partition_count(bootstrap, name) != partitions {
        assert!(Instant::now() < deadline, "topic {name} did not appear");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Low and high watermark of every partition of `topic`.
pub(crate) fn watermarks(bootstrap: &str, topic: &str, partitions: i32) -> Vec<(i64, i64)> {
    let consumer = log_end_client(bootstrap);
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("watermarks of {topic}-{p}: {e}"))
        })
        .collect()
}

/// Moves the log start offset of each partition of `topic` up to `before[p]` (Kafka's
/// DeleteRecords).
pub(crate) fn delete_records(bootstrap: &str, topic: &str, before: &[i64]) {
    let admin = admin(bootstrap);
    let mut tpl = TopicPartitionList::new();
    for (p, o) in before.iter().enumerate() {
        tpl.add_partition_offset(topic, p as i32, Offset::Offset(*o))
            .expect("tpl");
    }
    let result = futures::executor::block_on(admin.delete_records(&tpl, &AdminOptions::new()))
        .unwrap_or_else(|e| panic!("DeleteRecords on {topic}: {e}"));
    for e in result.elements() {
        if let Err(err) = e.error() {
            panic!("DeleteRecords on {topic}-{}: {err}", e.partition());
        }
    }
}

/// Sets topic configs, keeping the topic's other dynamic configs (AlterConfigs resets every
/// config it is not given).
pub(crate) fn alter_topic_config(bootstrap: &str, topic: &str, set: &[(&str, &str)]) {
    let admin = admin(bootstrap);
    let spec = ResourceSpecifier::Topic(topic);
    let described =
        futures::executor::block_on(admin.describe_configs([&spec], &AdminOptions::new()))
            .expect("describe configs")
            .pop()
            .expect("one resource")
            .unwrap_or_else(|e| panic!("describing {topic}: {e}"));
    let mut entries: BTreeMap<String, String> = described
        .entries
        .iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect();
    for (k, v) in set {
        entries.insert((*k).to_owned(), (*v).to_owned());
    }
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (k, v) in &entries {
        alter = alter.set(k, v);
    }
    let results = futures::executor::block_on(admin.alter_configs([&alter], &AdminOptions::new()))
        .expect("alter configs");
    for r in results {
        r.unwrap_or_else(|(_, e)| panic!("altering the configs of {topic}: {e}"));
    }
}

/// A case: its own directory (state directories and logs, kept when it fails) and what it
/// needs to explain a failure.
pub(crate) struct Case {
    /// The case's name, as in the summary line.
    pub(crate) name: String,
    /// Where its state directories and logs go.
    pub(crate) dir: PathBuf,
    logs: Mutex<Vec<(String, PathBuf)>>,
    started: Instant,
}

impl Case {
    /// A case named `name` with a fresh directory under the target's tmp dir.
    pub(crate) fn new(name: &str) -> Case {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("fault-injection")
            .join(unique(name));
        std::fs::create_dir_all(&dir).expect("case dir");
        eprintln!("[{name}] logs and state in {}", dir.display());
        Case {
            name: name.to_owned(),
            dir,
            logs: Mutex::new(Vec::new()),
            started: Instant::now(),
        }
    }

    fn add_log(&self, label: &str, path: &Path) {
        self.logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((label.to_owned(), path.to_owned()));
    }

    /// Fails the case: the message, where the logs are, and the tail of every instance's
    /// stderr.
    pub(crate) fn fail(&self, message: impl std::fmt::Display) -> ! {
        let mut text = format!(
            "[{}] {message}\n  logs: {}\n",
            self.name,
            self.dir.display()
        );
        let logs = self
            .logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (label, path) in logs {
            let _ = writeln!(
                text,
                "--- last lines of {label} ({}) ---\n{}",
                path.display(),
                tail(&path, 40)
            );
        }
        panic!("{text}");
    }

    /// Prints the case's summary line (also appended to `fault-injection/summary.txt` under
    /// the target's tmp dir).
    pub(crate) fn summary(&self, fields: &[(&str, String)]) {
        let mut line = format!("FAULT-SUMMARY case={}", self.name);
        for (k, v) in fields {
            let _ = write!(line, " {k}={v}");
        }
        let _ = write!(line, " case_secs={}", self.started.elapsed().as_secs());
        println!("{line}");
        let file = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("fault-injection")
            .join("summary.txt");
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(file) {
            let _ = writeln!(f, "{line}");
        }
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        // A failed case keeps its logs and state for inspection; FAULT_KEEP=1 keeps all.
        if !std::thread::panicking() && std::env::var("FAULT_KEEP").is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The last `n` lines of a file.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The topics of a case.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    /// Input.
    pub(crate) input: String,
    /// Count per key.
    pub(crate) counts: String,
    /// Window sums.
    pub(crate) windows: String,
}

impl Topics {
    /// Creates input and output topics with [`PARTITIONS`] partitions; `count_configs` are
    /// topic configs of the count topic.
    pub(crate) fn create(bootstrap: &str, case: &str, count_configs: &[(&str, &str)]) -> Topics {
        let t = Topics {
            input: unique(&format!("fault-{case}-in")),
            counts: unique(&format!("fault-{case}-counts")),
            windows: unique(&format!("fault-{case}-windows")),
        };
        create_topic(bootstrap, &t.input, PARTITIONS, &[]);
        create_topic(bootstrap, &t.counts, PARTITIONS, count_configs);
        create_topic(bootstrap, &t.windows, PARTITIONS, &[]);
        t
    }

    /// The dead-letter topics of the outputs, created here so that they can be read whether
    /// or not the application writes to them.
    pub(crate) fn create_dead_letter_topics(&self, bootstrap: &str) {
        create_topic(bootstrap, &dead_letter(&self.counts), PARTITIONS, &[]);
        create_topic(bootstrap, &dead_letter(&self.windows), PARTITIONS, &[]);
    }
}

/// Where the production exception handler sends records that could not be written.
pub(crate) fn dead_letter(topic: &str) -> String {
    format!("{topic}.dead-letter")
}

/// `processing.guarantee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guarantee {
    /// `at_least_once`.
    AtLeastOnce,
    /// `exactly_once_v2`.
    ExactlyOnce,
}

impl Guarantee {
    /// The config value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Guarantee::AtLeastOnce => "at_least_once",
            Guarantee::ExactlyOnce => "exactly_once_v2",
        }
    }
}

/// How to run `fault-app`.
#[derive(Debug, Clone)]
pub(crate) struct AppSpec {
    /// Bootstrap servers.
    pub(crate) bootstrap: String,
    /// `application.id`.
    pub(crate) application_id: String,
    /// The topics.
    pub(crate) topics: Topics,
    /// `processing.guarantee`.
    pub(crate) guarantee: Guarantee,
    /// `num.stream.threads`.
    pub(crate) threads: usize,
    /// Further `key=value` entries.
    pub(crate) extra: Vec<(String, String)>,
}

impl AppSpec {
    /// A spec with the suite's defaults: caching off (one count and one window output per
    /// input, so that every output can be traced to its input), 100 ms commits.
    pub(crate) fn new(bootstrap: &str, topics: &Topics, guarantee: Guarantee) -> AppSpec {
        AppSpec {
            bootstrap: bootstrap.to_owned(),
            application_id: unique("fault-app"),
            topics: topics.clone(),
            guarantee,
            threads: 1,
            extra: vec![
                ("statestore.cache.max.bytes".into(), "0".into()),
                ("commit.interval.ms".into(), "100".into()),
            ],
        }
    }

    /// Adds or replaces a `key=value` entry.
    #[must_use]
    pub(crate) fn with(mut self, key: &str, value: impl Into<String>) -> AppSpec {
        self.extra.retain(|(k, _)| k != key);
        self.extra.push((key.to_owned(), value.into()));
        self
    }

    /// Whether the count store's cache is on.
    pub(crate) fn caching(&self) -> bool {
        !self
            .extra
            .iter()
            .any(|(k, v)| k == "statestore.cache.max.bytes" && v == "0")
    }
}

#[derive(Default)]
struct LinesInner {
    lines: Vec<String>,
    /// When each line arrived.
    at: Vec<Instant>,
    closed: bool,
}

/// The stdout lines of one run of a child process.
#[derive(Default)]
struct Lines {
    inner: Mutex<LinesInner>,
    changed: Condvar,
}

impl Lines {
    fn lock(&self) -> MutexGuard<'_, LinesInner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The counters an instance reports on its `METRICS` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AppMetrics {
    /// Its state.
    pub(crate) state: String,
    /// Records processed.
    pub(crate) processed: u64,
    /// Changelog records restored.
    pub(crate) restored: u64,
    /// Tasks assigned.
    pub(crate) tasks: u64,
    /// Records dropped.
    pub(crate) dropped: u64,
    /// Records dead-lettered.
    pub(crate) dead_lettered: u64,
}

/// Parses a `METRICS` line.
pub(crate) fn parse_metrics(line: &str) -> Option<AppMetrics> {
    let rest = line.strip_prefix("METRICS ")?;
    let mut m = AppMetrics::default();
    for field in rest.split_whitespace() {
        let (k, v) = field.split_once('=')?;
        let n = v.parse::<u64>().unwrap_or(0);
        match k {
            "state" => v.clone_into(&mut m.state),
            "processed" => m.processed = n,
            "restored" => m.restored = n,
            "tasks" => m.tasks = n,
            "dropped" => m.dropped = n,
            "dead_lettered" => m.dead_lettered = n,
            _ => {}
        }
    }
    Some(m)
}

/// A `fault-app` instance: a child process, restartable on the same state directory. Its
/// stderr goes to `<case dir>/<name>.stderr`, its stdout to `<name>.stdout` and to the lines
/// the runner waits on. Dropping it kills the process.
pub(crate) struct App {
    /// The instance's name within the case.
    pub(crate) name: String,
    spec: AppSpec,
    state_dir: PathBuf,
    stderr: PathBuf,
    stdout: PathBuf,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Arc<Lines>,
    /// How many times it was started.
    pub(crate) starts: usize,
    /// The most changelog records it reported restored, summed over its runs.
    pub(crate) restored_total: u64,
    restored_this_run: u64,
}

impl App {
    /// Starts an instance with a state directory of its own.
    pub(crate) fn start(case: &Case, spec: &AppSpec, name: &str) -> App {
        let state_dir = case.dir.join(format!("{name}-state"));
        std::fs::create_dir_all(&state_dir).expect("state dir");
        let stderr = case.dir.join(format!("{name}.stderr"));
        case.add_log(&format!("{name} stderr"), &stderr);
        let mut app = App {
            name: name.to_owned(),
            spec: spec.clone(),
            state_dir,
            stdout: case.dir.join(format!("{name}.stdout")),
            stderr,
            child: None,
            stdin: None,
            lines: Arc::new(Lines::default()),
            starts: 0,
            restored_total: 0,
            restored_this_run: 0,
        };
        app.spawn();
        app
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        self.starts += 1;
        self.restored_total += self.restored_this_run;
        self.restored_this_run = 0;
        let marker = format!(
            "==== {} start #{} at {} ms since the epoch ====",
            self.name,
            self.starts,
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        );
        let mut err = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stderr)
            .expect("stderr log");
        let _ = writeln!(err, "{marker}");
        let mut out_log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.stdout)
            .expect("stdout log");
        let _ = writeln!(out_log, "{marker}");

        let s = &self.spec;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fault-app"));
        cmd.arg(&s.bootstrap)
            .arg(&s.application_id)
            .arg(&s.topics.input)
            .arg(format!("{},{}", s.topics.counts, s.topics.windows))
            .arg(&self.state_dir)
            .arg(s.guarantee.as_str())
            .arg(s.threads.to_string());
        for (k, v) in &s.extra {
            cmd.arg(format!("{k}={v}"));
        }
        let log_level = std::env::var("FAULT_RUST_LOG").unwrap_or_else(|_| "info".into());
        cmd.env("RUST_LOG", log_level)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(err));
        let mut child = cmd.spawn().expect("spawning fault-app");
        self.stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("child stdout");
        let lines = Arc::new(Lines::default());
        self.lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(out_log, "{line}");
                {
                    let mut g = lines.lock();
                    g.lines.push(line);
                    g.at.push(Instant::now());
                }
                lines.changed.notify_all();
            }
            lines.lock().closed = true;
            lines.changed.notify_all();
        });
        self.child = Some(child);
    }

    /// Waits until a line of the current run satisfies `pred`. Errs when the process's
    /// stdout closes (it exited) or `timeout` passes.
    pub(crate) fn wait_line(
        &self,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let i = self.wait_line_from(0, timeout, pred)?;
        Ok(self.lines.lock().lines[i].clone())
    }

    /// As [`wait_line`](Self::wait_line), among the lines of the current run from index
    /// `from` on (see [`line_count`](Self::line_count)); returns the line's index.
    pub(crate) fn wait_line_from(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<usize, String> {
        let deadline = Instant::now() + timeout;
        let mut g = self.lines.lock();
        loop {
            if let Some(i) = g.lines.iter().skip(from).position(|l| pred(l)) {
                return Ok(from + i);
            }
            if g.closed {
                return Err(format!("{} exited", self.name));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("{} timed out after {timeout:?}", self.name));
            }
            g = self
                .lines
                .changed
                .wait_timeout(g, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Waits for `STATE RUNNING` in this run; fails the case when it does not come.
    pub(crate) fn wait_running(&self, case: &Case, timeout: Duration) {
        if let Err(e) = self.wait_line(timeout, |l| l == "STATE RUNNING") {
            case.fail(format!(
                "{} did not reach RUNNING: {e}; last state: {}",
                self.name,
                self.last_state()
            ));
        }
    }

    /// The lines of the current run so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().lines.clone()
    }

    /// How many lines the current run has printed so far.
    pub(crate) fn line_count(&self) -> usize {
        self.lines.lock().lines.len()
    }

    /// The instance's stderr log so far (empty if it cannot be read).
    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// How many lines of its stderr log (every run) contain `text`.
    pub(crate) fn log_lines_with(&self, text: &str) -> usize {
        self.stderr_text()
            .lines()
            .filter(|l| l.contains(text))
            .count()
    }

    /// The tasks this instance holds a standby of that has finished its restore and follows
    /// its changelogs: by its stderr log, in order, a task whose last standby event is
    /// "standby restored" (not "opened", still restoring, nor "closed").
    pub(crate) fn warm_standbys(&self) -> std::collections::BTreeSet<String> {
        let mut warm = std::collections::BTreeSet::new();
        for line in self.stderr_text().lines() {
            if line.contains("standby restored; following its changelogs") {
                warm.extend(log_field(line, "task=").map(str::to_owned));
            } else if (line.contains("standby opened") || line.contains("standby closed"))
                && let Some(t) = log_field(line, "task=")
            {
                warm.remove(t);
            }
        }
        warm
    }

    /// What each standby applied from its opening until it caught up: `(task, records)` for
    /// every "standby restored" line of the logs.
    pub(crate) fn standby_restores(&self) -> Vec<(String, u64)> {
        self.stderr_text()
            .lines()
            .filter(|l| l.contains("standby restored; following its changelogs"))
            .filter_map(|l| {
                Some((
                    log_field(l, "task=")?.to_owned(),
                    log_field(l, "restored=")?.parse().ok()?,
                ))
            })
            .collect()
    }

    /// What the instance restored for the active tasks it was given, summed over its "task
    /// restored" lines up to the first time its thread lost its tasks, and whether it did. A
    /// thread whose producer a stalled broker fenced loses its tasks, and under exactly-once
    /// wipes and restores their stores in full: a recovery that says nothing of what came
    /// before it.
    pub(crate) fn task_restores_before_loss(&self) -> (u64, bool) {
        let mut restored = 0;
        for line in self.stderr_text().lines() {
            if line.contains("stream thread lost its tasks") {
                return (restored, true);
            }
            if line.contains("task restored; processing") {
                restored += log_field(line, "restored=")
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0);
            }
        }
        (restored, false)
    }

    /// When the first line of the current run satisfying `pred` arrived.
    pub(crate) fn first_line_at(&self, pred: impl Fn(&str) -> bool) -> Option<Instant> {
        let g = self.lines.lock();
        g.lines.iter().position(|l| pred(l)).map(|i| g.at[i])
    }

    /// The last `STATE` of the current run.
    pub(crate) fn last_state(&self) -> String {
        self.lines()
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("STATE ").map(str::to_owned))
            .unwrap_or_else(|| "(none yet)".into())
    }

    /// The last `METRICS` of the current run.
    pub(crate) fn metrics(&mut self) -> Option<AppMetrics> {
        let m = self.lines().iter().rev().find_map(|l| parse_metrics(l));
        if let Some(m) = &m {
            self.restored_this_run = self.restored_this_run.max(m.restored);
        }
        m
    }

    /// Changelog records restored over every run so far.
    pub(crate) fn restored(&mut self) -> u64 {
        self.metrics();
        self.restored_total + self.restored_this_run
    }

    /// Whether the process is running; `Err` with its exit status once it has exited.
    pub(crate) fn check_alive(&mut self) -> Result<(), String> {
        match self.child.as_mut().map(Child::try_wait) {
            None => Err(format!("{} is not running", self.name)),
            Some(Ok(None)) => Ok(()),
            Some(Ok(Some(status))) => Err(format!(
                "{} exited ({status}); its last stdout lines: {:?}",
                self.name,
                last(&self.lines(), 3)
            )),
            Some(Err(e)) => Err(format!("{}: {e}", self.name)),
        }
    }

    /// Freezes the process with SIGSTOP until the guard is dropped (or thawed).
    pub(crate) fn freeze(&self) -> Frozen {
        let child = self.child.as_ref().expect("the instance is running");
        Frozen::new(child.id().to_string())
    }

    /// SIGKILL, and reap the process.
    pub(crate) fn kill(&mut self) {
        self.metrics();
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the instance again on the same state directory.
    pub(crate) fn restart(&mut self) {
        self.spawn();
    }

    /// Closes the instance cleanly (its stdin closes) and waits for it to exit; kills it
    /// after `timeout`. Returns its exit status, `None` when it had to be killed.
    pub(crate) fn close(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.metrics();
        self.stdin = None;
        let mut child = self.child.take()?;
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Closes the instance and fails the case unless it exits cleanly.
    pub(crate) fn close_cleanly(&mut self, case: &Case) {
        match self.close(Duration::from_secs(60)) {
            Some(s) if s.success() => {}
            Some(s) => case.fail(format!(
                "{} did not close cleanly ({s}); last stdout lines: {:?}",
                self.name,
                last(&self.lines(), 3)
            )),
            None => case.fail(format!("{} did not exit within 60 s of close", self.name)),
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn last(lines: &[String], n: usize) -> Vec<String> {
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// splitmix64: the input's keys and values are a function of the record's index.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The keys of a case and how the `i`-th input record is made: its key, its value (1 to 9),
/// and a timestamp that grows with `i` over three hours of event time, so that every task's
/// stream time only moves forward and no record is late for its window.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    /// The keys.
    pub(crate) keys: Vec<String>,
    base_ts: i64,
    step_ms: i64,
}

/// One input record.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input {
    /// Index into [`Workload::keys`].
    pub(crate) key: usize,
    /// Value.
    pub(crate) value: i64,
    /// Timestamp.
    pub(crate) timestamp: i64,
}

impl Workload {
    /// `keys` keys, timestamps spread so that `planned` records span three hours.
    pub(crate) fn new(keys: usize, planned: usize) -> Workload {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
        Workload {
            keys: (0..keys).map(|i| format!("key-{i:04}")).collect(),
            // Recent (a broker deletes records older than the retention) and in the past.
            base_ts: now - now % HOUR_MS - 4 * HOUR_MS,
            step_ms: (3 * HOUR_MS / i64::try_from(planned.max(1)).unwrap_or(1)).max(1),
        }
    }

    /// Record `i`, its key drawn from `subset` (indices into the keys).
    pub(crate) fn record(&self, i: usize, subset: &[usize]) -> Input {
        let h = mix(i as u64);
        Input {
            key: subset[(h % subset.len() as u64) as usize],
            value: 1 + ((h >> 32) % 9) as i64,
            timestamp: self.base_ts + i as i64 * self.step_ms,
        }
    }

    /// The input (and output) partition of key `k`.
    pub(crate) fn partition(&self, k: usize) -> i32 {
        default_partition(self.keys[k].as_bytes(), PARTITIONS)
    }

    /// All key indices.
    pub(crate) fn all(&self) -> Vec<usize> {
        (0..self.keys.len()).collect()
    }
}

#[derive(Default)]
struct AckState {
    /// Offset of each acknowledged record, by index.
    offsets: HashMap<usize, (i32, i64)>,
    errors: Vec<String>,
}

/// Records acknowledgements with the record's index.
struct AckContext {
    state: Mutex<AckState>,
}

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(m) => {
                s.offsets.insert(index, (m.partition(), m.offset()));
            }
            Err((e, _)) => s.errors.push(format!("record {index}: {e}")),
        }
    }
}

/// Produces a case's input and keeps a ledger of what the broker acknowledged: the expected
/// results are computed from it.
pub(crate) struct Inputs {
    producer: BaseProducer<AckContext>,
    topic: String,
    /// Every record sent, by index.
    pub(crate) sent: Vec<Input>,
    workload: Workload,
}

impl Inputs {
    /// A producer of `workload` records into `topic`.
    pub(crate) fn new(bootstrap: &str, topic: &str, workload: Workload) -> Inputs {
        let mut cfg = client(bootstrap);
        cfg.set("enable.idempotence", "true")
            .set("linger.ms", "5")
            // Rides out a frozen or restarting private broker.
            .set("message.timeout.ms", "600000");
        let producer = cfg
            .create_with_context(AckContext {
                state: Mutex::new(AckState::default()),
            })
            .expect("producer");
        Inputs {
            producer,
            topic: topic.to_owned(),
            sent: Vec::new(),
            workload,
        }
    }

    /// The workload.
    pub(crate) fn workload(&self) -> &Workload {
        &self.workload
    }

    /// Sends the next record, its key drawn from `subset`.
    pub(crate) fn send(&mut self, subset: &[usize]) {
        let index = self.sent.len();
        let r = self.workload.record(index, subset);
        let key = self.workload.keys[r.key].clone();
        let value = r.value.to_string();
        let mut rec = BaseRecord::with_opaque_to(&self.topic, index)
            .key(key.as_bytes())
            .payload(value.as_bytes())
            .partition(self.workload.partition(r.key))
            .timestamp(r.timestamp);
        loop {
            match self.producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    self.producer.poll(Duration::from_millis(20));
                }
            }
        }
        self.sent.push(r);
    }

    /// Serves delivery reports.
    pub(crate) fn poll(&self) {
        self.producer.poll(Duration::ZERO);
        let errors = &self.state().errors;
        assert!(
            errors.is_empty(),
            "input records were not delivered: {errors:?}"
        );
    }

    fn state(&self) -> MutexGuard<'_, AckState> {
        self.producer
            .context()
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether every record sent was acknowledged.
    pub(crate) fn all_acked(&self) -> bool {
        self.poll();
        self.state().offsets.len() == self.sent.len()
    }

    /// Per partition, the offset after the last acknowledged record.
    pub(crate) fn end_offsets(&self) -> Vec<i64> {
        let mut ends = vec![0; PARTITIONS as usize];
        for (p, o) in self.state().offsets.values() {
            let e = &mut ends[*p as usize];
            *e = (*e).max(o + 1);
        }
        ends
    }

    /// The index of the record at each acknowledged input position.
    pub(crate) fn by_position(&self) -> HashMap<(i32, i64), usize> {
        self.state()
            .offsets
            .iter()
            .map(|(i, po)| (*po, *i))
            .collect()
    }

    /// Records per key among records `range`.
    pub(crate) fn counts(&self, range: std::ops::Range<usize>) -> Vec<i64> {
        let mut counts = vec![0; self.workload.keys.len()];
        for r in &self.sent[range] {
            counts[r.key] += 1;
        }
        counts
    }

    /// Sum of values per `"<key>@<window start>"` over every record.
    pub(crate) fn window_sums(&self) -> BTreeMap<String, i64> {
        let mut sums = BTreeMap::new();
        for r in &self.sent {
            let start = r.timestamp - r.timestamp.rem_euclid(HOUR_MS);
            *sums
                .entry(format!("{}@{start}", self.workload.keys[r.key]))
                .or_insert(0) += r.value;
        }
        sums
    }
}

/// An output record: `"<number> <partition>:<offset>[ <padding>]"`.
#[derive(Debug, Clone)]
pub(crate) struct Out {
    /// Partition.
    pub(crate) partition: i32,
    /// Offset.
    pub(crate) offset: i64,
    /// Key.
    pub(crate) key: String,
    /// The count or sum.
    pub(crate) value: i64,
    /// The input position it came from.
    pub(crate) from: Option<(i32, i64)>,
    /// Headers.
    pub(crate) headers: BTreeMap<String, String>,
}

impl Out {
    /// Parses a record of an output topic (or of its dead-letter topic, whose value the
    /// runtime may leave out: the header `fault-input` still names the input).
    pub(crate) fn of(r: Read) -> Out {
        let position = |p: &str| {
            let (a, b) = p.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let text = r.value_str();
        let mut parts = text.split_whitespace();
        let value = parts.next().and_then(|v| v.parse().ok()).unwrap_or(-1);
        let mut from = parts.next().and_then(position);
        if let Some(p) = r.headers.get("fault-input").and_then(|p| position(p)) {
            from = Some(p);
        }
        Out {
            partition: r.partition,
            offset: r.offset,
            key: r.key_str(),
            value,
            from,
            headers: r.headers,
        }
    }
}

/// Reads `topic` to its end with `read_committed`; fails the case when that takes more than
/// 60 s (a transaction stays open).
pub(crate) fn read_outputs(case: &Case, bootstrap: &str, topic: &str) -> Vec<Out> {
    let mut r = Reader::new(bootstrap, topic, true);
    if !r.read_to_end(Duration::from_secs(60)) {
        case.fail(format!(
            "could not read {} to its end with read_committed within 60 s (a transaction \
             stays open?)",
            r.topic()
        ));
    }
    r.records.into_iter().map(Out::of).collect()
}

/// The application's committed input offsets, as its group coordinator has them.
pub(crate) struct GroupOffsets {
    consumer: BaseConsumer,
    topic: String,
}

impl GroupOffsets {
    /// For the group `application_id` on `topic`.
    pub(crate) fn new(bootstrap: &str, application_id: &str, topic: &str) -> GroupOffsets {
        let mut cfg = client(bootstrap);
        // Only fetches the group's offsets: never subscribes, so never joins the group.
        cfg.set("group.id", application_id)
            .set("enable.auto.commit", "false");
        GroupOffsets {
            consumer: cfg.create().expect("offsets client"),
            topic: topic.to_owned(),
        }
    }

    /// Committed offset per partition (0 when none); `None` when the broker does not
    /// answer within a few seconds.
    pub(crate) fn committed(&self) -> Option<Vec<i64>> {
        let mut tpl = TopicPartitionList::new();
        for p in 0..PARTITIONS {
            tpl.add_partition(&self.topic, p);
        }
        let got = self
            .consumer
            .committed_offsets(tpl, Duration::from_secs(3))
            .ok()?;
        Some(
            (0..PARTITIONS)
                .map(|p| {
                    got.find_partition(&self.topic, p)
                        .and_then(|e| e.offset().to_raw())
                        .filter(|o| *o >= 0)
                        .unwrap_or(0)
                })
                .collect(),
        )
    }
}

/// Drives a case: produces input while the application keeps up (at most `backlog` records
/// ahead of what it has visibly processed), follows its progress on the count topic (read
/// uncommitted, so that kills can land in the middle of a transaction) and its committed
/// offsets, and checks that the instances stay alive.
pub(crate) struct Driver<'a> {
    case: &'a Case,
    /// The input.
    pub(crate) inputs: Inputs,
    progress: Reader,
    /// Per input partition, the offset after the last input seen in an output.
    seen: Vec<i64>,
    /// The output topics.
    outputs: [String; 2],
    /// Asks for log end offsets.
    log_end: BaseConsumer,
    /// Asks for last stable offsets.
    stable: BaseConsumer,
    group: GroupOffsets,
    /// How many records to produce in all (so far).
    pub(crate) target: usize,
    /// How far production may run ahead of the visible progress.
    pub(crate) backlog: usize,
    /// Whether input is produced.
    pub(crate) producing: bool,
    /// The keys records are drawn from.
    pub(crate) subset: Vec<usize>,
    last_committed: Vec<i64>,
    last_committed_at: Option<Instant>,
}

impl<'a> Driver<'a> {
    /// A driver producing `target` records of `workload`.
    pub(crate) fn new(
        case: &'a Case,
        spec: &AppSpec,
        workload: Workload,
        target: usize,
        backlog: usize,
    ) -> Driver<'a> {
        let subset = workload.all();
        Driver {
            case,
            inputs: Inputs::new(&spec.bootstrap, &spec.topics.input, workload),
            progress: Reader::new(&spec.bootstrap, &spec.topics.counts, false),
            seen: vec![0; PARTITIONS as usize],
            outputs: [spec.topics.counts.clone(), spec.topics.windows.clone()],
            log_end: log_end_client(&spec.bootstrap),
            stable: stable_client(&spec.bootstrap),
            group: GroupOffsets::new(&spec.bootstrap, &spec.application_id, &spec.topics.input),
            target,
            backlog,
            producing: true,
            subset,
            last_committed: vec![0; PARTITIONS as usize],
            last_committed_at: None,
        }
    }

    /// Inputs the application has visibly processed: per partition, up to the last input
    /// seen in a count output (committed or not; with caching on, outputs are coalesced) or
    /// up to the committed offset.
    pub(crate) fn processed(&self) -> usize {
        self.seen
            .iter()
            .zip(&self.last_committed)
            .map(|(s, c)| usize::try_from(*s.max(c)).unwrap_or(0))
            .sum()
    }

    /// Whether the application has visibly processed `at` inputs and still has at least half
    /// the backlog to work through: a fault now lands while it is busy (outputs in flight,
    /// a transaction open), not between two batches.
    pub(crate) fn busy_past(&self, at: usize) -> bool {
        let processed = self.processed();
        // Past `at` by a quarter of the backlog: it is working through records produced
        // before, so it has fetched them, rather than waiting for ones just produced.
        processed >= at + self.backlog / 4 && self.inputs.sent.len() >= processed + self.backlog / 2
    }

    /// One round: produce, poll the progress.
    fn step(&mut self) {
        self.committed();
        if self.producing {
            let allowed = self.target.min(self.processed() + self.backlog);
            while self.inputs.sent.len() < allowed {
                self.inputs.send(&self.subset);
            }
        }
        self.inputs.poll();
        self.progress.poll(Duration::from_millis(50));
        for r in self.progress.records.drain(..) {
            if let Some((p, o)) = Out::of(r).from
                && let Some(s) = self.seen.get_mut(p as usize)
            {
                *s = (*s).max(o + 1);
            }
        }
    }

    /// Committed offsets, asked at most every 200 ms.
    fn committed(&mut self) -> Vec<i64> {
        if self
            .last_committed_at
            .is_none_or(|t| t.elapsed() > Duration::from_millis(200))
        {
            if let Some(c) = self.group.committed() {
                self.last_committed = c;
            }
            self.last_committed_at = Some(Instant::now());
        }
        self.last_committed.clone()
    }

    /// The application's last known committed offsets.
    pub(crate) fn committed_now(&mut self) -> Vec<i64> {
        self.last_committed_at = None;
        self.committed()
    }

    /// Whether every record produced so far is acknowledged, its input offset committed by
    /// the application, and every output written so far visible to a `read_committed`
    /// consumer: the last stable offset of every output partition is its log end offset (a
    /// transaction of a killed instance stays open until the broker aborts it). Asked of the
    /// broker rather than read by a long-lived consumer, whose fetching may not recover from
    /// a frozen broker.
    pub(crate) fn caught_up(&mut self) -> bool {
        if !self.inputs.all_acked() {
            return false;
        }
        let ends = self.inputs.end_offsets();
        let committed = self.committed();
        if !committed.iter().zip(&ends).all(|(c, e)| c >= e) {
            return false;
        }
        self.outputs.iter().all(|t| {
            let stable = log_ends(&self.stable, t, PARTITIONS);
            let ends = log_ends(&self.log_end, t, PARTITIONS);
            matches!((stable, ends), (Some(s), Some(e)) if s.iter().zip(&e).all(|(s, e)| s >= e))
        })
    }

    /// Whether every planned record is produced, acknowledged and committed.
    pub(crate) fn done(&mut self) -> bool {
        self.inputs.sent.len() >= self.target && self.caught_up()
    }

    /// Runs rounds until `cond` holds; fails the case when an instance of `apps` exits or
    /// `timeout` passes. Returns how long it took.
    pub(crate) fn until(
        &mut self,
        apps: &mut [&mut App],
        timeout: Duration,
        what: &str,
        mut cond: impl FnMut(&mut Driver<'a>) -> bool,
    ) -> Duration {
        let started = Instant::now();
        loop {
            self.step();
            if cond(self) {
                return started.elapsed();
            }
            for app in apps.iter_mut() {
                if let Err(e) = app.check_alive() {
                    self.case.fail(format!("while {what}: {e}"));
                }
            }
            if started.elapsed() > timeout {
                let states: Vec<String> = apps
                    .iter_mut()
                    .map(|a| {
                        let m = a.metrics();
                        format!("{}: {} {m:?}", a.name, a.last_state())
                    })
                    .collect();
                let committed = self.committed_now();
                let visible: Vec<String> = self
                    .outputs
                    .iter()
                    .map(|t| {
                        format!(
                            "{t}: last stable offsets {:?}, log end offsets {:?}",
                            log_ends(&self.stable, t, PARTITIONS),
                            log_ends(&self.log_end, t, PARTITIONS)
                        )
                    })
                    .collect();
                self.case.fail(format!(
                    "timed out after {timeout:?} while {what}: produced {} of {} (all \
                     acknowledged: {}), visibly processed {}, committed input offsets \
                     {committed:?} of {:?}; outputs {visible:?}; instances: {states:?}",
                    self.inputs.sent.len(),
                    self.target,
                    self.inputs.all_acked(),
                    self.processed(),
                    self.inputs.end_offsets()
                ));
            }
        }
    }

    /// Rounds for `hold`, checking that the instances stay alive: the duration of a fault.
    pub(crate) fn hold(&mut self, apps: &mut [&mut App], hold: Duration, what: &str) {
        let started = Instant::now();
        self.until(apps, hold + recovery_timeout(), what, |_| {
            started.elapsed() >= hold
        });
    }
}

/// What the committed outputs say, against what was produced.
#[derive(Debug, Default)]
pub(crate) struct Verdict {
    /// Committed output records read (both topics).
    pub(crate) outputs: usize,
    /// Keys whose final count is below the expected one (or that have none).
    pub(crate) keys_short: usize,
    /// Keys whose final count is above the expected one.
    pub(crate) keys_over: usize,
    /// Count or window updates that did not increase the previous one.
    pub(crate) duplicates: usize,
    /// Count updates that skipped a number (only meaningful without caching).
    pub(crate) gaps: usize,
    /// Windows whose final sum is below the expected one.
    pub(crate) windows_short: usize,
    /// Windows whose final sum is above the expected one.
    pub(crate) windows_over: usize,
    /// The first few problems, for the failure message.
    pub(crate) examples: Vec<String>,
}

impl Verdict {
    fn note(&mut self, s: String) {
        if self.examples.len() < 8 {
            self.examples.push(s);
        }
    }

    /// The summary fields.
    pub(crate) fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("outputs", self.outputs.to_string()),
            ("keys_short", self.keys_short.to_string()),
            ("keys_over", self.keys_over.to_string()),
            ("duplicates", self.duplicates.to_string()),
            ("gaps", self.gaps.to_string()),
            ("windows_short", self.windows_short.to_string()),
            ("windows_over", self.windows_over.to_string()),
        ]
    }
}

/// What the outputs should end with.
pub(crate) struct Expected {
    /// Per key index, the final count.
    pub(crate) counts: Vec<i64>,
    /// Per key index, the count before the first update that is checked for duplicates and
    /// gaps.
    pub(crate) count_start: Vec<i64>,
    /// Per partition of the count topic, the first offset checked for duplicates and gaps.
    pub(crate) count_since: Vec<i64>,
    /// Final sum per `"<key>@<window start>"`.
    pub(crate) sums: BTreeMap<String, i64>,
}

impl Expected {
    /// Counts and sums of every record produced, checked from the start.
    pub(crate) fn of(inputs: &Inputs) -> Expected {
        let keys = inputs.workload().keys.len();
        Expected {
            counts: inputs.counts(0..inputs.sent.len()),
            count_start: vec![0; keys],
            count_since: vec![0; PARTITIONS as usize],
            sums: inputs.window_sums(),
        }
    }
}

/// Reads both output topics to their end with `read_committed` and compares the last value
/// per key (and per window) with `expected`.
pub(crate) fn verify(case: &Case, spec: &AppSpec, keys: &[String], expected: &Expected) -> Verdict {
    let mut counts = read_outputs(case, &spec.bootstrap, &spec.topics.counts);
    let mut windows = read_outputs(case, &spec.bootstrap, &spec.topics.windows);
    let mut v = Verdict {
        outputs: counts.len() + windows.len(),
        ..Verdict::default()
    };
    let index: HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.as_str(), i))
        .collect();
    counts.sort_by_key(|r| (r.partition, r.offset));
    let mut last: Vec<Option<i64>> = vec![None; keys.len()];
    let mut prev: Vec<i64> = expected.count_start.clone();
    for r in &counts {
        let Some(&k) = index.get(r.key.as_str()) else {
            v.note(format!("unknown key '{}' in the count topic", r.key));
            continue;
        };
        last[k] = Some(r.value);
        if r.offset < expected.count_since[r.partition as usize] {
            continue;
        }
        if r.value <= prev[k] {
            v.duplicates += 1;
            v.note(format!(
                "{}: count {} after {} (count topic {}-{}@{})",
                r.key, r.value, prev[k], spec.topics.counts, r.partition, r.offset
            ));
        } else if r.value > prev[k] + 1 {
            v.gaps += 1;
            if !spec.caching() {
                v.note(format!(
                    "{}: count {} after {} (count topic {}-{}@{})",
                    r.key, r.value, prev[k], spec.topics.counts, r.partition, r.offset
                ));
            }
        }
        prev[k] = r.value;
    }
    for (k, key) in keys.iter().enumerate() {
        let want = expected.counts[k];
        let got = last[k].unwrap_or(0);
        if got < want {
            v.keys_short += 1;
            v.note(format!("{key}: final count {got}, expected {want}"));
        } else if got > want {
            v.keys_over += 1;
            v.note(format!("{key}: final count {got}, expected {want}"));
        }
    }
    windows.sort_by_key(|r| (r.partition, r.offset));
    let mut final_sums: HashMap<&str, i64> = HashMap::new();
    for r in &windows {
        let before = final_sums.insert(r.key.as_str(), r.value);
        if let Some(b) = before
            && r.value <= b
        {
            v.duplicates += 1;
            v.note(format!("{}: window sum {} after {b}", r.key, r.value));
        }
    }
    for (w, want) in &expected.sums {
        let got = final_sums.get(w.as_str()).copied().unwrap_or(0);
        if got < *want {
            v.windows_short += 1;
            v.note(format!("{w}: final window sum {got}, expected {want}"));
        } else if got > *want {
            v.windows_over += 1;
            v.note(format!("{w}: final window sum {got}, expected {want}"));
        }
    }
    for w in final_sums.keys() {
        if !expected.sums.contains_key(*w) {
            v.windows_over += 1;
            v.note(format!("{w}: a window no input fell in"));
        }
    }
    v
}

/// Exactly once: every key and window ends exactly where the input says, every update
/// increases the previous one, and (without caching) no count is skipped.
pub(crate) fn assert_exact(case: &Case, spec: &AppSpec, v: &Verdict) {
    let gaps = if spec.caching() { 0 } else { v.gaps };
    if v.keys_short + v.keys_over + v.duplicates + gaps + v.windows_short + v.windows_over > 0 {
        case.fail(format!(
            "the committed outputs are not exact: {} keys short, {} keys over, {} duplicates, \
             {gaps} gaps, {} windows short, {} windows over; for example {:#?}",
            v.keys_short, v.keys_over, v.duplicates, v.windows_short, v.windows_over, v.examples
        ));
    }
}

/// At least once: no key and no window ends below what the input says.
pub(crate) fn assert_no_loss(case: &Case, v: &Verdict) {
    if v.keys_short + v.windows_short > 0 {
        case.fail(format!(
            "outputs were lost: {} keys short, {} windows short; for example {:#?}",
            v.keys_short, v.windows_short, v.examples
        ));
    }
}

/// Milliseconds, for the summary.
pub(crate) fn ms(d: Duration) -> String {
    d.as_millis().to_string()
}

/// Produces `records` records into a changelog topic directly: fillers under keys of their
/// own, and for each key of `base` its count, last. Used to give a store a large changelog
/// without processing that many records first. The values are what the count store logs: a
/// big-endian `i64`.
pub(crate) fn fill_changelog(bootstrap: &str, topic: &str, fillers: usize, base: &[(String, i64)]) {
    let mut cfg = client(bootstrap);
    cfg.set("linger.ms", "50")
        .set("batch.size", "1000000")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "1000000");
    let producer: BaseProducer = cfg.create().expect("producer");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let send = |key: &str, value: i64| {
        let bytes = value.to_be_bytes();
        let mut rec = BaseRecord::to(topic)
            .key(key.as_bytes())
            .payload(&bytes[..])
            .partition(default_partition(key.as_bytes(), PARTITIONS))
            .timestamp(now);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    };
    for i in 0..fillers {
        send(&format!("filler-{i:08}"), 1);
    }
    for (k, v) in base {
        send(k, *v);
    }
    producer
        .flush(Duration::from_secs(300))
        .expect("flushing the changelog records");
}

/// The records of a changelog topic (read uncommitted), as `(partition, offset, key, count)`;
/// the count is the value's last eight bytes, a big-endian `i64`.
pub(crate) fn read_changelog(bootstrap: &str, topic: &str) -> Vec<(i32, i64, String, i64)> {
    let mut cfg = client(bootstrap);
    cfg.set("group.id", unique("fault-changelog-reader"))
        .set("enable.auto.commit", "false");
    let consumer: BaseConsumer = cfg.create().expect("changelog reader");
    let marks = watermarks(bootstrap, topic, PARTITIONS);
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let position = |p: i32| {
            consumer
                .position()
                .ok()
                .and_then(|t| t.find_partition(topic, p).and_then(|e| e.offset().to_raw()))
                .unwrap_or(-1)
        };
        if (0..PARTITIONS).all(|p| {
            let (low, high) = marks[p as usize];
            high == low || position(p) >= high
        }) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "could not read {topic} to its end"
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let value = m.payload().unwrap_or_default();
            let count = value
                .len()
                .checked_sub(8)
                .map_or(-1, |s| i64::from_be_bytes(value[s..].try_into().unwrap()));
            out.push((
                m.partition(),
                m.offset(),
                String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                count,
            ));
        }
    }
}

/// What became of the outputs of every committed input (under a production exception
/// handler).
#[derive(Debug, Default)]
pub(crate) struct Coverage {
    /// Inputs below the committed offsets.
    pub(crate) committed_inputs: usize,
    /// Committed inputs with an output that was neither written nor dead-lettered (and not
    /// a skip the handler was allowed to make).
    pub(crate) missing: usize,
    /// Keys with such an input.
    pub(crate) keys_short: usize,
    /// Output records written (both topics).
    pub(crate) written: usize,
    /// Records in the outputs' dead-letter topics.
    pub(crate) dead_letters: usize,
    /// Dead letters without a `dead-letter-reason` header.
    pub(crate) dead_letters_without_reason: usize,
    /// Count outputs of large keys neither written nor dead-lettered, where allowed.
    pub(crate) skipped: usize,
    /// The first few problems.
    pub(crate) examples: Vec<String>,
}

/// Reads both outputs and their dead-letter topics to the end and checks, for every input
/// below the application's committed offsets, that its count output and its window output
/// were each written or dead-lettered. A count output of a key in `skippable` may also be
/// missing (a record too large under the `continue` handler, which drops it on purpose).
pub(crate) fn coverage(
    case: &Case,
    spec: &AppSpec,
    driver: &mut Driver<'_>,
    skippable: &HashSet<usize>,
) -> Coverage {
    let committed = driver.committed_now();
    let read = |topic: &str| read_outputs(case, &spec.bootstrap, topic);
    let counts = read(&spec.topics.counts);
    let windows = read(&spec.topics.windows);
    let count_dlq = read(&dead_letter(&spec.topics.counts));
    let window_dlq = read(&dead_letter(&spec.topics.windows));
    let positions = |records: &[Out]| -> HashSet<(i32, i64)> {
        records.iter().filter_map(|r| r.from).collect()
    };
    let (count_ok, window_ok) = (positions(&counts), positions(&windows));
    let (count_dl, window_dl) = (positions(&count_dlq), positions(&window_dlq));
    let mut c = Coverage {
        written: counts.len() + windows.len(),
        dead_letters: count_dlq.len() + window_dlq.len(),
        dead_letters_without_reason: count_dlq
            .iter()
            .chain(&window_dlq)
            .filter(|r| !r.headers.contains_key("dead-letter-reason"))
            .count(),
        ..Coverage::default()
    };
    let keys = &driver.inputs.workload().keys;
    let mut short_keys = HashSet::new();
    let mut by_position: Vec<((i32, i64), usize)> =
        driver.inputs.by_position().into_iter().collect();
    by_position.sort_unstable();
    for ((p, o), index) in by_position {
        if o >= committed[p as usize] {
            continue;
        }
        c.committed_inputs += 1;
        let key = driver.inputs.sent[index].key;
        let mut lost = Vec::new();
        if !count_ok.contains(&(p, o)) && !count_dl.contains(&(p, o)) {
            if skippable.contains(&key) {
                c.skipped += 1;
            } else {
                lost.push("count");
            }
        }
        if !window_ok.contains(&(p, o)) && !window_dl.contains(&(p, o)) {
            lost.push("window");
        }
        if !lost.is_empty() {
            c.missing += 1;
            short_keys.insert(key);
            if c.examples.len() < 8 {
                c.examples.push(format!(
                    "input {}-{p}@{o} (key {}) is committed (offset {}) but its {} output was \
                     neither written nor dead-lettered",
                    spec.topics.input,
                    keys[key],
                    committed[p as usize],
                    lost.join(" and ")
                ));
            }
        }
    }
    c.keys_short = short_keys.len();
    c
}

/// The value of the `name` field (`name` ends in `=`) of a log line, as tracing writes
/// fields: space-separated `key=value` words.
fn log_field<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(name))
}

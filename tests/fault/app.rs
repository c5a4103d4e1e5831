//! fault-app: the streams application the fault-injection suite (`tests/fault_injection.rs`)
//! runs as a separate OS process, so that it can be killed with SIGKILL.
//!
//! ```text
//! fault-app BOOTSTRAP APPLICATION_ID INPUT COUNT_TOPIC,WINDOW_TOPIC STATE_DIR GUARANTEE THREADS [KEY=VALUE ...]
//! ```
//!
//! The topology reads string keys and decimal string values from `INPUT` and
//! - counts records per key in the RocksDB store `counts` (logged), writing
//!   `"<count> <input partition>:<input offset>"` to `COUNT_TOPIC`;
//! - sums the values per key in tumbling one-hour windows (grace one day) in the RocksDB
//!   window store `window-sums` (logged), writing `"<sum> <partition>:<offset>"` keyed
//!   `"<key>@<window start>"` to `WINDOW_TOPIC`.
//!
//! The input position in every output (also in its header `fault-input`, which a dead letter
//! keeps) lets the runner tell which input an output came from.
//! `KEY=VALUE` entries are streams configs (`max.poll.interval.ms` goes in as
//! `main.consumer.max.poll.interval.ms`, say), except those of the application itself:
//! - `app.large.keys=K1,K2,...`: the count outputs of these keys carry `app.large.bytes`
//!   (default 65536) more bytes of incompressible padding, to exceed a topic's
//!   `max.message.bytes`;
//! - `app.record.delay.ms=N`: each record takes N ms more to process, so that a fault lands
//!   while outputs are still in flight.
//!
//! Stdout carries the lines the runner synchronises on: `STATE <state>` on every state change,
//! `METRICS ...` whenever the counters change, `CLOSED`. Closing stdin (or a line `close`)
//! closes the instance cleanly. The exit status is 0 only after a clean close; `RUST_LOG`
//! (e.g. `info`) logs the library's events to stderr.

// The example's logger: lines carry the thread name, which tells stream threads apart.
#[path = "../../examples/hourly_revenue/log.rs"]
mod log;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use streams_dsl::prelude::*;

const HOUR: Duration = Duration::from_secs(3_600);
/// Header with the input position of an output: it stays on a dead letter, whose value the
/// runtime may leave out.
const POSITION_HEADER: &str = "fault-input";
const DAY: Duration = Duration::from_secs(86_400);

/// Options of the application itself, taken out of the `KEY=VALUE` entries.
#[derive(Debug, Default, Clone)]
struct AppOptions {
    large_keys: HashSet<String>,
    large_bytes: usize,
    record_delay: Duration,
}

struct Args {
    bootstrap: String,
    application_id: String,
    input: String,
    count_topic: String,
    window_topic: String,
    state_dir: String,
    guarantee: String,
    threads: String,
    extra: Vec<(String, String)>,
    options: AppOptions,
}

fn parse_args() -> Result<Args, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 7 {
        return Err(format!(
            "usage: fault-app BOOTSTRAP APPLICATION_ID INPUT COUNT_TOPIC,WINDOW_TOPIC STATE_DIR \
             GUARANTEE THREADS [KEY=VALUE ...] (got {} arguments)",
            args.len()
        ));
    }
    let (count_topic, window_topic) = args[3]
        .split_once(',')
        .ok_or_else(|| format!("output topics '{}' are not COUNT,WINDOW", args[3]))?;
    let mut options = AppOptions {
        large_bytes: 65_536,
        ..AppOptions::default()
    };
    let mut extra = Vec::new();
    for entry in &args[7..] {
        let (k, v) = entry
            .split_once('=')
            .ok_or_else(|| format!("'{entry}' is not KEY=VALUE"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{k}: '{v}' is not a number"))
        };
        match k {
            "app.large.keys" => {
                options.large_keys = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "app.large.bytes" => {
                options.large_bytes = usize::try_from(number(v)?).map_err(|e| e.to_string())?;
            }
            "app.record.delay.ms" => options.record_delay = Duration::from_millis(number(v)?),
            _ if k.starts_with("app.") => return Err(format!("unknown application option '{k}'")),
            _ => extra.push((k.to_owned(), v.to_owned())),
        }
    }
    Ok(Args {
        bootstrap: args[0].clone(),
        application_id: args[1].clone(),
        input: args[2].clone(),
        count_topic: count_topic.to_owned(),
        window_topic: window_topic.to_owned(),
        state_dir: args[4].clone(),
        guarantee: args[5].clone(),
        threads: args[6].clone(),
        extra,
        options,
    })
}

/// Pseudo-random hex: lz4 cannot shrink it below the topic's limit, as it could a run of one
/// character.
fn padding(len: usize) -> String {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut s = String::with_capacity(len);
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let _ = write!(s, "{x:016x}");
    }
    s.truncate(len);
    s
}

fn input_position<K, V>(ctx: &ProcessorContext<'_, K, V>) -> String {
    ctx.record_metadata().map_or_else(
        || "-".to_owned(),
        |m| format!("{}:{}", m.partition, m.offset),
    )
}

/// Formats a count update with the input position it came from.
struct CountOut {
    options: Arc<AppOptions>,
    padding: Arc<String>,
}

impl Processor<String, Option<i64>, String, String> for CountOut {
    fn process(
        &mut self,
        r: Record<String, Option<i64>>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        let Some(count) = r.value else {
            return Ok(());
        };
        if !self.options.record_delay.is_zero() {
            std::thread::sleep(self.options.record_delay);
        }
        let position = input_position(ctx);
        let mut value = format!("{count} {position}");
        if self.options.large_keys.contains(&r.key) {
            value.push(' ');
            value.push_str(&self.padding);
        }
        let mut r = r.with_value(value);
        r.headers.add(POSITION_HEADER, Some(position.into_bytes()));
        ctx.forward(r)
    }
}

/// Formats a window update as `key@start -> "sum position"`.
struct WindowOut;

impl Processor<Windowed<String>, Option<i64>, String, String> for WindowOut {
    fn process(
        &mut self,
        r: Record<Windowed<String>, Option<i64>>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> Result<()> {
        let Some(sum) = r.value else {
            return Ok(());
        };
        let key = format!("{}@{}", r.key.key, r.key.window.start);
        let position = input_position(ctx);
        let value = format!("{sum} {position}");
        let mut r = r.with_key(key).with_value(value);
        r.headers.add(POSITION_HEADER, Some(position.into_bytes()));
        ctx.forward(r)
    }
}

fn topology(args: &Args) -> Result<Topology> {
    let options = Arc::new(args.options.clone());
    let pad = Arc::new(padding(args.options.large_bytes));
    let builder = StreamsBuilder::new();
    let input = builder.stream(
        &args.input,
        Consumed::with(Serdes::string(), Serdes::string()),
    );
    input
        .group_by_key()
        .count_with(Materialized::as_("counts"))
        .to_stream()
        .process(
            move || CountOut {
                options: Arc::clone(&options),
                padding: Arc::clone(&pad),
            },
            &[],
        )
        .to(
            &args.count_topic,
            Produced::with(Serdes::string(), Serdes::string()),
        );
    input
        .map_values(|v: String| v.trim().parse::<i64>().unwrap_or(0))
        .group_by_key_with(Grouped::with(Serdes::string(), Serdes::i64()))
        .windowed_by(TimeWindows::of_size_and_grace(HOUR, DAY))
        .aggregate_with(
            || 0i64,
            |_key: &String, v: i64, sum: i64| sum + v,
            Materialized::as_("window-sums").with_value_serde(Serdes::i64()),
        )
        .to_stream()
        .process(|| WindowOut, &[])
        .to(
            &args.window_topic,
            Produced::with(Serdes::string(), Serdes::string()),
        );
    builder.build()
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Prints every state change for the runner.
struct PrintStates;

impl StateListener for PrintStates {
    fn on_change(&self, new: State, _old: State) {
        say(&format!("STATE {new}"));
    }
}

fn main() -> ExitCode {
    log::init();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fault-app: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fault-app: {e}");
            say(&format!("FAILED {e}"));
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> std::result::Result<(), String> {
    let topology = topology(args).map_err(|e| format!("building the topology: {e}"))?;
    let mut config = StreamsConfig::new()
        .set("application.id", &args.application_id)
        .set("bootstrap.servers", &args.bootstrap)
        .set("state.dir", &args.state_dir)
        .set("processing.guarantee", &args.guarantee)
        .set("num.stream.threads", &args.threads)
        .set("commit.interval.ms", "200")
        .set("session.timeout.ms", "6000")
        .set("poll.ms", "50");
    for (k, v) in &args.extra {
        config.insert(k.as_str(), v.as_str());
    }
    let mut streams =
        KafkaStreams::new(topology, config).map_err(|e| format!("invalid config: {e}"))?;
    streams.set_state_listener(PrintStates);

    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(l) if l.trim() != "close" => {}
                    _ => break,
                }
            }
            stop.store(true, Ordering::Release);
        });
    }

    streams.start().map_err(|e| format!("start failed: {e}"))?;
    let mut last = String::new();
    let mut since_print = 0u32;
    while !stop.load(Ordering::Acquire) {
        let state = streams.state();
        if matches!(state, State::Error | State::NotRunning) {
            break;
        }
        let m = streams.metrics();
        let line = format!(
            "METRICS state={state} processed={} restored={} commits={} dropped={} dead_lettered={} tasks={}",
            m.records_processed,
            m.records_restored,
            m.commits,
            m.records_dropped,
            m.records_dead_lettered,
            m.tasks.len()
        );
        since_print += 1;
        // Changes at once, and an unchanged line now and then as a sign of life.
        if line != last || since_print >= 20 {
            say(&line);
            last = line;
            since_print = 0;
        }
        streams.wait_for_state(State::Error, Duration::from_millis(100));
    }
    let error = streams.error();
    let closed = streams.close();
    match (error, closed) {
        (None, Ok(())) => {
            say("CLOSED");
            Ok(())
        }
        (Some(e), _) => Err(format!("a stream thread failed: {e}")),
        (None, Err(e)) => Err(format!("close failed: {e}")),
    }
}

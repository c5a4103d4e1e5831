//! streams-sql: the ksqlDB-dialect shell. Runs statements from a file (`-f`), from the
//! command line (`-e`) or interactively, on the embedded Kafka cluster unless
//! `--bootstrap-servers` names a real one. `--load TOPIC=FILE.jsonl` first writes a file of
//! JSON values, one per line, into a topic of the embedded cluster; with
//! `--load-schema FILE.avsc` each line becomes an Avro record of that schema, written in
//! Confluent's wire format through the schema registry, for `VALUE_FORMAT='AVRO'` streams.

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::ClientConfig;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer as _, ThreadedProducer};
use streams_dsl::partitioner::default_partition;
use streams_sql::ast::Statement;
use streams_sql::display::table;
use streams_sql::parser::parse;
use streams_sql::{CATCH_UP_TIMEOUT, Cluster, Engine, Outcome};

/// Streaming SQL (the ksqlDB dialect) on this library's engine.
#[derive(Parser, Debug)]
#[command(name = "streams-sql", version, about)]
struct Args {
    /// Run the statements of this file and exit once they (and their pull queries) are done.
    #[arg(short = 'f', long = "file", value_name = "FILE.sql")]
    file: Option<PathBuf>,
    /// Run these statements and exit.
    #[arg(short = 'e', long = "execute", value_name = "SQL")]
    execute: Option<String>,
    /// Before the statements, write a file of JSON values (one per line) into a topic of the
    /// embedded cluster, creating it when absent. Repeatable.
    #[arg(long, value_name = "TOPIC=FILE.jsonl")]
    load: Vec<String>,
    /// Partitions of the topics `--load` creates.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..=64))]
    partitions: i32,
    /// Key the loaded records by this JSON field (null keys without it).
    #[arg(long, value_name = "FIELD")]
    load_key: Option<String>,
    /// Write the loaded values as Avro records of this schema (JSON fields by name, numbers
    /// and unions resolved as the schema says) through the schema registry, instead of as
    /// JSON text.
    #[arg(long, value_name = "FILE.avsc")]
    load_schema: Option<PathBuf>,
    /// Use this Kafka cluster instead of the embedded one.
    #[arg(long, value_name = "HOST:PORT")]
    bootstrap_servers: Option<String>,
    /// The schema registry of `VALUE_FORMAT='AVRO'` (Confluent's REST API); the in-process
    /// one when left out.
    #[arg(long, value_name = "URL")]
    schema_registry: Option<String>,
}

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("streams-sql: {e}");
            let mut source = e.source();
            while let Some(s) = source {
                eprintln!("  caused by: {s}");
                source = s.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> BoxResult<bool> {
    if let Some(url) = &args.schema_registry {
        streams_sql::set_schema_registry(url);
    }
    let cluster = match &args.bootstrap_servers {
        Some(b) => {
            if !args.load.is_empty() {
                return Err(
                    "--load writes to the embedded cluster; leave out --bootstrap-servers".into(),
                );
            }
            Cluster::Remote(b.clone())
        }
        None => Cluster::embedded()?,
    };
    let avro = match &args.load_schema {
        Some(path) => Some(AvroLoad::new(path)?),
        None => None,
    };
    for spec in &args.load {
        let Some((topic, file)) = spec.split_once('=') else {
            return Err(format!("--load '{spec}': expected TOPIC=FILE.jsonl").into());
        };
        let n = load(
            &cluster,
            (topic, file),
            args.partitions,
            args.load_key.as_deref(),
            avro.as_ref(),
        )?;
        println!("Loaded {n} records from {file} into {topic}");
    }
    let mut engine = Engine::new(cluster);
    if let Some(sql) = &args.execute {
        return Ok(run_text(&mut engine, sql));
    }
    if let Some(file) = &args.file {
        let sql = std::fs::read_to_string(file)
            .map_err(|e| format!("reading {}: {e}", file.display()))?;
        return Ok(run_text(&mut engine, &sql));
    }
    interactive(&mut engine)?;
    Ok(true)
}

/// How `--load-schema` writes values: the schema, and its serde through the registry.
struct AvroLoad {
    schema: apache_avro::Schema,
    serde: streams_dsl::prelude::SerdeRef<apache_avro::types::Value>,
}

impl AvroLoad {
    fn new(path: &std::path::Path) -> BoxResult<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        let schema = apache_avro::Schema::parse_str(&text)
            .map_err(|e| format!("{}: not an Avro schema: {e}", path.display()))?;
        let config = streams_avro::RegistryConfig::new()
            .set("schema.registry.url", streams_sql::schema_registry());
        let serde = streams_avro::GenericAvroSerde::value(&config, &text)?;
        Ok(AvroLoad { schema, serde })
    }

    /// Line `n` of a file, a JSON object, as Avro bytes of the schema.
    fn encode(&self, topic: &str, n: usize, line: &str) -> BoxResult<Vec<u8>> {
        let json: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("line {n}: not JSON: {e}"))?;
        let value = avro_of(json)
            .resolve(&self.schema)
            .map_err(|e| format!("line {n}: does not fit the schema: {e}"))?;
        let mut out = Vec::new();
        self.serde.serialize(topic, &value, &mut out)?;
        Ok(out)
    }
}

/// A JSON value as the Avro value closest to it, for the schema to resolve (objects become
/// maps, which resolve into records by field name; integers become longs, which resolve
/// into ints, doubles and timestamps).
fn avro_of(json: serde_json::Value) -> apache_avro::types::Value {
    use apache_avro::types::Value as Avro;
    match json {
        serde_json::Value::Null => Avro::Null,
        serde_json::Value::Bool(b) => Avro::Boolean(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Avro::Long(i),
            None => Avro::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Avro::String(s),
        serde_json::Value::Array(items) => Avro::Array(items.into_iter().map(avro_of).collect()),
        serde_json::Value::Object(fields) => {
            Avro::Map(fields.into_iter().map(|(k, v)| (k, avro_of(v))).collect())
        }
    }
}

/// Writes every non-blank line of `file` to `topic`, in order, as JSON text or, with
/// `avro`, as Avro records; returns how many.
fn load(
    cluster: &Cluster,
    (topic, file): (&str, &str),
    partitions: i32,
    key_field: Option<&str>,
    avro: Option<&AvroLoad>,
) -> BoxResult<usize> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("reading {file}: {e}"))?;
    cluster.create_topic(topic, partitions)?;
    let n = cluster.partitions(topic)?.unwrap_or(partitions);
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;
    let mut count = 0;
    let mut skipped: Vec<String> = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let key: Option<String> = key_field.and_then(|f| {
            serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v.get(f).and_then(|k| k.as_str().map(str::to_owned)))
        });
        let partition = match &key {
            Some(k) => default_partition(k.as_bytes(), n),
            None => (i as i32) % n,
        };
        // A line that is not a record of the schema cannot be written as one; it is left
        // out and reported, as the JSON load leaves bad lines to the streams' handlers.
        let encoded = match avro.map(|a| a.encode(topic, i + 1, line)) {
            Some(Ok(bytes)) => Some(bytes),
            Some(Err(e)) => {
                skipped.push(e.to_string());
                continue;
            }
            None => None,
        };
        let payload: &[u8] = encoded.as_deref().unwrap_or(line.as_bytes());
        let mut record: BaseRecord<'_, str, [u8]> =
            BaseRecord::to(topic).partition(partition).payload(payload);
        if let Some(k) = &key {
            record = record.key(k.as_str());
        }
        let mut record = record;
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    r,
                )) => {
                    record = r;
                    producer.flush(Duration::from_millis(100))?;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        count += 1;
    }
    producer.flush(Duration::from_secs(30))?;
    if let Some(first) = skipped.first() {
        eprintln!(
            "Skipped {} lines of {file} that are not records of the schema (first: {first})",
            skipped.len()
        );
    }
    Ok(count)
}

/// Prints an error with its causes.
fn report(e: &dyn std::error::Error) {
    eprintln!("{e}");
    let mut source = e.source();
    while let Some(s) = source {
        eprintln!("  caused by: {s}");
        source = s.source();
    }
}

fn message(m: &str) -> String {
    let w = m.chars().count() + 2;
    format!(" Message\n{}\n {m}\n{}\n", "-".repeat(w), "-".repeat(w))
}

/// Prints what a statement did.
fn print(outcome: &Outcome) {
    match outcome {
        Outcome::Message(m) => print!("{}", message(m)),
        Outcome::Text(t) => print!("{t}"),
        Outcome::Rows { columns, rows } => {
            print!("{}", table(columns, rows));
            println!("Query terminated");
        }
        _ => {}
    }
}

/// Runs every statement of `sql`, printing each and its result; stops at the first error.
fn run_text(engine: &mut Engine, sql: &str) -> bool {
    let statements = match parse(sql) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return false;
        }
    };
    for p in &statements {
        println!("streams-sql> {};", p.text);
        let result = match &p.statement {
            Statement::Select(q) if q.emit.is_some() => stream_push(engine, sql, &p.text),
            _ => engine.run(sql, p).map(|o| print(&o)),
        };
        if let Err(e) = result {
            report(&e);
            return false;
        }
        println!();
    }
    true
}

/// Runs a transient push query, printing rows as they arrive, until its LIMIT or, without
/// one, until no row has come for a while after the input ran out.
fn stream_push(engine: &mut Engine, _all: &str, statement: &str) -> streams_sql::Result<()> {
    let mut push = engine.push(statement)?;
    let empty: Vec<Vec<streams_sql::value::Value>> = Vec::new();
    let header = table(&push.columns, &empty);
    print!("{header}");
    let started = Instant::now();
    let mut last = Instant::now();
    let quiet = Duration::from_secs(3);
    while !push.is_done() && started.elapsed() < CATCH_UP_TIMEOUT {
        match push.next_row(Duration::from_millis(200))? {
            Some(row) => {
                let t = table(&push.columns, &[row]);
                // The row line of a one-row table.
                if let Some(line) = t.lines().nth(3) {
                    println!("{line}");
                }
                last = Instant::now();
            }
            None if last.elapsed() > quiet && !push.is_done() => break,
            None => {}
        }
        let _ = std::io::stdout().flush();
    }
    println!(
        "{}",
        if push.is_done() {
            "Limit Reached"
        } else {
            "Query terminated"
        }
    );
    push.close()
}

fn interactive(engine: &mut Engine) -> BoxResult<()> {
    println!("streams-sql: statements end with ';'. Ctrl-D quits.");
    let stdin = std::io::stdin();
    let mut buffer = String::new();
    print!("streams-sql> ");
    std::io::stdout().flush()?;
    for line in stdin.lock().lines() {
        let line = line?;
        buffer.push_str(&line);
        buffer.push('\n');
        if line.trim_end().ends_with(';') {
            let sql = std::mem::take(&mut buffer);
            match parse(&sql) {
                Err(e) => eprintln!("{e}"),
                Ok(statements) => {
                    for p in &statements {
                        let result = match &p.statement {
                            Statement::Select(q) if q.emit.is_some() => {
                                stream_push(engine, &sql, &p.text)
                            }
                            _ => engine.run(&sql, p).map(|o| print(&o)),
                        };
                        if let Err(e) = result {
                            report(&e);
                            break;
                        }
                    }
                }
            }
            print!("streams-sql> ");
        } else {
            print!("          > ");
        }
        std::io::stdout().flush()?;
    }
    println!();
    Ok(())
}

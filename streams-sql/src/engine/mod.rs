//! The engine: runs statements against a cluster, keeping the catalog of streams and tables
//! and the persistent queries that maintain them.

pub mod display;

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use streams_dsl::prelude::*;

use crate::ast::{Name, Property, Query, SelectItem, ShowKind, SourceKind, Statement, WindowKind};
use crate::catalog::Catalog;
use crate::cluster::Cluster;
use crate::compiler::{self, Compiled, OutputRow, Sink, partitions_prop};
use crate::error::{Error, Result};
use crate::expr::{CExpr, Compiler, Ctx, Slot};
use crate::format::RowSerde;
use crate::parser::{Parsed, parse};
use crate::types::SqlType;
use crate::value::{Row, RowValue, Value};

/// A stored aggregate: key, window and accumulators.
type Stored = (Row, Option<(i64, i64)>, Row);

/// How long a pull query waits for the queries it reads from to catch up with their input.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// What a statement did.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// A message, as ksqlDB's CLI prints for DDL (`Stream created`, `Created query with ID ...`).
    Message(String),
    /// Rows with their column names.
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// The rows.
        rows: Vec<Vec<Value>>,
    },
    /// Preformatted text (`EXPLAIN`, `DESCRIBE`, `SHOW`).
    Text(String),
}

/// A persistent query: a running application.
pub struct RunningQuery {
    /// Its id (`CTAS_HOURLY_REVENUE_1`).
    pub id: String,
    /// Its statement.
    pub statement: String,
    /// The stream or table it writes.
    pub sink: String,
    /// The topic it writes.
    pub sink_topic: String,
    /// The topics it reads.
    pub inputs: Vec<String>,
    /// Its topology's description.
    pub description: String,
    application_id: String,
    streams: KafkaStreams,
    _state_dir: tempfile::TempDir,
}

/// What a persistent query is, before it runs.
struct QuerySpec {
    id: String,
    statement: String,
    sink: String,
    sink_topic: String,
    inputs: Vec<String>,
}

impl std::fmt::Debug for RunningQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningQuery")
            .field("id", &self.id)
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

impl RunningQuery {
    /// The running application's handle, for interactive queries.
    pub fn handle(&self) -> StreamsHandle {
        self.streams.handle()
    }

    /// Its state (`RUNNING`, `ERROR`, ...).
    pub fn state(&self) -> State {
        self.streams.state()
    }
}

/// A transient push query's rows, as they come.
pub struct PushQuery {
    /// Column names.
    pub columns: Vec<String>,
    rows: Receiver<OutputRow>,
    limit: Option<u64>,
    received: u64,
    application_id: String,
    streams: KafkaStreams,
    _state_dir: tempfile::TempDir,
}

impl std::fmt::Debug for PushQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushQuery")
            .field("columns", &self.columns)
            .field("received", &self.received)
            .field("state", &self.streams.state())
            .field("error", &self.streams.error())
            .finish_non_exhaustive()
    }
}

impl PushQuery {
    /// The next row, waiting up to `timeout`; `Ok(None)` when the `LIMIT` is reached or the
    /// time is up.
    ///
    /// # Errors
    ///
    /// [`Error::Execution`] when the query failed.
    pub fn next_row(&mut self, timeout: Duration) -> Result<Option<Vec<Value>>> {
        if self.limit.is_some_and(|l| self.received >= l) {
            return Ok(None);
        }
        match self.rows.recv_timeout(timeout) {
            Ok(r) => {
                self.received += 1;
                Ok(Some(r))
            }
            Err(RecvTimeoutError::Timeout) => match self.streams.error() {
                Some(e) => Err(Error::Execution(format!("the push query failed: {e}"))),
                None => Ok(None),
            },
            Err(RecvTimeoutError::Disconnected) => Ok(None),
        }
    }

    /// Whether its `LIMIT` has been reached.
    pub fn is_done(&self) -> bool {
        self.limit.is_some_and(|l| self.received >= l)
    }

    /// Stops the query.
    ///
    /// # Errors
    ///
    /// [`Error::Streams`] when it does not stop cleanly.
    pub fn close(mut self) -> Result<()> {
        self.streams
            .close()
            .map_err(|e| Error::streams("stopping the push query", e))
    }
}

/// Runs statements: the library's front door.
///
/// # Examples
///
/// ```no_run
/// use streams_sql::{Cluster, Engine};
///
/// let mut engine = Engine::new(Cluster::embedded()?);
/// engine.execute("CREATE STREAM s (id VARCHAR KEY, n INT) WITH (KAFKA_TOPIC='s', PARTITIONS=1, VALUE_FORMAT='JSON');")?;
/// engine.execute("CREATE TABLE t AS SELECT id, COUNT(*) AS c FROM s GROUP BY id EMIT CHANGES;")?;
/// # Ok::<(), streams_sql::Error>(())
/// ```
pub struct Engine {
    cluster: Cluster,
    catalog: Catalog,
    queries: BTreeMap<String, RunningQuery>,
    properties: BTreeMap<String, String>,
    next_query: u64,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("cluster", &self.cluster)
            .field("queries", &self.queries.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

fn source_unknown(text: &str, catalog: &Catalog, name: &Name) -> Error {
    Error::compile(
        text,
        name.location,
        format!(
            "unknown stream or table '{}'; known: {}",
            name.value,
            if catalog.sources.is_empty() {
                "none".to_owned()
            } else {
                crate::suggest::candidates(&name.value, catalog.sources.keys().map(String::as_str))
            }
        ),
    )
}

impl Engine {
    /// An engine on `cluster`, with an empty catalog. Queries read their input from the
    /// beginning, as Kafka Streams' do, unless `SET 'auto.offset.reset'='latest'`.
    pub fn new(cluster: Cluster) -> Self {
        // Kafka Streams' main consumer already starts from the earliest offset.
        let properties = BTreeMap::new();
        Engine {
            cluster,
            catalog: Catalog::default(),
            queries: BTreeMap::new(),
            properties,
            next_query: 1,
        }
    }

    /// The cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The persistent queries, by id.
    pub fn queries(&self) -> &BTreeMap<String, RunningQuery> {
        &self.queries
    }

    /// Runs every statement of `sql` in order; transient push queries run until their
    /// `LIMIT` (use [`push`](Self::push) to stream them).
    ///
    /// # Errors
    ///
    /// The first statement's error; the statements before it have run.
    pub fn execute(&mut self, sql: &str) -> Result<Vec<Outcome>> {
        let mut out = Vec::new();
        for p in parse(sql)? {
            out.push(self.run(sql, &p)?);
        }
        Ok(out)
    }

    /// Runs one parsed statement of `text`.
    ///
    /// # Errors
    ///
    /// As [`execute`](Self::execute).
    pub fn run(&mut self, text: &str, p: &Parsed) -> Result<Outcome> {
        match &p.statement {
            Statement::CreateSource {
                kind,
                source,
                name,
                if_not_exists,
                columns,
                properties,
            } => {
                let existed = self.catalog.sources.contains_key(&name.value);
                let out =
                    self.create_source(text, p, *kind, name, *if_not_exists, columns, properties)?;
                if *source && *kind == SourceKind::Table && !existed {
                    self.materialize_source_table(&name.value, &p.text)?;
                }
                Ok(out)
            }
            Statement::CreateAs {
                kind,
                name,
                if_not_exists,
                properties,
                query,
            } => {
                if self.catalog.sources.contains_key(&name.value) {
                    if *if_not_exists {
                        return Ok(Outcome::Message(format!(
                            "{} {} already exists",
                            kind.keyword(),
                            name.value
                        )));
                    }
                    return Err(Error::compile(
                        text,
                        name.location,
                        format!("{} already exists", name.value),
                    ));
                }
                let sink = Sink::Create {
                    name: name.value.clone(),
                    kind: *kind,
                    properties: properties.clone(),
                    statement: p.text.clone(),
                };
                let prefix = match kind {
                    SourceKind::Stream => "CSAS",
                    SourceKind::Table => "CTAS",
                };
                let id = format!("{prefix}_{}_{}", name.value, self.next_query);
                self.start_persistent(text, p, query, sink, id)
            }
            Statement::InsertInto { target, query } => {
                let Some(t) = self.catalog.sources.get(&target.value).cloned() else {
                    return Err(source_unknown(text, &self.catalog, target));
                };
                if t.kind != SourceKind::Stream {
                    return Err(Error::compile(
                        text,
                        target.location,
                        "INSERT INTO writes to streams only",
                    ));
                }
                let id = format!("INSERTQUERY_{}", self.next_query);
                self.start_persistent(text, p, query, Sink::Insert(Box::new(t)), id)
            }
            Statement::Select(q) if q.emit.is_none() => self.pull(text, q),
            Statement::Select(q) => {
                let mut push = self.push_parsed(text, q)?;
                let limit = q.limit.unwrap_or(u64::MAX);
                let mut rows = Vec::new();
                let deadline = Instant::now() + CATCH_UP_TIMEOUT;
                while (rows.len() as u64) < limit && Instant::now() < deadline {
                    match push.next_row(Duration::from_millis(200))? {
                        Some(r) => rows.push(r),
                        None if push.is_done() => break,
                        // Without a LIMIT, `execute` returns what has arrived once the query
                        // has caught up with its input.
                        None if q.limit.is_none()
                            && self.caught_up(
                                &push.streams,
                                &push.application_id,
                                &push_inputs(&self.catalog, q),
                            )? =>
                        {
                            while let Some(r) = push.next_row(Duration::from_millis(500))? {
                                rows.push(r);
                            }
                            break;
                        }
                        None => {}
                    }
                }
                if q.limit.is_some_and(|l| (rows.len() as u64) < l) {
                    let state = push.streams.state();
                    push.close()?;
                    return Err(Error::Execution(format!(
                        "the push query gave {} of its {} rows within {} s (state {state})",
                        rows.len(),
                        q.limit.unwrap_or_default(),
                        CATCH_UP_TIMEOUT.as_secs()
                    )));
                }
                let columns = push.columns.clone();
                push.close()?;
                Ok(Outcome::Rows { columns, rows })
            }
            Statement::Explain(inner) => self.explain(text, inner),
            Statement::ExplainQuery(id) => match self.queries.get(&id.value) {
                Some(q) => Ok(Outcome::Text(format!(
                    "ID                   : {}\nQuery Type           : PERSISTENT\nSQL                  : {}\nSink                 : {}\nSink Kafka Topic     : {}\nState                : {}\n\nExecution plan\n--------------\n{}",
                    q.id,
                    q.statement,
                    q.sink,
                    q.sink_topic,
                    q.state(),
                    q.description
                ))),
                None => Err(Error::compile(
                    text,
                    id.location,
                    format!(
                        "unknown query '{}'; running: {}",
                        id.value,
                        self.queries.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )),
            },
            Statement::Describe(name) => match self.catalog.sources.get(&name.value) {
                Some(s) => Ok(Outcome::Text(display::describe(s, &self.queries))),
                None => Err(source_unknown(text, &self.catalog, name)),
            },
            Statement::Show(kind) => Ok(Outcome::Text(match kind {
                ShowKind::Streams => display::show_sources(&self.catalog, SourceKind::Stream),
                ShowKind::Tables => display::show_sources(&self.catalog, SourceKind::Table),
                ShowKind::Queries => display::show_queries(&self.queries),
            })),
            Statement::Drop {
                kind,
                name,
                if_exists,
            } => {
                let Some(s) = self.catalog.sources.get(&name.value).cloned() else {
                    if *if_exists {
                        return Ok(Outcome::Message(format!(
                            "{} {} does not exist",
                            kind.keyword(),
                            name.value
                        )));
                    }
                    return Err(source_unknown(text, &self.catalog, name));
                };
                if s.kind != *kind {
                    return Err(Error::compile(
                        text,
                        name.location,
                        format!(
                            "{} is a {}: use DROP {}",
                            name.value,
                            s.kind.keyword(),
                            s.kind.keyword()
                        ),
                    ));
                }
                // A source table's own materializing query goes with it, as in ksqlDB.
                let own = s
                    .materialized
                    .as_ref()
                    .filter(|m| m.source_rows)
                    .map(|m| m.query_id.as_str());
                let users: Vec<&str> = self
                    .queries
                    .values()
                    .filter(|q| q.sink == name.value || q.inputs.contains(&s.topic))
                    .map(|q| q.id.as_str())
                    .filter(|id| Some(*id) != own)
                    .collect();
                if !users.is_empty() {
                    return Err(Error::compile(
                        text,
                        name.location,
                        format!(
                            "cannot drop {}: queries {} use it; TERMINATE them first",
                            name.value,
                            users.join(", ")
                        ),
                    ));
                }
                if let Some(id) = own
                    && let Some(mut q) = self.queries.remove(id)
                {
                    q.streams
                        .close()
                        .map_err(|e| Error::streams(format!("terminating {id}"), e))?;
                }
                self.catalog.sources.remove(&name.value);
                Ok(Outcome::Message(format!(
                    "Source `{}` (topic: {}) was dropped.",
                    name.value, s.topic
                )))
            }
            Statement::Terminate(which) => {
                let ids: Vec<String> = match which {
                    None => self.queries.keys().cloned().collect(),
                    Some(id) if self.queries.contains_key(&id.value) => vec![id.value.clone()],
                    Some(id) => {
                        return Err(Error::compile(
                            text,
                            id.location,
                            format!(
                                "unknown query '{}'; running: {}",
                                id.value,
                                self.queries.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        ));
                    }
                };
                for id in &ids {
                    if let Some(mut q) = self.queries.remove(id) {
                        q.streams
                            .close()
                            .map_err(|e| Error::streams(format!("terminating {id}"), e))?;
                        if let Some(s) = self.catalog.sources.get_mut(&q.sink)
                            && s.materialized.as_ref().is_some_and(|m| m.query_id == q.id)
                        {
                            s.materialized = None;
                        }
                    }
                }
                Ok(Outcome::Message(format!(
                    "Query terminated: {}",
                    ids.join(", ")
                )))
            }
            Statement::Set(k, v) => {
                self.properties.insert(k.clone(), v.clone());
                Ok(Outcome::Message(format!(
                    "Successfully changed local property '{k}' to '{v}'."
                )))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn create_source(
        &mut self,
        text: &str,
        p: &Parsed,
        kind: SourceKind,
        name: &Name,
        if_not_exists: bool,
        columns: &[crate::ast::ColumnDef],
        properties: &[Property],
    ) -> Result<Outcome> {
        if self.catalog.sources.contains_key(&name.value) {
            if if_not_exists {
                return Ok(Outcome::Message(format!(
                    "{} {} already exists",
                    kind.keyword(),
                    name.value
                )));
            }
            return Err(Error::compile(
                text,
                name.location,
                format!("{} already exists", name.value),
            ));
        }
        let mut source = crate::ddl::define(text, &p.text, kind, name, columns, properties)?;
        let topic = properties
            .iter()
            .find(|p| p.name.value == "KAFKA_TOPIC")
            .ok_or_else(|| {
                Error::compile(text, name.location, "missing KAFKA_TOPIC in WITH (...)")
            })?;
        let wanted = partitions_prop(text, properties)?;
        let partitions = match self.cluster.partitions(&topic.value)? {
            Some(n) => Some(n),
            None => match wanted {
                Some(n) => {
                    self.cluster.create_topic(&topic.value, n)?;
                    Some(n)
                }
                None => {
                    return Err(Error::compile(
                        text,
                        topic.location,
                        format!(
                            "topic '{}' does not exist: give PARTITIONS in WITH (...) to create it",
                            topic.value
                        ),
                    ));
                }
            },
        };
        source.partitions = partitions;
        self.catalog.sources.insert(name.value.clone(), source);
        Ok(Outcome::Message(match kind {
            SourceKind::Stream => "Stream created".to_owned(),
            SourceKind::Table => "Table created".to_owned(),
        }))
    }

    fn config(&self, application_id: &str, state_dir: &std::path::Path) -> StreamsConfig {
        let mut config = StreamsConfig::new()
            .set("application.id", application_id)
            .set("bootstrap.servers", self.cluster.bootstrap_servers())
            .set("commit.interval.ms", "200")
            .set("session.timeout.ms", "6000")
            .set("state.dir", state_dir.display().to_string())
            // ksqlDB logs records it cannot read and goes on.
            .set("default.deserialization.exception.handler", "continue");
        for (k, v) in &self.properties {
            // ksqlDB's client property is the main consumer's.
            let k = if k == "auto.offset.reset" {
                "main.consumer.auto.offset.reset"
            } else {
                k
            };
            config = config.set(k, v);
        }
        config
    }

    /// Starts `topology` as the persistent query `spec` describes, and keeps it running.
    fn launch(&mut self, topology: Topology, spec: QuerySpec) -> Result<()> {
        let description = topology.describe().to_string();
        let application_id = format!("streams-sql-query-{}", spec.id);
        let state_dir = tempfile::tempdir().map_err(|e| Error::Io {
            context: "creating a state directory".to_owned(),
            source: e,
        })?;
        let config = self.config(&application_id, state_dir.path());
        let mut streams = KafkaStreams::new(topology, config)
            .map_err(|e| Error::streams(format!("creating query {}", spec.id), e))?;
        self.cluster.start(&mut streams)?;
        self.next_query += 1;
        self.queries.insert(
            spec.id.clone(),
            RunningQuery {
                id: spec.id,
                statement: spec.statement,
                sink: spec.sink,
                sink_topic: spec.sink_topic,
                inputs: spec.inputs,
                description,
                application_id,
                streams,
                _state_dir: state_dir,
            },
        );
        Ok(())
    }

    /// Keeps source table `name` in a state store for pull queries, with a query of its own
    /// (`CST_<name>_<n>`, as ksqlDB names it).
    fn materialize_source_table(&mut self, name: &str, statement: &str) -> Result<()> {
        let Some(src) = self.catalog.sources.get(name) else {
            return Ok(());
        };
        let (topology, mut materialization) = compiler::materialize_source_table(src)?;
        let id = format!("CST_{name}_{}", self.next_query);
        let spec = QuerySpec {
            id: id.clone(),
            statement: statement.to_owned(),
            sink: name.to_owned(),
            sink_topic: src.topic.clone(),
            inputs: vec![src.topic.clone()],
        };
        self.launch(topology, spec)?;
        materialization.query_id = id;
        if let Some(src) = self.catalog.sources.get_mut(name) {
            src.materialized = Some(materialization);
        }
        Ok(())
    }

    fn start_persistent(
        &mut self,
        text: &str,
        p: &Parsed,
        query: &Query,
        sink: Sink,
        id: String,
    ) -> Result<Outcome> {
        if query.emit.is_none()
            && matches!(sink, Sink::Create { .. } | Sink::Insert(_))
            && query.limit.is_some()
        {
            return Err(Error::compile(
                text,
                query.location,
                "LIMIT is for transient queries",
            ));
        }
        let Compiled {
            topology,
            inputs,
            output,
            ..
        } = compiler::compile(&self.catalog, text, query, sink)?;
        let Some(mut output) = output else {
            return Err(Error::Execution("the query has no sink".to_owned()));
        };
        let partitions = output.partitions.unwrap_or(1);
        self.cluster.create_topic(&output.topic, partitions)?;
        output.partitions = Some(partitions);
        let sink_name = output.name.clone();
        let sink_topic = output.topic.clone();
        if let Some(m) = &mut output.materialized {
            m.query_id = id.clone();
        }
        let spec = QuerySpec {
            id: id.clone(),
            statement: p.text.clone(),
            sink: sink_name.clone(),
            sink_topic,
            inputs,
        };
        self.launch(topology, spec)?;
        self.catalog.sources.entry(sink_name).or_insert(output);
        Ok(Outcome::Message(format!("Created query with ID {id}")))
    }

    /// Starts a transient push query (`SELECT ... EMIT CHANGES`) and returns its rows as
    /// they come.
    ///
    /// # Errors
    ///
    /// Parse and compile errors; [`Error::Streams`] when it cannot start.
    pub fn push(&mut self, sql: &str) -> Result<PushQuery> {
        let parsed = parse(sql)?;
        let [p] = parsed.as_slice() else {
            return Err(Error::Execution("push: one SELECT statement".to_owned()));
        };
        match &p.statement {
            Statement::Select(q) if q.emit.is_some() => self.push_parsed(sql, q),
            _ => Err(Error::Execution(
                "push: a SELECT ... EMIT CHANGES statement".to_owned(),
            )),
        }
    }

    fn push_parsed(&mut self, text: &str, q: &Query) -> Result<PushQuery> {
        let (tx, rx) = channel();
        let compiled = compiler::compile(&self.catalog, text, q, Sink::Channel(tx))?;
        let application_id = format!(
            "streams-sql-transient-{}-{}",
            q.from.name.value, self.next_query
        );
        self.next_query += 1;
        let state_dir = tempfile::tempdir().map_err(|e| Error::Io {
            context: "creating a state directory".to_owned(),
            source: e,
        })?;
        let config = self.config(&application_id, state_dir.path());
        let mut streams = KafkaStreams::new(compiled.topology, config)
            .map_err(|e| Error::streams("creating the push query", e))?;
        self.cluster.start(&mut streams)?;
        Ok(PushQuery {
            columns: compiled.columns.into_iter().map(|(n, _)| n).collect(),
            rows: rx,
            limit: q.limit,
            received: 0,
            application_id,
            streams,
            _state_dir: state_dir,
        })
    }

    fn explain(&mut self, text: &str, inner: &Statement) -> Result<Outcome> {
        let (query, sink) = match inner {
            Statement::CreateAs {
                kind,
                name,
                properties,
                query,
                ..
            } => (
                query,
                Sink::Create {
                    name: name.value.clone(),
                    kind: *kind,
                    properties: properties.clone(),
                    statement: String::new(),
                },
            ),
            Statement::InsertInto { target, query } => {
                let Some(t) = self.catalog.sources.get(&target.value).cloned() else {
                    return Err(source_unknown(text, &self.catalog, target));
                };
                (query, Sink::Insert(Box::new(t)))
            }
            Statement::Select(q) if q.emit.is_some() => (q, Sink::Channel(channel().0)),
            _ => {
                return Err(Error::Execution(
                    "EXPLAIN takes a query id, CREATE ... AS SELECT, INSERT INTO or a push query"
                        .to_owned(),
                ));
            }
        };
        let c = compiler::compile(&self.catalog, text, query, sink)?;
        Ok(Outcome::Text(c.topology.describe().to_string()))
    }

    /// Whether `streams` has processed every record of `inputs` and of its repartition
    /// topics, as its committed offsets show.
    fn caught_up(&self, streams: &KafkaStreams, app: &str, inputs: &[String]) -> Result<bool> {
        if let Some(e) = streams.error() {
            return Err(Error::Execution(format!("the query failed: {e}")));
        }
        if streams.state() != State::Running {
            return Ok(false);
        }
        committed_at_end(&self.cluster, app, inputs)
    }

    /// Waits until the query `id` has processed all its input so far.
    ///
    /// # Errors
    ///
    /// [`Error::Execution`] when it fails or does not catch up within `timeout`.
    pub fn wait_caught_up(&self, id: &str, timeout: Duration) -> Result<()> {
        let Some(q) = self.queries.get(id) else {
            return Err(Error::Execution(format!("unknown query {id}")));
        };
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = q.streams.error() {
                return Err(Error::Execution(format!("query {id} failed: {e}")));
            }
            if q.streams.state() == State::Running
                && committed_at_end(&self.cluster, &q.application_id, &q.inputs)?
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::Execution(format!(
                    "query {id} did not catch up with its input within {} s",
                    timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A pull query: the current rows of a table created by an aggregation, from its
    /// state store, once its query has caught up with its input.
    fn pull(&self, text: &str, q: &Query) -> Result<Outcome> {
        let Some(src) = self.catalog.sources.get(&q.from.name.value) else {
            return Err(source_unknown(text, &self.catalog, &q.from.name));
        };
        let Some(m) = &src.materialized else {
            return Err(Error::compile(
                text,
                q.from.name.location,
                format!(
                    "{} is not materialized: pull queries read tables created by CREATE TABLE ... AS SELECT with GROUP BY, or declared with CREATE SOURCE TABLE; for a stream or to follow changes add EMIT CHANGES",
                    src.name
                ),
            ));
        };
        if !q.joins.is_empty()
            || !q.group_by.is_empty()
            || q.window.is_some()
            || q.partition_by.is_some()
        {
            return Err(Error::compile(
                text,
                q.location,
                "pull queries take SELECT, FROM, WHERE and LIMIT only",
            ));
        }
        let Some(running) = self.queries.get(&m.query_id) else {
            return Err(Error::Execution(format!(
                "the query of {} is not running",
                src.name
            )));
        };
        self.wait_caught_up(&m.query_id, CATCH_UP_TIMEOUT)?;
        let scope = compiler::source_scope(src, q.from.qualifier());
        let filter = match &q.filter {
            Some(f) => {
                let (c, t) = Compiler {
                    text,
                    scope: &scope,
                    hook: None,
                }
                .compile(f)?;
                if t != SqlType::Boolean {
                    return Err(Error::compile(
                        text,
                        crate::expr::location_of(f),
                        format!("WHERE needs a BOOLEAN condition, not {t}"),
                    ));
                }
                Some(c)
            }
            None => None,
        };
        let mut columns = Vec::new();
        let mut exprs = Vec::new();
        for (i, item) in q.items.iter().enumerate() {
            match item {
                SelectItem::Star(_) => {
                    for c in &scope.columns {
                        columns.push(c.name.clone());
                        exprs.push(CExpr::Col(c.slot));
                    }
                }
                SelectItem::Expr(e, alias) => {
                    let (c, _) = Compiler {
                        text,
                        scope: &scope,
                        hook: None,
                    }
                    .compile(e)?;
                    columns.push(alias.as_ref().map_or_else(
                        || match e.as_ref() {
                            sqlparser::ast::Expr::Identifier(id) => crate::expr::ident_name(id),
                            _ => format!("KSQL_COL_{i}"),
                        },
                        |a| a.value.clone(),
                    ));
                    exprs.push(c);
                }
            }
        }
        let key = filter
            .as_ref()
            .and_then(|f| key_lookup(f, src.key_columns.len()));
        let handle = running.handle();
        let key_serde = RowSerde::key(src.key_format, src.key_columns.clone());
        let store = m.store.as_str();
        let fail = |e| Error::streams(format!("querying {}", src.name), e);
        // Every stored aggregate in range: key, window and accumulators.
        let stored: Vec<Stored> = match m.window {
            None if m.source_rows => {
                // A source table's store holds the rows as read, tombstones kept out by the
                // table.
                let query = KeyValueStoreQuery::<Row, ValueAndTimestamp<RowValue>>::new(
                    &handle, store, key_serde,
                );
                let rows = match &key {
                    Some(k) => query
                        .get(k)
                        .map_err(fail)?
                        .map(|v| (k.clone(), v))
                        .into_iter()
                        .collect(),
                    None => query.all().map_err(fail)?,
                };
                rows.into_iter()
                    .filter_map(|(k, v)| v.value.map(|row| (k, None, row)))
                    .collect()
            }
            None => {
                let query = KeyValueStoreQuery::<Row, ValueAndTimestamp<Row>>::new(
                    &handle, store, key_serde,
                );
                match &key {
                    Some(k) => query
                        .get(k)
                        .map_err(fail)?
                        .map(|v| (k.clone(), None, v.value))
                        .into_iter()
                        .collect(),
                    None => query
                        .all()
                        .map_err(fail)?
                        .into_iter()
                        .map(|(k, v)| (k, None, v.value))
                        .collect(),
                }
            }
            Some(WindowKind::Session { .. }) => {
                let Some(k) = &key else {
                    return Err(Error::compile(
                        text,
                        q.location,
                        "pull queries of session-windowed tables need the key: WHERE key = ...",
                    ));
                };
                SessionStoreQuery::<Row, Row>::new(&handle, store, key_serde)
                    .fetch(k)
                    .map_err(fail)?
                    .into_iter()
                    .map(|(w, v)| (k.clone(), Some((w.start, w.end)), v))
                    .collect()
            }
            Some(_) => {
                let query =
                    WindowStoreQuery::<Row, ValueAndTimestamp<Row>>::new(&handle, store, key_serde);
                let (from, to) = (i64::MIN / 2, i64::MAX / 2);
                match &key {
                    Some(k) => query
                        .fetch(k, from, to)
                        .map_err(fail)?
                        .into_iter()
                        .map(|(w, v)| (k.clone(), Some((w.start, w.end)), v.value))
                        .collect(),
                    None => query
                        .fetch_all(from, to)
                        .map_err(fail)?
                        .into_iter()
                        .map(|(w, v)| (w.key, Some((w.window.start, w.window.end)), v.value))
                        .collect(),
                }
            }
        };
        let mut rows = Vec::new();
        for (k, w, acc) in stored {
            let Some(val) = (m.project)(&k, w, &acc) else {
                continue;
            };
            let ctx = Ctx {
                key: &k,
                val: &val,
                window: w,
            };
            if filter.as_ref().is_some_and(|f| !f.holds(&ctx)) {
                continue;
            }
            rows.push((
                k.clone(),
                w,
                exprs.iter().map(|e| e.eval(&ctx)).collect::<Vec<_>>(),
            ));
        }
        rows.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        let mut rows: Vec<Vec<Value>> = rows.into_iter().map(|(_, _, r)| r).collect();
        if let Some(l) = q.limit {
            rows.truncate(l as usize);
        }
        Ok(Outcome::Rows { columns, rows })
    }

    /// Stops every query.
    ///
    /// # Errors
    ///
    /// The first query that does not stop cleanly.
    pub fn close(&mut self) -> Result<()> {
        let ids: Vec<String> = self.queries.keys().cloned().collect();
        for id in ids {
            if let Some(mut q) = self.queries.remove(&id) {
                q.streams
                    .close()
                    .map_err(|e| Error::streams(format!("stopping {id}"), e))?;
            }
        }
        Ok(())
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Stop the queries before the embedded cluster they run on goes away.
        let _ = self.close();
    }
}

fn push_inputs(catalog: &Catalog, q: &Query) -> Vec<String> {
    std::iter::once(&q.from)
        .chain(q.joins.iter().map(|j| &j.right))
        .filter_map(|s| catalog.sources.get(&s.name.value).map(|s| s.topic.clone()))
        .collect()
}

/// The key row a predicate pins down: `key = literal` (possibly among other conditions
/// joined by AND), for a single key column.
fn key_lookup(f: &CExpr, key_count: usize) -> Option<Row> {
    if key_count != 1 {
        return None;
    }
    match f {
        CExpr::Cmp(crate::expr::Cmp::Eq, a, b) => match (a.as_ref(), b.as_ref()) {
            (CExpr::Col(Slot::Key(0)), CExpr::Lit(v))
            | (CExpr::Lit(v), CExpr::Col(Slot::Key(0))) => Some(Row(vec![v.clone()])),
            _ => None,
        },
        CExpr::And(a, b) => key_lookup(a, key_count).or_else(|| key_lookup(b, key_count)),
        _ => None,
    }
}

/// Whether the group `app` has committed, on every partition of `inputs` and of its
/// repartition topics, the partition's end offset.
fn committed_at_end(cluster: &Cluster, app: &str, inputs: &[String]) -> Result<bool> {
    let mut topics: Vec<String> = inputs.to_vec();
    topics.extend(
        cluster
            .topics()?
            .into_iter()
            .filter(|t| t.starts_with(&format!("{app}-")) && t.ends_with("-repartition")),
    );
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", cluster.bootstrap_servers())
        .set("group.id", app)
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|e| Error::kafka("creating an offsets client", e))?;
    let mut tpl = TopicPartitionList::new();
    let mut ends = Vec::new();
    for t in &topics {
        let n = cluster.partitions(t)?.unwrap_or(0);
        for p in 0..n {
            let (_, high) = consumer
                .fetch_watermarks(t, p, Duration::from_secs(10))
                .map_err(|e| Error::kafka(format!("reading the end offsets of {t}"), e))?;
            if high > 0 {
                tpl.add_partition(t, p);
                ends.push((t.clone(), p, high));
            }
        }
    }
    if ends.is_empty() {
        return Ok(true);
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .map_err(|e| Error::kafka("reading committed offsets", e))?;
    Ok(ends.iter().all(|(t, p, high)| {
        matches!(
            committed.find_partition(t, *p).map(|e| e.offset()),
            Some(Offset::Offset(o)) if o >= *high
        )
    }))
}

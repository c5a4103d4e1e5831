//! SQL text to a topology, without a cluster: for tests, the test driver and `EXPLAIN`-like
//! tooling.

use streams_dsl::prelude::{StreamsBuilder, Topology};

use crate::ast::Statement;
use crate::catalog::Catalog;
use crate::compiler::{self, Sink};
use crate::error::{Error, Result};
use crate::parser::parse;

/// Compiles `sql`: `CREATE STREAM|TABLE` declarations, then queries (`CREATE ... AS
/// SELECT`, `INSERT INTO`); returns one topology running every query, so that a chain of
/// queries (a `PARTITION BY` into a stream that another query aggregates, say) runs
/// end to end in the test driver: a query reading another's output topic reads what that
/// query writes. Topics are taken to exist.
///
/// On a cluster each query runs on its own, as in ksqlDB; in one topology two queries
/// cannot read one topic, nor can two aggregations share it (each names its store as
/// ksqlDB does), and building it fails saying so. Compile such queries one at a time.
///
/// # Examples
///
/// ```
/// use streams_dsl::prelude::*;
/// use streams_sql::value::{Row, Value};
///
/// let topology = streams_sql::topology(
///     "CREATE STREAM words (k VARCHAR KEY, w VARCHAR) WITH (KAFKA_TOPIC='in', VALUE_FORMAT='KAFKA');
///      CREATE STREAM loud WITH (KAFKA_TOPIC='out') AS SELECT k, UCASE(w) AS w FROM words WHERE LEN(w) > 2 EMIT CHANGES;",
/// )?;
/// let driver = TopologyTestDriver::new(topology, StreamsConfig::new().set("application.id", "demo"))?;
/// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
/// let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
/// input.pipe_input("a".to_string(), "hey".to_string())?;
/// input.pipe_input("b".to_string(), "no".to_string())?;
/// assert_eq!(output.read_key_values_to_list()?, vec![("a".to_string(), "HEY".to_string())]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Parse and compile errors; [`Error::Execution`] when `sql` has no query or has a
/// statement that needs a cluster.
pub fn topology(sql: &str) -> Result<Topology> {
    compile(sql).map(|(_, t)| t)
}

/// As [`topology`], also returning the catalog the statements built.
///
/// # Errors
///
/// As [`topology`].
pub fn compile(sql: &str) -> Result<(Catalog, Topology)> {
    let mut catalog = Catalog::default();
    let builder = StreamsBuilder::new();
    let mut queries = 0;
    for p in parse(sql)? {
        match &p.statement {
            Statement::CreateSource {
                kind,
                name,
                columns,
                properties,
                ..
            } => {
                let s = crate::ddl::define(sql, &p.text, *kind, name, columns, properties)?;
                catalog.sources.insert(s.name.clone(), s);
            }
            Statement::CreateAs {
                kind,
                name,
                properties,
                query,
                ..
            } => {
                let sink = Sink::Create {
                    name: name.value.clone(),
                    kind: *kind,
                    properties: properties.clone(),
                    statement: p.text.clone(),
                };
                let c = compiler::compile_into(&builder, &catalog, sql, query, sink)?;
                if let Some(o) = c.output {
                    catalog.sources.insert(o.name.clone(), o);
                }
                queries += 1;
            }
            Statement::InsertInto { target, query } => {
                let Some(t) = catalog.sources.get(&target.value).cloned() else {
                    return Err(Error::compile(
                        sql,
                        target.location,
                        format!("unknown stream '{}'", target.value),
                    ));
                };
                compiler::compile_into(&builder, &catalog, sql, query, Sink::Insert(Box::new(t)))?;
                queries += 1;
            }
            _ => {
                return Err(Error::Execution(format!(
                    "'{}' needs a running engine; topology() takes CREATE and INSERT statements",
                    p.text
                )));
            }
        }
    }
    if queries == 0 {
        return Err(Error::Execution("no query in the statements".to_owned()));
    }
    let topology = builder
        .build()
        .map_err(|e| Error::streams("building the statements' topology", e))?;
    Ok((catalog, topology))
}

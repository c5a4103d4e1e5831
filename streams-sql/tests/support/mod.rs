//! What the SQL test files share.

use streams_dsl::prelude::*;

/// The test driver over the topology `sql` compiles to, with the record cache off so that
/// every update comes out.
pub(crate) fn driver(sql: &str) -> TopologyTestDriver {
    let topology = streams_sql::topology(sql).unwrap_or_else(|e| panic!("{e}"));
    let config = StreamsConfig::new()
        .set("application.id", "sql-test")
        .set("statestore.cache.max.bytes", "0");
    TopologyTestDriver::new(topology, config).unwrap_or_else(|e| panic!("{e}"))
}

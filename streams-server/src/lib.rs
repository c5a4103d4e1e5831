//! Serving a running [`KafkaStreams`](streams_dsl::prelude::KafkaStreams) application over
//! HTTP: interactive queries routed to the instance that holds the key, Prometheus metrics,
//! and health and readiness probes.
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /health` | 200 while the process runs (liveness) |
//! | `GET /ready` | 200 when the instance is `RUNNING` (every task restored), else 503 |
//! | `GET /metrics` | the metrics in Prometheus' (OpenMetrics) text format |
//! | `GET /instances` | every instance with its server, partitions and stores |
//! | `GET /stores/{store}/keys/{key}` | a key-value store's value of `key`; a window store's windows of `key` (`?from=&to=` bound their starts); a session store's sessions of `key` |
//! | `GET /stores/{store}/all` | every entry this instance holds (window stores: `?from=&to=`) |
//!
//! Both store routes take `?stale=true` (see [stale reads](#routing)).
//!
//! Keys in paths are parsed as JSON when they are not the JSON string itself: `cust-1` and
//! `"cust-1"` are the string key, `42` a number.
//!
//! # Routing
//!
//! A key request goes to the instance whose active task holds the key, as the consumer
//! group describes it ([`StreamsHandle::query_metadata_for_key`]): this instance answers it
//! itself, or forwards it ([`Forwarding::Proxy`], the default) or redirects the client
//! ([`Forwarding::Redirect`]). A forwarded request is answered where it arrives, never
//! forwarded again. While the group rebalances, a task restores or the owner cannot be
//! reached, the answer is **503 with `Retry-After`**, never a wrong or empty answer for a
//! key that exists: an instance answers a key only from a task it holds and has restored.
//! A key that is not there is a 404.
//!
//! **Stale reads.** `?stale=true` on a key or `all` request also reads this instance's
//! standby replicas (`num.standby.replicas`), as Java's `enableStaleStores()` does: an
//! instance holding the key's task active or as a standby answers it itself, even while the
//! group rebalances; otherwise the request goes to the active instance, and when that one
//! cannot answer (unreachable, or 503) on to the standbys' instances. The answer may lag the
//! active task by what the standby has not applied yet; in exchange, keys stay readable
//! while their tasks move after a failure.
//!
//! # Examples
//!
//! ```no_run
//! use streams_dsl::prelude::*;
//! use streams_server::StreamsServer;
//!
//! # fn f(topology: Topology, config: StreamsConfig) -> Result<(), Box<dyn std::error::Error>> {
//! // Bind first: the instance must announce the port it serves on.
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let config = config.set("application.server", listener.local_addr()?.to_string());
//! let mut streams = KafkaStreams::new(topology, config)?;
//! let server = StreamsServer::new(streams.handle())
//!     .key_value_store::<String, i64>("clicks-per-user", Serdes::string())
//!     .spawn(listener)?;
//! streams.start()?;
//! // ...
//! server.shutdown();
//! streams.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! [`StreamsHandle::query_metadata_for_key`]: streams_dsl::prelude::StreamsHandle::query_metadata_for_key

#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

mod error;
mod forward;
mod keys;
mod metrics;
mod options;
mod routes;
mod server;
mod stores;

pub use error::{Result, ServerError};
pub use metrics::{MetricsCollector, RATE_WINDOW};
pub use options::{Forwarding, ServerOptions};
pub use server::{RunningServer, StreamsServer};

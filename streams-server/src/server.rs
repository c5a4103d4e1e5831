//! [`StreamsServer`]: the builder, and [`RunningServer`]: the server on its own runtime.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus_client::registry::Registry;
use serde::Serialize;
use serde::de::DeserializeOwned;
use streams_dsl::prelude::SerdeRef;
use streams_dsl::prelude::StreamsHandle;
use streams_dsl::query::{KeyValueStoreQuery, SessionStoreQuery, WindowStoreQuery};
use tokio::sync::oneshot;

use crate::error::{Result, ServerError};
use crate::metrics::MetricsCollector;
use crate::options::ServerOptions;
use crate::routes::{AppState, router};
use crate::stores::{KeyValueRoute, Queries, SessionRoute, StoreRoute, WindowRoute};

/// How often the metrics collector samples the counters for its rates.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// An HTTP server for one application instance: see the [crate docs](crate) for its
/// routes. Register the stores to serve, then [`spawn`](Self::spawn) it or take its
/// [`router`](Self::router) into your own axum application.
pub struct StreamsServer {
    handle: StreamsHandle,
    stores: BTreeMap<String, Arc<dyn StoreRoute>>,
    options: ServerOptions,
    extra: Option<axum::Router>,
    aliases: Vec<(String, String)>,
}

impl std::fmt::Debug for StreamsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamsServer")
            .field("stores", &self.stores.keys().collect::<Vec<_>>())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl StreamsServer {
    /// A server for the instance behind `handle`, serving no store yet.
    pub fn new(handle: StreamsHandle) -> Self {
        StreamsServer {
            handle,
            stores: BTreeMap::new(),
            options: ServerOptions::default(),
            extra: None,
            aliases: Vec::new(),
        }
    }

    /// Sets the options. Set them before registering stores: a store's query timeout is
    /// taken when it is registered.
    pub fn options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    fn serve(mut self, store: &str, route: impl StoreRoute + 'static) -> Self {
        self.stores.insert(store.to_owned(), Arc::new(route));
        self
    }

    /// Serves the DSL key-value store `store` (a table or an aggregation:
    /// `TimestampedKeyValueStore<K, V>`), whose keys `key_serde` serializes.
    pub fn key_value_store<K, V>(self, store: &str, key_serde: SerdeRef<K>) -> Self
    where
        K: Clone + Ord + Serialize + DeserializeOwned + Send + Sync + 'static,
        V: Serialize + Send + 'static,
    {
        let query = || {
            KeyValueStoreQuery::new(&self.handle, store, key_serde.clone())
                .timeout(self.options.timeout)
        };
        let route = KeyValueRoute::<K, V>(Queries {
            fresh: query(),
            stale: query().with_stale_stores(),
        });
        self.serve(store, route)
    }

    /// Serves the DSL window store `store` (a time-windowed or sliding aggregation:
    /// `TimestampedWindowStore<K, V>`), whose base keys `key_serde` serializes.
    pub fn window_store<K, V>(self, store: &str, key_serde: SerdeRef<K>) -> Self
    where
        K: Clone + Ord + Serialize + DeserializeOwned + Send + Sync + 'static,
        V: Serialize + Send + 'static,
    {
        let query = || {
            WindowStoreQuery::new(&self.handle, store, key_serde.clone())
                .timeout(self.options.timeout)
        };
        let route = WindowRoute::<K, V>(Queries {
            fresh: query(),
            stale: query().with_stale_stores(),
        });
        self.serve(store, route)
    }

    /// Serves the session store `store` of a session-windowed aggregation, whose base keys
    /// `key_serde` serializes.
    pub fn session_store<K, V>(self, store: &str, key_serde: SerdeRef<K>) -> Self
    where
        K: Clone + Ord + Serialize + DeserializeOwned + Send + Sync + 'static,
        V: Serialize + Send + 'static,
    {
        let query = || {
            SessionStoreQuery::new(&self.handle, store, key_serde.clone())
                .timeout(self.options.timeout)
        };
        let route = SessionRoute::<K, V>(Queries {
            fresh: query(),
            stale: query().with_stale_stores(),
        });
        self.serve(store, route)
    }

    /// Answers `path`, which has a `{key}` segment, as `/stores/{store}/keys/{key}`: an
    /// application's own name for a key query (`/customers/{key}/revenue`), routed and
    /// forwarded the same way.
    pub fn alias(mut self, path: &str, store: &str) -> Self {
        self.aliases.push((path.to_owned(), store.to_owned()));
        self
    }

    /// Adds the application's own routes (merged with the server's; the server's win on a
    /// clash).
    pub fn merge(mut self, routes: axum::Router) -> Self {
        self.extra = Some(match self.extra.take() {
            Some(r) => r.merge(routes),
            None => routes,
        });
        self
    }

    /// The server's routes, with the collector that samples its metrics.
    pub fn router(self) -> (axum::Router, Arc<MetricsCollector>) {
        let collector = Arc::new(MetricsCollector::new(self.handle.clone()));
        let mut registry = Registry::with_prefix("kafka_streams");
        registry.register_collector(Box::new(Arc::clone(&collector)));
        let state = Arc::new(AppState {
            handle: self.handle,
            stores: self.stores,
            registry,
            options: self.options,
        });
        let routes = router(state, &self.aliases);
        let routes = match self.extra {
            Some(extra) => extra.merge(routes),
            None => routes,
        };
        (routes, collector)
    }

    /// Serves on `listener` from a thread of its own with a small tokio runtime, until
    /// [`RunningServer::shutdown`] (or drop).
    ///
    /// # Errors
    ///
    /// [`ServerError::Io`] when the runtime or the listener cannot be set up.
    pub fn spawn(self, listener: std::net::TcpListener) -> Result<RunningServer> {
        let io = |context: &str| {
            let context = context.to_owned();
            move |source| ServerError::Io { context, source }
        };
        let addr = listener
            .local_addr()
            .map_err(io("reading the listener's address"))?;
        listener
            .set_nonblocking(true)
            .map_err(io("making the listener non-blocking"))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("streams-server")
            .enable_all()
            .build()
            .map_err(io("starting the server's runtime"))?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(io("registering the listener"))?
        };
        let (routes, collector) = self.router();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("streams-server".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let sampler = tokio::spawn(async move {
                        let mut tick = tokio::time::interval(SAMPLE_INTERVAL);
                        loop {
                            tick.tick().await;
                            let c = Arc::clone(&collector);
                            // Sampling locks the instance's counters briefly.
                            let _ = tokio::task::spawn_blocking(move || c.sample()).await;
                        }
                    });
                    let served = axum::serve(listener, routes)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await;
                    sampler.abort();
                    if let Err(e) = served {
                        tracing::error!(error = %e, "the HTTP server failed");
                    }
                });
            })
            .map_err(io("spawning the server's thread"))?;
        tracing::info!(%addr, "serving");
        Ok(RunningServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

/// A server running on its own thread.
#[derive(Debug)]
pub struct RunningServer {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stops accepting requests, lets the ones under way finish, and waits for the thread.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

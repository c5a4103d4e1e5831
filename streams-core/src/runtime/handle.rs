//! [`StreamsHandle`]: a cloneable, thread-safe view of a running instance for interactive
//! queries, routing metadata, state and metrics (what an HTTP server or a metrics exporter
//! holds).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::host_info::HostInfo;
use crate::partitioner::default_partition;
use crate::runtime::discovery::{Discovery, GroupView};
use crate::runtime::metadata::{KeyQueryMetadata, StreamsMetadata};
use crate::runtime::metrics::StreamsMetrics;
use crate::runtime::query::{StoreQuery, query_threads};
use crate::runtime::shared::Shared;
use crate::runtime::standby::StandbyPlacement;
use crate::runtime::state::State;
use crate::runtime::topic_plan::TopicPlan;
use crate::serde::Serde;
use crate::task_id::TaskId;
use crate::topology::Topology;

/// A handle on a [`KafkaStreams`](super::KafkaStreams) instance, from
/// [`KafkaStreams::handle`](super::KafkaStreams::handle): cheap to clone, `Send` and `Sync`,
/// valid for the instance's whole life. Queries before [`start`](super::KafkaStreams::start)
/// or after close fail with [`Error::QueryUnavailable`].
///
/// # Routing
///
/// With `application.server` set, every instance learns every other one's server and
/// partitions from the consumer group's description (see the
/// `runtime::discovery` module docs for the design and its staleness bounds):
/// [`query_metadata_for_key`](Self::query_metadata_for_key) names the instance to ask.
/// Whatever the routing says, an instance answers a key only from a task it holds and has
/// restored; otherwise the query fails with [`Error::QueryUnavailable`], so a stale route
/// costs a retry, never a wrong answer.
#[derive(Clone)]
pub struct StreamsHandle {
    inner: Arc<Inner>,
}

struct Inner {
    topology: Arc<Topology>,
    shared: Arc<Shared>,
    server: Option<HostInfo>,
    started: OnceLock<Started>,
}

/// What exists once the instance has started.
struct Started {
    queries: Vec<Sender<StoreQuery>>,
    /// The standby thread's, which answers from the standbys.
    standby_queries: Sender<StoreQuery>,
    plan: Arc<TopicPlan>,
    discovery: Discovery,
    process_id: String,
    standbys: StandbyPlacement,
}

impl fmt::Debug for StreamsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamsHandle")
            .field("state", &self.state())
            .field("server", &self.inner.server)
            .finish_non_exhaustive()
    }
}

impl StreamsHandle {
    pub(crate) fn new(
        topology: Arc<Topology>,
        shared: Arc<Shared>,
        server: Option<HostInfo>,
    ) -> Self {
        StreamsHandle {
            inner: Arc::new(Inner {
                topology,
                shared,
                server,
                started: OnceLock::new(),
            }),
        }
    }

    /// Called once by `start`, when the stream threads run.
    pub(crate) fn set_started(
        &self,
        queries: Vec<Sender<StoreQuery>>,
        standby_queries: Sender<StoreQuery>,
        plan: Arc<TopicPlan>,
        discovery: Discovery,
        process_id: String,
        standbys: StandbyPlacement,
    ) {
        // `start` runs once per instance, so the cell is empty.
        let _ = self.inner.started.set(Started {
            queries,
            standby_queries,
            plan,
            discovery,
            process_id,
            standbys,
        });
    }

    /// The instance's state.
    pub fn state(&self) -> State {
        self.inner.shared.lock().state
    }

    /// The instance's counters, summed over its threads.
    pub fn metrics(&self) -> StreamsMetrics {
        let shared = &self.inner.shared;
        StreamsMetrics::sum(
            &shared.lock().metrics,
            shared
                .standby_applied
                .load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// This instance's `application.server`.
    pub fn application_server(&self) -> Option<&HostInfo> {
        self.inner.server.as_ref()
    }

    /// The names of the topology's stores (global stores aside).
    pub fn store_names(&self) -> BTreeSet<String> {
        self.inner
            .topology
            .store_subtopologies()
            .into_keys()
            .collect()
    }

    /// What the instance was started with, when it is running (not rebalancing): queries of
    /// every task wait for that.
    fn running(&self, store: &str) -> Result<&Started> {
        match self.state() {
            State::Running => self.started(store),
            state => Err(Error::QueryUnavailable {
                store: store.to_owned(),
                reason: format!("the instance is {state}"),
            }),
        }
    }

    fn started(&self, store: &str) -> Result<&Started> {
        let state = self.state();
        match self.inner.started.get() {
            Some(s) if state == State::Running || state == State::Rebalancing => Ok(s),
            _ => Err(Error::QueryUnavailable {
                store: store.to_owned(),
                reason: format!("the instance is {state}"),
            }),
        }
    }

    /// Runs `query` on the store named `store` of every task of this instance that has one,
    /// and returns its answers with the tasks' ids: Kafka Streams' interactive queries, for
    /// the state this instance holds. `S` is the store's type as a processor sees it
    /// (`TimestampedKeyValueStore<K, V>` for a DSL aggregation or table, say). Each query
    /// runs on its task's stream thread between two batches of records, so it sees the
    /// store with its cache, as the topology does, and waits at most for a batch.
    ///
    /// # Errors
    ///
    /// [`Error::QueryUnavailable`] when the instance is not running or a task holding the
    /// store is restoring; [`Error::StoreNotAvailable`] when a task's store `store` has
    /// another type; the first error `query` returns; [`Error::Timeout`] when the threads
    /// do not answer within `timeout`.
    pub fn query<S, R, F>(
        &self,
        store: &str,
        query: F,
        timeout: Duration,
    ) -> Result<Vec<(TaskId, R)>>
    where
        S: 'static,
        R: Send + 'static,
        F: Fn(&S) -> Result<R> + Send + Sync + 'static,
    {
        let started = self.running(store)?;
        query_threads(&started.queries, store, None, query, timeout)
    }

    /// Runs `query` on the store named `store` of every standby replica this instance keeps
    /// (`num.standby.replicas`), restored and following its changelogs: Kafka Streams'
    /// queries with `StoreQueryParameters.enableStaleStores()`, without the active tasks.
    /// A standby lags its active task by what it has not applied yet (under exactly-once,
    /// at least by the uncommitted transaction), so its answers may be stale; in exchange
    /// they are there while the active instance is down or busy. Each query runs on the
    /// standby thread between two batches of changelog records.
    ///
    /// # Errors
    ///
    /// [`Error::QueryUnavailable`] when the instance is not running or a standby holding the
    /// store is restoring; the other errors of [`query`](Self::query).
    pub fn query_standbys<S, R, F>(
        &self,
        store: &str,
        query: F,
        timeout: Duration,
    ) -> Result<Vec<(TaskId, R)>>
    where
        S: 'static,
        R: Send + 'static,
        F: Fn(&S) -> Result<R> + Send + Sync + 'static,
    {
        let started = self.running(store)?;
        query_threads(
            std::slice::from_ref(&started.standby_queries),
            store,
            None,
            query,
            timeout,
        )
    }

    /// Runs `query` on the store `store` of task `task`, which this instance must hold as
    /// an active, restored task: the building block of key queries.
    ///
    /// # Errors
    ///
    /// [`Error::QueryUnavailable`] when the instance does not hold the task (it may be
    /// elsewhere, or moving), the task is restoring, or the instance is not running; the
    /// other errors of [`query`](Self::query).
    pub fn query_task<S, R, F>(
        &self,
        store: &str,
        task: TaskId,
        query: F,
        timeout: Duration,
    ) -> Result<R>
    where
        S: 'static,
        R: Send + 'static,
        F: Fn(&S) -> Result<R> + Send + Sync + 'static,
    {
        let started = self.started(store)?;
        query_threads(&started.queries, store, Some(task), query, timeout)?
            .pop()
            .map(|(_, r)| r)
            .ok_or_else(|| Error::QueryUnavailable {
                store: store.to_owned(),
                reason: format!("task {task} is not active on this instance"),
            })
    }

    /// The task of `store` that holds `key`: the key serialized with `serde` for the
    /// store's input topic, placed by the default partitioner (as the records that built
    /// the store were, provided they were written by the default partitioner).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownStore`] for a store the topology does not have, or a global one;
    /// [`Error::QueryUnavailable`] before start; serialization errors of `serde`.
    pub fn task_for_key<K: 'static>(
        &self,
        store: &str,
        key: &K,
        serde: &dyn Serde<K>,
    ) -> Result<TaskId> {
        let sub = *self
            .inner
            .topology
            .store_subtopologies()
            .get(store)
            .ok_or_else(|| Error::UnknownStore(store.to_owned()))?;
        let started = self
            .inner
            .started
            .get()
            .ok_or_else(|| Error::QueryUnavailable {
                store: store.to_owned(),
                reason: "the instance has not started".into(),
            })?;
        let (topic, partitions) = started
            .plan
            .topic_subtopology
            .iter()
            .filter(|(_, s)| **s == sub)
            .filter_map(|(t, _)| started.plan.partitions.get(t).map(|n| (t, *n)))
            .min()
            .ok_or_else(|| Error::UnknownStore(format!("{store} (a global store)")))?;
        let mut bytes = Vec::new();
        if !serde.serialize_partition_key(topic, key, &mut bytes)? {
            bytes.clear();
            serde.serialize(topic, key, &mut bytes)?;
        }
        Ok(TaskId::new(sub, default_partition(&bytes, partitions)))
    }

    /// Where `key` of `store` lives: the instance whose active task holds it, and the
    /// partition. Kafka Streams' `queryMetadataForKey`. When the group cannot be described
    /// (a cluster without `DescribeGroups`, a coordinator away), `active_host` is `None`:
    /// query this instance, which answers only from the tasks it holds.
    ///
    /// # Errors
    ///
    /// [`Error::QueryUnavailable`] while the group rebalances or when no instance holds the
    /// key's task; the errors of [`task_for_key`](Self::task_for_key).
    pub fn query_metadata_for_key<K: 'static>(
        &self,
        store: &str,
        key: &K,
        serde: &dyn Serde<K>,
    ) -> Result<KeyQueryMetadata> {
        let task = self.task_for_key(store, key, serde)?;
        let mut meta = KeyQueryMetadata {
            active_host: None,
            standby_hosts: Vec::new(),
            partition: task.partition,
            task,
        };
        let view = match self.group_view(store) {
            Ok(Some(view)) => view,
            Ok(None) => return Ok(meta),
            // A cluster that cannot describe groups (librdkafka's mock cluster has no
            // DescribeGroups) or a coordinator away: this instance still knows its own
            // tasks, and answers only from them.
            Err(Error::Kafka { context, source }) => {
                tracing::debug!(%context, error = %source, "routing without the group's description");
                return Ok(meta);
            }
            Err(e) => return Err(e),
        };
        let started = self.started(store)?;
        let owner = started
            .plan
            .topic_subtopology
            .iter()
            .filter(|(_, s)| **s == task.subtopology)
            .find_map(|(t, _)| view.owner(t, task.partition))
            .ok_or_else(|| Error::QueryUnavailable {
                store: store.to_owned(),
                reason: format!("no instance holds task {task}"),
            })?;
        meta.active_host = Some(owner.host.clone());
        meta.standby_hosts = started
            .standbys
            .tasks(&view.processes, &view.members)
            .into_iter()
            .find(|(t, _, _)| *t == task)
            .map(|(_, _, hosts)| {
                view.instances
                    .iter()
                    .filter(|m| hosts.contains(&&m.process_id))
                    .map(|m| m.host.clone())
                    .collect()
            })
            .unwrap_or_default();
        Ok(meta)
    }

    /// Every instance of the application, with what it holds (Kafka Streams'
    /// `metadataForAllStreamsClients`). Without `application.server`, only this instance's
    /// own view is known, and the list is empty.
    ///
    /// # Errors
    ///
    /// [`Error::QueryUnavailable`] while the group rebalances or before start;
    /// [`Error::Kafka`] when the group cannot be described.
    pub fn metadata_for_all_stores(&self) -> Result<Vec<StreamsMetadata>> {
        let Some(view) = self.group_view("*")? else {
            return Ok(Vec::new());
        };
        let started = self.started("*")?;
        let stores = self.inner.topology.store_subtopologies();
        let mut by_sub: BTreeMap<u32, Vec<&String>> = BTreeMap::new();
        for (store, sub) in &stores {
            by_sub.entry(*sub).or_default().push(store);
        }
        let placed = started.standbys.tasks(&view.processes, &view.members);
        Ok(view
            .instances
            .iter()
            .map(|m| {
                let topic_partitions: BTreeSet<(String, i32)> =
                    m.partitions.iter().cloned().collect();
                let state_store_names = topic_partitions
                    .iter()
                    .filter_map(|(t, _)| started.plan.topic_subtopology.get(t))
                    .flat_map(|sub| by_sub.get(sub).into_iter().flatten())
                    .map(|s| (*s).clone())
                    .collect();
                let standby_state_store_names = placed
                    .iter()
                    .filter(|(_, _, hosts)| hosts.contains(&&m.process_id))
                    .flat_map(|(task, _, _)| by_sub.get(&task.subtopology).into_iter().flatten())
                    .map(|s| (*s).clone())
                    .collect();
                StreamsMetadata {
                    host_info: m.host.clone(),
                    process_id: m.process_id.clone(),
                    state_store_names,
                    topic_partitions,
                    standby_state_store_names,
                }
            })
            .collect())
    }

    /// The instances holding some task of `store` (Kafka Streams' `streamsMetadataForStore`).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownStore`] for a store the topology does not have; the errors of
    /// [`metadata_for_all_stores`](Self::metadata_for_all_stores).
    pub fn metadata_for_store(&self, store: &str) -> Result<Vec<StreamsMetadata>> {
        if !self
            .inner
            .topology
            .store_subtopologies()
            .contains_key(store)
        {
            return Err(Error::UnknownStore(store.to_owned()));
        }
        let mut all = self.metadata_for_all_stores()?;
        all.retain(|m| m.state_store_names.contains(store));
        Ok(all)
    }

    /// The number of under-replicated partitions (fewer in-sync replicas than replicas) of
    /// each topic the application reads or writes, from the cluster's metadata: the seed's
    /// monitoring check.
    ///
    /// # Errors
    ///
    /// [`Error::QueryUnavailable`] before start; [`Error::Kafka`] when the metadata cannot
    /// be fetched.
    pub fn under_replicated_partitions(&self) -> Result<BTreeMap<String, usize>> {
        let started = self
            .inner
            .started
            .get()
            .ok_or_else(|| Error::QueryUnavailable {
                store: "*".into(),
                reason: "the instance has not started".into(),
            })?;
        started
            .discovery
            .under_replicated(started.plan.partitions.keys())
    }

    /// This instance's process id, once started.
    pub fn process_id(&self) -> Option<&str> {
        self.inner.started.get().map(|s| s.process_id.as_str())
    }

    /// The group's description, or `None` without `application.server`.
    fn group_view(&self, store: &str) -> Result<Option<Arc<GroupView>>> {
        let started = self.started(store)?;
        if self.inner.server.is_none() {
            return Ok(None);
        }
        let view = started.discovery.view()?;
        if !view.stable {
            return Err(Error::QueryUnavailable {
                store: store.to_owned(),
                reason: "the application's group is rebalancing".into(),
            });
        }
        Ok(Some(view))
    }
}

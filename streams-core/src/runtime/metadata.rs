//! What the instances of an application hold, for routing interactive queries: Kafka
//! Streams' `StreamsMetadata` and `KeyQueryMetadata`.

use std::collections::BTreeSet;

use crate::host_info::HostInfo;
use crate::task_id::TaskId;

/// One instance of the application: where it answers queries and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamsMetadata {
    /// Its `application.server`.
    pub host_info: HostInfo,
    /// Its process id.
    pub process_id: String,
    /// The stores of the tasks it holds.
    pub state_store_names: BTreeSet<String>,
    /// The input partitions it is assigned.
    pub topic_partitions: BTreeSet<(String, i32)>,
    /// The stores of the tasks it keeps standbys of (`num.standby.replicas`), as every
    /// instance computes the placement from the group's description.
    pub standby_state_store_names: BTreeSet<String>,
}

/// Where a key of a store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyQueryMetadata {
    /// The instance whose active task holds the key, or `None` when this instance has no
    /// `application.server` (it then knows only its own tasks: query it locally).
    pub active_host: Option<HostInfo>,
    /// Instances with a standby copy of the key's task.
    pub standby_hosts: Vec<HostInfo>,
    /// The input partition the key maps to.
    pub partition: i32,
    /// The task that holds the key.
    pub task: TaskId,
}

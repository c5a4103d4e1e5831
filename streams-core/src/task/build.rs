//! Building a task from a topology: its nodes, its input queues, its stores and the context
//! its nodes share.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::changelog::CollectorChangelog;
use super::{QueueRef, Task, TaskSpec};
use crate::context::TaskContext;
use crate::error::{Error, Result};
use crate::state::{ChangelogWriter, StateManager};
use crate::topology::{BuildContext, BuiltNode, NodeKind, NodeLifecycle, Topology};

impl Task {
    /// Builds the task's instances of the nodes of its sub-topologies, a queue for each of
    /// its input partitions, the manager of its stores and its context. The stores are
    /// made and restored later, from [`begin_restore`](Task::begin_restore) on.
    pub(crate) fn new(topology: &Topology, spec: TaskSpec) -> Result<Task> {
        let members = member_nodes(topology, &spec.subtopologies)?;
        let app = Arc::clone(&spec.application_id);
        let resolve = |t: &str| topology.resolve_topic(&app, t);
        let built = build_nodes(topology, &members, &resolve)?;
        let (queues, queue_by_topic) =
            input_queues(topology, &members, &built, &resolve, spec.partition);
        let nodes: Vec<Option<Rc<RefCell<dyn NodeLifecycle>>>> =
            built.into_iter().map(|b| b.map(|b| b.lifecycle)).collect();
        let flushed = flushed_nodes(&members, &nodes);
        let state = state_manager(topology, &members, &spec)?;
        let record_timestamp = state
            .as_ref()
            .map_or_else(|| Rc::new(Cell::new(-1)), StateManager::timestamp_source);
        let id = spec.id;
        let ctx = task_context(topology, spec, record_timestamp);
        Ok(Task {
            id,
            ctx,
            queues,
            queue_by_topic,
            nodes,
            order: members,
            flushed,
            initialized: false,
            state,
            idling: None,
        })
    }
}

/// The nodes of the given sub-topologies, in node order.
fn member_nodes(topology: &Topology, subtopologies: &[usize]) -> Result<Vec<usize>> {
    let groups = topology.subtopologies();
    let mut members: Vec<usize> = Vec::new();
    for &g in subtopologies {
        let Some(group) = groups.get(g) else {
            return Err(Error::Topology(format!("sub-topology {g} does not exist")));
        };
        members.extend(group.iter().copied());
    }
    members.sort_unstable();
    Ok(members)
}

/// The task's instance of each member node, by node index; `None` for the other nodes.
fn build_nodes(
    topology: &Topology,
    members: &[usize],
    resolve: &dyn Fn(&str) -> String,
) -> Result<Vec<Option<BuiltNode>>> {
    let n = topology.nodes.len();
    let mut built: Vec<Option<BuiltNode>> = (0..n).map(|_| None).collect();
    // Nodes are added parents-first, so building in reverse index order builds every
    // child before its parents need its input handle.
    for &i in members.iter().rev() {
        let def = &topology.nodes[i];
        let mut children = Vec::with_capacity(def.children.len());
        for &c in &def.children {
            let handle = built[c]
                .as_ref()
                .and_then(|b| b.input.clone())
                .ok_or_else(|| Error::Topology(format!("child of '{}' was not built", def.name)))?;
            children.push((Arc::clone(&topology.nodes[c].name), handle));
        }
        let node = def.factory.build(BuildContext {
            name: Arc::clone(&def.name),
            index: i,
            children,
            resolve_topic: resolve,
        })?;
        built[i] = Some(node);
    }
    Ok(built)
}

/// A queue for the task's partition of each source topic of the member nodes, and the
/// index of each queue by full topic name.
fn input_queues(
    topology: &Topology,
    members: &[usize],
    built: &[Option<BuiltNode>],
    resolve: &dyn Fn(&str) -> String,
    partition: i32,
) -> (Vec<QueueRef>, HashMap<Arc<str>, usize>) {
    let mut queues = Vec::new();
    let mut queue_by_topic = HashMap::new();
    for &i in members {
        if let (NodeKind::Source { topics }, Some(b)) = (&topology.nodes[i].kind, &built[i])
            && let Some(src) = &b.source
        {
            for t in topics {
                let full: Arc<str> = resolve(t).into();
                let retry = topology
                    .retry_chains()
                    .is_some_and(|c| c.is_retry_topic(&full));
                let local = src.borrow_mut().add_queue(Arc::clone(&full), partition);
                queue_by_topic.insert(Arc::clone(&full), queues.len());
                queues.push(QueueRef {
                    topic: full,
                    partition,
                    source: Rc::clone(src),
                    local,
                    next_offset: None,
                    skipped_next: None,
                    retry,
                });
            }
        }
    }
    (queues, queue_by_topic)
}

/// The member nodes whose flush may do something, in node order.
fn flushed_nodes(
    members: &[usize],
    nodes: &[Option<Rc<RefCell<dyn NodeLifecycle>>>],
) -> Vec<usize> {
    members
        .iter()
        .copied()
        .filter(|&i| nodes[i].as_ref().is_some_and(|n| n.borrow().flushes()))
        .collect()
}

/// The manager of the stores connected to the member nodes, writing their changelogs
/// through the task's collector; `None` when they have no stores.
fn state_manager(
    topology: &Topology,
    members: &[usize],
    spec: &TaskSpec,
) -> Result<Option<StateManager>> {
    let builders = topology.store_builders_of(members)?;
    if builders.is_empty() {
        return Ok(None);
    }
    let Some(root) = &spec.state_dir else {
        return Err(Error::IllegalState(format!(
            "task {} has stores but no state directory",
            spec.id
        )));
    };
    let writer: Rc<RefCell<dyn ChangelogWriter>> =
        Rc::new(RefCell::new(CollectorChangelog(Rc::clone(&spec.collector))));
    Ok(Some(
        StateManager::new(
            spec.id,
            spec.application_id.to_string(),
            root.join(spec.id.to_string()),
            builders,
            writer,
            spec.partition,
            spec.cache_max_bytes,
        )
        .with_store_memory(spec.config.store_memory()?)
        .with_exactly_once(spec.exactly_once),
    ))
}

/// The context the task's nodes share, with the name and stores of every node of the
/// topology by index; the task's own stores are added once restored.
fn task_context(
    topology: &Topology,
    spec: TaskSpec,
    record_timestamp: Rc<Cell<i64>>,
) -> TaskContext {
    TaskContext::new(
        spec.id,
        spec.application_id,
        spec.config,
        spec.handlers,
        spec.collector,
        spec.wall_clock,
        record_timestamp,
    )
    .with_nodes(
        topology.nodes.iter().map(|d| Arc::clone(&d.name)).collect(),
        topology.nodes.iter().map(|d| d.stores.clone()).collect(),
    )
    .with_global_stores(spec.global_views)
    .with_retry(topology.retry_chains().cloned())
}

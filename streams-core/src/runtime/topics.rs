//! The topics an application needs: partition counts, co-partitioning, and the creation of
//! internal topics.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::Client;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::mocking::MockCluster;

use crate::error::{Error, Result};
use crate::runtime::collector::{LogContext, retry_transient};
use crate::runtime::kafka_error;
use crate::topology::{NodeKind, SinkTopic, Topology};

/// What a topic the application creates is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TopicRole {
    /// A repartition topic, `<application.id>-<name>-repartition`.
    Repartition,
    /// A store's changelog, `<application.id>-<store>-changelog`.
    Changelog,
    /// A dead-letter topic, `<topic>.dead-letter`: of a source topic (records that cannot
    /// be read or processed) or of a sink topic (outputs the brokers refused).
    DeadLetter,
    /// A retry topic, `<topic>.retry-<n>`.
    Retry,
}

/// A topic to create, with its partition count and topic configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// The full topic name.
    pub name: String,
    /// The number of partitions.
    pub partitions: i32,
    /// The replication factor; -1 leaves it to the broker's default.
    pub replication_factor: i32,
    /// Topic configuration (`cleanup.policy`, `retention.ms`, ...).
    pub config: BTreeMap<String, String>,
    /// What the topic is for.
    pub role: TopicRole,
}

/// Creates topics for the runtime: the admin API on a real cluster, the mock cluster's own
/// topic API on rdkafka's mock cluster (which has no CreateTopics).
pub trait TopicCreator {
    /// Creates the topics that do not exist yet; existing ones are left as they are.
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when a topic cannot be created.
    fn create_topics(&self, topics: &[TopicSpec]) -> Result<()>;
}

impl<C: ClientContext> TopicCreator for MockCluster<'_, C> {
    fn create_topics(&self, topics: &[TopicSpec]) -> Result<()> {
        for t in topics {
            // The mock cluster keeps no topic configuration, so only the partition count
            // and replication matter here.
            let replication = t.replication_factor.max(1);
            match self.create_topic(&t.name, t.partitions, replication) {
                Ok(()) => {}
                Err(e) if e.rdkafka_error_code() == Some(RDKafkaErrorCode::TopicAlreadyExists) => {}
                Err(e) => return Err(kafka_error(format!("creating topic '{}'", t.name), e)),
            }
        }
        Ok(())
    }
}

/// Creates topics with the admin API (CreateTopics), as Kafka Streams'
/// `InternalTopicManager` does.
pub struct AdminTopicCreator {
    admin: AdminClient<LogContext>,
    timeout: Duration,
}

impl std::fmt::Debug for AdminTopicCreator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminTopicCreator")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl AdminTopicCreator {
    /// An admin client with `config` (see
    /// [`KafkaClientConfigs::admin`](crate::runtime::KafkaClientConfigs::admin)).
    ///
    /// # Errors
    ///
    /// [`Error::Kafka`] when the client cannot be created.
    pub fn new(config: &ClientConfig) -> Result<Self> {
        let client = config.get("client.id").unwrap_or("admin").to_owned();
        let admin = config
            .create_with_context(LogContext { client })
            .map_err(|e| kafka_error("creating the admin client", e))?;
        Ok(AdminTopicCreator {
            admin,
            timeout: Duration::from_secs(30),
        })
    }
}

impl TopicCreator for AdminTopicCreator {
    fn create_topics(&self, topics: &[TopicSpec]) -> Result<()> {
        if topics.is_empty() {
            return Ok(());
        }
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|t| {
                let mut nt = NewTopic::new(
                    &t.name,
                    t.partitions,
                    TopicReplication::Fixed(t.replication_factor),
                );
                for (k, v) in &t.config {
                    nt = nt.set(k, v);
                }
                nt
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(self.timeout));
        let results = futures::executor::block_on(self.admin.create_topics(&new_topics, &options))
            .map_err(|e| kafka_error("creating internal topics", e))?;
        for r in results {
            match r {
                Ok(name) => tracing::info!(topic = %name, "created topic"),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((name, code)) => {
                    return Err(Error::Kafka {
                        context: format!("creating topic '{name}'"),
                        source: Box::new(rdkafka::error::KafkaError::AdminOp(code)),
                    });
                }
            }
        }
        Ok(())
    }
}

/// The partition counts of every topic in the cluster, by name.
pub(crate) fn cluster_partitions<C: ClientContext>(
    client: &Client<C>,
    timeout: Duration,
) -> Result<HashMap<String, i32>> {
    let metadata = retry_transient(timeout, "fetching cluster metadata", || {
        client.fetch_metadata(None, Duration::from_secs(5))
    })?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none() && !t.partitions().is_empty())
        .map(|t| {
            (
                t.name().to_owned(),
                i32::try_from(t.partitions().len()).unwrap_or(i32::MAX),
            )
        })
        .collect())
}

/// Waits until every topic of `wanted` shows in the cluster's metadata.
pub(crate) fn await_topics<C: ClientContext>(
    client: &Client<C>,
    wanted: &[&str],
    timeout: Duration,
) -> Result<HashMap<String, i32>> {
    let deadline = Instant::now() + timeout;
    loop {
        let existing = cluster_partitions(client, timeout)?;
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|t| !existing.contains_key(*t))
            .collect();
        if missing.is_empty() {
            return Ok(existing);
        }
        if Instant::now() >= deadline {
            return Err(Error::IllegalState(format!(
                "topics {missing:?} did not appear in the cluster metadata within {timeout:?}"
            )));
        }
        // Metadata propagates from the controller to the brokers asynchronously.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether `topic` is, by its name, one of the topics the application creates for its own
/// state and data flow: a changelog (`<application.id>-<store>-changelog`), a repartition
/// topic (`<application.id>-<name>-repartition`) or a foreign-key join's subscription or
/// response topic (`...-SUBSCRIPTION-REGISTRATION-...-topic`,
/// `...-subscription-response-topic`).
///
/// The record collector only knows topic names, and a record of these topics must never be
/// skipped by a handler: its loss would silently corrupt a store or a downstream task. A user
/// topic that happens to match is treated the same, which errs on the side of stopping.
pub(crate) fn is_internal_topic(topic: &str) -> bool {
    if topic.ends_with("-changelog") || topic.ends_with("-repartition") {
        return true;
    }
    let Some(stem) = topic.strip_suffix("-topic") else {
        return false;
    };
    // Generated names carry a node index between the marker and the suffix
    // (`KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic`), named ones do not.
    let stem = stem.to_ascii_lowercase();
    stem.contains("-subscription-registration") || stem.contains("-subscription-response")
}

/// Which dead-letter topics [`plan_topics`] plans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DeadLetterTopics {
    /// `<source topic>.dead-letter` for every source topic (not repartition topics): the
    /// deserialization or processing handler dead-letters.
    pub(crate) sources: bool,
    /// `<sink topic>.dead-letter` for every static sink topic (not internal topics): the
    /// production handler dead-letters.
    pub(crate) outputs: bool,
}

impl From<bool> for DeadLetterTopics {
    /// `true` plans every dead-letter topic, `false` none: what a single "some handler
    /// dead-letters" flag asks for.
    fn from(all: bool) -> Self {
        DeadLetterTopics {
            sources: all,
            outputs: all,
        }
    }
}

/// Everything the runtime needs to know about the application's topics.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopicPlan {
    /// Every topic the tasks read, write or may dead-letter to, with its partition count.
    pub(crate) partitions: HashMap<String, i32>,
    /// The topics to create if missing.
    pub(crate) to_create: Vec<TopicSpec>,
    /// The full names of the source and repartition topics the group subscribes to.
    pub(crate) subscribed: Vec<String>,
    /// The sub-topology of each subscribed topic.
    pub(crate) topic_subtopology: HashMap<String, u32>,
    /// The topics of the global stores, with their partition counts.
    pub(crate) global: BTreeMap<String, i32>,
}

/// Works out partition counts and internal topics, as Kafka Streams'
/// `RepartitionTopics`, `CopartitionedTopicsEnforcer` and `InternalTopicManager` do.
///
/// `existing` holds the partition counts of the topics in the cluster. `dead_letters` says
/// which dead-letter topics to plan (a `bool` plans all or none):
///
/// - a source topic's `<topic>.dead-letter` has the source's partition count;
/// - a static sink topic's `<topic>.dead-letter` has the sink's count when the sink exists,
///   else the largest partition count of the sub-topologies writing it (its number of
///   writing tasks), else 1. A sink that is also a source topic shares one dead-letter
///   topic with it. Internal topics ([`is_internal_topic`]) and dead-letter topics get
///   none: their records are never handed to the production handler. Dynamic sinks
///   (`to_dynamic`) are not known in advance, so their dead-letter topics must be created
///   by the application.
///
/// An existing dead-letter topic is kept whatever its partition count: dead letters go to
/// the failed record's partition number modulo the count.
pub(crate) fn plan_topics(
    topology: &Topology,
    application_id: &str,
    existing: &HashMap<String, i32>,
    replication_factor: i32,
    dead_letters: impl Into<DeadLetterTopics>,
) -> Result<TopicPlan> {
    let dead_letters = dead_letters.into();
    let resolve = |t: &str| topology.resolve_topic(application_id, t);
    let by_sub = topology.source_topics_by_subtopology();
    let groups = topology.subtopologies();
    let mut sub_of_node = HashMap::new();
    for (s, g) in groups.iter().enumerate() {
        for &n in g {
            sub_of_node.insert(n, s);
        }
    }
    let internal: BTreeMap<String, Option<i32>> = topology
        .internal_topics()
        .map(|t| (resolve(&t.name), t.partitions))
        .collect();

    let mut counts: HashMap<String, i32> = HashMap::new();
    let mut missing = Vec::new();
    for t in by_sub.iter().flatten() {
        let full = resolve(t);
        if internal.contains_key(&full) {
            continue;
        }
        match existing.get(&full) {
            Some(&n) => {
                counts.insert(full, n);
            }
            None => missing.push(full),
        }
    }
    if !missing.is_empty() {
        missing.sort();
        return Err(Error::Topology(format!(
            "source topic(s) {} do not exist; create them before starting the application",
            missing.join(", ")
        )));
    }
    let mut global = BTreeMap::new();
    let mut missing_global = Vec::new();
    for t in topology.global_topics() {
        let full = resolve(&t);
        match existing.get(&full) {
            Some(&n) => {
                global.insert(full, n);
            }
            None => missing_global.push(full),
        }
    }
    if !missing_global.is_empty() {
        missing_global.sort();
        return Err(Error::Topology(format!(
            "global table topic(s) {} do not exist; create them before starting the application",
            missing_global.join(", ")
        )));
    }
    for (name, fixed) in &internal {
        if let Some(n) = fixed {
            counts.insert(name.clone(), *n);
        }
    }

    // The sub-topologies writing each internal topic.
    let mut writers: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for (i, node) in topology.nodes.iter().enumerate() {
        if let NodeKind::Sink {
            topic: SinkTopic::Fixed(t),
        } = &node.kind
        {
            let full = resolve(t);
            if internal.contains_key(&full)
                && let Some(&s) = sub_of_node.get(&i)
            {
                writers.entry(full).or_default().insert(s);
            }
        }
    }
    let sub_count = |counts: &HashMap<String, i32>, s: usize| -> Option<i32> {
        let topics = by_sub.get(s)?;
        let mut max = None;
        for t in topics {
            let n = *counts.get(&resolve(t))?;
            max = Some(max.map_or(n, |m: i32| m.max(n)));
        }
        max
    };
    // A repartition topic has as many partitions as the largest input of the
    // sub-topologies writing it; chains of repartitions resolve in a few rounds.
    let copartition: Vec<BTreeSet<String>> = topology
        .copartition_groups()
        .iter()
        .map(|g| g.iter().map(|t| resolve(t)).collect())
        .collect();
    // Kafka Streams' `CopartitionedTopicsEnforcer`: a repartition topic (of no fixed count)
    // co-partitioned with topics the application does not create takes their count; one
    // co-partitioned only with other repartition topics takes the largest of theirs.
    let is_free = |t: &String| internal.get(t).is_some_and(Option::is_none);
    let pinned_by_group: BTreeSet<&String> = copartition
        .iter()
        .filter(|g| g.iter().any(|t| !internal.contains_key(t)))
        .flatten()
        .filter(|t| is_free(t))
        .collect();
    for _ in 0..=internal.len() + copartition.len() {
        let mut changed = false;
        for name in internal.keys() {
            if counts.contains_key(name) || pinned_by_group.contains(name) {
                continue;
            }
            let Some(subs) = writers.get(name) else {
                continue;
            };
            let resolved: Option<Vec<i32>> = subs.iter().map(|&s| sub_count(&counts, s)).collect();
            if let Some(n) = resolved.and_then(|v| v.into_iter().max()) {
                counts.insert(name.clone(), n);
                changed = true;
            }
        }
        for group in &copartition {
            let external = group
                .iter()
                .filter(|t| !internal.contains_key(*t))
                .filter_map(|t| counts.get(t).copied())
                .max();
            let n = external.or_else(|| {
                group
                    .iter()
                    .filter(|t| !is_free(t) || counts.contains_key(*t))
                    .filter_map(|t| counts.get(t).copied())
                    .max()
            });
            if let Some(n) = n {
                for t in group {
                    if is_free(t) && counts.get(t) != Some(&n) {
                        counts.insert(t.clone(), n);
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    let unresolved: Vec<&String> = internal
        .keys()
        .filter(|t| !counts.contains_key(*t))
        .collect();
    if !unresolved.is_empty() {
        return Err(Error::Topology(format!(
            "cannot work out the partition count of internal topic(s) {unresolved:?}: no sub-topology with known inputs writes them"
        )));
    }

    for group in &copartition {
        let sizes: BTreeMap<&String, Option<i32>> =
            group.iter().map(|t| (t, counts.get(t).copied())).collect();
        let distinct: BTreeSet<i32> = sizes.values().flatten().copied().collect();
        if distinct.len() > 1 {
            let listed: Vec<String> = sizes
                .iter()
                .map(|(t, n)| format!("{t} ({} partitions)", n.unwrap_or(0)))
                .collect();
            return Err(Error::Topology(format!(
                "co-partitioned topics must have the same number of partitions, but {}",
                listed.join(", ")
            )));
        }
    }

    let mut plan = TopicPlan::default();
    for (s, topics) in by_sub.iter().enumerate() {
        for t in topics {
            let full = resolve(t);
            plan.topic_subtopology
                .insert(full.clone(), u32::try_from(s).unwrap_or(u32::MAX));
            plan.subscribed.push(full);
        }
    }
    for name in internal.keys() {
        let n = counts[name];
        plan.to_create.push(TopicSpec {
            name: name.clone(),
            partitions: n,
            replication_factor,
            config: BTreeMap::from([
                ("cleanup.policy".to_owned(), "delete".to_owned()),
                ("retention.ms".to_owned(), "-1".to_owned()),
                ("segment.bytes".to_owned(), "52428800".to_owned()),
                ("message.timestamp.type".to_owned(), "CreateTime".to_owned()),
            ]),
            role: TopicRole::Repartition,
        });
    }
    let store_subs = topology.store_subtopologies();
    for (name, config) in topology.changelog_topics(application_id) {
        let store = name
            .strip_prefix(&format!("{application_id}-"))
            .and_then(|s| s.strip_suffix("-changelog"))
            .unwrap_or(&name);
        let Some(&s) = store_subs.get(store) else {
            // A store no processor uses has no tasks and so no changelog.
            continue;
        };
        let Some(n) = sub_count(&counts, s as usize) else {
            continue;
        };
        let mut config = config;
        config
            .entry("message.timestamp.type".to_owned())
            .or_insert_with(|| "CreateTime".to_owned());
        plan.to_create.push(TopicSpec {
            name,
            partitions: n,
            replication_factor,
            config,
            role: TopicRole::Changelog,
        });
    }
    let mut dead_letter_names = BTreeSet::new();
    if dead_letters.sources {
        for t in plan.subscribed.clone() {
            if internal.contains_key(&t) {
                continue;
            }
            let name = format!("{t}.dead-letter");
            dead_letter_names.insert(name.clone());
            plan.to_create.push(TopicSpec {
                name,
                partitions: counts[&t],
                replication_factor,
                config: BTreeMap::new(),
                role: TopicRole::DeadLetter,
            });
        }
    }
    if dead_letters.outputs {
        // The sub-topologies writing each static sink topic, for sinks not created yet.
        let mut sink_writers: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for (i, node) in topology.nodes.iter().enumerate() {
            if let NodeKind::Sink {
                topic: SinkTopic::Fixed(t),
            } = &node.kind
            {
                let entry = sink_writers.entry(resolve(t)).or_default();
                if let Some(&s) = sub_of_node.get(&i) {
                    entry.insert(s);
                }
            }
        }
        for (sink, subs) in sink_writers {
            if internal.contains_key(&sink)
                || is_internal_topic(&sink)
                || sink.ends_with(".dead-letter")
            {
                continue;
            }
            let name = format!("{sink}.dead-letter");
            if dead_letter_names.contains(&name) {
                continue;
            }
            let partitions = existing
                .get(&sink)
                .copied()
                .or_else(|| subs.iter().filter_map(|&s| sub_count(&counts, s)).max())
                .unwrap_or(1);
            dead_letter_names.insert(name.clone());
            plan.to_create.push(TopicSpec {
                name,
                partitions,
                replication_factor,
                config: BTreeMap::new(),
                role: TopicRole::DeadLetter,
            });
        }
    }
    for spec in &plan.to_create {
        if let Some(&n) = existing.get(&spec.name)
            && n != spec.partitions
            && spec.role != TopicRole::DeadLetter
        {
            return Err(Error::Topology(format!(
                "internal topic '{}' exists with {n} partitions but the application needs {}; delete it or reset the application",
                spec.name, spec.partitions
            )));
        }
    }
    plan.global = global;
    plan.partitions = counts;
    for spec in &plan.to_create {
        let n = existing.get(&spec.name).copied().unwrap_or(spec.partitions);
        plan.partitions.insert(spec.name.clone(), n);
    }
    for t in topology.sink_topics() {
        let full = resolve(&t);
        if let Some(&n) = existing.get(&full) {
            plan.partitions.entry(full).or_insert(n);
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::Serdes;
    use crate::topology::{InternalTopic, InternalTopicKind};
    use crate::{Consumed, Produced};

    fn repartitioning() -> Result<Topology> {
        let mut t = Topology::new();
        t.add_source(
            "src",
            &["input"],
            Consumed::with(Serdes::string(), Serdes::string()),
        )?
        .add_sink(
            "to-rep",
            "rep-repartition",
            Produced::with(Serdes::string(), Serdes::string()),
            &["src"],
        )?
        .add_source(
            "from-rep",
            &["rep-repartition"],
            Consumed::with(Serdes::string(), Serdes::string()),
        )?
        .add_sink(
            "out",
            "output",
            Produced::with(Serdes::string(), Serdes::string()),
            &["from-rep"],
        )?;
        t.add_internal_topic(InternalTopic {
            name: "rep-repartition".into(),
            kind: InternalTopicKind::Repartition,
            partitions: None,
        });
        Ok(t)
    }

    #[test]
    fn repartition_topics_take_the_partition_count_of_their_writers() -> Result<()> {
        let t = repartitioning()?;
        let existing = HashMap::from([("input".to_owned(), 3), ("output".to_owned(), 1)]);
        let plan = plan_topics(&t, "app", &existing, -1, true)?;
        assert_eq!(plan.partitions["app-rep-repartition"], 3);
        assert_eq!(plan.partitions["output"], 1);
        assert_eq!(plan.topic_subtopology["input"], 0);
        assert_eq!(plan.topic_subtopology["app-rep-repartition"], 1);
        let rep = plan
            .to_create
            .iter()
            .find(|s| s.name == "app-rep-repartition")
            .ok_or_else(|| Error::IllegalState("missing".into()))?;
        assert_eq!(rep.config["cleanup.policy"], "delete");
        assert_eq!(rep.config["retention.ms"], "-1");
        assert!(
            plan.to_create
                .iter()
                .any(|s| s.name == "input.dead-letter" && s.partitions == 3)
        );
        assert!(
            !plan
                .to_create
                .iter()
                .any(|s| s.name.contains("repartition.dead-letter")),
            "only source topics get dead-letter topics"
        );
        Ok(())
    }

    #[test]
    fn a_repartition_topic_co_partitioned_with_a_source_takes_the_source_count() -> Result<()> {
        // `input` (3 partitions) is re-keyed into `rep-repartition`, which is joined with
        // `table` (2 partitions): the repartition topic must have 2, not its writer's 3.
        let mut t = repartitioning()?;
        t.add_source(
            "table",
            &["table"],
            Consumed::with(Serdes::string(), Serdes::string()),
        )?;
        t.add_copartition_group(&["rep-repartition", "table"]);
        let existing = HashMap::from([
            ("input".to_owned(), 3),
            ("table".to_owned(), 2),
            ("output".to_owned(), 1),
        ]);
        let plan = plan_topics(&t, "app", &existing, -1, false)?;
        assert_eq!(plan.partitions["app-rep-repartition"], 2);
        Ok(())
    }

    #[test]
    fn sinks_get_dead_letter_topics_when_the_production_handler_dead_letters() -> Result<()> {
        let t = repartitioning()?;
        let dead_letter_topics = |plan: &TopicPlan| -> Vec<(String, i32)> {
            let mut v: Vec<(String, i32)> = plan
                .to_create
                .iter()
                .filter(|s| s.role == TopicRole::DeadLetter)
                .map(|s| (s.name.clone(), s.partitions))
                .collect();
            v.sort();
            v
        };
        let outputs_only = DeadLetterTopics {
            sources: false,
            outputs: true,
        };

        // The sink exists: its dead-letter topic has its partition count.
        let existing = HashMap::from([("input".to_owned(), 3), ("output".to_owned(), 1)]);
        let plan = plan_topics(&t, "app", &existing, -1, outputs_only)?;
        assert_eq!(
            dead_letter_topics(&plan),
            vec![("output.dead-letter".to_owned(), 1)],
            "no dead-letter topic for sources or for the repartition topic"
        );
        assert_eq!(plan.partitions["output.dead-letter"], 1);

        // The sink does not exist yet: the count of the sub-topology writing it.
        let existing = HashMap::from([("input".to_owned(), 3)]);
        let plan = plan_topics(&t, "app", &existing, -1, outputs_only)?;
        assert_eq!(
            dead_letter_topics(&plan),
            vec![("output.dead-letter".to_owned(), 3)]
        );

        // Source dead letters only: no sink dead-letter topic.
        let sources_only = DeadLetterTopics {
            sources: true,
            outputs: false,
        };
        let plan = plan_topics(&t, "app", &existing, -1, sources_only)?;
        assert_eq!(
            dead_letter_topics(&plan),
            vec![("input.dead-letter".to_owned(), 3)]
        );

        // A sink that is also a source shares one dead-letter topic.
        let mut through = Topology::new();
        through
            .add_source(
                "a",
                &["first"],
                Consumed::with(Serdes::string(), Serdes::string()),
            )?
            .add_sink(
                "to-second",
                "second",
                Produced::with(Serdes::string(), Serdes::string()),
                &["a"],
            )?
            .add_source(
                "b",
                &["second"],
                Consumed::with(Serdes::string(), Serdes::string()),
            )?;
        let existing = HashMap::from([("first".to_owned(), 2), ("second".to_owned(), 2)]);
        let plan = plan_topics(&through, "app", &existing, -1, true)?;
        assert_eq!(
            dead_letter_topics(&plan),
            vec![
                ("first.dead-letter".to_owned(), 2),
                ("second.dead-letter".to_owned(), 2)
            ]
        );
        Ok(())
    }

    #[test]
    fn internal_topics_are_recognised_by_name() -> Result<()> {
        let t = repartitioning()?;
        let existing = HashMap::from([("input".to_owned(), 3), ("output".to_owned(), 1)]);
        let plan = plan_topics(&t, "app", &existing, -1, true)?;
        for spec in &plan.to_create {
            let internal = matches!(spec.role, TopicRole::Repartition | TopicRole::Changelog);
            assert_eq!(is_internal_topic(&spec.name), internal, "{}", spec.name);
        }
        for name in [
            "app-counts-changelog",
            "app-KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition",
            "app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
            "app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic",
            "app-orders-by-customer-subscription-registration-topic",
            "app-orders-by-customer-subscription-response-topic",
        ] {
            assert!(is_internal_topic(name), "{name}");
        }
        for name in ["output", "input.dead-letter", "my-topic", "orders.retry-1"] {
            assert!(!is_internal_topic(name), "{name}");
        }
        Ok(())
    }

    #[test]
    fn missing_sources_and_unequal_copartitions_are_errors() -> Result<()> {
        let t = repartitioning()?;
        let err = plan_topics(&t, "app", &HashMap::new(), -1, false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("input"), "{err}");

        let mut j = Topology::new();
        j.add_source(
            "a",
            &["left"],
            Consumed::with(Serdes::string(), Serdes::string()),
        )?
        .add_source(
            "b",
            &["right"],
            Consumed::with(Serdes::string(), Serdes::string()),
        )?;
        j.add_copartition_group(&["left", "right"]);
        let existing = HashMap::from([("left".to_owned(), 2), ("right".to_owned(), 4)]);
        let err = plan_topics(&j, "app", &existing, -1, false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("left (2 partitions)"), "{err}");
        assert!(err.contains("right (4 partitions)"), "{err}");
        Ok(())
    }
}

//! The plan of an application's topics: the partition count of every topic its tasks read
//! and write, and the internal and dead-letter topics to create, worked out from the
//! topology and the topics in the cluster.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::error::{Error, Result};
use crate::retry::DEAD_LETTER_SUFFIX;
use crate::runtime::topics::{TopicRole, TopicSpec, is_internal_topic};
use crate::topology::{NodeKind, SinkTopic, Topology};

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
    let mut planner = Planner::new(topology, application_id, existing, replication_factor);
    planner.count_source_topics()?;
    let global = planner.global_topics()?;
    let copartition = planner.copartition_groups();
    planner.count_internal_topics(&copartition)?;
    planner.check_copartitioning(&copartition)?;

    let mut plan = TopicPlan::default();
    planner.plan_subscriptions(&mut plan);
    planner.plan_repartition_topics(&mut plan);
    planner.plan_changelogs(&mut plan);
    planner.plan_output_topics(&mut plan);
    planner.plan_retry_topics(&mut plan);
    let mut dead_letter_names = BTreeSet::new();
    if dead_letters.sources {
        planner.plan_source_dead_letters(&mut plan, &mut dead_letter_names);
    }
    if dead_letters.outputs {
        planner.plan_sink_dead_letters(&mut plan, &mut dead_letter_names);
    }
    planner.check_existing(&plan)?;
    plan.global = global;
    plan.partitions = planner.partitions(&plan);
    Ok(plan)
}

/// What planning the topics works from, and the partition counts worked out so far.
struct Planner<'a> {
    topology: &'a Topology,
    application_id: &'a str,
    /// The partition counts of the topics in the cluster.
    existing: &'a HashMap<String, i32>,
    replication_factor: i32,
    /// The source topics of each sub-topology, as the topology names them.
    by_sub: Vec<Vec<String>>,
    /// The sub-topology of each node.
    sub_of_node: HashMap<usize, usize>,
    /// The internal topics (full names), with their fixed partition count, if any.
    internal: BTreeMap<String, Option<i32>>,
    /// The partition counts known so far, by full topic name.
    counts: HashMap<String, i32>,
}

impl<'a> Planner<'a> {
    fn new(
        topology: &'a Topology,
        application_id: &'a str,
        existing: &'a HashMap<String, i32>,
        replication_factor: i32,
    ) -> Self {
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
            .map(|t| {
                (
                    topology.resolve_topic(application_id, &t.name),
                    t.partitions,
                )
            })
            .collect();
        Planner {
            topology,
            application_id,
            existing,
            replication_factor,
            by_sub,
            sub_of_node,
            internal,
            counts: HashMap::new(),
        }
    }

    /// The full name of `topic`.
    fn resolve(&self, topic: &str) -> String {
        self.topology.resolve_topic(self.application_id, topic)
    }

    /// The largest partition count of sub-topology `s`'s source topics: its number of
    /// tasks; `None` while one of them has no count yet.
    fn sub_count(&self, s: usize) -> Option<i32> {
        let topics = self.by_sub.get(s)?;
        let mut max = None;
        for t in topics {
            let n = *self.counts.get(&self.resolve(t))?;
            max = Some(max.map_or(n, |m: i32| m.max(n)));
        }
        max
    }

    /// Whether `topic` is an internal topic without a fixed partition count.
    fn is_free(&self, topic: &str) -> bool {
        self.internal.get(topic).is_some_and(Option::is_none)
    }

    /// Counts the source topics the application does not create, which must exist, and
    /// gives each retry topic its topic's count.
    fn count_source_topics(&mut self) -> Result<()> {
        let mut missing = Vec::new();
        for t in self.by_sub.iter().flatten() {
            let full = self.resolve(t);
            if self.internal.contains_key(&full) || self.is_retry_topic(&full) {
                continue;
            }
            match self.existing.get(&full) {
                Some(&n) => {
                    self.counts.insert(full, n);
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
        for (retry, main) in self.retry_topics() {
            let Some(&n) = self.counts.get(&main) else {
                continue;
            };
            match self.existing.get(&retry) {
                Some(&have) if have != n => {
                    return Err(Error::Topology(format!(
                        "retry topic '{retry}' has {have} partitions but its topic '{main}' has {n}; a retried record must come back to its partition's task, so delete the retry topic or give it {n} partitions"
                    )));
                }
                _ => {
                    self.counts.insert(retry, n);
                }
            }
        }
        Ok(())
    }

    /// Whether `topic` (full name) is a retry topic.
    fn is_retry_topic(&self, topic: &str) -> bool {
        self.topology
            .retry_chains()
            .is_some_and(|c| c.is_retry_topic(topic))
    }

    /// Every retry topic with its main topic, sorted.
    fn retry_topics(&self) -> Vec<(String, String)> {
        let mut topics: Vec<(String, String)> = self
            .topology
            .retry_chains()
            .map(|c| {
                c.retry_topics()
                    .map(|(r, m)| (r.to_owned(), m.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        topics.sort();
        topics
    }

    /// The retry topics, with their topics' partition counts: records are deleted by
    /// retention only, as they are read again after their delay.
    fn plan_retry_topics(&self, plan: &mut TopicPlan) {
        for (retry, _) in self.retry_topics() {
            let Some(&partitions) = self.counts.get(&retry) else {
                continue;
            };
            plan.to_create.push(TopicSpec {
                partitions,
                name: retry,
                replication_factor: self.replication_factor,
                config: BTreeMap::from([("cleanup.policy".to_owned(), "delete".to_owned())]),
                role: TopicRole::Retry,
            });
        }
    }

    /// The global stores' topics, which must exist, with their partition counts.
    fn global_topics(&self) -> Result<BTreeMap<String, i32>> {
        let mut global = BTreeMap::new();
        let mut missing_global = Vec::new();
        for t in self.topology.global_topics() {
            let full = self.resolve(&t);
            match self.existing.get(&full) {
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
        Ok(global)
    }

    /// The co-partitioned groups of topics, by full name.
    fn copartition_groups(&self) -> Vec<BTreeSet<String>> {
        self.topology
            .copartition_groups()
            .iter()
            .map(|g| g.iter().map(|t| self.resolve(t)).collect())
            .collect()
    }

    /// The sub-topologies writing each internal topic.
    fn internal_writers(&self) -> HashMap<String, BTreeSet<usize>> {
        let mut writers: HashMap<String, BTreeSet<usize>> = HashMap::new();
        for (i, node) in self.topology.nodes.iter().enumerate() {
            if let NodeKind::Sink {
                topic: SinkTopic::Fixed(t),
            } = &node.kind
            {
                let full = self.resolve(t);
                if self.internal.contains_key(&full)
                    && let Some(&s) = self.sub_of_node.get(&i)
                {
                    writers.entry(full).or_default().insert(s);
                }
            }
        }
        writers
    }

    /// Works out the partition count of every internal topic: a fixed one, the largest
    /// input of the sub-topologies writing it, or the count of its co-partitioned topics.
    fn count_internal_topics(&mut self, copartition: &[BTreeSet<String>]) -> Result<()> {
        let fixed: Vec<(String, i32)> = self
            .internal
            .iter()
            .filter_map(|(name, fixed)| fixed.map(|n| (name.clone(), n)))
            .collect();
        self.counts.extend(fixed);
        let writers = self.internal_writers();
        // Kafka Streams' `CopartitionedTopicsEnforcer`: a repartition topic (of no fixed count)
        // co-partitioned with topics the application does not create takes their count; one
        // co-partitioned only with other repartition topics takes the largest of theirs.
        let pinned_by_group: BTreeSet<String> = copartition
            .iter()
            .filter(|g| g.iter().any(|t| !self.internal.contains_key(t)))
            .flatten()
            .filter(|t| self.is_free(t))
            .cloned()
            .collect();
        // A repartition topic has as many partitions as the largest input of the
        // sub-topologies writing it; chains of repartitions resolve in a few rounds.
        for _ in 0..=self.internal.len() + copartition.len() {
            let by_writers = self.count_by_writers(&writers, &pinned_by_group);
            let by_groups = self.count_by_copartition(copartition);
            if !by_writers && !by_groups {
                break;
            }
        }
        let unresolved: Vec<&String> = self
            .internal
            .keys()
            .filter(|t| !self.counts.contains_key(*t))
            .collect();
        if !unresolved.is_empty() {
            return Err(Error::Topology(format!(
                "cannot work out the partition count of internal topic(s) {unresolved:?}: no sub-topology with known inputs writes them"
            )));
        }
        Ok(())
    }

    /// One round of counting internal topics by their writers (those `pinned` by a
    /// co-partitioned group aside); returns whether a count was found.
    fn count_by_writers(
        &mut self,
        writers: &HashMap<String, BTreeSet<usize>>,
        pinned: &BTreeSet<String>,
    ) -> bool {
        let mut changed = false;
        let names: Vec<String> = self.internal.keys().cloned().collect();
        for name in names {
            if self.counts.contains_key(&name) || pinned.contains(&name) {
                continue;
            }
            let Some(subs) = writers.get(&name) else {
                continue;
            };
            let resolved: Option<Vec<i32>> = subs.iter().map(|&s| self.sub_count(s)).collect();
            if let Some(n) = resolved.and_then(|v| v.into_iter().max()) {
                self.counts.insert(name, n);
                changed = true;
            }
        }
        changed
    }

    /// One round of giving the free internal topics of each co-partitioned group the
    /// group's count; returns whether a count changed.
    fn count_by_copartition(&mut self, copartition: &[BTreeSet<String>]) -> bool {
        let mut changed = false;
        for group in copartition {
            let external = group
                .iter()
                .filter(|t| !self.internal.contains_key(*t))
                .filter_map(|t| self.counts.get(t).copied())
                .max();
            let n = external.or_else(|| {
                group
                    .iter()
                    .filter(|t| !self.is_free(t) || self.counts.contains_key(*t))
                    .filter_map(|t| self.counts.get(t).copied())
                    .max()
            });
            if let Some(n) = n {
                for t in group {
                    if self.is_free(t) && self.counts.get(t) != Some(&n) {
                        self.counts.insert(t.clone(), n);
                        changed = true;
                    }
                }
            }
        }
        changed
    }

    /// Fails when co-partitioned topics have different partition counts.
    fn check_copartitioning(&self, copartition: &[BTreeSet<String>]) -> Result<()> {
        for group in copartition {
            let sizes: BTreeMap<&String, Option<i32>> = group
                .iter()
                .map(|t| (t, self.counts.get(t).copied()))
                .collect();
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
        Ok(())
    }

    /// The subscribed topics and the sub-topology reading each.
    fn plan_subscriptions(&self, plan: &mut TopicPlan) {
        for (s, topics) in self.by_sub.iter().enumerate() {
            for t in topics {
                let full = self.resolve(t);
                plan.topic_subtopology
                    .insert(full.clone(), u32::try_from(s).unwrap_or(u32::MAX));
                plan.subscribed.push(full);
            }
        }
    }

    /// The declared output topics that do not exist yet; existing ones are left as they are.
    fn plan_output_topics(&self, plan: &mut TopicPlan) {
        for t in self.topology.output_topics() {
            if self.existing.contains_key(&t.name) {
                continue;
            }
            plan.to_create.push(TopicSpec {
                name: t.name.clone(),
                partitions: t.partitions,
                replication_factor: if t.replication_factor == -1 {
                    self.replication_factor
                } else {
                    t.replication_factor
                },
                config: t.config.clone(),
                role: TopicRole::Output,
            });
        }
    }

    /// A repartition topic for every internal topic.
    fn plan_repartition_topics(&self, plan: &mut TopicPlan) {
        for name in self.internal.keys() {
            let n = self.counts[name];
            plan.to_create.push(TopicSpec {
                name: name.clone(),
                partitions: n,
                replication_factor: self.replication_factor,
                config: BTreeMap::from([
                    ("cleanup.policy".to_owned(), "delete".to_owned()),
                    ("retention.ms".to_owned(), "-1".to_owned()),
                    ("segment.bytes".to_owned(), "52428800".to_owned()),
                    ("message.timestamp.type".to_owned(), "CreateTime".to_owned()),
                ]),
                role: TopicRole::Repartition,
            });
        }
    }

    /// A changelog for every logged store a processor uses, with as many partitions as its
    /// sub-topology has tasks.
    fn plan_changelogs(&self, plan: &mut TopicPlan) {
        let application_id = self.application_id;
        let store_subs = self.topology.store_subtopologies();
        for (name, config) in self.topology.changelog_topics(application_id) {
            let store = name
                .strip_prefix(&format!("{application_id}-"))
                .and_then(|s| s.strip_suffix("-changelog"))
                .unwrap_or(&name);
            let Some(&s) = store_subs.get(store) else {
                // A store no processor uses has no tasks and so no changelog.
                continue;
            };
            let Some(n) = self.sub_count(s as usize) else {
                continue;
            };
            let mut config = config;
            config
                .entry("message.timestamp.type".to_owned())
                .or_insert_with(|| "CreateTime".to_owned());
            plan.to_create.push(TopicSpec {
                name,
                partitions: n,
                replication_factor: self.replication_factor,
                config,
                role: TopicRole::Changelog,
            });
        }
    }

    /// `<topic>.dead-letter` for every source topic the application does not create.
    fn plan_source_dead_letters(
        &self,
        plan: &mut TopicPlan,
        dead_letter_names: &mut BTreeSet<String>,
    ) {
        for t in plan.subscribed.clone() {
            // A retry topic's records dead-letter to its topic's dead-letter topic.
            if self.internal.contains_key(&t) || self.is_retry_topic(&t) {
                continue;
            }
            let name = format!("{t}{DEAD_LETTER_SUFFIX}");
            dead_letter_names.insert(name.clone());
            plan.to_create.push(TopicSpec {
                name,
                partitions: self.counts[&t],
                replication_factor: self.replication_factor,
                config: BTreeMap::new(),
                role: TopicRole::DeadLetter,
            });
        }
    }

    /// `<topic>.dead-letter` for every static sink topic that is neither internal nor a
    /// dead-letter topic, unless a source already has it.
    fn plan_sink_dead_letters(
        &self,
        plan: &mut TopicPlan,
        dead_letter_names: &mut BTreeSet<String>,
    ) {
        // The sub-topologies writing each static sink topic, for sinks not created yet.
        let mut sink_writers: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for (i, node) in self.topology.nodes.iter().enumerate() {
            if let NodeKind::Sink {
                topic: SinkTopic::Fixed(t),
            } = &node.kind
            {
                let entry = sink_writers.entry(self.resolve(t)).or_default();
                if let Some(&s) = self.sub_of_node.get(&i) {
                    entry.insert(s);
                }
            }
        }
        for (sink, subs) in sink_writers {
            if self.internal.contains_key(&sink)
                || is_internal_topic(&sink)
                || sink.ends_with(DEAD_LETTER_SUFFIX)
            {
                continue;
            }
            let name = format!("{sink}{DEAD_LETTER_SUFFIX}");
            if dead_letter_names.contains(&name) {
                continue;
            }
            let declared = self
                .topology
                .output_topics()
                .find(|t| t.name == sink)
                .map(|t| t.partitions);
            let partitions = self
                .existing
                .get(&sink)
                .copied()
                .or(declared)
                .or_else(|| subs.iter().filter_map(|&s| self.sub_count(s)).max())
                .unwrap_or(1);
            dead_letter_names.insert(name.clone());
            plan.to_create.push(TopicSpec {
                name,
                partitions,
                replication_factor: self.replication_factor,
                config: BTreeMap::new(),
                role: TopicRole::DeadLetter,
            });
        }
    }

    /// Fails when an internal topic exists with another partition count than planned.
    fn check_existing(&self, plan: &TopicPlan) -> Result<()> {
        for spec in &plan.to_create {
            if let Some(&n) = self.existing.get(&spec.name)
                && n != spec.partitions
                && spec.role != TopicRole::DeadLetter
            {
                return Err(Error::Topology(format!(
                    "internal topic '{}' exists with {n} partitions but the application needs {}; delete it or reset the application",
                    spec.name, spec.partitions
                )));
            }
        }
        Ok(())
    }

    /// The partition count of every topic the tasks read, write or may dead-letter to: an
    /// existing topic's own, else the planned one.
    fn partitions(self, plan: &TopicPlan) -> HashMap<String, i32> {
        let mut partitions = self.counts;
        for spec in &plan.to_create {
            let n = self
                .existing
                .get(&spec.name)
                .copied()
                .unwrap_or(spec.partitions);
            partitions.insert(spec.name.clone(), n);
        }
        for t in self.topology.sink_topics() {
            let full = self.topology.resolve_topic(self.application_id, &t);
            if let Some(&n) = self.existing.get(&full) {
                partitions.entry(full).or_insert(n);
            }
        }
        partitions
    }
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
    fn declared_output_topics_are_created_when_missing_and_left_when_present() -> Result<()> {
        let mut t = repartitioning()?;
        t.add_output_topic(
            crate::topology::OutputTopic::new("output", 6)
                .compacted()
                .replication_factor(2),
        );
        let existing = HashMap::from([("input".to_owned(), 4)]);
        let plan = plan_topics(&t, "app", &existing, 3, true)?;
        let output = plan
            .to_create
            .iter()
            .find(|s| s.name == "output")
            .expect("the declared output is planned");
        assert_eq!(output.role, TopicRole::Output);
        assert_eq!((output.partitions, output.replication_factor), (6, 2));
        assert_eq!(output.config["cleanup.policy"], "compact");
        assert_eq!(plan.partitions["output"], 6);
        let dead = plan
            .to_create
            .iter()
            .find(|s| s.name == "output.dead-letter")
            .expect("its dead-letter topic");
        assert_eq!(
            dead.partitions, 6,
            "as the declared output, not its writers"
        );

        let existing = HashMap::from([("input".to_owned(), 4), ("output".to_owned(), 2)]);
        let plan = plan_topics(&t, "app", &existing, 3, false)?;
        assert!(plan.to_create.iter().all(|s| s.name != "output"));
        assert_eq!(
            plan.partitions["output"], 2,
            "an existing topic keeps its count"
        );
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

//! Task-based assignment on top of the group's partition assignment.
//!
//! A task `<sub>_<p>` reads partition `p` of every source topic of sub-topology `sub` that
//! has one. Kafka Streams' own assignor hands out whole tasks; librdkafka cannot run a
//! custom assignor, and its `range` assignor assigns each topic on its own, so a
//! sub-topology reading topics with different partition counts (allowed when no join needs
//! them co-partitioned) would get partition 1 of one topic on member A and of the other on
//! member B: task `<sub>_1` would then run twice and both copies would write its changelog.
//!
//! So each sub-topology has an *anchor*: the source topic with the most partitions (the
//! first by name on a tie), whose partitions are in one-to-one correspondence with the
//! sub-topology's tasks. A member owns exactly the tasks whose anchor partition the group
//! gave it, and assigns itself every partition of those tasks, whichever member the group
//! gave the other topics' partitions to. Every member applies the same rule to the same
//! group assignment, so each task lives on exactly one member. The group protocol is
//! eager (`range`), so every member gives up all its partitions before any member takes
//! new ones, and no partition is read by two members at once.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::runtime::topic_plan::TopicPlan;
use crate::task_id::TaskId;

type Tp = (String, i32);

/// For each sub-topology, its anchor topic and every source topic with its partition count.
#[derive(Debug, Clone, Default)]
pub(crate) struct TaskLayout {
    /// Sub-topology → (anchor topic, [(topic, partitions)]).
    subtopologies: HashMap<u32, (String, Vec<(String, i32)>)>,
    /// Topic → sub-topology.
    topic_subtopology: HashMap<String, u32>,
}

impl TaskLayout {
    /// The layout of the subscribed topics of `plan`.
    pub(crate) fn new(plan: &TopicPlan) -> Self {
        let mut by_sub: BTreeMap<u32, Vec<(String, i32)>> = BTreeMap::new();
        for (topic, &sub) in &plan.topic_subtopology {
            let partitions = plan.partitions.get(topic).copied().unwrap_or(0);
            by_sub
                .entry(sub)
                .or_default()
                .push((topic.clone(), partitions));
        }
        let subtopologies = by_sub
            .into_iter()
            .map(|(sub, mut topics)| {
                topics.sort();
                let anchor = topics
                    .iter()
                    .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                    .map(|(t, _)| t.clone())
                    .unwrap_or_default();
                (sub, (anchor, topics))
            })
            .collect();
        TaskLayout {
            subtopologies,
            topic_subtopology: plan.topic_subtopology.clone(),
        }
    }

    /// Every sub-topology with its anchor topic and that topic's partition count.
    pub(crate) fn anchors(&self) -> impl Iterator<Item = (u32, &str, i32)> {
        self.subtopologies.iter().map(|(sub, (anchor, topics))| {
            let count = topics
                .iter()
                .find(|(t, _)| t == anchor)
                .map_or(0, |(_, n)| *n);
            (*sub, anchor.as_str(), count)
        })
    }

    /// The task whose anchor partition is `partition` of `topic`, if it is one.
    pub(crate) fn task_of(&self, topic: &str, partition: i32) -> Option<TaskId> {
        let sub = *self.topic_subtopology.get(topic)?;
        let (anchor, _) = self.subtopologies.get(&sub)?;
        (anchor == topic).then(|| TaskId::new(sub, partition))
    }

    /// The partitions this member reads, given the partitions the group assigned it: every
    /// partition of each task whose anchor partition is among them. Sorted, without
    /// duplicates.
    pub(crate) fn expand(&self, group_assigned: &[Tp]) -> Vec<Tp> {
        let mut out = BTreeSet::new();
        for (topic, partition) in group_assigned {
            let Some(sub) = self.topic_subtopology.get(topic) else {
                // Not a topic of a task: keep it as the group gave it.
                out.insert((topic.clone(), *partition));
                continue;
            };
            let Some((anchor, topics)) = self.subtopologies.get(sub) else {
                continue;
            };
            if anchor != topic {
                continue;
            }
            for (t, count) in topics {
                if *partition < *count {
                    out.insert((t.clone(), *partition));
                }
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(topics: &[(&str, u32, i32)]) -> TopicPlan {
        let mut plan = TopicPlan::default();
        for (t, sub, n) in topics {
            plan.topic_subtopology.insert((*t).to_owned(), *sub);
            plan.partitions.insert((*t).to_owned(), *n);
        }
        plan
    }

    fn tps(list: &[(&str, i32)]) -> Vec<Tp> {
        list.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect()
    }

    /// Two members share a sub-topology reading a 4-partition and a 2-partition topic. The
    /// range assignor gives member 1 `a-0, a-1, b-0` and member 2 `a-2, a-3, b-1`: task
    /// `0_1` would read `a-1` on member 1 and `b-1` on member 2. By anchor, `b-1` goes
    /// with `a-1`, and the two members' tasks are disjoint and complete.
    #[test]
    fn every_task_lands_whole_on_the_member_holding_its_anchor_partition() {
        let layout = TaskLayout::new(&plan(&[("a", 0, 4), ("b", 0, 2), ("c", 1, 2)]));
        let first = layout.expand(&tps(&[("a", 0), ("a", 1), ("b", 0), ("c", 0)]));
        let second = layout.expand(&tps(&[("a", 2), ("a", 3), ("b", 1), ("c", 1)]));
        assert_eq!(
            first,
            tps(&[("a", 0), ("a", 1), ("b", 0), ("b", 1), ("c", 0)])
        );
        assert_eq!(second, tps(&[("a", 2), ("a", 3), ("c", 1)]));
        let mut all: Vec<Tp> = first.iter().chain(&second).cloned().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), first.len() + second.len(), "no partition twice");
    }

    #[test]
    fn the_anchor_is_the_widest_topic_then_the_first_by_name() {
        let layout = TaskLayout::new(&plan(&[("z", 0, 3), ("m", 0, 3), ("a", 0, 1)]));
        // "m" anchors: its partition 0 brings the others' partition 0.
        assert_eq!(
            layout.expand(&tps(&[("m", 0)])),
            tps(&[("a", 0), ("m", 0), ("z", 0)])
        );
        assert!(layout.expand(&tps(&[("z", 0), ("a", 0)])).is_empty());
    }
}

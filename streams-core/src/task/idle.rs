//! `max.task.idle.ms`: when a task with several input partitions may process while some of
//! them have nothing buffered, as Kafka Streams' `PartitionGroup.readyToProcess`.
//!
//! Processing the buffered partitions while another is empty risks taking records out of
//! timestamp order (a join over a lagging input misses its matches). With a positive
//! `max.task.idle.ms`, an empty partition holds the task back:
//! - while its lag is unknown or positive (records are on the broker, not fetched yet), for
//!   as long as that lasts;
//! - once its lag is known to be zero (nothing more on the broker), until `max.task.idle.ms`
//!   after the task first found it so; then the task processes without it ("enforced
//!   processing") for as long as it stays empty.
//!
//! A partition with records buffered clears its deadline. A retry topic's partition is
//! never waited for: its records come back when their delay is over, not in timestamp
//! order with the others. The lag comes from the consumer's
//! statistics (`statistics.interval.ms`, 1 s unless set), so a partition's fresh lag can be
//! up to that old; a record fetched meanwhile is buffered and counts at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The idling state of one task.
#[derive(Debug)]
pub(crate) struct Idling {
    max_idle: Duration,
    /// Per queue index: when the task stops waiting for that empty, caught-up partition.
    deadlines: HashMap<usize, Instant>,
}

/// One input partition as the readiness check sees it.
pub(crate) struct PartitionView<'a> {
    pub(crate) queue: usize,
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) buffered: bool,
    /// Processing never waits for this partition when it is empty.
    pub(crate) never_waited_for: bool,
}

impl Idling {
    pub(crate) fn new(max_idle: Duration) -> Self {
        Idling {
            max_idle,
            deadlines: HashMap::new(),
        }
    }

    /// Whether the task may process now: `lag` gives an empty partition's lag, `None` when
    /// unknown.
    pub(crate) fn ready<'a>(
        &mut self,
        partitions: impl IntoIterator<Item = PartitionView<'a>>,
        lag: &dyn Fn(&str, i32) -> Option<i64>,
        now: Instant,
    ) -> bool {
        let mut any_buffered = false;
        for p in partitions {
            if p.buffered {
                self.deadlines.remove(&p.queue);
                any_buffered = true;
                continue;
            }
            if p.never_waited_for {
                continue;
            }
            match lag(p.topic, p.partition) {
                Some(0) => {
                    let deadline = *self
                        .deadlines
                        .entry(p.queue)
                        .or_insert_with(|| now + self.max_idle);
                    if now < deadline {
                        return false;
                    }
                }
                _ => {
                    self.deadlines.remove(&p.queue);
                    return false;
                }
            }
        }
        any_buffered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(queue: usize, buffered: bool) -> PartitionView<'static> {
        PartitionView {
            queue,
            topic: if queue == 0 { "a" } else { "b" },
            partition: 0,
            buffered,
            never_waited_for: false,
        }
    }

    #[test]
    fn an_empty_retry_partition_is_never_waited_for_and_a_buffered_one_counts() {
        let mut idle = Idling::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let lagging = |_: &str, _: i32| Some(5);
        let retry = |buffered| PartitionView {
            never_waited_for: true,
            ..view(2, buffered)
        };
        assert!(idle.ready([view(0, true), view(1, true), retry(false)], &lagging, t0));
        assert!(!idle.ready([view(0, false), view(1, false), retry(false)], &lagging, t0));
        assert!(!idle.ready([view(0, true), view(1, false), retry(true)], &lagging, t0));
    }

    #[test]
    fn an_empty_partition_holds_the_task_until_its_deadline_and_data_clears_it() {
        let mut idle = Idling::new(Duration::from_millis(100));
        let t0 = Instant::now();
        let caught_up = |_: &str, _: i32| Some(0);
        let lagging = |_: &str, _: i32| Some(5);
        let unknown = |_: &str, _: i32| None;
        assert!(idle.ready([view(0, true), view(1, true)], &unknown, t0));
        assert!(!idle.ready([view(0, true), view(1, false)], &lagging, t0));
        assert!(!idle.ready([view(0, true), view(1, false)], &unknown, t0));
        assert!(!idle.ready([view(0, true), view(1, false)], &caught_up, t0));
        let later = t0 + Duration::from_millis(99);
        assert!(!idle.ready([view(0, true), view(1, false)], &caught_up, later));
        let due = t0 + Duration::from_millis(100);
        assert!(idle.ready([view(0, true), view(1, false)], &caught_up, due));
        // Still empty and caught up: processing goes on.
        assert!(idle.ready([view(0, true), view(1, false)], &caught_up, due));
        // Data arrives, then the partition empties again: a new wait.
        assert!(idle.ready([view(0, true), view(1, true)], &caught_up, due));
        assert!(!idle.ready([view(0, true), view(1, false)], &caught_up, due));
        // Nothing buffered anywhere: nothing to process.
        assert!(!idle.ready(
            [view(0, false), view(1, false)],
            &caught_up,
            due + Duration::from_secs(1)
        ));
    }
}

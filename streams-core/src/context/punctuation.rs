//! Punctuation schedules, with Kafka Streams' alignment and skip rules.

use std::collections::BTreeMap;

/// What drives a punctuator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PunctuationType {
    /// Stream time: the largest timestamp the task has processed. Such punctuators are
    /// aligned to 0 and fire as soon as the task has data, then every time stream time
    /// passes another interval.
    StreamTime,
    /// Wall-clock time. Such punctuators first fire one interval after they are scheduled.
    WallClockTime,
}

impl PunctuationType {
    pub(crate) fn is_stream_time(self) -> bool {
        matches!(self, PunctuationType::StreamTime)
    }
}

/// Identifies a scheduled punctuator, so the processor can tell several apart and cancel them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PunctuatorId(pub(crate) u64);

#[derive(Debug, Clone, Copy)]
struct Schedule {
    node: usize,
    interval: i64,
}

/// The due punctuators of one type, ordered by their next time and then by the order in
/// which they were scheduled, so that ties fire deterministically.
#[derive(Debug, Default)]
pub(crate) struct PunctuationQueue {
    due: BTreeMap<(i64, u64), Schedule>,
}

impl PunctuationQueue {
    pub(crate) fn schedule(
        &mut self,
        node: usize,
        first: i64,
        interval: i64,
        id: u64,
    ) -> PunctuatorId {
        self.due.insert((first, id), Schedule { node, interval });
        PunctuatorId(id)
    }

    pub(crate) fn cancel(&mut self, id: PunctuatorId) {
        self.due.retain(|(_, i), _| *i != id.0);
    }

    /// Takes the next punctuator due at `now`, if any, and reschedules it. Missed intervals
    /// are skipped, not replayed: the next time is the first multiple of the interval after
    /// `now`, counted from the schedule's own time (Kafka's `PunctuationSchedule.next`).
    pub(crate) fn pop_due(&mut self, now: i64) -> Option<(usize, PunctuatorId)> {
        let (&(time, id), _) = self.due.first_key_value()?;
        if time > now {
            return None;
        }
        let sched = self.due.remove(&(time, id))?;
        let mut next = time.saturating_add(sched.interval);
        if now >= next {
            let missed = (now - time) / sched.interval;
            next = time.saturating_add((missed + 1).saturating_mul(sched.interval));
        }
        self.due.insert((next, id), sched);
        Some((sched.node, PunctuatorId(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_per_due_time_and_skips_missed_intervals() {
        let mut q = PunctuationQueue::default();
        let id = q.schedule(3, 0, 10, 7);
        assert_eq!(q.pop_due(0), Some((3, id)));
        assert_eq!(q.pop_due(0), None, "next is at 10");
        assert_eq!(q.pop_due(9), None);
        assert_eq!(q.pop_due(10), Some((3, id)));
        // A jump over several intervals fires once, and the next time is aligned.
        assert_eq!(q.pop_due(47), Some((3, id)));
        assert_eq!(q.pop_due(49), None);
        assert_eq!(q.pop_due(50), Some((3, id)));
    }

    #[test]
    fn ties_fire_in_scheduling_order_and_cancel_removes() {
        let mut q = PunctuationQueue::default();
        let a = q.schedule(1, 100, 10, 0);
        let b = q.schedule(2, 100, 10, 1);
        let c = q.schedule(3, 100, 10, 2);
        q.cancel(b);
        assert_eq!(q.pop_due(100), Some((1, a)));
        assert_eq!(q.pop_due(100), Some((3, c)));
        assert_eq!(q.pop_due(100), None);
    }
}

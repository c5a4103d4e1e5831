//! Forwarding what a fixed-window aggregation's record cache flushed or evicted, as Kafka
//! Streams' `TimestampedCacheFlushListener` does for the time and sliding window
//! aggregations (a session's flush has rules of its own, in [`session`](super::session)).

use streams_core::processor::ProcessorContext;
use streams_core::state::ValueAndTimestamp;
use streams_core::window::Windowed;
use streams_core::{Record, Result};
use streams_state::FlushedWindowEntry;

use crate::ktable::Change;

/// Forwards and drains `flushed`: each window's new value, with its old one when
/// `send_old`, stamped with the new value's timestamp (the entry's own for a deletion).
pub(crate) fn forward_flushed<K, VA>(
    flushed: &mut Vec<FlushedWindowEntry<K, ValueAndTimestamp<VA>>>,
    send_old: bool,
    ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
) -> Result<()>
where
    K: Clone + 'static,
    VA: Clone + 'static,
{
    for e in flushed.drain(..) {
        let timestamp = e.new_value.as_ref().map_or(e.timestamp, |v| v.timestamp);
        let old = if send_old {
            e.old_value.map(|v| v.value)
        } else {
            None
        };
        let change = Change::new(e.new_value.map(|v| v.value), old);
        ctx.forward(Record::new(e.key, change, timestamp))?;
    }
    Ok(())
}

//! Forwarding what an aggregation's record cache flushed or evicted, as Kafka Streams'
//! `TimestampedCacheFlushListener` does: for the stream and table aggregations and the time
//! and sliding window ones (a session's flush has rules of its own, in
//! [`session`](super::session)).

use streams_core::processor::ProcessorContext;
use streams_core::state::ValueAndTimestamp;
use streams_core::window::Windowed;
use streams_core::{Record, Result};
use streams_state::{FlushedEntry, FlushedWindowEntry};

use crate::ktable::Change;

/// An update's key, new value, old value, and the timestamp of the record that made it.
type Parts<KO, VA> = (
    KO,
    Option<ValueAndTimestamp<VA>>,
    Option<ValueAndTimestamp<VA>>,
    i64,
);

/// An update a cache released, keyed by `KO`: its key, new and old values, and the
/// timestamp of the record that made it.
pub(crate) trait CacheUpdate<KO, VA> {
    /// The update's parts.
    fn into_parts(self) -> Parts<KO, VA>;
}

impl<K, VA> CacheUpdate<K, VA> for FlushedEntry<K, ValueAndTimestamp<VA>> {
    fn into_parts(self) -> Parts<K, VA> {
        (self.key, self.new_value, self.old_value, self.timestamp)
    }
}

impl<K, VA> CacheUpdate<Windowed<K>, VA> for FlushedWindowEntry<K, ValueAndTimestamp<VA>> {
    fn into_parts(self) -> Parts<Windowed<K>, VA> {
        (self.key, self.new_value, self.old_value, self.timestamp)
    }
}

/// Forwards and drains `flushed`: each key's new value, with its old one when `send_old`,
/// stamped with the new value's timestamp (the entry's own for a deletion).
pub(crate) fn forward_flushed<KO, VA, E>(
    flushed: &mut Vec<E>,
    send_old: bool,
    ctx: &mut ProcessorContext<'_, KO, Change<VA>>,
) -> Result<()>
where
    KO: Clone + 'static,
    VA: Clone + 'static,
    E: CacheUpdate<KO, VA>,
{
    for e in flushed.drain(..) {
        let (key, new_value, old_value, entry_timestamp) = e.into_parts();
        let timestamp = new_value.as_ref().map_or(entry_timestamp, |v| v.timestamp);
        let old = if send_old {
            old_value.map(|v| v.value)
        } else {
            None
        };
        let change = Change::new(new_value.map(|v| v.value), old);
        ctx.forward(Record::new(key, change, timestamp))?;
    }
    Ok(())
}

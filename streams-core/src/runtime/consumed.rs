//! Consumed records as tasks take them.

use rdkafka::message::{Headers as _, Message};

use crate::context::RawRecord;
use crate::record::Headers;

/// The record of a consumed message, its headers copied; a message without a timestamp
/// gets -1.
pub(crate) fn raw_record<M: Message>(message: &M) -> RawRecord<'_> {
    let mut headers = Headers::default();
    if let Some(h) = message.headers() {
        for i in 0..h.count() {
            let header = h.get(i);
            headers.add(header.key, header.value.map(<[u8]>::to_vec));
        }
    }
    RawRecord {
        key: message.key(),
        value: message.payload(),
        timestamp: message.timestamp().to_millis().unwrap_or(-1),
        offset: message.offset(),
        headers,
    }
}

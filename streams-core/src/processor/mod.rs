//! The typed processor API.
//!
//! A [`Processor`] receives records of one key and value type and forwards records of
//! another through its [`ProcessorContext`]. Processors are created once per task by a
//! supplier closure, so each partition's task has its own instances and its own state.

mod context;
mod fixed_key;
mod timestamp;
mod traits;

pub use context::ProcessorContext;
pub use fixed_key::{FixedKey, FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord};
pub use timestamp::{
    FailOnInvalidTimestamp, LogAndSkipOnInvalidTimestamp, RecordTimestampExtractor,
    TimestampExtractor, UsePartitionTimeOnInvalidTimestamp,
};
pub use traits::Processor;

// Punctuation schedules live with the task context, below this API; processors name their
// types from here.
pub use crate::context::{PunctuationType, PunctuatorId};

pub(crate) use context::{Child, RecordSink, forward_all as context_forward_all};

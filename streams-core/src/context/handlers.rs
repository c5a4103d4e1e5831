//! The error handling a task applies, and the input it keeps for the dead-letter
//! processing handler.

use crate::config::ErrorHandling;
use crate::record::Headers;

/// The error handling a task applies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TaskHandlers {
    /// For records that cannot be deserialized.
    pub(crate) deserialization: ErrorHandling,
    /// For processor failures.
    pub(crate) processing: ErrorHandling,
    /// For output records that cannot be serialized.
    pub(crate) production: ErrorHandling,
}

/// The bytes of the record a source is processing, for the dead-letter topic when its
/// processing fails.
#[derive(Default)]
pub(super) struct CapturedInput {
    pub(super) key: Vec<u8>,
    pub(super) key_null: bool,
    pub(super) value: Vec<u8>,
    pub(super) value_null: bool,
    pub(super) timestamp: i64,
    pub(super) offset: i64,
    pub(super) headers: Headers,
}

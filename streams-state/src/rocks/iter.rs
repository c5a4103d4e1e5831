//! Adapts RocksDB's raw iterator to the stores' owned-item iterators.

use rocksdb::{DB, DBRawIteratorWithThreadMode};
use streams_core::Result;

use crate::error::StateError;

/// Walks a positioned raw iterator forwards or backwards, copying each entry out.
pub(crate) struct RawIter<'a> {
    raw: DBRawIteratorWithThreadMode<'a, DB>,
    store: &'a str,
    reverse: bool,
    started: bool,
    done: bool,
}

impl<'a> RawIter<'a> {
    /// `raw` must already be positioned on the first entry to return.
    pub(crate) fn new(
        raw: DBRawIteratorWithThreadMode<'a, DB>,
        store: &'a str,
        reverse: bool,
    ) -> Self {
        RawIter {
            raw,
            store,
            reverse,
            started: false,
            done: false,
        }
    }
}

impl Iterator for RawIter<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.started {
            if self.reverse {
                self.raw.prev();
            } else {
                self.raw.next();
            }
        }
        self.started = true;
        if let Some((k, v)) = self.raw.item() {
            return Some(Ok((k.to_vec(), v.to_vec())));
        }
        self.done = true;
        match self.raw.status() {
            Ok(()) => None,
            Err(e) => Some(Err(StateError::rocks(self.store, "iterate")(e).into())),
        }
    }
}

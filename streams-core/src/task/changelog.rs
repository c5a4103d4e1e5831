//! The changelog writer of a task's stores: the task's own record collector.

use std::cell::RefCell;
use std::rc::Rc;

use crate::context::RecordCollector;
use crate::error::Result;
use crate::record::Headers;
use crate::state::ChangelogWriter;

/// Sends a task's changelog records through its record collector, on the task's partition.
pub(super) struct CollectorChangelog(pub(super) Rc<RefCell<dyn RecordCollector>>);

impl ChangelogWriter for CollectorChangelog {
    fn send(
        &mut self,
        topic: &str,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> Result<()> {
        self.0.borrow_mut().send(
            topic,
            Some(partition),
            Some(key),
            value,
            timestamp,
            &Headers::new(),
        )
    }
}

//! The [`Processor`] trait: what every node of a topology implements.

use super::context::ProcessorContext;
use crate::context::PunctuatorId;
use crate::error::Result;
use crate::record::Record;

/// A node of a topology that processes records one at a time.
///
/// `KIn`/`VIn` are the types it receives; `KOut`/`VOut` the types it forwards. All methods
/// but [`process`](Processor::process) have default implementations that do nothing.
///
/// # Examples
///
/// A processor that forwards each value's length under the same key:
///
/// ```
/// use streams_core::processor::{Processor, ProcessorContext};
/// use streams_core::{Record, Result};
///
/// struct Lengths;
///
/// impl Processor<String, String, String, usize> for Lengths {
///     fn process(
///         &mut self,
///         record: Record<String, String>,
///         ctx: &mut ProcessorContext<'_, String, usize>,
///     ) -> Result<()> {
///         let len = record.value.len();
///         ctx.forward(record.with_value(len))
///     }
/// }
/// ```
pub trait Processor<KIn, VIn, KOut, VOut>: 'static {
    /// Called once before the first record, after the task's state stores are restored.
    /// Look up stores and schedule punctuators here.
    ///
    /// # Errors
    ///
    /// An error stops the task from starting.
    fn init(&mut self, _ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<()> {
        Ok(())
    }

    /// Processes one record.
    ///
    /// # Errors
    ///
    /// An error is handed to the processing exception handler configured for the application.
    fn process(
        &mut self,
        record: Record<KIn, VIn>,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<()>;

    /// Called when a punctuator scheduled with [`ProcessorContext::schedule`] is due.
    /// `timestamp` is the current stream time or wall-clock time, by the punctuator's type.
    ///
    /// # Errors
    ///
    /// As for [`process`](Processor::process).
    fn punctuate(
        &mut self,
        _id: PunctuatorId,
        _timestamp: i64,
        _ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<()> {
        Ok(())
    }

    /// Called at every commit, before the task's stores are flushed. A processor that keeps
    /// a cache of results forwards them here.
    ///
    /// # Errors
    ///
    /// An error fails the commit.
    fn flush(&mut self, _ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<()> {
        Ok(())
    }

    /// Called once when the task closes.
    ///
    /// # Errors
    ///
    /// An error is logged; the task is closed regardless.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

//! Committing a task: flushing its processors' caches and checkpointing its stores.

use std::collections::HashMap;

use super::Task;
use crate::error::Result;

impl Task {
    /// The first step of a commit: every processor forwards what it holds in caches, then
    /// the stores empty their other caches (no disk flush: see
    /// [`post_commit`](Task::post_commit)). The caller then makes sure the output is
    /// acknowledged and calls `post_commit`.
    pub(crate) fn prepare_commit(&mut self) -> Result<()> {
        self.flush_caches()?;
        if let Some(state) = &mut self.state {
            state.commit()?;
        }
        Ok(())
    }

    /// Lets every processor forward what it holds in caches, without flushing the stores
    /// to disk: what the test driver does after each record, where nothing is restarted
    /// from the files.
    pub(crate) fn flush_caches(&mut self) -> Result<()> {
        for &i in &self.flushed {
            if let Some(n) = &self.nodes[i] {
                n.borrow_mut().flush(&mut self.ctx)?;
            }
        }
        self.ctx.commit_requested = false;
        Ok(())
    }

    /// The last step of a commit: records the changelog offsets the collector has had
    /// acknowledged and, once they are far enough past the checkpoint file, flushes the
    /// stores and rewrites it, as Kafka Streams does
    /// ([`StateManager::maybe_checkpoint`](crate::state::StateManager::maybe_checkpoint)). A
    /// clean close always does both.
    pub(crate) fn post_commit(&mut self, written: &HashMap<(String, i32), i64>) -> Result<()> {
        if let Some(state) = &mut self.state {
            state.maybe_checkpoint(written)?;
        }
        Ok(())
    }

    /// Whether a processor asked for a commit since the last one.
    pub(crate) fn commit_requested(&self) -> bool {
        self.ctx.commit_requested
    }
}

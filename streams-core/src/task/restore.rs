//! Bringing a task's stores up to date from their changelogs before it processes.

use super::Task;
use crate::error::{Error, Result};
use crate::state::{ChangelogReader, RestoreSummary, StateManager};

impl Task {
    /// Builds the task's stores and restores them from their changelogs with `reader`, then
    /// initializes the processors. Processing may start once this returns.
    pub(crate) fn init_state(
        &mut self,
        reader: &mut dyn ChangelogReader,
    ) -> Result<RestoreSummary> {
        self.begin_restore()?;
        while !self.restore_step(reader, usize::MAX)? {}
        self.finish_restore()
    }

    /// Builds the task's stores; [`restore_step`](Self::restore_step) then brings them up
    /// to date and [`finish_restore`](Self::finish_restore) makes the task ready to process.
    /// Records may be added in between; they wait in the task's queues.
    pub(crate) fn begin_restore(&mut self) -> Result<()> {
        if self.initialized {
            return Err(Error::IllegalState(format!(
                "task {} is already initialized",
                self.id
            )));
        }
        if let Some(state) = &mut self.state {
            state.register()?;
        }
        Ok(())
    }

    /// Restores up to about `max_records` changelog records; returns whether the stores
    /// are up to date.
    pub(crate) fn restore_step(
        &mut self,
        reader: &mut dyn ChangelogReader,
        max_records: usize,
    ) -> Result<bool> {
        match &mut self.state {
            Some(state) => state.restore_step(reader, max_records),
            None => Ok(true),
        }
    }

    /// Ends the restore and initializes the processors.
    pub(crate) fn finish_restore(&mut self) -> Result<RestoreSummary> {
        let mut summary = RestoreSummary {
            stores: Vec::new(),
            total_restored: 0,
            elapsed: std::time::Duration::ZERO,
        };
        if let Some(state) = &mut self.state {
            summary = state.finish_restore()?;
            for name in state.store_names() {
                if let Some(store) = state.store(name) {
                    self.ctx.add_store(name.to_owned(), store);
                }
            }
        }
        for &i in &self.order {
            if let Some(n) = &self.nodes[i] {
                n.borrow_mut().init(&mut self.ctx)?;
            }
        }
        self.initialized = true;
        Ok(summary)
    }

    /// The changelog partitions of this task's logged stores.
    pub(crate) fn changelog_partitions(&self) -> Vec<(String, i32)> {
        self.state
            .as_ref()
            .map(StateManager::changelog_partitions)
            .unwrap_or_default()
    }
}
